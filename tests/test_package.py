"""The top of the package: cheap to import, and its API names stay the API functions."""

from __future__ import annotations

import importlib
import subprocess
import sys

import pytest


def _run(code: str) -> str:
    """``code`` in a fresh interpreter (a clean ``sys.modules``); its stdout, stripped."""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return out.stdout.strip()


def test_importing_the_packages_loads_no_torch() -> None:
    code = "import sys, compress, baselines, compress.core.errors; print('torch' in sys.modules)"
    assert _run(code) == "False"


def test_importing_a_module_keeps_the_api_function() -> None:
    code = (
        "import compress, importlib, inspect\n"
        "importlib.import_module('compress.measure.evaluate')\n"
        "print(inspect.isfunction(compress.evaluate), compress.evaluate.__name__)\n"
    )
    assert _run(code) == "True evaluate"


def test_an_old_module_path_is_gone() -> None:
    code = (
        "import compress, importlib, inspect\n"
        "try:\n    importlib.import_module('compress.evaluate')\n"
        "except ModuleNotFoundError as error:\n    print(error.name)\n"
        "print(inspect.isfunction(compress.evaluate))\n"
    )
    assert _run(code).split() == ["compress.evaluate", "True"]


@pytest.mark.parametrize(
    "package", ["compress.data", "compress.lowrank", "compress.pruning", "compress.quantization"]
)
def test_every_lazy_name_of_a_package_resolves(package: str) -> None:
    """A lazy table names only what its modules define (no entry outlives its target)."""
    module = importlib.import_module(package)
    missing = [name for name in module.__all__ if not hasattr(module, name)]
    assert missing == []
