"""The step kinds a variant chains: a union on ``kind`` of every registered step spec.

``prune`` -> ``finetune`` -> ``factorize`` -> ``finetune`` -> ``quantize`` is written in a
recipe as a list of mappings, each with its ``kind`` and that kind's options; a typo in an
option fails validation with its path. Each spec lives in its technique's file
(:mod:`compress.pipeline.techniques`); this module only joins them, so importing it stays
cheap (pydantic only): recipes and CLI options are validated before torch loads.
"""

from __future__ import annotations

from typing import Annotated, Union

from pydantic import Field

from compress.pipeline.techniques import TECHNIQUES
from compress.pipeline.techniques.factorize import FactorizeStep
from compress.pipeline.techniques.finetune import FinetuneStep
from compress.pipeline.techniques.prune import PruneStep
from compress.pipeline.techniques.quantize import QuantizeStep

__all__ = ["FactorizeStep", "FinetuneStep", "PruneStep", "QuantizeStep", "Step"]

# Union over a tuple built at import: every technique file has registered by now.
Step = Annotated[Union[tuple(TECHNIQUES)], Field(discriminator="kind")]  # noqa: UP007
