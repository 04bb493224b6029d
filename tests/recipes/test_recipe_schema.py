"""Recipe validation: every problem at once, with its YAML path; the shipped recipes load."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from compress.core.errors import CompressError
from compress.recipes.load import load_recipe, yaml_path

REPO = Path(__file__).resolve().parents[2]
SHIPPED = sorted((REPO / "recipes").glob("*.yaml"))


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.name)
def test_shipped_recipes_validate(path: Path) -> None:
    recipe = load_recipe(path)
    assert recipe.baselines and recipe.name


def write(tmp_path: Path, document) -> Path:
    path = tmp_path / "recipe.yaml"
    path.write_text(yaml.safe_dump(document))
    return path


BASE = {"name": "t", "data": "somewhere", "baselines": [{"name": "a", "model": "unet"}]}


def test_every_problem_is_reported_with_its_path(tmp_path: Path) -> None:
    document = BASE | {
        "variants": [
            {
                "name": "v",
                "baseline": "a",
                "steps": [{"kind": "prune", "ratio": 1.5}, {"kind": "finetune", "epochs": 0}],
            },
            {"name": "w", "baseline": "a", "steps": [{"kind": "prnue"}]},
        ],
        "bench": {"runs": -1},
    }
    with pytest.raises(CompressError) as caught:
        load_recipe(write(tmp_path, document))
    message = str(caught.value)
    assert "variants[0].steps[0].ratio: ratio 1.5 is outside (0, 1)" in message
    assert "got 1.5" in message
    assert "variants[0].steps[1].epochs" in message
    assert "variants[1].steps[0]" in message and "'prnue'" in message
    assert "bench.runs" in message and "\n" not in message


@pytest.mark.parametrize(
    "variants, expected",
    [
        (
            [{"name": "v", "baseline": "zz", "steps": [{"kind": "finetune", "epochs": 1}]}],
            "variants[0].baseline: 'zz' is not a baseline",
        ),
        (
            [
                {
                    "name": "v",
                    "baseline": "a",
                    "steps": [{"kind": "quantize"}, {"kind": "prune", "ratio": 0.5}],
                }
            ],
            "must be the last step",
        ),
        (
            [{"name": "a", "baseline": "a", "steps": [{"kind": "finetune", "epochs": 1}]}],
            "name 'a' is used more than once",
        ),
    ],
)
def test_cross_step_and_reference_rules(tmp_path: Path, variants, expected) -> None:
    with pytest.raises(CompressError, match=expected.replace("[", r"\[").replace("]", r"\]")):
        load_recipe(write(tmp_path, BASE | {"variants": variants}))


def test_yaml_path_hides_the_union_tag() -> None:
    assert yaml_path(("variants", 2, "steps", 0, "prune", "ratio")) == "variants[2].steps[0].ratio"


def test_unsafe_yaml_and_huge_files_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "evil.yaml"
    path.write_text("name: !!python/object/apply:os.system ['true']\n")
    with pytest.raises(CompressError, match="not valid YAML"):
        load_recipe(path)
    path.write_text("x" * (2 << 20))
    too_big = "is 2097152 bytes; at most 1048576 bytes are read as YAML"
    with pytest.raises(CompressError, match=too_big):
        load_recipe(path)


def _mutations():
    """A shipped recipe with one value anywhere replaced by something else."""
    values = st.one_of(
        st.none(),
        st.integers(-5, 5),
        st.floats(allow_nan=True),
        st.text(max_size=5),
        st.lists(st.integers(), max_size=2),
        st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
    )
    return st.tuples(st.sampled_from(SHIPPED), st.integers(0, 10_000), values)


def _replace(node, target: int, value, counter: list[int]):
    if isinstance(node, dict):
        return {k: _replace(v, target, value, counter) for k, v in node.items()}
    if isinstance(node, list):
        return [_replace(v, target, value, counter) for v in node]
    counter[0] += 1
    return value if counter[0] == target else node


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(_mutations())
def test_mutated_recipes_never_end_in_a_traceback(tmp_path: Path, mutation) -> None:
    path, target, value = mutation
    document = yaml.safe_load(path.read_text())
    count = [0]
    mutated = _replace(document, target % 80 + 1, value, count)
    recipe = tmp_path / "mutated.yaml"
    recipe.write_text(yaml.safe_dump(mutated))
    try:
        load_recipe(recipe)
    except CompressError as error:
        assert "\n" not in str(error) and str(recipe) in str(error)
