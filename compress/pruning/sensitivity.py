"""``compress sensitivity``: how much mIoU each pruning group loses at each ratio.

For every prunable group (torch-pruning's dependency groups, named by their root conv)
and every ratio, a deep copy of the model has ONLY that group pruned (same importance
and rounding as ``compress prune``, no fine-tuning); its mIoU on the first
``max_images`` images of the split (val by default, never test) and its MACs at the
input size give the group's mIoU drop and MACs saved. Cost: one trace + prune per
(group, ratio) and one evaluation of ``max_images`` images for each distinct pruned
width (ratios that rounding turns into the same width, or into no pruning, reuse a
result) - about ``groups x ratios x max_images`` forward passes.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable, Iterable
from typing import Any

import torch
from torch import nn

from compress.core.errors import CompressError
from compress.core.progress import task
from compress.pruning.profile import (
    GroupSensitivity,
    SensitivityPoint,
    SensitivityProfile,
)
from compress.pruning.session import PruningSession
from compress.pruning.spec import PruneSpec

Progress = Callable[[int, int, str], None]


def profile_sensitivity(
    model: nn.Module,
    dataset: Any,
    *,
    num_classes: int,
    ignore_index: int | None,
    prune: PruneSpec,
    ratios: list[float],
    input_size: tuple[int, int],
    model_name: str,
    split: str = "val",
    device: str = "cpu",
    importance_data: Iterable[Any] | None = None,
    progress: Progress | None = None,
) -> SensitivityProfile:
    """Prune each group of ``model`` alone at each ratio and measure what it costs.

    ``dataset`` yields ``(float [3,H,W], int64 [H,W])`` items (all are evaluated: pass a
    subset). ``prune`` gives importance, rounding and ignored layers; its ratio or
    budget is ignored. ``progress(done, total, group)`` is called after every group.
    """
    start = time.perf_counter()
    items = [dataset[i] for i in range(len(dataset))]  # decoded once, evaluated many times
    base = prune.model_copy(
        update={
            "ratio": None,
            "target_macs": None,
            "target_latency_ms": None,
            "layer_ratios": {},
            "scope": "uniform",
        }
    )
    model.eval()
    probe = _Probe(
        model,
        items,
        base,
        input_size,
        num_classes=num_classes,
        ignore_index=ignore_index,
        device=device,
        importance_data=importance_data,
    )
    groups = probe.groups(ratios[0])
    profiled: list[GroupSensitivity] = []
    with task("sensitivity: groups x ratios", total=len(groups) * len(ratios)) as bar:
        for done, group in enumerate(groups, start=1):
            profiled.append(probe.group(group, ratios, bar.advance))
            if progress is not None:
                progress(done, len(groups), group.name)
    return SensitivityProfile(
        model=model_name,
        importance=prune.importance,
        round_to=prune.round_to,
        input_size=input_size,
        split=split,
        num_images=len(items),
        baseline_miou=probe.base.miou,
        baseline_macs=probe.base.macs,
        ratios=list(ratios),
        groups=profiled,
        seconds=time.perf_counter() - start,
    )


class _Probe:
    """Copies of one model with one group pruned, scored on the same decoded images."""

    def __init__(
        self,
        model: nn.Module,
        items: list[Any],
        spec: PruneSpec,
        input_size: tuple[int, int],
        *,
        num_classes: int,
        ignore_index: int | None,
        device: str,
        importance_data: Iterable[Any] | None,
    ) -> None:
        from compress.measure.macs import count_macs_params

        self.model, self.items, self.spec, self.input_size = model, items, spec, input_size
        self.num_classes, self.ignore_index, self.device = num_classes, ignore_index, device
        self.importance_data = importance_data
        self.example = torch.zeros(1, 3, *input_size)
        macs = count_macs_params(model, input_size)[0]
        miou = self.miou(model)
        self.base = SensitivityPoint(
            ratio=0.0, channels_pruned=0, macs=macs, macs_saved=0, miou=miou, miou_drop=0.0
        )

    def miou(self, candidate: nn.Module) -> float:
        from compress.measure.evaluate import evaluate

        scores = evaluate(
            candidate,
            self.items,
            num_classes=self.num_classes,
            ignore_index=self.ignore_index,
            device=self.device,
        )
        return float(scores.miou)

    def session(self, model: nn.Module, update: dict[str, Any]) -> PruningSession:
        return PruningSession(
            model,
            self.spec.model_copy(update=update),
            example_input=self.example,
            importance_data=self.importance_data,
            ignore_index=self.ignore_index,
        )

    def groups(self, ratio: float) -> list[Any]:
        """The model's prunable groups (found on a copy pruned uniformly at ``ratio``)."""
        return self.session(copy.deepcopy(self.model), {"ratio": ratio}).groups()

    def group(
        self, group: Any, ratios: list[float], advance: Callable[[str], Any]
    ) -> GroupSensitivity:
        """``group`` pruned alone at each ratio: a :class:`GroupSensitivity`; a width that
        rounding reached before is not evaluated again."""
        from compress.measure.macs import count_macs_params

        points: list[SensitivityPoint] = []
        by_width: dict[int, SensitivityPoint] = {0: self.base}
        for ratio in ratios:
            pruned = copy.deepcopy(self.model)
            self.session(pruned, {"layer_ratios": {group.name: ratio}}).run()
            removed = group.channels - _out_channels(pruned, group.name)
            if removed not in by_width:
                macs = count_macs_params(pruned, self.input_size)[0]
                value = self.miou(pruned)
                by_width[removed] = SensitivityPoint(
                    ratio=ratio,
                    channels_pruned=removed,
                    macs=macs,
                    macs_saved=self.base.macs - macs,
                    miou=value,
                    miou_drop=self.base.miou - value,
                )
            points.append(by_width[removed].model_copy(update={"ratio": ratio}))
            advance(f"{group.name} at {ratio:g}")
        members = list(group.members)
        return GroupSensitivity(
            name=group.name, channels=group.channels, members=members, points=points
        )


def _out_channels(model: nn.Module, name: str) -> int:
    module = model.get_submodule(name)
    return int(getattr(module, "out_channels", getattr(module, "out_features", 0)))


def evaluation_subset(data: str, split: str, info: Any, max_images: int) -> Any:
    """The first ``max_images`` images of ``split`` (sorted by name: reproducible)."""
    from torch.utils.data import Subset

    from compress.data import SegmentationFolder

    dataset = SegmentationFolder(data, split, info=info)
    if len(dataset) == 0:
        raise CompressError(f"--data {data}: split {split!r} holds no images")
    return Subset(dataset, range(min(max_images, len(dataset))))
