"""What the benchmarks say about the machine they time on (imported by the scripts next to it)."""

from __future__ import annotations

import os

import torch


def load_note() -> str:
    """The machine's load before timing: other busy processes slow every way, multi-threaded ones the most."""
    load, cpus = os.getloadavg()[0], os.cpu_count() or 1
    crowded = load > cpus / 2 and torch.get_num_threads() > 1
    busy = " (other processes compete for the CPUs; try --threads 1)" if crowded else ""
    return f"load average (1 min) {load:.1f} on {cpus} CPUs{busy}"
