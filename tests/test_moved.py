"""Old module paths answer with the moved module, once, with a deprecation warning."""

from __future__ import annotations

import importlib
import subprocess
import sys

import pytest

from compress.moved import MOVED


@pytest.mark.parametrize(("old", "new"), sorted(MOVED.items()))
def test_an_old_path_is_the_new_module(old: str, new: str) -> None:
    sys.modules.pop(old, None)
    with pytest.warns(DeprecationWarning, match=new.replace(".", r"\.")):
        module = importlib.import_module(old)
    assert module is importlib.import_module(new)


def test_names_imported_from_an_old_path_are_the_same_objects() -> None:
    code = (
        "import warnings; warnings.simplefilter('error', DeprecationWarning)\n"
        "try:\n    from compress.results import RunResult\nexcept DeprecationWarning as w:\n"
        "    print('warned:', w)\n"
        "warnings.simplefilter('ignore')\n"
        "from compress.results import RunResult\nfrom compress.core.results import RunResult as R\n"
        "print(RunResult is R)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "warned: compress.results moved to compress.core.results" in out.stdout
    assert out.stdout.strip().endswith("True")


def test_importing_the_packages_loads_no_torch() -> None:
    code = "import sys, compress, baselines, compress.core.errors; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_renamed_tables_keep_their_old_names_for_one_release() -> None:
    import warnings

    import compress.lowrank as lowrank
    import compress.lowrank.methods as methods
    from compress.lowrank.catalog import FACTORIZATION_METHODS

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        old = methods.METHODS
    assert set(old) == set(FACTORIZATION_METHODS)
    assert any(issubclass(w.category, DeprecationWarning) for w in caught)
    assert tuple(FACTORIZATION_METHODS) == lowrank.METHOD_NAMES
