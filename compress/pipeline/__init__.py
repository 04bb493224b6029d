"""The variant pipeline: a baseline plus a list of steps, applied and measured in one place.

Step specs (:mod:`~compress.pipeline.steps`), the table of step kinds
(:mod:`~compress.pipeline.techniques`), one ``apply`` per kind
(:mod:`compress.pipeline.apply`) and :func:`~compress.pipeline.variant.run_variant`.
"""
