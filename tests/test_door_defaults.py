"""One table of defaults: the step specs' field defaults (and BenchSettings').

A run is the same whichever door it comes through: ``compress prune/factorize/quantize``
with only the required options, ``compress.prune/factorize/quantize`` with only the
required arguments, and a recipe step with only its ``kind`` (and required fields) all
mean the table's defaults. A default changed at one door and not the others fails here.
"""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any

import pytest
import yaml

import compress
from compress.cli import main
from compress.core.errors import CompressError
from compress.pipeline.run_kinds import field_default
from compress.pipeline.spec import BenchSettings, VariantSpec
from compress.pipeline.steps import FactorizeStep, FinetuneStep, PruneStep, QuantizeStep

# a door's name for a field -> (step spec, field) when the names differ
API_FIELDS: dict[str, dict[str, tuple[type, str]]] = {
    "prune": {
        "ratio": (PruneStep, "ratio"),
        "target_macs": (PruneStep, "target_macs"),
        "target_latency_ms": (PruneStep, "target_latency_ms"),
        "importance": (PruneStep, "importance"),
        "ignore": (PruneStep, "ignored_layers"),
        "round_to": (PruneStep, "round_to"),
    },
    "factorize": {
        "method": (FactorizeStep, "method"),
        "rank": (FactorizeStep, "rank"),
        "target_macs": (FactorizeStep, "target_macs"),
        "layers": (FactorizeStep, "layers"),
        "input_size": (BenchSettings, "input_size"),
    },
    "quantize": {
        "method": (QuantizeStep, "method"),
        "calib_images": (QuantizeStep, "calib_images"),
        "calibration_method": (QuantizeStep, "calibration"),
        "per_channel": (QuantizeStep, "per_channel"),
        "equalize": (QuantizeStep, "equalize"),
        "bias_correction": (QuantizeStep, "bias_correction"),
        "epochs": (QuantizeStep, "epochs"),
        "lr": (QuantizeStep, "lr"),
        "qat_min_agreement": (QuantizeStep, "qat_min_agreement"),
        "opset": (QuantizeStep, "opset"),
        "loss": (QuantizeStep, "loss"),
        "class_weights": (QuantizeStep, "class_weights"),
        "max_drop": (QuantizeStep, "max_drop"),
        "control_images": (QuantizeStep, "control_images"),
        "max_reverted": (QuantizeStep, "max_reverted"),
        "float_op_types": (QuantizeStep, "float_op_types"),
    },
}


@pytest.mark.parametrize("name", sorted(API_FIELDS))
def test_the_python_api_has_the_table_defaults(name: str) -> None:
    parameters = inspect.signature(getattr(compress, name)).parameters
    for argument, (spec, field) in API_FIELDS[name].items():
        default = parameters[argument].default
        if spec.model_fields[field].is_required():
            assert default is inspect.Parameter.empty, argument
        else:
            expected = field_default(spec, field)
            shown = list(default) if isinstance(expected, list) else default
            assert shown == expected, (name, argument)
    runtime = inspect.signature(compress.prune).parameters["runtime"].default
    assert runtime == field_default(BenchSettings, "runtimes")[0]


def _spec_built_by(argv: list[str], monkeypatch: pytest.MonkeyPatch) -> VariantSpec:
    """The VariantSpec a command builds from ``argv`` (the run itself is not made)."""
    import compress.pipeline.run_kinds

    seen: dict[str, Any] = {}

    def fake(spec: VariantSpec, out: Any, **options: Any) -> None:
        seen["spec"] = spec
        raise CompressError("built")

    monkeypatch.setattr(compress.pipeline.run_kinds, "run_as", fake)
    assert main(argv) == 2
    return seen["spec"]


def _recipe_steps(tmp_path: Path, steps: list[dict[str, Any]]) -> list[Any]:
    from compress.recipes.load import load_recipe

    recipe = {
        "name": "defaults",
        "data": str(tmp_path),
        "baselines": [{"name": "base", "model": "unet"}],
        "variants": [{"name": "v", "baseline": "base", "steps": steps}],
    }
    path = tmp_path / "recipe.yaml"
    path.write_text(yaml.safe_dump(recipe))
    return list(load_recipe(path).variants[0].steps)


def test_cli_recipe_and_table_agree_on_prune_and_finetune(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    argv = ["prune", "--model", "unet", "--ratio", "0.5", "--finetune-epochs", "1"]
    spec = _spec_built_by([*argv, "--data", str(tmp_path)], monkeypatch)
    table = [PruneStep(ratio=0.5), FinetuneStep(epochs=1)]
    recipe = [{"kind": "prune", "ratio": 0.5}, {"kind": "finetune", "epochs": 1}]
    assert spec.steps == table == _recipe_steps(tmp_path, recipe)
    assert spec.bench == BenchSettings()
    assert (spec.device, spec.seed) == (field_default(VariantSpec, "device"), 0)


def test_cli_recipe_and_table_agree_on_factorize(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    spec = _spec_built_by(["factorize", "--model", "unet", "--method", "tucker"], monkeypatch)
    table = [FactorizeStep(method="tucker")]
    assert (
        spec.steps == table == _recipe_steps(tmp_path, [{"kind": "factorize", "method": "tucker"}])
    )
    assert spec.bench.input_size == field_default(BenchSettings, "input_size")


def test_cli_recipe_and_table_agree_on_quantize(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    (tmp_path / "c.pt").touch()
    argv = ["quantize", "--checkpoint", str(tmp_path / "c.pt"), "--data", str(tmp_path)]
    spec = _spec_built_by(argv, monkeypatch)
    assert spec.steps == [QuantizeStep()] == _recipe_steps(tmp_path, [{"kind": "quantize"}])
    bench = spec.bench
    assert (bench.runs, bench.warmup, bench.threads) == (
        field_default(BenchSettings, "runs"),
        field_default(BenchSettings, "warmup"),
        field_default(BenchSettings, "threads"),
    )


def test_sensitivity_options_default_to_its_spec(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import compress.pipeline.sensitivity_run
    from compress.pruning.profile import SensitivitySpec

    seen: dict[str, Any] = {}

    def fake(spec: SensitivitySpec, out: Any = None) -> None:
        seen["spec"] = spec
        raise CompressError("built")

    monkeypatch.setattr(compress.pipeline.sensitivity_run, "run_sensitivity", fake)
    assert main(["sensitivity", "--model", "unet", "--data", str(tmp_path)]) == 2
    assert seen["spec"] == SensitivitySpec(model="unet", data=str(tmp_path))
