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

from compress.core.tables import name_checker, or_list


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
        Calibrator(
            "entropy",
            "Entropy",
            "range that minimises the KL divergence of a histogram",
            histogram=True,
        ),
        Calibrator(
            "percentile", "Percentile", "the --percentile of |activation| values", histogram=True
        ),
    )
}


check_calibration = name_checker(CALIBRATORS, "calibration")


# A spec field holding a calibration method's name, validated against the table.
CalibrationName = Annotated[str, AfterValidator(check_calibration)]


def calibration_help() -> str:
    """CLI help: ``minmax, entropy or percentile``."""
    return or_list(list(CALIBRATORS))
