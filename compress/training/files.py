"""The files a training run writes into its run folder, beside ``spec.yaml``."""

from __future__ import annotations

BEST_FILE = "best.pt"  # the best-validated weights
LAST_FILE = "checkpoints/last.pt"  # everything an exact resume needs, after every epoch
CURVES_FILE = "curves.png"
