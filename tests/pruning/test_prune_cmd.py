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
    import compress.pipeline.run_kinds

    seen = {}

    def fake(spec, out, *, kind, progress):
        seen.update(spec=spec, out=out, kind=kind, progress=progress)
        raise CompressError("stop here")

    monkeypatch.setattr(compress.pipeline.run_kinds, "run_as", fake)
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
            "--data",
            str(tmp_path),
            "--finetune-epochs",
            "2",
            "--finetune-schedule",
            "step",
            "--workers",
            "3",
        ]
    )
    assert code == 2 and "error: stop here" in capsys.readouterr().err
    spec = seen["spec"]
    assert seen["kind"] == "prune" and seen["progress"] is False
    assert spec.baseline.model == "vgg" and spec.bench.input_size == (128, 96)
    prune, finetune = spec.steps
    assert prune.ratio == 0.3 and prune.importance == "lamp"
    assert prune.scope == "global" and prune.iterative_steps == 3
    assert prune.round_to is None and prune.ignored_layers == ["head.0"]
    assert seen["out"] == tmp_path / "o"
    assert (finetune.kind, finetune.epochs, finetune.schedule, finetune.workers) == (
        "finetune",
        2,
        "step",
        3,
    )


def test_the_spec_of_plain_options_is_the_step_defaults(monkeypatch, capsys) -> None:
    """``compress prune --ratio R`` is the variant a recipe writes as ``{kind: prune,
    ratio: R}``: no fine-tune, the bench settings' defaults."""
    import compress.pipeline.run_kinds
    from compress.pipeline.spec import BenchSettings, VariantSpec

    seen = {}

    def fake(spec, out, **options):
        seen.update(spec=spec)
        raise CompressError("stop here")

    monkeypatch.setattr(compress.pipeline.run_kinds, "run_as", fake)
    assert main(["prune", "--model", "unet", "--ratio", "0.5"]) == 2
    expected = VariantSpec(baseline={"model": "unet"}, steps=[{"kind": "prune", "ratio": 0.5}])
    assert seen["spec"] == expected and seen["spec"].bench == BenchSettings()


def test_fine_tune_options_are_checked_without_a_fine_tune(capsys) -> None:
    for argv, words in (
        (["--finetune-schedule", "linear"], "schedule"),
        (["--lr", "inf"], "lr"),
        (["--distill", "0.5"], "--finetune-epochs"),
        (["--finetune-epochs", "2"], "give data"),
    ):
        code = main(["prune", "--model", "unet", "--ratio", "0.5", *argv])
        err = capsys.readouterr().err
        assert code == 2 and words in err and len(err.strip().splitlines()) == 1, err


def test_a_sensitivity_profile_guides_a_budget_only(tmp_path, capsys) -> None:
    base = ["prune", "--model", "unet", "--sensitivity", str(tmp_path)]
    assert main([*base, "--ratio", "0.5"]) == 2
    assert "add --target-macs" in capsys.readouterr().err
    assert main([*base, "--target-macs", "0.5", "--scope", "global"]) == 2
    assert "--scope global" in capsys.readouterr().err


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
