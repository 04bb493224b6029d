"""Budget-driven pruning with per-group ratios, and latency measured beside MACs."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
import torch

import compress.pipeline.measure
import compress.pipeline.run_kinds
import compress.pipeline.variant
import compress.pruning.latency
from compress.cli import main
from compress.core.checkpoint import load_checkpoint
from compress.core.errors import CompressError
from compress.core.results import LatencyStats, Measurement, RunResult, write_result
from compress.measure.macs import count_macs_params
from compress.pipeline.report import latency_fraction, macs_fraction, verdict
from compress.pipeline.run_kinds import run_as
from compress.pipeline.spec import VariantSpec
from compress.pipeline.variant import VariantOutcome
from compress.pruning.allocate import greedy_schedule
from compress.pruning.budget import resolve_budget
from compress.pruning.graph import channel_counts
from compress.pruning.latency import LatencySetup
from compress.pruning.profile import SensitivityProfile
from compress.pruning.prune import PruningSession
from compress.pruning.spec import PruneSpec

TINY = {"base_channels": 8}
SIZE = (32, 32)


class TinyNet(torch.nn.Module):
    """Three prunable groups (stem.0, body.0, neck.0) and a protected classifier."""

    def __init__(self) -> None:
        super().__init__()
        conv, bn, relu = torch.nn.Conv2d, torch.nn.BatchNorm2d, torch.nn.ReLU
        self.stem = torch.nn.Sequential(conv(3, 16, 3, padding=1), bn(16), relu())
        self.body = torch.nn.Sequential(conv(16, 32, 3, padding=1), bn(32), relu())
        self.neck = torch.nn.Sequential(conv(32, 16, 1), bn(16), relu())
        self.classifier = conv(16, 8, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.neck(self.body(self.stem(x))))


def group(name: str, channels: int, drop_per_ratio: float, ratios=(0.5, 0.75)) -> dict:
    points = [
        {
            "ratio": r,
            "channels_pruned": int(channels * r),
            "macs": 0,
            "macs_saved": int(1000 * channels * r),
            "miou": 0.5 - drop_per_ratio * r,
            "miou_drop": drop_per_ratio * r,
        }
        for r in ratios
    ]
    return {"name": name, "channels": channels, "points": points}


def make_profile(groups: list[dict], model: str = "unet", **fields) -> SensitivityProfile:
    data = {
        "model": model,
        "importance": "l2",
        "round_to": None,
        "input_size": SIZE,
        "split": "val",
        "num_images": 1,
        "baseline_miou": 0.5,
        "baseline_macs": 10**9,
        "ratios": [0.5, 0.75],
        "groups": groups,
    } | fields
    return SensitivityProfile.model_validate(data)


def sensitive(name: str) -> bool:
    return name.startswith(("encoders", "bottleneck"))


@pytest.fixture(scope="module")
def unet_profile() -> SensitivityProfile:
    """Encoders and bottleneck lose a lot when pruned, decoders and ups nearly nothing."""
    model = tiny_unet()
    names = PruningSession(
        model, PruneSpec(ratio=0.5, round_to=None), example_input=torch.zeros(1, 3, *SIZE)
    ).groups()
    return make_profile(
        [group(g.name, g.channels, 0.3 if sensitive(g.name) else 0.001) for g in names]
    )


def tiny_unet() -> torch.nn.Module:
    from baselines import get_model

    torch.manual_seed(0)
    return get_model("unet", num_classes=8, **TINY)


def write_profile(folder: Path, profile: SensitivityProfile) -> Path:
    folder.mkdir(parents=True)
    result = RunResult(
        name=folder.name,
        kind="sensitivity",
        model=profile.model,
        extra={"profile": profile.model_dump(mode="json")},
    )
    write_result(folder, result)
    return folder


def run_spec(
    *, prune: dict, bench: bool = False, data: str | None = None, **step: object
) -> VariantSpec:
    """The variant ``compress prune`` builds: timed when asked and for a latency budget."""
    prune_step = {"kind": "prune", **prune, **step}
    return VariantSpec.model_validate(
        {
            "baseline": {"model": "unet", "model_options": TINY},
            "steps": [prune_step],
            "data": data,
            "device": "cpu",
            "bench": {
                "enabled": bench or "target_latency_ms" in prune,
                "input_size": SIZE,
                "runs": 2,
                "warmup": 0,
            },
        }
    )


def run_prune(spec: VariantSpec, out: Path, *, progress: bool = True) -> VariantOutcome:
    return run_as(spec, out, kind="prune", progress=progress)


def test_greedy_takes_the_cheapest_moves_first() -> None:
    profile = make_profile(
        [
            group("a", 16, 0.001),
            group("b", 16, 0.5),
            {
                "name": "c",
                "channels": 8,
                "points": [  # rounding: 0.5 saves nothing, 0.75 does
                    {
                        "ratio": 0.5,
                        "channels_pruned": 0,
                        "macs": 0,
                        "macs_saved": 0,
                        "miou": 0.5,
                        "miou_drop": 0.0,
                    },
                    {
                        "ratio": 0.75,
                        "channels_pruned": 6,
                        "macs": 0,
                        "macs_saved": 6000,
                        "miou": 0.49,
                        "miou_drop": 0.01,
                    },
                ],
            },
        ],
        model="tiny",
    )
    schedule = greedy_schedule(profile)
    assert schedule[0].ratios == {}
    assert schedule[1].ratios == {"a": 0.5} and schedule[2].ratios == {"a": 0.75}
    assert schedule[3].ratios == {"a": 0.75, "c": 0.75}  # skips c's empty 0.5 level
    assert schedule[-1].ratios == {"a": 0.75, "b": 0.75, "c": 0.75} and len(schedule) == 6
    drops = [a.predicted_drop for a in schedule]
    assert drops == sorted(drops)


def test_layer_ratios_prune_only_the_named_group() -> None:
    model = TinyNet()
    before = channel_counts(model)
    session = PruningSession(
        model,
        PruneSpec(layer_ratios={"body.0": 0.5}, round_to=None),
        example_input=torch.zeros(1, 3, *SIZE),
    )
    session.run()
    after = channel_counts(model)
    assert after["body.0"] == [16, 16] and after["neck.0"] == [16, 16]
    assert after["stem.0"] == before["stem.0"] and after["classifier"] == before["classifier"]
    assert session.record()["layer_ratios"] == {"body.0": 0.5}
    with pytest.raises(CompressError, match="'body' is not the root layer.*stem.0"):
        PruningSession(
            TinyNet(), PruneSpec(layer_ratios={"body": 0.5}), example_input=torch.zeros(1, 3, *SIZE)
        )


@pytest.mark.parametrize(
    "fields, message",
    [
        ({"layer_ratios": {"a": 1.0}}, r"outside \[0, 1\)"),
        ({"layer_ratios": {"a": 0.5}, "target_macs": 0.5}, "one or the other"),
        ({"layer_ratios": {"a": 0.5}, "scope": "global"}, "scope uniform"),
        ({"ratio": 0.5, "target_latency_ms": 3.0}, "exactly one"),
        ({"target_latency_ms": 0.0}, "must be > 0"),
    ],
)
def test_prune_spec_rules(fields: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        PruneSpec(**fields)


def test_macs_budget_from_a_profile_prunes_the_insensitive_groups(unet_profile, tmp_path) -> None:
    folder = write_profile(tmp_path / "sens", unet_profile)
    spec = run_spec(prune={"target_macs": 0.75, "round_to": None}, sensitivity=str(folder))
    result = run_prune(spec, tmp_path / "run", progress=False).result
    detail = result.step_details[0]
    budget, ratios = detail.budget, detail.layer_ratios
    assert budget["allocation"] == "sensitivity" and budget["met"] is True
    assert macs_fraction(result) <= 0.75 and budget["achieved"] == macs_fraction(result)
    assert ratios and not any(sensitive(name) for name in ratios)  # the cheap groups only
    assert len(ratios) < len(unet_profile.groups)  # non-uniform: the others stay whole
    loaded = load_checkpoint(tmp_path / "run" / "pruned.pt")
    assert loaded.structure[-1]["layer_ratios"] == ratios
    assert loaded.model(torch.zeros(1, 3, *SIZE)).shape == (1, 8, *SIZE)


def test_macs_budget_profiles_on_the_fly_with_data(tmp_path) -> None:
    from compress.data import write_synthetic_dataset

    data = write_synthetic_dataset(tmp_path / "data", n=6, size=64, seed=0)
    spec = run_spec(
        prune={"target_macs": 0.6, "round_to": None},
        data=str(data),
        sensitivity_ratios=[0.5],
        max_images=1,
    )
    outcome = run_prune(spec, tmp_path / "run", progress=False)
    detail = outcome.result.step_details[0]
    assert detail.budget["allocation"] == "sensitivity" and detail.budget["met"] is True
    assert detail.budget["profile_source"] == "computed on val"
    assert detail.budget["profile"]["num_images"] == 1
    assert set(detail.layer_ratios.values()) == {0.5} and macs_fraction(outcome.result) <= 0.6
    assert (outcome.run_dir / outcome.result.artifacts["sensitivity_plot"]).is_file()
    assert outcome.result.metrics is not None and outcome.result.metrics.split == "val"


def test_a_profile_of_other_settings_is_refused(unet_profile, tmp_path) -> None:
    other = unet_profile.model_copy(update={"importance": "l1"})
    folder = write_profile(tmp_path / "sens", other)
    spec = run_spec(prune={"target_macs": 0.5, "round_to": None}, sensitivity=str(folder))
    with pytest.raises(CompressError, match="importance 'l1'.*'l2'"):
        run_prune(spec, tmp_path / "run", progress=False)


def fake_latency(miss_first_confirmation: bool = False):
    """Latency = MACs / 1e6 ms, deterministic; optionally the first time a model is measured
    a second time (the search's confirmation) it reads 3x slower, as noise would."""
    counts: dict[int, int] = {}
    state = {"missed": not miss_first_confirmation}

    def measure(model, setup, *, macs=None):
        value = count_macs_params(model, setup.input_size)[0]
        counts[value] = counts.get(value, 0) + 1
        p50 = value / 1e6
        if counts[value] == 2 and not state["missed"]:
            state["missed"] = True
            p50 *= 3
        stats = LatencyStats(
            p50=p50, p90=p50, min=p50, runs=setup.runs, warmup=0, input_size=setup.input_size
        )
        return "ort-cpu", stats

    return measure


def test_latency_budget_goes_on_when_a_confirmation_misses(monkeypatch) -> None:
    monkeypatch.setattr(compress.pruning.latency, "measure_model", fake_latency(True))
    model = TinyNet()
    target = 0.6 * count_macs_params(model, SIZE)[0] / 1e6
    profile = make_profile(
        [group("stem.0", 16, 0.01), group("body.0", 32, 0.02), group("neck.0", 16, 0.03)],
        model="tiny",
    )
    choice = resolve_budget(
        model,
        PruneSpec(target_latency_ms=target, round_to=None),
        profile=profile,
        example_input=torch.zeros(1, 3, *SIZE),
        latency=LatencySetup(input_size=SIZE, runs=2),
    )
    assert choice.allocation == "sensitivity" and choice.measured <= target
    met = {p["index"] for p in choice.probes if p["met"]}
    missed_on_confirmation = [
        p["index"] for p in choice.probes if not p["met"] and p["index"] in met
    ]
    assert missed_on_confirmation, choice.probes
    final = greedy_schedule(profile).index(
        next(a for a in greedy_schedule(profile) if a.ratios == choice.spec.layer_ratios)
    )
    assert final > missed_on_confirmation[0]
    pruned = copy.deepcopy(model)
    PruningSession(pruned, choice.spec, example_input=torch.zeros(1, 3, *SIZE)).run()
    assert count_macs_params(pruned, SIZE)[0] / 1e6 <= target


def fake_time_subjects(subjects, *, runs, input_size, seed=0, **_):
    """Interleaved timing replaced by the same MACs / 1e6 ms rule."""
    return [
        {
            "ort-cpu": LatencyStats(
                p50=s.macs / 1e6,
                p90=s.macs / 1e6,
                min=s.macs / 1e6,
                runs=runs,
                warmup=0,
                input_size=input_size,
            )
        }
        for s in subjects
    ]


def test_latency_budget_run_records_latency(monkeypatch, tmp_path) -> None:
    fake = fake_latency()
    monkeypatch.setattr(compress.pruning.latency, "measure_model", fake)
    monkeypatch.setattr(compress.pipeline.measure, "time_subjects", fake_time_subjects)
    base = count_macs_params(tiny_unet(), SIZE)[0] / 1e6
    spec = run_spec(prune={"target_latency_ms": 0.6 * base, "round_to": None})
    result = run_prune(spec, tmp_path / "run", progress=False).result
    assert result.latency_ms["ort-cpu"].p50 <= 0.6 * base
    assert "ort-cpu" in result.baseline_measurement.latency_ms
    budget = result.step_details[0].budget
    assert budget["met"] is True and budget["mode"] == "latency"
    assert "uniform" in budget["note"]


def test_bench_measures_baseline_and_pruned_in_one_process(tmp_path) -> None:
    result = run_prune(
        run_spec(prune={"ratio": 0.5, "round_to": None}, bench=True),
        tmp_path / "run",
        progress=False,
    ).result
    stats = result.latency_ms["ort-cpu"]
    assert stats.runs == 2 and stats.input_size == SIZE
    baseline = result.baseline_measurement.latency_ms["ort-cpu"]
    assert baseline.runs == 2 and baseline.input_size == SIZE
    assert latency_fraction(result, "ort-cpu") == pytest.approx(stats.p50 / baseline.p50)
    assert verdict(result) is None or verdict(result).startswith("NOT faster")


def test_cli_shows_not_faster(monkeypatch, tmp_path, capsys) -> None:
    stats = LatencyStats(p50=10.0, p90=10.0, min=10.0, runs=2, warmup=0, input_size=SIZE)
    result = RunResult(
        name="r",
        kind="prune",
        model="unet",
        macs=40,
        params=4,
        size_bytes=16,
        macs_input_size=SIZE,
        latency_ms={"ort-cpu": stats},
        baseline_measurement=Measurement(
            macs=100, params=10, size_bytes=40, macs_input_size=SIZE, latency_ms={"ort-cpu": stats}
        ),
    )
    monkeypatch.setattr(
        compress.pipeline.run_kinds,
        "run_as",
        lambda spec, out, *, kind, progress: VariantOutcome(tmp_path, result, False),
    )
    assert main(["prune", "--model", "unet", "--ratio", "0.5"]) == 0
    printed = capsys.readouterr().out
    assert "NOT faster" in printed and "1.000x" in printed and "0.400x" in printed


def test_cli_latency_target_that_cannot_be_met_terminates(tmp_path, capsys) -> None:
    code = main(
        [
            "prune",
            "--model",
            "unet",
            "-o",
            "base_channels=8",
            "--target-latency-ms",
            "1e-6",
            "--runs",
            "2",
            "--warmup",
            "0",
            "--input-size",
            "32",
            "--round-to",
            "1",
            "--out",
            str(tmp_path / "run"),
        ]
    )
    err = capsys.readouterr().err
    assert code == 2 and "cannot be met" in err and len(err.strip().splitlines()) == 1


@pytest.mark.parametrize(
    "args, message",
    [
        (["--target-macs", "1.5"], "(0, 1)"),
        (["--target-macs", "0"], "(0, 1)"),
        (["--target-latency-ms", "-3"], "> 0"),
        (["--ratio", "0.5", "--target-macs", "0.5"], "exactly one"),
        (["--ratio", "0.5", "--sensitivity", "x"], "guides a budget"),
        (["--target-macs", "0.5", "--scope", "global", "--sensitivity", "x"], "--scope global"),
        (["--target-macs", "0.5", "--sensitivity-ratios", "0.5,2"], "outside (0, 1)"),
    ],
)
def test_cli_budget_errors_exit_2(args: list[str], message: str, capsys) -> None:
    code = main(["prune", "--model", "unet", *args])
    err = capsys.readouterr().err
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1


def test_result_json_is_plain(tmp_path, unet_profile) -> None:
    folder = write_profile(tmp_path / "sens", unet_profile)
    data = json.loads((folder / "result.json").read_text())
    assert data["extra"]["profile"]["groups"][0]["points"][0]["ratio"] == 0.5
