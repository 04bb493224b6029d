"""Factorize the chosen layers of any ``nn.Module`` and report what happened to each.

:func:`factorize_model` walks ``model.named_modules()``, keeps the Conv2d / Linear /
transposed-conv layers whose names match the spec's glob patterns, measures each one's
input/output resolution with one forward pass, picks ranks (:mod:`compress.lowrank.ranks`),
and swaps a layer for its factorization only if that cuts its MACs below
``max_macs_ratio`` of the original. Depthwise, grouped and transposed convs are left
alone and say so in the per-layer report. The structure step it returns lets
:func:`compress.lowrank.replay.replay_factorize` rebuild the same shapes on a fresh model.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from torch import nn

from compress.core.errors import CompressError
from compress.core.progress import task
from compress.lowrank import ranks as rank_rules
from compress.lowrank.catalog import load_method
from compress.lowrank.cp import CPLimits
from compress.lowrank.methods import Method, skip_reason
from compress.lowrank.sites import Site, describe, measure_sites, select_layers
from compress.lowrank.spec import FactorizeSpec

STEP_KIND = "factorize"
STEP_FORMAT = 1


@dataclass
class LayerReport:
    """One row of the per-layer table (``method`` None: left unchanged, see ``note``)."""

    name: str
    layer: str
    method: str | None
    ranks: list[int]
    macs_before: int
    macs_after: int
    rel_error: float | None = None
    note: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class FactorizeOutcome:
    """The factorized model (changed in place), its structure step and per-layer report."""

    model: nn.Module
    step: dict[str, Any]
    layers: list[LayerReport]
    fraction: float | None = None  # the uniform rank fraction found for a MACs budget
    warnings: list[str] = field(default_factory=list)

    @property
    def replaced(self) -> list[LayerReport]:
        return [row for row in self.layers if row.method is not None]


class _RankPicker:
    """Ranks of one layer for a method as the spec says (fraction ``override`` for macs)."""

    def __init__(self, spec: FactorizeSpec) -> None:
        self.spec = spec

    def ranks(self, method: Method, site: Site, fraction: float | None = None) -> list[int]:
        spec, layer = self.spec, site.layer
        limits = method.limits(layer)
        if isinstance(spec.rank, int):
            if any(spec.rank > limit for limit in limits):
                raise CompressError(
                    f"rank {spec.rank} is larger than layer {site.name!r} ({describe(layer)}) "
                    f"allows for {method.name} (at most {', '.join(map(str, limits))}); give a "
                    "fraction such as 0.5 or restrict --layers"
                )
            return [spec.rank] * len(limits)
        if fraction is None and isinstance(spec.rank, float):
            fraction = spec.rank
        if fraction is not None:
            raw = [rank_rules.fraction_rank(r, fraction) for r in method.reference(layer)]
        else:
            rule = (
                rank_rules.vbmf_rank
                if spec.resolved_rule == "vbmf"
                else lambda m: rank_rules.energy_rank(m, spec.energy)
            )
            raw = [rule(matrix) for matrix in method.matrices(layer)]
            if method.combine_matrices:
                raw = [max(raw)]
        return [
            rank_rules.round_rank(r, lim, spec.round_to) for r, lim in zip(raw, limits, strict=True)
        ]


def factorize_model(
    model: nn.Module,
    spec: FactorizeSpec,
    *,
    input_size: tuple[int, int] = (256, 256),
    in_channels: int = 3,
) -> FactorizeOutcome:
    """Factorize ``model`` in place as ``spec`` says; return the step and per-layer report.

    Raises:
        CompressError: a ``layers`` pattern matches nothing, an integer rank is larger
            than a chosen layer allows, or a MACs target cannot be met.
    """
    method = load_method(spec.method)
    sites = [Site(name, layer) for name, layer in select_layers(model, spec.layers)]
    measure_sites(model, sites, (1, in_channels, *input_size))
    picker = _RankPicker(spec)
    rows: dict[str, LayerReport] = {}
    kept: dict[str, float] = {}  # replaced layer -> smallest kept fraction of a mode's rank
    usable: list[Site] = []
    for site in sites:
        reason = skip_reason(site.layer, spec.method)
        if reason is None and not site.used:
            reason = "not run by forward(): skipped"
        if reason is not None:
            rows[site.name] = _unchanged(site, reason)
        else:
            usable.append(site)
    fraction, base = _budget_fraction(model, method, usable, picker, spec, input_size, in_channels)
    options = {"limits": CPLimits(spec.cp_iterations, spec.cp_max_error, spec.cp_time_limit)}
    with task(f"factorizing ({spec.method})", total=len(usable)) as progress:
        for site in usable:
            rows[site.name], smallest = _factorize_site(
                model, site, method, picker, fraction, options
            )
            if smallest is not None:
                kept[site.name] = smallest
            progress.advance(site.name)
    ordered = [rows[site.name] for site in sites]
    step = _structure_step(spec, ordered, sites, (1, in_channels, *input_size))
    outcome = FactorizeOutcome(model, step, ordered, fraction)
    if fraction is not None:
        _check_budget(outcome, spec, base, input_size, in_channels)
    _check_floors(outcome, kept, budget=fraction is not None)
    return outcome


def _factorize_site(
    model: nn.Module,
    site: Site,
    method: Method,
    picker: _RankPicker,
    fraction: float | None,
    options: dict[str, Any],
) -> tuple[LayerReport, float | None]:
    """Replace ``site``'s layer in ``model`` by its factorization, unless that keeps too
    many MACs: its report row, and the smallest kept fraction of a mode's rank (None:
    left unchanged)."""
    spec = picker.spec
    ranks = picker.ranks(method, site, fraction)
    new_macs = method.macs(site.layer, ranks, site.in_hw, site.out_hw)
    if new_macs >= spec.max_macs_ratio * site.macs:
        note = (
            f"ranks {ranks} keep {new_macs / max(site.macs, 1):.2f} of its MACs "
            f"(replaced only below {spec.max_macs_ratio:g})"
        )
        return _unchanged(site, note), None
    if method.fallback is not None:
        options["fallback_ranks"] = _fallback_ranks(picker, site, fraction, method.fallback)
    module, error, note = method.factorize(site.layer, ranks, options)
    module.train(site.layer.training)
    used = load_method(module.method)
    macs = used.macs(site.layer, module.ranks, site.in_hw, site.out_hw)
    model.set_submodule(site.name, module)
    pairs = zip(module.ranks, used.reference(site.layer), strict=False)
    smallest = min(rank / max(full, 1) for rank, full in pairs)
    row = LayerReport(
        site.name,
        describe(site.layer),
        module.method,
        list(module.ranks),
        site.macs,
        macs,
        error,
        note,
    )
    return row, smallest


def _structure_step(
    spec: FactorizeSpec, rows: list[LayerReport], sites: list[Site], input_shape: tuple[int, ...]
) -> dict[str, Any]:
    """The plain-JSON step that :func:`~compress.lowrank.replay.replay_factorize` replays."""
    return {
        "kind": STEP_KIND,
        "format": STEP_FORMAT,
        "method": spec.method,
        "input_shape": list(input_shape),
        "layers": [
            {
                "name": row.name,
                "method": row.method,
                "ranks": row.ranks,
                "weight_shape": _weight_shape(site.layer),
                "type": type(site.layer).__name__,
            }
            for row, site in zip(rows, sites, strict=True)
            if row.method is not None
        ],
    }


def _check_budget(
    outcome: FactorizeOutcome,
    spec: FactorizeSpec,
    base: int,
    input_size: tuple[int, int],
    in_channels: int,
) -> None:
    """Count the whole factorized model's MACs and warn if the budget was missed.

    The search uses per-layer formulas; this is the independent check. It can only miss
    when CP layers fell back to Tucker-2, whose cost at the same rank fraction differs.
    """
    from compress.measure.macs import count_macs_params

    measured, _ = count_macs_params(outcome.model, input_size, in_channels)
    if spec.target_macs is not None and measured > spec.target_macs * base * (1 + 1e-9):
        outcome.warnings.append(
            f"factorized model keeps {measured / base:.3f} of the baseline's MACs, above "
            f"target_macs {spec.target_macs:g} (CP layers fell back to Tucker-2)"
        )


RANK_FLOOR = 0.1  # a layer keeping less of its rank than this is cut to a sliver
ERROR_FLOOR = 0.9  # relative error above which most of a layer's output is lost


def _check_floors(outcome: FactorizeOutcome, kept: dict[str, float], *, budget: bool) -> None:
    """Warn about layers cut below :data:`RANK_FLOOR` of their rank or above
    :data:`ERROR_FLOOR` relative error, and (for a MACs budget) say which layers carry it."""
    low = [
        row
        for row in outcome.replaced
        if kept.get(row.name, 1.0) < RANK_FLOOR
        or (row.rel_error is not None and row.rel_error > ERROR_FLOOR)
    ]
    for row in low:
        error = f", relative error {row.rel_error:.2f}" if row.rel_error is not None else ""
        outcome.warnings.append(
            f"layer {row.name} keeps {100 * kept.get(row.name, 1.0):.0f}% of its rank "
            f"(ranks {row.ranks}){error}: expect a large accuracy loss there; leave it out "
            "of --layers, or ask for less (a higher --target-macs or --rank)"
        )
    if low and budget:
        saved = sorted(outcome.replaced, key=lambda r: r.macs_after - r.macs_before)
        total = sum(r.macs_before - r.macs_after for r in saved) or 1
        carriers = ", ".join(
            f"{r.name} {100 * (r.macs_before - r.macs_after) / total:.0f}%" for r in saved[:4]
        )
        outcome.warnings.append(
            f"the MACs budget is carried by {len(outcome.replaced)} layer(s), most by: "
            f"{carriers} of the MACs saved"
        )


def _unchanged(site: Site, note: str) -> LayerReport:
    return LayerReport(site.name, describe(site.layer), None, [], site.macs, site.macs, None, note)


def _weight_shape(layer: nn.Module) -> list[int]:
    return [int(v) for v in layer.weight.shape]


def _fallback_ranks(
    picker: _RankPicker, site: Site, fraction: float | None, fallback: str
) -> list[int]:
    """Ranks of the method a layer falls back to (CP -> Tucker-2): an integer rank is
    capped per mode, other ranks are chosen by the same rule."""
    method = load_method(fallback)
    if isinstance(picker.spec.rank, int):
        return [min(picker.spec.rank, limit) for limit in method.limits(site.layer)]
    return picker.ranks(method, site, fraction)


def _budget_fraction(
    model: nn.Module,
    method: Method,
    sites: list[Site],
    picker: _RankPicker,
    spec: FactorizeSpec,
    input_size: tuple[int, int],
    in_channels: int,
) -> tuple[float | None, int]:
    """For the macs rule: the largest uniform rank fraction meeting ``target_macs``, and
    the unfactorized model's MACs (``(None, 0)`` for the other rules)."""
    if spec.resolved_rule != "macs" or spec.target_macs is None:
        return None, 0
    from compress.measure.macs import count_macs_params

    base, _ = count_macs_params(model, input_size, in_channels)
    budget = spec.target_macs * base

    def total(fraction: float) -> int:
        saved = 0
        for site in sites:
            ranks = picker.ranks(method, site, fraction)
            new = method.macs(site.layer, ranks, site.in_hw, site.out_hw)
            if new < spec.max_macs_ratio * site.macs:
                saved += site.macs - new
        return base - saved

    fraction = rank_rules.fraction_for_macs(total, budget)
    if fraction is None:
        reachable = total(1e-6) / base if base else 1.0
        raise CompressError(
            f"target_macs {spec.target_macs:g} cannot be met by {spec.method} on the chosen "
            f"layers (at most down to {reachable:.3f} of the baseline's MACs); raise "
            "--target-macs or widen --layers"
        )
    return fraction, base
