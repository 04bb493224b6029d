"""``run_recipe``: train the baselines, run the variants, measure and compare - resumably.

Output folder layout (every folder keyed by the digest of what it holds, so a changed
configuration gets a new folder and never overwrites a finished one)::

    OUT/data/                          synthetic scenes (when the recipe asks for them)
    OUT/baselines/<name>-<digest>/     training run of a baseline the recipe trains
    OUT/measured/<name>-<digest>/      a baseline measured on the eval split (bench run)
    OUT/steps/<i>-<kind>-<digest>/     one step prefix of a variant (shared by variants)
    OUT/variants/<name>-<digest>/      a variant measured beside its baseline (result.json)
    OUT/comparison.{md,csv,json}, OUT/pareto.png

A rerun skips what is finished and resumes an interrupted training or fine-tune; after
``kill -9`` the same command ends with the same numbers (tested).
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from compress.core.errors import CompressError
from compress.core.paths import require_folder
from compress.core.runs import spec_digest
from compress.recipes.schema import BaselineEntry, DataSource, Recipe, VariantEntry

TRAIN_FIELDS = (
    "epochs",
    "batch_size",
    "crop",
    "lr",
    "weight_decay",
    "milestones",
    "gamma",
    "schedule",
    "augment",
    "val_every",
    "workers",
    "pretrained",
    "class_weights",
    "loss",
    "optimizer",
    "weight_decay_scope",
    "warmup_epochs",
    "ema",
    "input_pipeline",
)


@dataclass
class PlannedItem:
    """One unit of work of a recipe: what it is, where it goes, and its state."""

    kind: str  # data, baseline, measure, step, variant
    name: str
    folder: Path
    state: str  # finished, will resume, will run, given
    children: list[PlannedItem] = field(default_factory=list)


@dataclass
class RecipeOutcome:
    """The measured runs (baselines first) and the files the report wrote."""

    runs: list[Path]
    written: list[Path]
    comparison: Any = None


def data_folder(recipe: Recipe, out: Path, override: str | None = None) -> str | None:
    """The data set folder the recipe reads (``--data`` wins; synthetic: ``OUT/data``)."""
    if override is not None:
        return str(Path(override).resolve())
    if recipe.data is None:
        return None
    if isinstance(recipe.data, DataSource):
        return str((out / "data").resolve())
    return str(Path(recipe.data).resolve())


def ensure_data(recipe: Recipe, data: str | None, *, log: Any = None) -> None:
    """Write the synthetic scenes on first use (to a temporary folder, then renamed)."""
    if data is None:
        return
    path = Path(data)
    if isinstance(recipe.data, DataSource) and not (path / "dataset.yaml").is_file():
        from compress.data import write_synthetic_dataset

        scratch = path.with_name(path.name + ".partial")
        shutil.rmtree(scratch, ignore_errors=True)
        synthetic = recipe.data.synthetic
        write_synthetic_dataset(
            scratch, n=synthetic.n, size=synthetic.size, seed=synthetic.seed, log=log
        )
        scratch.rename(path)
    require_folder(path, "data", "a data set folder")


def train_spec(recipe: Recipe, entry: BaselineEntry, data: str) -> Any:
    """The :class:`TrainSpec` of a baseline the recipe trains, resolved."""
    from compress.training.fit import resolve_spec
    from compress.training.train_spec import TrainSpec

    options = recipe.train.model_dump() | entry.train
    spec = TrainSpec.model_validate(
        {
            "model": entry.model,
            "model_options": entry.model_options,
            "data": data,
            "device": recipe.device,
            "seed": recipe.seed,
            **{key: options[key] for key in TRAIN_FIELDS},
        }
    )
    return resolve_spec(spec)[0]


def baseline_folder(out: Path, entry: BaselineEntry, spec: Any) -> Path:
    return out / "baselines" / f"{entry.name}-{spec_digest(spec.model_dump(mode='json'))[:8]}"


def baseline_checkpoint(recipe: Recipe, entry: BaselineEntry, out: Path, data: str | None) -> Path:
    """Where a baseline's weights are (the trained run's ``best.pt``, or the given file)."""
    if entry.checkpoint is not None:
        path = Path(entry.checkpoint)
        if not path.is_file():
            raise CompressError(f"baselines: {entry.name}: checkpoint {path} does not exist")
        return path.resolve()
    assert data is not None
    return baseline_folder(out, entry, train_spec(recipe, entry, data)) / "best.pt"


def run_recipe(
    recipe: Recipe,
    out: str | Path,
    *,
    only: list[str] | None = None,
    data: str | None = None,
    progress: bool = True,
    console: Any = None,
) -> RecipeOutcome:
    """Run ``recipe`` into ``out``: baselines, then the selected variants, then the report."""
    from compress.pipeline.baseline import open_baseline
    from compress.pipeline.variant import run_variant
    from compress.recipes.store import KeyedStore
    from compress.training.train import LAST_FILE, train

    out = Path(out)
    variants = recipe.selected(only)
    needed = {v.baseline for v in variants} if only else {b.name for b in recipe.baselines}
    data_path = data_folder(recipe, out, data)
    say = console.print if console is not None else (lambda *a, **k: None)
    ensure_data(recipe, data_path, log=lambda line: say(f"[dim]{line}[/dim]"))
    checkpoints: dict[str, Path] = {}
    measured: list[Path] = []
    for entry in recipe.baselines:
        if entry.name not in needed:
            continue
        if entry.model is not None:
            assert data_path is not None
            spec = train_spec(recipe, entry, data_path)
            folder = baseline_folder(out, entry, spec)
            say(f"[bold]baseline {entry.name}[/]: training {spec.model} into {folder}")
            train(spec, folder, resume=(folder / LAST_FILE).is_file(), progress=progress)
        checkpoints[entry.name] = baseline_checkpoint(recipe, entry, out, data_path)
        say(f"[bold]baseline {entry.name}[/]: measuring on {recipe.eval.split}")
        measured.append(measure_baseline(recipe, entry, checkpoints[entry.name], out, data_path))
    for entry in variants:
        checkpoint = str(checkpoints[entry.baseline])
        spec = recipe.variant_spec(entry, data=data_path, checkpoint=checkpoint)
        base, resolved = open_baseline(spec)
        base.name = entry.baseline
        folder = variant_folder(out, entry, resolved)
        say(
            f"[bold]variant {entry.name}[/]: {' -> '.join(s.kind for s in entry.steps)} "
            f"into {folder}"
        )
        outcome = run_variant(
            resolved,
            folder,
            opened=(base, resolved),
            kind="variant",
            store=KeyedStore(out, resolved),
            progress=progress,
        )
        measured.append(outcome.run_dir)
    return report(recipe, out, measured)


def variant_folder(out: Path, entry: VariantEntry, resolved: Any) -> Path:
    return out / "variants" / f"{entry.name}-{spec_digest(resolved.model_dump(mode='json'))[:8]}"


def measure_baseline(
    recipe: Recipe, entry: BaselineEntry, checkpoint: Path, out: Path, data: str | None
) -> Path:
    """The baseline's own row: eval-split accuracy, size, MACs, latency (bench run)."""
    from compress.core.results import RESULT_FILE, load_result, write_result
    from compress.deploy.bench import BenchSpec, run_bench

    bench = recipe.bench
    spec = BenchSpec(
        checkpoint=checkpoint,
        data=Path(data) if data else None,
        split=recipe.eval.split,
        input_size=bench.input_size,
        runtimes=list(bench.runtimes),
        runs=bench.runs,
        warmup=bench.warmup,
        threads=bench.threads,
        roof=False,
        seed=recipe.seed,
        name=entry.name,
    )
    digest = spec_digest(spec.model_dump(mode="json") | {"sha": _sha(checkpoint)})[:8]
    folder = out / "measured" / f"{entry.name}-{digest}"
    finished = (folder / RESULT_FILE).is_file()
    result = run_bench(spec, out=folder)
    origin = checkpoint.parent / RESULT_FILE
    if not finished and origin.is_file():  # the study's table shows training time beside latency
        result.training = load_result(origin).training
        write_result(folder, result)
    return folder


