"""The training processes of a run on several GPUs (`accelerate launch`, one rank per GPU): which one this is, and
the decisions they must take together.

Only the main process (rank 0) writes the run folder: status, events, samples, log lines, best.json and the
publishing of checkpoints and the adapter. Whatever ends or changes the training loop (a stop, a new best held-out
check) is decided once for all ranks: a rank that stops alone leaves the others waiting in a collective forever.
Outside a distributed run every function answers for the one process.
"""

from __future__ import annotations

import os


def rank() -> int:
    return int(os.environ.get("RANK", "0"))


def is_main() -> bool:
    return rank() == 0


def local_rank() -> int:
    return int(os.environ.get("LOCAL_RANK", "0"))


def _distributed() -> bool:
    try:
        import torch.distributed as dist
    except ImportError:
        return False
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def any_rank(flag: bool) -> bool:
    """True on every rank when it is True on any (a STOP seen by one rank stops all of them at the same step)."""
    if not _distributed():
        return flag
    import torch
    import torch.distributed as dist

    device = torch.device("cuda", torch.cuda.current_device()) if dist.get_backend() == "nccl" else torch.device("cpu")
    value = torch.tensor([1 if flag else 0], device=device)
    dist.all_reduce(value, op=dist.ReduceOp.MAX)
    return bool(value.item())


def from_main(value):
    """Rank 0's `value` on every rank."""
    if not _distributed():
        return value
    import torch.distributed as dist

    holder = [value]
    dist.broadcast_object_list(holder, src=0)
    return holder[0]


def barrier() -> None:
    if _distributed():
        import torch.distributed as dist

        dist.barrier()
