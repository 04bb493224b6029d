"""PTQ plain vs +bias correction vs +equalisation vs both, scored through ONNX Runtime.

One variant per call (each well under 3 minutes on one thread), printed as one JSON
line: int8 mIoU on ``--val-images`` evenly spaced val images and on the whole val split,
and the share of pixels where int8 picks fp32's class on the evenly spaced images
(``fp32`` must run first: it writes the reference predictions). ``weights-only`` and
``weights-only+bc`` fake-quantize the conv weights in PyTorch and keep float activations,
to separate the weight error from the activation error.

    OMP_NUM_THREADS=1 python benchmarks/ptq_preparation.py \\
        /work/shared/models/camvid/deeplab-mobilenetv3-aspp.pt /work/shared/data/camvid \\
        --variant bc --reduce-range off
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

VARIANTS = ("fp32", "plain", "bc", "cle", "both", "weights-only", "weights-only+bc")
NUM_CLASSES = 11  # CamVid; label 11 is void


def _runner(model: torch.nn.Module, variant: str, args: argparse.Namespace, rr: bool):  # noqa: ANN202
    from compress.data import SegmentationFolder
    from compress.deploy.export import export_onnx
    from compress.measure.inference import output_logits
    from compress.measure.runtimes import OrtRunner
    from compress.quantization.bias_correction import quantize_weight
    from compress.quantization.calibration import ImageCalibrationReader
    from compress.quantization.ptq import quantize_onnx

    if variant.startswith("weights-only"):
        with torch.no_grad():
            for m in model.modules():
                if type(m) is torch.nn.Conv2d:
                    m.weight.copy_(quantize_weight(m.weight, reduce_range=rr))
        return lambda x: output_logits(model(x))
    folder = Path(tempfile.mkdtemp(prefix="ptq-prep-"))
    path = export_onnx(model, folder / "m.onnx", input_size=(360, 480))
    if variant != "fp32":
        train = SegmentationFolder(args.data, "train")
        reader = ImageCalibrationReader(train, args.calib_images)
        path = quantize_onnx(path, folder / "q.onnx", reader, reduce_range=rr).path
    return OrtRunner(path, threads=1)


def _miou(conf: np.ndarray) -> float:
    iou = np.diag(conf) / np.maximum(conf.sum(0) + conf.sum(1) - np.diag(conf), 1)
    return round(100 * float(iou[conf.sum(1) > 0].mean()), 2)


def main() -> None:
    from compress.core.checkpoint import load_checkpoint
    from compress.data import SegmentationFolder
    from compress.quantization.calibration import calibration_images, calibration_indices
    from compress.quantization.preparation import prepare_model

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("checkpoint", type=Path)
    parser.add_argument("data", type=Path)
    parser.add_argument("--variant", choices=VARIANTS, required=True)
    parser.add_argument("--reduce-range", choices=("on", "off"), default="off")
    parser.add_argument("--calib-images", type=int, default=32)
    parser.add_argument("--val-images", type=int, default=16)
    parser.add_argument("--reference", type=Path, default=Path("ptq-prep-fp32.npz"))
    args = parser.parse_args()
    torch.set_num_threads(1)
    rr, variant = args.reduce_range == "on", args.variant
    model = load_checkpoint(args.checkpoint).model.eval()
    train, val = SegmentationFolder(args.data, "train"), SegmentationFolder(args.data, "val")
    began = time.perf_counter()
    details: dict = {}
    equalize, correct = variant in ("cle", "both"), variant in ("bc", "both", "weights-only+bc")
    if equalize or correct:
        images = lambda: (x for _, x in calibration_images(train, args.calib_images))  # noqa: E731
        model, details = prepare_model(
            model, images, equalize=equalize, bias_correction=correct, reduce_range=rr
        )
    run = _runner(model, variant, args, rr)
    chosen = set(calibration_indices(len(val), args.val_images))
    conf, conf_all = (np.zeros((NUM_CLASSES,) * 2, dtype=np.int64) for _ in range(2))
    predictions, agreement = {}, []
    reference = np.load(args.reference) if variant != "fp32" else None
    with torch.no_grad():
        for i in range(len(val)):
            x, y = val[i]
            pred, y = run(x.unsqueeze(0)).argmax(1)[0].numpy().ravel(), y.numpy().ravel()
            keep = y < NUM_CLASSES
            counts = np.bincount(y[keep] * NUM_CLASSES + pred[keep], minlength=NUM_CLASSES**2)
            conf_all += counts.reshape(NUM_CLASSES, NUM_CLASSES)
            predictions[str(i)] = pred.astype(np.uint8)
            if i in chosen:
                conf += counts.reshape(NUM_CLASSES, NUM_CLASSES)
                if reference is not None:
                    agreement.append(float((reference[str(i)] == pred).mean()))
    if reference is None:
        np.savez(args.reference, **predictions)
    summary = {
        "variant": variant,
        "reduce_range": rr,
        f"miou_val{args.val_images}": _miou(conf),
        f"miou_val{len(val)}": _miou(conf_all),
        "agreement_with_fp32": round(100 * float(np.mean(agreement)), 2) if agreement else None,
        "seconds": round(time.perf_counter() - began, 1),
        "equalized_pairs": details.get("equalize", {}).get("pairs"),
        "bias_correction": details.get("bias_correction"),
    }
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