def _sha(path: Path) -> str:
    from compress.core.runs import file_sha256

    return file_sha256(str(path))


def report(recipe: Recipe, out: Path, runs: list[Path]) -> RecipeOutcome:
    """The comparison (every variant against its own baseline) and plots, written to ``out``."""
    from compress.core import atomic
    from compress.reporting.compare import compare, load_results
    from compress.reporting.formatting import render_text
    from compress.reporting.lineage import parents_by_prefix

    results = load_results(runs)
    comparison = compare(results, parents=parents_by_prefix(recipe.variants))
    written: list[Path] = []
    suffix = {"md": "md", "csv": "csv", "json": "json", "study": "study.txt", "table": "txt"}
    for fmt in recipe.report.formats:
        path = out / f"comparison.{suffix[fmt]}"
        atomic.write_text(path, render_text(comparison, fmt))
        written.append(path)
    if "pareto" in recipe.report.plots:
        from compress.reporting.plots.pareto import plot_pareto

        try:
            plot_pareto(results, out / "pareto.png")
            written.append(out / "pareto.png")
        except CompressError:
            pass  # fewer than two runs with latency and mIoU: nothing to plot
    return RecipeOutcome(runs=runs, written=written, comparison=comparison)


def plan_recipe(
    recipe: Recipe, out: str | Path, *, only: list[str] | None = None, data: str | None = None
) -> list[PlannedItem]:
    """What :func:`run_recipe` would do, and what is finished already (no work done)."""
    from compress.core.results import RESULT_FILE
    from compress.training.train import LAST_FILE

    out = Path(out)
    variants = recipe.selected(only)
    needed = {v.baseline for v in variants} if only else {b.name for b in recipe.baselines}
    data_path = data_folder(recipe, out, data)
    items: list[PlannedItem] = []
    if isinstance(recipe.data, DataSource) and data is None:
        assert data_path is not None
        ready = (Path(data_path) / "dataset.yaml").is_file()
        items.append(
            PlannedItem(
                "data", "synthetic scenes", Path(data_path), "finished" if ready else "will run"
            )
        )
    checkpoints: dict[str, Path] = {}
    for entry in recipe.baselines:
        if entry.name not in needed:
            continue
        if entry.checkpoint is not None:
            checkpoints[entry.name] = Path(entry.checkpoint).resolve()
            items.append(PlannedItem("baseline", entry.name, checkpoints[entry.name], "given"))
            continue
        assert data_path is not None
        if not Path(data_path).is_dir():  # synthetic scenes not written yet
            checkpoints[entry.name] = out / "baselines" / entry.name / "best.pt"
            items.append(PlannedItem("baseline", entry.name, out / "baselines", "will run"))
            continue
        folder = baseline_folder(out, entry, train_spec(recipe, entry, data_path))
        checkpoints[entry.name] = folder / "best.pt"
        items.append(
            PlannedItem("baseline", entry.name, folder, _state(folder, RESULT_FILE, LAST_FILE))
        )
    for entry in variants:
        checkpoint = str(checkpoints[entry.baseline])
        spec = recipe.variant_spec(entry, data=data_path, checkpoint=checkpoint)
        if Path(str(spec.baseline.checkpoint)).is_file():
            from compress.pipeline.baseline import open_baseline

            resolved = open_baseline(spec)[1]
            folder = variant_folder(out, entry, resolved)
            done = (folder / RESULT_FILE).is_file()
        else:  # its baseline is not trained yet: nothing of it can be finished
            resolved, folder, done = spec, out / "variants" / entry.name, False
        item = PlannedItem("variant", entry.name, folder, "finished" if done else "will run")
        item.children = _planned_steps(out, resolved)
        if not done and all(c.state == "finished" for c in item.children):
            item.state = "steps finished; will measure"
        items.append(item)
    return items


def _state(folder: Path, done: str, partial: str) -> str:
    if (folder / done).is_file():
        return "finished"
    if (folder / partial).is_file():
        return "will resume"
    return "will run"


def _planned_steps(out: Path, resolved: Any) -> list[PlannedItem]:
    """A variant's steps, each with its folder and state; the steps of one stage (iterative
    pruning between fine-tunes) are stored together, under the last one."""
    from compress.pipeline.engine import stages
    from compress.recipes.store import STEP_FILE, prefix_digests
    from compress.reporting.step_labels import step_label
    from compress.training.train import LAST_FILE

    digests = prefix_digests(resolved)
    items: list[PlannedItem] = []
    for stage in stages(resolved):
        for index in stage:
            step = resolved.steps[index]
            folder = out / "steps" / f"{index:02d}-{step.kind}-{digests[index][:10]}"
            items.append(PlannedItem("step", step_label(step.model_dump()), folder, ""))
        last = items[-1].folder
        state = _state(last, STEP_FILE, f"{resolved.steps[stage[-1]].kind}/{LAST_FILE}")
        for item in items[-len(stage) :]:
            item.state = state
    return items
