"""Quantization-aware training: fold BN, fake-quantize, fine-tune, export QDQ int8 ONNX.

1. ``prepare_qat``: a copy of the model with every Conv->BN folded (BN statistics are
   frozen, as in the usual late-QAT recipe) and every conv wrapped by
   :class:`~compress.quantization.fake_quant.QuantConv`.
2. ``calibrate_qat``: activation ranges start from min/max over the same real train
   images PTQ calibrates on (the PTQ MinMax ranges), observed without quantizing.
3. ``train_qat``: a short Adam fine-tune on the train split with the study's
   augmentation and the training's loss and class weights (``qat_loss``); ranges follow
   an EMA of each batch's min/max, weights are quantized per channel from their current
   values at every step (straight-through gradients).
4. ``export_qat``: TorchScript ONNX export (the fake-quant ops become Q/DQ pairs), then
   every QuantizeLinear applied to a constant weight is folded into an int8 initializer,
   so the file stores int8 weights and ONNX Runtime sees standard ``DQ(w) -> Conv``.
   Parity against the fake-quantized PyTorch model is checked by argmax agreement.
"""

from __future__ import annotations

import os
import random
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from compress.core import atomic
from compress.core.errors import CompressError
from compress.core.progress import task
from compress.quantization.fake_quant import (
    freeze_for_export,
    set_observing,
    uncalibrated,
    wrap_convs,
)
from compress.quantization.fold import FoldReport, fold_batchnorms

if TYPE_CHECKING:
    import onnx

    from compress.training.label_losses import LabelLoss


def last_conv(model: nn.Module, example: torch.Tensor) -> str | None:
    """Name of the convolution that runs last on ``example`` (the classifier)."""
    order: list[str] = []
    names = {m: n for n, m in model.named_modules()}
    hooks = [
        m.register_forward_hook(lambda mod, _i, _o: order.append(names[mod]))
        for m in model.modules()
        if type(m) in (nn.Conv2d, nn.ConvTranspose2d)
    ]
    was_training = model.training
    try:
        with torch.no_grad():
            model.eval()(example)
    finally:
        model.train(was_training)
        for hook in hooks:
            hook.remove()
    return order[-1] if order else None


def prepare_qat(
    model: nn.Module,
    example: torch.Tensor,
    *,
    per_channel: bool = True,
    reduce_range: bool = False,
    activations: str = "int8",
) -> tuple[nn.Module, FoldReport]:
    """A fake-quantized copy of ``model`` (BN folded); ``model`` itself is left untouched.

    ``activations``: "uint8" on x86 (ONNX Runtime's u8 x s8 kernels), else "int8".
    """
    folded, report = fold_batchnorms(model, example)
    classifier = last_conv(folded, example)
    wrap_convs(
        folded,
        per_channel=per_channel,
        reduce_range=reduce_range,
        float_output={classifier} if classifier else set(),
        activations=activations,
    )
    return folded, report


def calibrate_qat(
    model: nn.Module, images: Iterable[torch.Tensor], *, total: int | None = None
) -> int:
    """Set every activation range to the min/max over ``images``; return how many were used.

    ``total``: how many ``images`` will yield, for the progress bar."""
    from compress.core.progress import task

    set_observing(model, True)
    count = 0
    was_training = model.training
    try:
        model.eval()
        with torch.no_grad(), task("calibrating QAT ranges", total=total) as bar:
            for image in images:
                model(image if image.dim() == 4 else image[None])
                count += 1
                bar.advance()
    finally:
        set_observing(model, False)
        model.train(was_training)
    missing = uncalibrated(model)
    if count == 0 or missing:
        raise CompressError(
            f"calibration saw {count} images and left {len(missing)} activation ranges "
            "empty; give --data with a train split holding images"
        )
    return count


def qat_loss(
    data: str | os.PathLike[str], *, loss: str = "ce", class_weights: str = "none"
) -> tuple[LabelLoss, dict[str, Any] | None]:
    """The label loss QAT trains with, as training builds it: ``loss`` (ce, ce+dice,
    ce+lovasz, ohem) with ``class_weights`` computed from the train masks; returns it and
    the weights (``{"method", "weights", "note"}``, None without)."""
    from compress.data import SegmentationFolder
    from compress.data.transforms import loss_ignore_index
    from compress.training.class_weights import class_weights as weights_of
    from compress.training.class_weights import pixel_stats

    train = SegmentationFolder(data, "train")
    weights = None
    if class_weights != "none":
        values, note = weights_of(pixel_stats(train), class_weights)
        weights = {"method": class_weights, "weights": values, "note": note}
    return label_loss_for(loss, loss_ignore_index(train.info.ignore_index), weights), weights


def mask_class_weights(
    batches: Iterable[Any], num_classes: int, ignore_index: int | None, method: str
) -> dict[str, Any] | None:
    """:func:`qat_loss`'s weights from ``(images, masks)`` batches (the Python API's
    ``train_data``) instead of a data set folder; None for ``method`` "none"."""
    import numpy as np

    from compress.training.class_weights import PixelStats, class_weights

    if method == "none":
        return None
    pixels = np.zeros(num_classes, dtype=np.int64)
    present = np.zeros(num_classes, dtype=np.int64)
    for _, masks in batches:
        masks = torch.as_tensor(masks)
        for mask in masks.reshape(-1, *masks.shape[-2:]):
            valid = (mask >= 0) & (mask < num_classes)
            if ignore_index is not None:
                valid &= mask != ignore_index
            counts = np.bincount(mask[valid].numpy().ravel(), minlength=num_classes)
            pixels += counts
            present += np.where(counts > 0, counts.sum(), 0)
    values, note = class_weights(PixelStats(pixels, present), method)
    return {"method": method, "weights": values, "note": note}


