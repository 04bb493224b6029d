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
    from compress.measure.evaluate import evaluate
    from compress.measure.macs import count_macs_params

    start = time.perf_counter()
    items = [dataset[i] for i in range(len(dataset))]  # decoded once, evaluated many times
    example = torch.zeros(1, 3, *input_size)
    base = prune.model_copy(
        update={
            "ratio": None,
            "target_macs": None,
            "target_latency_ms": None,
            "layer_ratios": {},
            "scope": "uniform",
        }
    )

    def miou(candidate: nn.Module) -> float:
        return float(
            evaluate(
                candidate, items, num_classes=num_classes, ignore_index=ignore_index, device=device
            ).miou
        )

    model.eval()
    base_macs = count_macs_params(model, input_size)[0]
    base_miou = miou(model)
    probe = copy.deepcopy(model)
    groups = PruningSession(
        probe,
        base.model_copy(update={"ratio": ratios[0]}),
        example_input=example,
        importance_data=importance_data,
        ignore_index=ignore_index,
    ).groups()
    del probe
    profiled: list[GroupSensitivity] = []
    with task("sensitivity: groups x ratios", total=len(groups) * len(ratios)) as bar:
        for done, group in enumerate(groups, start=1):
            points: list[SensitivityPoint] = []
            by_width: dict[int, SensitivityPoint] = {
                0: SensitivityPoint(
                    ratio=0.0,
                    channels_pruned=0,
                    macs=base_macs,
                    macs_saved=0,
                    miou=base_miou,
                    miou_drop=0.0,
                )
            }
            for ratio in ratios:
                pruned = copy.deepcopy(model)
                PruningSession(
                    pruned,
                    base.model_copy(update={"layer_ratios": {group.name: ratio}}),
                    example_input=example,
                    importance_data=importance_data,
                    ignore_index=ignore_index,
                ).run()
                removed = group.channels - _out_channels(pruned, group.name)
                if removed not in by_width:
                    macs = count_macs_params(pruned, input_size)[0]
                    value = miou(pruned)
                    by_width[removed] = SensitivityPoint(
                        ratio=ratio,
                        channels_pruned=removed,
                        macs=macs,
                        macs_saved=base_macs - macs,
                        miou=value,
                        miou_drop=base_miou - value,
                    )
                points.append(by_width[removed].model_copy(update={"ratio": ratio}))
                bar.advance(f"{group.name} at {ratio:g}")
            profiled.append(
                GroupSensitivity(
                    name=group.name,
                    channels=group.channels,
                    members=list(group.members),
                    points=points,
                )
            )
            if progress is not None:
                progress(done, len(groups), group.name)
    return SensitivityProfile(
        model=model_name,
        importance=prune.importance,
        round_to=prune.round_to,
        input_size=input_size,
        split=split,
        num_images=len(items),
        baseline_miou=base_miou,
        baseline_macs=base_macs,
        ratios=list(ratios),
        groups=profiled,
        seconds=time.perf_counter() - start,
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
