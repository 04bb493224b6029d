"""One ``apply(model, step, context) -> StepOutcome`` per step kind, named in
:data:`compress.pipeline.techniques.TECHNIQUES` and imported when a step of that kind runs.

They adapt a technique's library call (``prune_model``, ``factorize_model``,
``quantize_onnx``, ``fit``) to the pipeline: folders, fine-tuning, typed details.
"""
