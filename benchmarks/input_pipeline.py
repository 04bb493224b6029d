"""Training input throughput: today's DataLoader path against decode-once + batch augmentation.

(a) ``loader``: ``SegmentationFolder`` + ``train_transform`` through a DataLoader (decode
and torchvision v2 augmentation per sample, ``--workers`` processes), batches copied to
``--device``; (b) ``device``: the split decoded once (``decode_split``, timed apart), then
``device_batches`` with ``BatchAugment`` on ``--device`` (issue #15). Both run ``--epochs``
timed epochs after one untimed warm-up batch; prints a table, writes JSON to ``--out``:

    python benchmarks/input_pipeline.py --data ../shared/data/camvid --crop 320 \\
        --batch-size 16 --device cpu --out runs/input-pipeline-cpu.json
"""

from __future__ import annotations

import argparse
import shlex
import sys
import time
from collections.abc import Callable, Iterable
from importlib import metadata
from pathlib import Path
from typing import Any

import torch

from compress.core import atomic
from compress.core.errors import CompressError
from compress.data.batch_augment import BatchAugment, device_batches
from compress.data.folder import SegmentationFolder
from compress.data.memory_cache import DEFAULT_CACHE_LIMIT_BYTES, decode_split
from compress.data.transforms import train_transform
from compress.measure.environment import environment, load_average

Batches = Iterable[tuple[torch.Tensor, torch.Tensor]]


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True, help="data set folder")
    parser.add_argument("--split", default="train", help="split to read (default: train)")
    parser.add_argument("--crop", type=int, default=320, help="training crop size")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    parser.add_argument("--workers", type=int, default=0, help="DataLoader workers for (a)")
    parser.add_argument("--epochs", type=int, default=2, help="timed epochs per path")
    parser.add_argument(
        "--threads", type=int, default=None, help="torch intra-op threads (default: torch's own)"
    )
    parser.add_argument("--paths", default="loader,device", help="loader, device or both")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=None, help="write JSON here")
    return parser.parse_args(argv)


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def timed_epochs(
    make_epoch: Callable[[], Batches], device: torch.device, epochs: int
) -> dict[str, Any]:
    """One untimed warm-up batch, then ``epochs`` full passes, each waited for on CUDA."""
    next(iter(make_epoch()))
    sync(device)
    seconds, count = [], 0
    for _ in range(epochs):
        sync(device)
        start = time.perf_counter()
        for images, masks in make_epoch():
            images = images.to(device, non_blocking=True)  # no-op on the device path
            masks = masks.to(device, non_blocking=True)
            count += len(images)
        sync(device)
        seconds.append(time.perf_counter() - start)
    total = sum(seconds)
    return {
        "epoch_seconds": seconds,
        "images": count,
        "seconds": total,
        "images_per_s": count / total if total else None,
    }


def loader_path(args: argparse.Namespace, device: torch.device) -> dict[str, Any]:
    """(a) today's path: per-sample decode + torchvision augmentation in a DataLoader."""
    dataset = SegmentationFolder(args.data, args.split)
    dataset.transform = train_transform(args.crop, ignore_index=dataset.info.ignore_index)
    generator = torch.Generator().manual_seed(args.seed)
    loader = torch.utils.data.DataLoader(
        dataset,
        batch_size=args.batch_size,
        shuffle=True,
        generator=generator,
        num_workers=args.workers,
        pin_memory=device.type == "cuda",
        persistent_workers=args.workers > 0,
    )
    row = timed_epochs(lambda: loader, device, args.epochs)
    return {"path": "loader", "workers": args.workers, "decode_seconds": None, **row}


def device_path(args: argparse.Namespace, device: torch.device) -> dict[str, Any]:
    """(b) decode once, then batches augmented as a whole on ``device``."""
    dataset = SegmentationFolder(args.data, args.split)
    start = time.perf_counter()
    data = decode_split(dataset, limit_bytes=DEFAULT_CACHE_LIMIT_BYTES)
    decode_seconds = time.perf_counter() - start
    if data is None:
        raise CompressError(f"--data {args.data}: split {args.split!r} does not fit the cache")
    if not data.same_size:
        raise CompressError(f"--data {args.data}: images differ in size; cannot stack batches")
    augment = BatchAugment(args.crop, ignore_index=data.info.ignore_index)
    generator = torch.Generator().manual_seed(args.seed)

    def epoch() -> Batches:
        return device_batches(
            data,
            batch_size=args.batch_size,
            generator=generator,
            device=device,
            augment=augment,
            drop_last=False,
        )

    row = timed_epochs(epoch, device, args.epochs)
    return {
        "path": "device",
        "workers": 0,
        "decode_seconds": decode_seconds,
        "cache_mib": data.nbytes / 2**20,
        **row,
    }


def machine(device: torch.device) -> dict[str, Any]:
    """CPU model, threads, versions and the device measured on."""
    env = environment()
    try:
        kornia = metadata.version("kornia")
    except metadata.PackageNotFoundError:
        kornia = None
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else env["cpu"]
    return {
        **env,
        "torch": torch.__version__,
        "kornia": kornia,
        "device": device.type,
        "device_name": name,
    }


def table(rows: list[dict[str, Any]]) -> str:
    lines = [
        "| path | workers | decode once s | epochs s | images | images/s |",
        "|---|---:|---:|---|---:|---:|",
    ]
    for row in rows:
        decode = f"{row['decode_seconds']:.2f}" if row["decode_seconds"] is not None else "-"
        epochs = ", ".join(f"{s:.2f}" for s in row["epoch_seconds"])
        lines.append(
            f"| {row['path']} | {row['workers']} | {decode} | {epochs} "
            f"| {row['images']} | {row['images_per_s']:.1f} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        print("error: --device cuda but torch sees no CUDA device", file=sys.stderr)
        return 2
    runs = {"loader": loader_path, "device": device_path}
    paths = [p.strip() for p in args.paths.split(",") if p.strip()]
    if not paths or any(p not in runs for p in paths):
        print(f"error: --paths {args.paths!r}; expected loader, device or both", file=sys.stderr)
        return 2
    try:
        rows = []
        for path in paths:
            print(f"measuring {path} ...", file=sys.stderr, flush=True)
            rows.append(runs[path](args, device))
    except CompressError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    env = machine(device)
    command = "python benchmarks/input_pipeline.py " + shlex.join(argv)
    print(table(rows))
    print(f"\nCommand: `{command}`")
    print(
        f"Device: {env['device_name']}; CPU {env['cpu']} ({env['cpu_logical']} logical), "
        f"torch threads {env['threads']}, torch {env['torch']}, kornia {env['kornia']}, "
        f"load average {load_average()}"
    )
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        atomic.write_json(
            args.out, {"command": command, "args": vars(args), "machine": env, "rows": rows}
        )
        print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
