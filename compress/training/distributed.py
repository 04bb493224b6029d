"""Training in several processes started by ``torchrun`` (DistributedDataParallel).

``torchrun --nproc_per_node N -m compress train ...`` sets ``WORLD_SIZE``, ``RANK`` and
``LOCAL_RANK``; :func:`processes` joins the process group (nccl on CUDA, gloo on CPU).
Every process trains on its share of each epoch's shuffled order (:class:`ShardedOrder`:
the same permutation on every rank, dealt out like cards), so N processes with batch B
see, step by step, the very images one process with batch N x B sees. Rank 0 alone writes
the run folder, checkpoints and history; every rank resumes from the same ``last.pt``.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

import torch
from torch import nn
from torch.utils.data import Sampler

from compress.core.errors import CompressError

T = TypeVar("T")


@dataclass(frozen=True)
class Processes:
    """Where this process stands among the training processes."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def world_size_from_env() -> int:
    """The number of processes ``torchrun`` started (1 when not started by it)."""
    text = os.environ.get("WORLD_SIZE", "1")
    try:
        return max(1, int(text))
    except ValueError:
        raise CompressError(f"WORLD_SIZE={text!r} is not a process count") from None


def processes(device_type: str) -> Processes:
    """This process's rank; joins the process group on first use when under torchrun."""
    world = world_size_from_env()
    if world == 1:
        return Processes()
    import torch.distributed as dist

    if not dist.is_initialized():
        import atexit

        backend = "nccl" if device_type == "cuda" else "gloo"
        dist.init_process_group(backend=backend)
        atexit.register(_leave, dist)  # nccl warns at exit about a group never destroyed
    return Processes(dist.get_rank(), dist.get_world_size(), int(os.environ.get("LOCAL_RANK", 0)))


def _leave(dist: Any) -> None:
    if dist.is_initialized():
        dist.destroy_process_group()


def main_first(run: Processes, step: Callable[[], T]) -> T:
    """``step()`` on rank 0 only; its result (or its user error) reaches every rank."""
    if not run.distributed:
        return step()
    import torch.distributed as dist

    box: list[Any] = [None]
    if run.is_main:
        try:
            box[0] = ("ok", step())
        except CompressError as error:
            box[0] = ("error", str(error))
            dist.broadcast_object_list(box, src=0)
            raise
    dist.broadcast_object_list(box, src=0)
    kind, value = box[0]
    if kind == "error":
        raise CompressError(f"rank 0 stopped: {value}")
    return value


def barrier(run: Processes) -> None:
    if run.distributed:
        import torch.distributed as dist

        dist.barrier()


def mean_over_processes(value: float, run: Processes, device: torch.device) -> float:
    """The mean of a per-process number (each process's loss) over every process."""
    if not run.distributed:
        return value
    import torch.distributed as dist

    tensor = torch.tensor([value], dtype=torch.float64, device=device)
    dist.all_reduce(tensor)
    return float(tensor.item()) / run.world_size


class ShardedOrder(Sampler[int]):
    """Each epoch's shuffled order, this rank's share of it.

    The permutation is ``torch.randperm(n, generator)``: one process draws exactly what
    ``DataLoader(shuffle=True, generator=g)`` draws, so single-process runs keep the order
    they had. With N processes the permutation is cut to a multiple of N and rank r takes
    positions r, r+N, ...: batch k of every rank together is batch k of one process with
    N times the batch.
    """

    def __init__(self, n: int, generator: torch.Generator, run: Processes) -> None:
        self.n, self.generator, self.run = n, generator, run

    def __iter__(self) -> Iterator[int]:
        order = torch.randperm(self.n, generator=self.generator).tolist()
        world = self.run.world_size
        if world > 1:
            order = order[: len(order) - len(order) % world][self.run.rank :: world]
        return iter(order)

    def __len__(self) -> int:
        return self.n // self.run.world_size if self.run.distributed else self.n


def parallel(model: nn.Module, procs: Processes, device: torch.device) -> nn.Module:
    """``model`` itself, or wrapped in DistributedDataParallel under torchrun."""
    if not procs.distributed:
        return model
    from torch.nn.parallel import DistributedDataParallel

    if device.type != "cuda":  # gloo has no SyncBatchNorm: BatchNorm sees each rank's batch
        return DistributedDataParallel(model)
    # BatchNorm statistics over the effective batch; the same parameter objects, so the
    # optimizer and the checkpoints are unaffected
    model = nn.SyncBatchNorm.convert_sync_batchnorm(model)
    return DistributedDataParallel(model, device_ids=[device.index])
