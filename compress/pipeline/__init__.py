"""The variant pipeline: a baseline plus a list of steps, applied and measured in one place.

One file per technique (:mod:`compress.pipeline.techniques`: step spec, details, apply
function, registration), the union of their specs (:mod:`~compress.pipeline.steps`), the
engine that drives the steps' lifecycles (:mod:`~compress.pipeline.engine`) and
:func:`~compress.pipeline.variant.run_variant`.
"""
