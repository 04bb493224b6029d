"""kill -9 in the middle of a recipe, then the same command: the same final numbers."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from compress.core.results import load_result

VARIANT = "unet-pruned50-int8"


def _command(recipe: Path, out: Path) -> list[str]:
    args = ["run", str(recipe), "--only", VARIANT, "--out", str(out), "--no-progress"]
    return [sys.executable, "-m", "compress", *args]


def _numbers(out: Path) -> dict[str, object]:
    """What must not depend on an interruption: accuracy, structure, sizes (not timings)."""
    result = load_result(next((out / "variants").glob(f"{VARIANT}-*")))
    base = result.baseline_measurement
    assert result.metrics is not None and base is not None and base.metrics is not None
    return {
        "miou": result.metrics.miou,
        "per_class": result.metrics.per_class_iou,
        "baseline_miou": base.metrics.miou,
        "params": result.params,
        "macs": result.macs,
        "size": result.size_bytes,
        "steps": result.steps,
        "best_epoch": [getattr(d, "best_epoch", None) for d in result.step_details],
    }


@pytest.mark.slow
def test_kill_9_during_a_fine_tune_then_rerun_gives_the_same_result(
    tiny_recipe: Path, tmp_path: Path
) -> None:
    recipe = yaml.safe_load(tiny_recipe.read_text())
    for variant in recipe["variants"]:
        for step in variant["steps"]:
            if step["kind"] == "finetune":
                step["epochs"] = 3  # room to be killed between epochs
    tiny_recipe.write_text(yaml.safe_dump(recipe, sort_keys=False))
    env = {**os.environ, "PYTHONHASHSEED": "0"}

    straight = tmp_path / "straight"
    subprocess.run(_command(tiny_recipe, straight), check=True, env=env, capture_output=True)

    killed = tmp_path / "killed"
    process = subprocess.Popen(
        _command(tiny_recipe, killed), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline and process.poll() is None:
        if list((killed / "steps").glob("01-finetune-*/finetune/checkpoints/last.pt")):
            break  # the first fine-tune epoch is saved: kill during the second
        time.sleep(0.02)
    assert process.poll() is None, "the recipe finished before it could be killed"
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    assert not list((killed / "variants").glob(f"{VARIANT}-*/result.json"))

    subprocess.run(_command(tiny_recipe, killed), check=True, env=env, capture_output=True)
    assert _numbers(killed) == _numbers(straight)