def label_loss_for(name: str, ignore_index: int, weights: dict[str, Any] | None) -> LabelLoss:
    from compress.training.label_losses import label_loss

    return label_loss(name, ignore_index, torch.tensor(weights["weights"]) if weights else None)


def train_qat(
    model: nn.Module,
    data: str | os.PathLike[str],
    *,
    epochs: int,
    lr: float = 1e-4,
    batch_size: int = 4,
    crop: int = 256,
    seed: int = 0,
    criterion: LabelLoss | None = None,
) -> list[float]:
    """Fine-tune the fake-quantized ``model`` on the train split; return each epoch's mean
    loss. ``criterion``: the label loss (:func:`qat_loss`; default its cross-entropy)."""
    from compress.data import SegmentationFolder, train_transform

    probe = SegmentationFolder(data, "train")
    info = probe.info
    dataset = SegmentationFolder(
        data,
        "train",
        info=info,
        transform=train_transform(crop, augment=True, ignore_index=info.ignore_index),
    )
    torch.manual_seed(seed)
    random.seed(seed)
    generator = torch.Generator().manual_seed(seed)
    loader = torch.utils.data.DataLoader(
        dataset,
        batch_size=batch_size,
        shuffle=True,
        generator=generator,
        drop_last=len(dataset) > batch_size,
    )
    if criterion is None:
        criterion = qat_loss(data)[0]
    return qat_epochs(model, loader, epochs=epochs, lr=lr, criterion=criterion)


def qat_epochs(
    model: nn.Module,
    loader: Iterable[Any],
    *,
    epochs: int,
    lr: float = 1e-4,
    ignore_index: int = -100,
    criterion: LabelLoss | None = None,
) -> list[float]:
    """Fine-tune the fake-quantized ``model`` on ``(images, masks)`` batches for ``epochs``
    (Adam; ``criterion``, default cross-entropy ignoring ``ignore_index``); return each
    epoch's mean loss."""
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    if criterion is None:
        criterion = label_loss_for("ce", ignore_index, None)
    losses: list[float] = []
    model.train()
    batches_per_epoch = len(loader) if hasattr(loader, "__len__") else None
    total_steps = epochs * batches_per_epoch if batches_per_epoch else None
    with task("QAT fine-tuning", total=total_steps) as progress:
        for _ in range(epochs):
            total, batches = 0.0, 0
            for images, masks in loader:
                optimizer.zero_grad(set_to_none=True)
                output = model(images)
                logits = output["out"] if isinstance(output, dict) else output
                loss = criterion(logits, masks)
                loss.backward()
                optimizer.step()
                total, batches = total + loss.item(), batches + 1
                progress.advance(f"epoch {len(losses) + 1}/{epochs} loss {total / batches:.4f}")
            losses.append(total / max(batches, 1))
    model.eval()
    return losses


def export_qat(
    model: nn.Module,
    path: str | os.PathLike[str],
    *,
    input_size: tuple[int, int] = (256, 256),
    opset: int = 17,
    metadata: dict[str, Any] | None = None,
) -> Path:
    """Export the fake-quantized model to a QDQ ONNX file with int8 weight initializers."""
    import onnx

    from compress.deploy.export import export_onnx

    model.eval()
    freeze_for_export(model)
    with atomic.atomic_path(path) as tmp:
        export_onnx(model.eval(), tmp, input_size=input_size, opset=opset, metadata=metadata)
        proto = onnx.load(str(tmp))
        fold_weight_quantizers(proto)
        onnx.checker.check_model(proto)
        onnx.save(proto, str(tmp))
    return Path(path)


def fold_weight_quantizers(proto: onnx.ModelProto) -> int:
    """Replace ``QuantizeLinear(constant)`` by its int8 result; return how many were folded."""
    import numpy as np
    from onnx import numpy_helper

    graph = proto.graph
    constants = {t.name: t for t in graph.initializer}
    for node in graph.node:  # the exporter may emit Constant nodes instead of initializers
        if node.op_type == "Constant" and node.attribute and node.attribute[0].name == "value":
            constants[node.output[0]] = node.attribute[0].t
    folded = 0
    for node in list(graph.node):
        if node.op_type != "QuantizeLinear" or not all(i in constants for i in node.input[:3]):
            continue
        x, scale, zero = (numpy_helper.to_array(constants[i]) for i in node.input[:3])
        axis = next((a.i for a in node.attribute if a.name == "axis"), 1)
        if scale.ndim == 1 and scale.size > 1:
            shape = [1] * x.ndim
            shape[axis] = scale.size
            scale, zero = scale.reshape(shape), zero.reshape(shape)
        info = np.iinfo(zero.dtype)
        q = np.clip(np.rint(x / scale) + zero.astype(np.int32), info.min, info.max)
        tensor = numpy_helper.from_array(q.astype(zero.dtype), name=node.output[0])
        graph.node.remove(node)
        graph.initializer.append(tensor)
        constants[node.output[0]] = tensor
        folded += 1
    _drop_unused(graph)
    return folded


def _drop_unused(graph: onnx.GraphProto) -> None:
    used = {name for node in graph.node for name in node.input} | {o.name for o in graph.output}
    for tensor in [t for t in graph.initializer if t.name not in used]:
        graph.initializer.remove(tensor)
    for node in [n for n in graph.node if n.op_type == "Constant" and n.output[0] not in used]:
        graph.node.remove(node)
