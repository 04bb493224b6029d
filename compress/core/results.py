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

Schema version 2 (written by every variant: ``compress prune``/``factorize``/``quantize``
and ``compress run``) adds two typed fields in place of ``extra`` string keys:

- ``baseline_measurement``: the unmodified baseline measured *in the same process* and
  the same way as the variant (params, MACs, size, latency, metrics);
- ``step_details``: one typed record per applied step (:mod:`compress.core.step_details`);
- ``source_sha256``: for a bench, the sha256 of the checkpoint or ONNX file it measured,
  so that a comparison can put its latency on the row of the run that produced that file.

Version-1 files still read: :func:`load_result` lifts their ``extra["baseline"]`` /
``extra["baseline_latency"]`` (prune, factorize) and ``extra["fp32"]`` (quantize) into
``baseline_measurement``.
"""

from __future__ import annotations

import os
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, PrivateAttr, ValidationError

from compress.core import atomic
from compress.core.errors import CompressError
from compress.core.json_files import read_json
from compress.core.measurements import LatencyStats, Metrics
from compress.core.specs import Spec, validation_message
from compress.core.step_details import StepDetails

SCHEMA_VERSION = 2
READABLE_VERSIONS = (1, 2)
RESULT_FILE = "result.json"


class Measured(Spec):
    """The figures every measured artifact has: costs and, with data, accuracy."""

    params: int | None = Field(default=None, ge=0)
    macs: int | None = Field(default=None, ge=0)
    macs_input_size: tuple[int, int] | None = None
    size_bytes: int | None = Field(default=None, ge=0)
    size_artifact: str | None = None
    latency_ms: dict[str, LatencyStats] = Field(default_factory=dict)
    metrics: Metrics | None = None


class Measurement(Measured):
    """One artifact measured beside another (a variant's same-process baseline)."""

    name: str | None = None


class RunResult(Measured):
    """Everything a run measured; the schema of ``result.json`` (version 2)."""

    schema_version: Literal[1, 2] = SCHEMA_VERSION
    name: str
    kind: str
    model: str
    steps: list[dict[str, Any]] = Field(default_factory=list)
    baseline: str | None = None
    training: dict[str, Any] | None = None
    artifacts: dict[str, str] = Field(default_factory=dict)
    env: dict[str, Any] = Field(default_factory=dict)
    extra: dict[str, Any] = Field(default_factory=dict)
    baseline_measurement: Measurement | None = None
    step_details: list[StepDetails] = Field(default_factory=list)
    source_sha256: str | None = None  # the file a bench measured: finds the run that made it
    created: str = Field(default_factory=lambda: datetime.now(timezone.utc).isoformat())
    _folder: Path | None = PrivateAttr(default=None)

    @property
    def folder(self) -> Path | None:
        """The run folder this result was loaded from (``None`` when built in memory)."""
        return self._folder

    def __eq__(self, other: object) -> bool:
        """Equal fields make equal results, wherever each was loaded from."""
        if not isinstance(other, RunResult):
            return NotImplemented
        return self.model_dump() == other.model_dump()

    __hash__ = None  # type: ignore[assignment]  # mutable, like every pydantic model


def write_result(run_dir: str | os.PathLike[str], result: RunResult) -> Path:
    """Atomically write ``result`` to ``run_dir/result.json``; return its path."""
    path = Path(run_dir) / RESULT_FILE
    missing = [rel for rel in result.artifacts.values() if not (Path(run_dir) / rel).exists()]
    if missing:
        raise ValueError(f"result names artifacts that do not exist: {missing}")
    document = result.model_dump(mode="json")
    leading = ("schema_version", "name", "kind", "model", "steps", "baseline")
    atomic.write_json(path, {key: document[key] for key in leading} | document)
    return path


def load_result(path: str | os.PathLike[str]) -> RunResult:
    """Read a ``result.json`` (or a run folder holding one); CompressError if unusable."""
    path, data = read_json(path, default_name=RESULT_FILE, what=f"a run folder with {RESULT_FILE}")
    if isinstance(data, dict) and data.get("schema_version") not in (None, *READABLE_VERSIONS):
        raise CompressError(
            f"{path}: schema_version {data.get('schema_version')!r} is not supported; "
            f"this segcompress reads versions {', '.join(map(str, READABLE_VERSIONS))}"
        )
    try:
        result = RunResult.model_validate(data)
    except ValidationError as error:
        raise CompressError(validation_message(error, source=str(path))) from None
    result = upgrade_v1(result) if result.schema_version == 1 else result
    result._folder = path.parent
    return result


def upgrade_v1(result: RunResult) -> RunResult:
    """Lift a version-1 result's same-process baseline out of ``extra`` (typed, v2 style).

    prune / factorize stored ``extra["baseline"]`` (params, MACs, size, metrics) and prune
    ``extra["baseline_latency"]``; quantize stored the fp32 ONNX as ``extra["fp32"]``.
    """
    if result.baseline_measurement is not None:
        return result
    extra = result.extra
    if isinstance(extra.get("baseline"), dict):
        base = extra["baseline"]
        result.baseline_measurement = Measurement(
            params=base.get("params"),
            macs=base.get("macs"),
            macs_input_size=result.macs_input_size,
            size_bytes=base.get("size_bytes"),
            size_artifact="fp32-state-dict",
            latency_ms=extra.get("baseline_latency") or {},
            metrics=base.get("metrics"),
        )
    elif isinstance(extra.get("fp32"), dict):
        fp32 = extra["fp32"]
        result.baseline_measurement = Measurement(
            params=result.params,
            macs=result.macs,
            macs_input_size=result.macs_input_size,
            size_bytes=fp32.get("size_bytes"),
            size_artifact="fp32-onnx",
            latency_ms=fp32.get("latency_ms") or {},
            metrics=fp32.get("metrics"),
        )
    return result
