"""torchrun: two CPU processes (gloo) train like one process with the same effective batch,
only rank 0 writes, and an interrupted two-process run resumes exactly."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from compress.core.checkpoint import read_payload
from compress.training.history import History
from compress.training.train_spec import TrainSpec
from tests.training.test_train_resume import assert_same_state, without_seconds

SCRIPT = Path(__file__).with_name("distributed_train.py")
REPO = Path(__file__).resolve().parents[2]


MODEL = "tests.training.distributed_train:group_norm_net"


def _spec(data: Path, batch_size: int) -> dict:
    # no augmentation, crops the size of the images, no dropout and per-image
    # normalisation: nothing random but the shuffling, which both set-ups share
    return {
        "model": MODEL,
        "data": str(data),
        "epochs": 2,
        "batch_size": batch_size,
        "crop": 64,
        "augment": False,
        "schedule": "cosine",
        "device": "cpu",
        "seed": 3,
        "val_every": 2,
    }


def _torchrun(spec: dict, out: Path, *extra: str) -> None:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO)}
    command = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc_per_node",
        "2",
        str(SCRIPT),
        json.dumps(spec),
        str(out),
        *extra,
    ]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from compress.data import write_synthetic_dataset

    return write_synthetic_dataset(tmp_path_factory.mktemp("ddp") / "synth", n=16, size=64, seed=1)


@pytest.fixture(scope="module")
def two(data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An uninterrupted two-process run."""
    out = tmp_path_factory.mktemp("ddp-runs") / "two"
    _torchrun(_spec(data, 2), out)
    return out


@pytest.mark.slow
def test_two_gloo_processes_match_one_process_with_the_same_effective_batch(
    data: Path, two: Path, tmp_path: Path
) -> None:
    from compress.training.train import train

    single = train(TrainSpec.model_validate(_spec(data, 4)), tmp_path / "one", progress=False)

    training = json.loads((two / "result.json").read_text())["training"]
    assert training["processes"] == 2 and training["effective_batch"] == 4
    spec_text = (two / "spec.yaml").read_text()
    assert "world_size: 2" in spec_text  # another configuration than one process: own folder
    losses_two = [row.loss for row in History.load(two / "history.json").records]
    losses_one = [row.loss for row in single.history.records]
    a = read_payload(two / "checkpoints/last.pt")["state_dict"]
    b = read_payload(tmp_path / "one" / "checkpoints/last.pt")["state_dict"]
    # the same images in every step and per-image normalisation: equal up to rounding
    assert losses_two == pytest.approx(losses_one, rel=1e-4)
    assert a.keys() == b.keys()
    for name in a:
        assert torch.allclose(a[name], b[name], atol=1e-4), name
    leftovers = sorted(p.name for p in (two).iterdir())
    assert leftovers == sorted(
        p.name for p in (tmp_path / "one").iterdir()
    )  # rank 1 wrote nothing else


@pytest.mark.slow
def test_an_interrupted_two_process_run_resumes_exactly(
    data: Path, two: Path, tmp_path: Path
) -> None:
    spec = _spec(data, 2)
    _torchrun(spec, tmp_path / "resumed", "--stop-after", "1")
    assert not (tmp_path / "resumed" / "result.json").exists()
    _torchrun(spec, tmp_path / "resumed", "--resume")
    for name in ("best.pt", "checkpoints/last.pt"):
        assert_same_state(
            read_payload(two / name)["state_dict"],
            read_payload(tmp_path / "resumed" / name)["state_dict"],
        )
    histories = [
        History.load(run / "history.json").to_dicts() for run in (two, tmp_path / "resumed")
    ]
    assert without_seconds(histories[0]) == without_seconds(histories[1])
