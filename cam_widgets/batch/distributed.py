"""One process or many: ``torch.distributed`` as ``torchrun`` sets it up (nccl on GPUs, gloo on CPU).

Without ``torchrun`` (no ``WORLD_SIZE`` > 1 in the environment, no process group) everything runs in this
process and the collectives are identities. No scheduler of our own: each rank takes a contiguous shard of the
run chunks still to do; the only collectives are the broadcast of rank 0's decisions and the final reductions.
"""

from __future__ import annotations

import atexit
import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TypeVar

import torch
import torch.distributed as dist

T = TypeVar("T")


@dataclass
class Ranks:
    """This process's place in the job: ``rank`` of ``world``, on ``device``."""

    rank: int = 0
    world: int = 1
    device: torch.device = torch.device("cpu")

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world > 1

    def broadcast(self, value: T) -> T:
        """Rank 0's ``value`` on every rank (a picklable object)."""
        if not self.distributed:
            return value
        box = [value if self.is_main else None]
        dist.broadcast_object_list(box, src=0, device=self._collective_device)
        return box[0]

    def raise_if_error(self, value: object) -> None:
        """Raise ``value`` if it is the exception rank 0 handed out (rank 0's decision failed on every rank);
        on the other ranks it is marked ``from_rank_0``: rank 0 reports it, they need not repeat it."""
        if isinstance(value, BaseException):
            if not self.is_main:
                value.from_rank_0 = True
            raise value

    def all_reduce_sum(self, values: torch.Tensor) -> torch.Tensor:
        """The sum over ranks of each rank's ``values`` (a float64 tensor), returned on the CPU."""
        if not self.distributed:
            return values.cpu()
        moved = values.to(self._collective_device)
        dist.all_reduce(moved, op=dist.ReduceOp.SUM)
        return moved.cpu()

    def all_gather(self, value: T) -> list[T]:
        """Every rank's ``value`` (picklable), in rank order."""
        if not self.distributed:
            return [value]
        out: list = [None] * self.world
        dist.all_gather_object(out, value)
        return out

    def barrier(self) -> None:
        if self.distributed:
            dist.barrier()

    @property
    def _collective_device(self) -> torch.device:
        return self.device if dist.get_backend() == "nccl" else torch.device("cpu")


def join(device: torch.device | str | None = None) -> Ranks:
    """This process's ``Ranks``: the existing process group, one made from ``torchrun``'s environment
    (``WORLD_SIZE`` > 1: nccl when CUDA is available, else gloo; each rank on ``cuda:LOCAL_RANK``), or a single
    process. ``device``: where the model runs (default: ``cuda:LOCAL_RANK`` under torchrun with CUDA, else the CPU).

    A group made here stays for the life of the process (the next data-set run of the same script reuses it:
    a second rendezvous on torchrun's store would not meet) and is destroyed at exit."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if not dist.is_initialized() and world > 1:
        backend = "nccl" if torch.cuda.is_available() else "gloo"
        if backend == "nccl":
            torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
        dist.init_process_group(backend=backend)
        atexit.register(_destroy)
    if dist.is_initialized():
        rank, world = dist.get_rank(), dist.get_world_size()
    else:
        rank, world = 0, 1
    if device is None:
        local = int(os.environ.get("LOCAL_RANK", "0"))
        device = torch.device(f"cuda:{local}") if torch.cuda.is_available() and world > 1 else torch.device("cpu")
    return Ranks(rank=rank, world=world, device=torch.device(device))


def _destroy() -> None:
    if dist.is_initialized():
        dist.destroy_process_group()


def shard(items: Sequence[T], rank: int, world: int) -> list[T]:
    """Rank ``rank``'s contiguous share of ``items``: the first ``len % world`` ranks take one more."""
    size, extra = divmod(len(items), world)
    start = rank * size + min(rank, extra)
    return list(items[start : start + size + (rank < extra)])
