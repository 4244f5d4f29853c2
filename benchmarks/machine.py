"""What the benchmarks say about the machine they time on (imported by the scripts next to it)."""

from __future__ import annotations

import os
import time

import torch


def load_note() -> str:
    """The machine's load before timing: other busy processes slow every way, multi-threaded ones the most."""
    load, cpus = os.getloadavg()[0], os.cpu_count() or 1
    crowded = load > cpus / 2 and torch.get_num_threads() > 1
    busy = " (other processes compete for the CPUs; try --threads 1)" if crowded else ""
    return f"load average (1 min) {load:.1f} on {cpus} CPUs{busy}"


def matmul_peak(sizes: tuple[int, ...] = (1024, 1536, 2048), repeats: int = 5) -> float:
    """Best fp32 GFLOP/s of square matrix products on this machine (its practical peak for dense work)."""
    best = 0.0
    for n in sizes:
        a, b = torch.randn(n, n), torch.randn(n, n)
        torch.mm(a, b)  # first call pays for set-up
        for _ in range(repeats):
            start = time.perf_counter()
            torch.mm(a, b)
            best = max(best, 2 * n**3 / (time.perf_counter() - start) / 1e9)
    return best


def training_flops_per_token(n_params: int, config, mean_length: float) -> float:
    """6 x parameters (forward + backward of the dense layers) + causal attention's 6 x layers x hidden x T."""
    return 6 * n_params + 6 * config.num_hidden_layers * config.hidden_size * mean_length
