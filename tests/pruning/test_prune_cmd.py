"""``compress prune``: options reach the library, user errors exit 2 with one line."""

from __future__ import annotations

import json

import pytest

from compress.cli import main
from compress.core.errors import CompressError


@pytest.mark.parametrize("ratio", ["1.5", "0", "1", "-0.2"])
def test_ratio_outside_zero_one_exits_2(ratio: str, capsys) -> None:
    code = main(["prune", "--model", "unet", "--ratio", ratio])
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("error: ") and "(0, 1)" in err and len(err.strip().splitlines()) == 1


def test_unknown_importance_exits_2(capsys) -> None:
    code = main(["prune", "--model", "unet", "--ratio", "0.5", "--importance", "magic"])
    err = capsys.readouterr().err
    assert code == 2 and "'magic'" in err and "fpgm" in err


def test_checkpoint_of_another_model_exits_2(tmp_path, capsys) -> None:
    from compress.core.checkpoint import save_checkpoint
    from compress.core.specs import ModelSpec

    spec = ModelSpec(name="unet", num_classes=3, options={"base_channels": 8})
    path = save_checkpoint(tmp_path / "unet.pt", spec.build(), spec)
    code = main(
        [
            "prune",
            "--model",
            "vgg",
            "--checkpoint",
            str(path),
            "--ratio",
            "0.5",
            "--out",
            str(tmp_path / "out"),
        ]
    )
    err = capsys.readouterr().err
    assert code == 2 and "holds model 'unet'" in err


def test_options_reach_the_library(monkeypatch, tmp_path, capsys) -> None:
    import compress.commands.prune

    seen = {}

    def fake(spec, out, *, progress):
        seen.update(spec=spec, out=out, progress=progress)
        raise CompressError("stop here")

    monkeypatch.setattr(compress.commands.prune, "run_prune", fake)
    code = main(
        [
            "prune",
            "--model",
            "vgg",
            "--ratio",
            "0.3",
            "--importance",
            "lamp",
            "--scope",
            "global",
            "--iterative-steps",
            "3",
            "--round-to",
            "1",
            "--ignore-layer",
            "head.0",
            "--input-size",
            "128x96",
            "--out",
            str(tmp_path / "o"),
            "--no-progress",
            "--finetune-schedule",
            "step",
            "--workers",
            "3",
        ]
    )
    assert code == 2 and "error: stop here" in capsys.readouterr().err
    spec = seen["spec"]
    assert spec.model == "vgg" and spec.input_size == (128, 96) and seen["progress"] is False
    assert spec.prune.ratio == 0.3 and spec.prune.importance == "lamp"
    assert spec.prune.scope == "global" and spec.prune.iterative_steps == 3
    assert spec.prune.round_to is None and spec.prune.ignored_layers == ["head.0"]
    assert seen["out"] == tmp_path / "o"
    assert spec.schedule == "step" and spec.workers == 3


def test_fine_tune_defaults_and_a_bad_schedule(capsys) -> None:
    from compress.core.specs import ModelSpec, parse_spec
    from compress.pruning.spec import PruneRunSpec
    from compress.training.train_spec import finetune_train_spec

    spec = parse_spec(
        PruneRunSpec,
        {"model": "unet", "prune": {"ratio": 0.5}, "data": "d", "finetune_epochs": 3},
        source="test",
    )
    assert spec.schedule == "cosine" and spec.workers == 0
    train = finetune_train_spec(spec, ModelSpec(name="unet", num_classes=8))
    assert train.schedule == "cosine" and train.epochs == 3 and train.milestones == []
    assert train.lr == spec.lr and train.model == "unet" and train.num_classes == 8
    code = main(["prune", "--model", "unet", "--ratio", "0.5", "--finetune-schedule", "linear"])
    err = capsys.readouterr().err
    assert code == 2 and "schedule" in err and "cosine" in err


def test_prune_a_fresh_model_as_typed(tmp_path, capsys) -> None:
    out = tmp_path / "run"
    code = main(
        [
            "prune",
            "--model",
            "unet",
            "-o",
            "base_channels=8",
            "--ratio",
            "0.5",
            "--input-size",
            "64x64",
            "--runs",
            "2",
            "--warmup",
            "0",
            "--out",
            str(out),
        ]
    )
    printed = capsys.readouterr().out
    assert code == 0
    assert "freshly initialised" in printed and "MACs at 64x64" in printed
    assert "latency p50 ort-cpu 64x64" in printed  # timed beside MACs by default
    result = json.loads((out / "result.json").read_text())
    assert result["extra"]["fresh_init"] is True
    base = result["baseline_measurement"]
    assert "ort-cpu" in result["latency_ms"] and "ort-cpu" in base["latency_ms"]
    assert result["macs"] < 0.5 * base["macs"]
