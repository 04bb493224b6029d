"""The one-step commands over the variant pipeline: ``compress prune``, ``factorize``,
``quantize`` and ``sensitivity`` as library calls (``run_prune(spec, out)``, ...).

Each builds a :class:`compress.pipeline.spec.VariantSpec` of one step from its own spec
(the fields its CLI command exposes) and runs it through
:func:`compress.pipeline.variant.run_variant`; the CLI is a thin layer over these.
"""
