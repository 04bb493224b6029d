"""``open_base``: the one way to open the model a run starts from."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from compress.core.checkpoint import save_checkpoint
from compress.core.errors import CompressError
from compress.core.runs import file_sha256
from compress.core.specs import ModelSpec
from compress.deploy.base_model import BaseModelSource, open_base, open_model

TINY = {"base_channels": 4}


def test_a_fresh_model_is_seeded_and_resolved() -> None:
    source = BaseModelSource("unet", None, 3, TINY, None, seed=5)
    first, second = open_base(source), open_base(source)
    assert first.fresh and first.spec.num_classes == 3 and first.structure == []
    assert first.info is None and first.dataset is None
    for a, b in zip(first.model.parameters(), second.model.parameters(), strict=True):
        assert torch.equal(a, b)  # the seed fixes the init
    assert first.resolved == {
        "model": "unet",
        "num_classes": 3,
        "model_options": TINY,
        "checkpoint": None,
        "checkpoint_sha256": None,
    }


def test_a_checkpoint_names_its_own_model(tmp_path: Path) -> None:
    spec = ModelSpec(name="unet", num_classes=3, options=TINY)
    path = tmp_path / "model.pt"
    save_checkpoint(path, spec.build(), spec, dataset={"num_classes": 3})
    opened = open_base(BaseModelSource(None, str(path)))
    assert not opened.fresh and opened.spec == spec
    assert opened.dataset == opened.own_dataset == {"num_classes": 3}
    assert opened.resolved["checkpoint"] == str(path.resolve())
    assert opened.resolved["checkpoint_sha256"] == file_sha256(path)
    assert opened.resolved["model_options"] == {}
    with pytest.raises(CompressError, match="holds model 'unet'"):
        open_base(BaseModelSource("vgg", str(path)))
    with pytest.raises(CompressError, match="--num-classes 4 does not match"):
        open_base(BaseModelSource(None, str(path), num_classes=4))


def test_open_model_takes_exactly_one_source(tmp_path: Path) -> None:
    with pytest.raises(CompressError, match="exactly one of --model NAME or --checkpoint"):
        open_model(model=None, checkpoint=None)
    fresh = open_model(model="unet", checkpoint=None, num_classes=2, options=TINY)
    assert not fresh.model.training and fresh.spec.num_classes == 2
    assert fresh.metadata()["num_classes"] == 2
