"""The one table of calibration methods behind ``calibration`` / ``--calibration``.

Each entry names ONNX Runtime's ``CalibrationMethod`` member that estimates the ranges,
whether it keeps histograms (then images are collected in strides to bound memory)
and its help text. The spec's allowed values, its validation message and the CLI help
derive from this table, so a new range estimator is one entry here (docs/extending.md).
Importing this module stays cheap: ONNX Runtime is imported by the quantizer.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from pydantic import AfterValidator


@dataclass(frozen=True)
class Calibrator:
    """One range estimator: ``ort_method`` is the ``CalibrationMethod`` member's name."""

    name: str
    ort_method: str
    help: str
    histogram: bool = False  # collects whole activation tensors (strided, bounded memory)


CALIBRATORS: dict[str, Calibrator] = {
    calibrator.name: calibrator
    for calibrator in (
        Calibrator("minmax", "MinMax", "min/max of every activation over the images"),
        Calibrator("entropy", "Entropy", "range that minimises the KL divergence of a histogram",
                   histogram=True),
        Calibrator("percentile", "Percentile", "the --percentile of |activation| values",
                   histogram=True),
    )
}  # fmt: skip


def check_calibration(name: str) -> str:
    """``name`` if it is a calibration method of :data:`CALIBRATORS`, else ValueError."""
    if name not in CALIBRATORS:
        raise ValueError(f"calibration {name!r} is unknown; valid: {', '.join(CALIBRATORS)}")
    return name


# A spec field holding a calibration method's name, validated against the table.
CalibrationName = Annotated[str, AfterValidator(check_calibration)]


def calibration_help() -> str:
    """CLI help: ``minmax, entropy or percentile``."""
    names = list(CALIBRATORS)
    return ", ".join(names[:-1]) + f" or {names[-1]}"
