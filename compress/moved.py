"""Old import paths of modules that moved into the layer packages, kept for one release.

``import compress.results`` still works and returns the very module
``compress.core.results`` (same objects, so ``isinstance`` holds), with a
``DeprecationWarning`` naming the new path. One table instead of a shim file per module
keeps the package tree equal to the architecture: core, measure, training, deploy,
techniques, reporting, pipeline, recipes, cli (docs/architecture.md). Remove in 0.3.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import sys
import warnings
from types import ModuleType

MOVED: dict[str, str] = {
    "compress.errors": "compress.core.errors",
    "compress.atomic": "compress.core.atomic",
    "compress.specs": "compress.core.specs",
    "compress.runs": "compress.core.runs",
    "compress.results": "compress.core.results",
    "compress.measurements": "compress.core.measurements",
    "compress.step_details": "compress.core.step_details",
    "compress.checkpoint": "compress.core.checkpoint",
    "compress.device": "compress.core.device",
    "compress.metrics": "compress.measure.metrics",
    "compress.evaluate": "compress.measure.evaluate",
    "compress.macs": "compress.measure.macs",
    "compress.size": "compress.measure.size",
    "compress.latency": "compress.measure.latency",
    "compress.runtimes": "compress.measure.runtimes",
    "compress.roof": "compress.measure.roof",
    "compress.environment": "compress.measure.environment",
    "compress.fit": "compress.training.fit",
    "compress.train": "compress.training.train",
    "compress.train_spec": "compress.training.train_spec",
    "compress.history": "compress.training.history",
    "compress.seeding": "compress.training.seeding",
    "compress.plots.curves": "compress.training.curves",
    "compress.export": "compress.deploy.export",
    "compress.predict": "compress.deploy.predict",
    "compress.bench": "compress.deploy.bench",
    "compress.base_model": "compress.deploy.base_model",
    "compress.report": "compress.reporting.compare",
    "compress.formatting": "compress.reporting.formatting",
    "compress.plots": "compress.reporting.plots",
    "compress.plots.examples": "compress.reporting.plots.examples",
    "compress.plots.pareto": "compress.reporting.plots.pareto",
    "compress.plots.per_class": "compress.reporting.plots.per_class",
    "compress.plots.sensitivity": "compress.reporting.plots.sensitivity",
    "compress.pruning.step": "compress.pipeline.techniques.prune",
    "compress.lowrank.step": "compress.pipeline.techniques.factorize",
    "compress.quantization.step": "compress.pipeline.techniques.quantize",
    "compress.pipeline.finetune": "compress.pipeline.techniques.finetune",
}


class _Alias(importlib.abc.Loader):
    def __init__(self, target: str) -> None:
        self.target = target

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType:
        warnings.warn(
            f"{spec.name} moved to {self.target}; the old path goes away in segcompress 0.3",
            DeprecationWarning,
            stacklevel=2,
        )
        return importlib.import_module(self.target)

    def exec_module(self, module: ModuleType) -> None:
        """The target module is already executed."""


class MovedModuleFinder(importlib.abc.MetaPathFinder):
    """Finds an old module path in :data:`MOVED` and answers with the new module."""

    def find_spec(self, fullname: str, path: object, target: object = None) -> object:
        new = MOVED.get(fullname)
        if new is None:
            return None
        found = importlib.util.find_spec(new)
        package = found is not None and found.submodule_search_locations is not None
        return importlib.machinery.ModuleSpec(fullname, _Alias(new), is_package=package)


def install() -> None:
    """Put the finder first on ``sys.meta_path``, once.

    First, so that ``compress.plots.pareto`` is answered here and not found again as a file
    under the aliased package's path (which would load a second copy of the module).
    It answers only the names in :data:`MOVED`.
    """
    if not any(isinstance(finder, MovedModuleFinder) for finder in sys.meta_path):
        sys.meta_path.insert(0, MovedModuleFinder())
