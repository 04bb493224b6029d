"""``compress run``: a recipe end to end, reuse of shared step prefixes, the plan, spec reruns."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from compress.cli import main
from compress.core.results import load_result
from compress.recipes.load import load_recipe
from compress.recipes.run import plan_recipe, run_recipe


@pytest.mark.slow
def test_quickstart_runs_compares_and_reuses(tiny_recipe: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "out"
    assert main(["run", str(tiny_recipe), "--out", str(out), "--no-progress"]) == 0
    printed = capsys.readouterr().out
    assert "unet-pruned50-int8" in printed and "wrote" in printed
    table = json.loads((out / "comparison.json").read_text())
    rows = {row["name"]: row for row in table["rows"]}
    assert set(rows) == {
        "unet",
        "unet-control",
        "unet-pruned50",
        "unet-tucker50",
        "unet-int8",
        "unet-pruned50-int8",
    }
    chained = load_result(next((out / "variants").glob("unet-pruned50-int8-*")))
    assert [s["kind"] for s in chained.steps] == ["prune", "quantize"]
    assert [d.kind for d in chained.step_details] == ["prune", "finetune", "quantize"]
    base = chained.baseline_measurement
    assert base.size_artifact == "fp32-onnx" and chained.size_artifact == "int8-onnx"
    assert {"torch-cpu", "ort-cpu"} <= set(base.latency_ms) and set(chained.latency_ms) == {
        "ort-cpu"
    }
    assert chained.macs < base.macs and chained.metrics.split == base.metrics.split == "test"
    assert rows["unet-pruned50-int8"]["speedup_vs_eager"] == pytest.approx(
        base.latency_ms["torch-cpu"].p50 / chained.latency_ms["ort-cpu"].p50
    )
    chained_row = rows["unet-pruned50-int8"]
    assert chained_row["parent"] == "unet-pruned50" and chained_row["parent_size_ratio"] > 3
    assert (
        chained_row["steps"].startswith("prune(")
        and "→ finetune(epochs=1) →" in (chained_row["steps"])
    )
    assert rows["unet-control"]["steps"] == "finetune(epochs=1)"
    # prune + finetune is the prefix of two variants: its folders exist once; the three
    # variants with a fine-tune at index 1 (pruned, tucker, pruned-int8) need two folders
    assert len(list((out / "steps").glob("00-prune-*"))) == 1
    assert len(list((out / "steps").glob("01-finetune-*"))) == 2

    stamps = {p: p.stat().st_mtime_ns for p in out.rglob("*.pt")}
    recipe = load_recipe(tiny_recipe)
    assert all(item.state in ("finished", "given") for item in plan_recipe(recipe, out))
    run_recipe(recipe, out, progress=False)  # everything finished: nothing is redone
    assert {p: p.stat().st_mtime_ns for p in out.rglob("*.pt")} == stamps


@pytest.mark.slow
def test_only_runs_the_named_variant_and_its_baseline(
    tiny_recipe: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    out = Path("out")  # relative, as `--out runs/x` is typed
    recipe = load_recipe(tiny_recipe)
    outcome = run_recipe(recipe, out, only=["unet-int8"], progress=False)
    assert [load_result(r).name for r in outcome.runs] == ["unet", "unet-int8"]
    assert [p.name.split("-")[1] for p in (out / "steps").iterdir()] == ["quantize"]
    result = load_result(outcome.runs[1])
    for relative in result.artifacts.values():  # inside the run folder or ../../steps/...
        assert not Path(relative).is_absolute() and (outcome.runs[1] / relative).exists()
    # the variant folder's spec.yaml reruns as it is: found finished
    variant = next((out / "variants").glob("unet-int8-*"))
    assert main(["run", str(variant / "spec.yaml")]) == 0


def test_unknown_only_name_is_one_line(tiny_recipe: Path, tmp_path: Path, capsys) -> None:
    code = main(["run", str(tiny_recipe), "--only", "nosuch", "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "nosuch" in err[0] and "unet-int8" in err[0]
    assert not (tmp_path / "o").exists()


def test_dry_run_prints_the_plan_and_writes_nothing(tiny_recipe: Path, tmp_path, capsys) -> None:
    out = tmp_path / "o"
    assert main(["run", str(tiny_recipe), "--dry-run", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "unet-pruned50-int8" in printed and "will run" in printed and "prune(" in printed
    assert not out.exists()
