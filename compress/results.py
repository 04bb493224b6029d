"""The versioned ``result.json`` that every run folder holds, and its reader/writer.

Reports and comparisons read only these files, so a table or plot can be re-made at any
time without re-running anything. Schema version 1 fields:

- ``name``: the run's name (its folder name by default); ``kind``: the command that
  produced it (train, eval, bench, export, prune, quantize, factorize, ...).
- ``model``: canonical registered model name (or ``"onnx"`` for a bare ONNX file);
  ``steps``: the compression steps applied to the baseline, in order (each a dict with
  a ``kind``); ``baseline``: the name of the run it is compared with, if any.
- ``params``, ``macs`` (at ``macs_input_size``), ``size_bytes`` of the deployable
  artifact (``size_artifact`` says which: fp32 state dict, ONNX, int8 ONNX).
- ``latency_ms``: keyed by ``<runtime>-<device>`` (``torch-cpu``, ``ort-cpu``,
  ``torch-cuda``, ...), each with ``p50``/``p90``/``min`` and how it was measured.
- ``metrics``: ``miou``, ``class_acc``, ``pixel_acc``, ``per_class_iou`` (+ the study's
  per-image formula as ``study_miou``) on ``split``.
- ``artifacts``: role -> path relative to the run folder; ``env``: versions, CPU/GPU,
  threads, date; ``training``: epochs, seconds, best epoch; ``extra``: anything else.
"""

from __future__ import annotations

import json
import os
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, ValidationError

from compress import atomic
from compress.errors import CompressError
from compress.specs import Spec, validation_message

SCHEMA_VERSION = 1
RESULT_FILE = "result.json"


class LatencyStats(Spec):
    """Latency of one runtime on one device, in milliseconds per call."""

    p50: float = Field(ge=0)
    p90: float = Field(ge=0)
    min: float = Field(ge=0)
    mean: float | None = None
    runs: int = Field(ge=1)
    warmup: int = Field(ge=0)
    batch: int = Field(default=1, ge=1)
    input_size: tuple[int, int]
    threads: int | None = None
    device_name: str | None = None
    gmacs_per_s: float | None = None
    roof_fraction: float | None = None


class Metrics(Spec):
    """Accuracy on one split, from a dataset-level confusion matrix."""

    miou: float
    class_acc: float
    pixel_acc: float
    per_class_iou: list[float | None]
    class_names: list[str] | None = None
    study_miou: float | None = None
    split: str | None = None
    num_images: int | None = None


class RunResult(Spec):
    """Everything a run measured; the schema of ``result.json`` (version 1)."""

    schema_version: Literal[1] = SCHEMA_VERSION
    name: str
    kind: str
    model: str
    steps: list[dict[str, Any]] = Field(default_factory=list)
    baseline: str | None = None
    params: int | None = None
    macs: int | None = None
    macs_input_size: tuple[int, int] | None = None
    size_bytes: int | None = None
    size_artifact: str | None = None
    latency_ms: dict[str, LatencyStats] = Field(default_factory=dict)
    metrics: Metrics | None = None
    training: dict[str, Any] | None = None
    artifacts: dict[str, str] = Field(default_factory=dict)
    env: dict[str, Any] = Field(default_factory=dict)
    extra: dict[str, Any] = Field(default_factory=dict)
    created: str = Field(default_factory=lambda: datetime.now(timezone.utc).isoformat())


def write_result(run_dir: str | os.PathLike[str], result: RunResult) -> Path:
    """Atomically write ``result`` to ``run_dir/result.json``; return its path."""
    path = Path(run_dir) / RESULT_FILE
    missing = [
        rel for rel in result.artifacts.values() if not (Path(run_dir) / rel).exists()
    ]
    if missing:
        raise ValueError(f"result names artifacts that do not exist: {missing}")
    atomic.write_json(path, result.model_dump(mode="json"))
    return path


def load_result(path: str | os.PathLike[str]) -> RunResult:
    """Read a ``result.json`` (or a run folder holding one); CompressError if unusable."""
    path = Path(path)
    if path.is_dir():
        path = path / RESULT_FILE
    if not path.is_file():
        raise CompressError(f"{path} does not exist; expected a run folder with {RESULT_FILE}")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise CompressError(f"{path} is not valid JSON ({error})") from None
    if isinstance(data, dict) and data.get("schema_version") not in (None, SCHEMA_VERSION):
        raise CompressError(
            f"{path}: schema_version {data.get('schema_version')!r} is not supported; "
            f"this segcompress reads version {SCHEMA_VERSION}"
        )
    try:
        return RunResult.model_validate(data)
    except ValidationError as error:
        raise CompressError(validation_message(error, source=str(path))) from None
