"""The two-sample classifier test: chance on alike melodies, near-perfect on unlike ones."""

from __future__ import annotations

import math

import numpy as np

from eval.classifier import (
    fit_logistic,
    interval_features,
    melody_features,
    rhythm_features,
    stratified_folds,
    two_sample_test,
)


def _walk(rng: np.random.Generator, steps: list[int], n: int = 40) -> list[tuple[int, float]]:
    """A melody moving by the given intervals, in eighths and quarters."""
    pitch, out = 67, []
    for _ in range(n):
        out.append((pitch, float(rng.choice([0.5, 0.5, 1.0]))))
        pitch = int(np.clip(pitch + rng.choice(steps), 48, 90))
    return out


def test_features_count_interval_and_length_ngrams() -> None:
    melody = [(60, 1.0), (62, 0.5), (64, 0.5), (64, 2.0)]
    ints = interval_features(melody)
    assert ints.shape == (25 + 25 * 25,)
    # 1-grams: +2 twice, 0 once; 2-grams: (+2, +2) and (+2, 0), once each.
    assert ints[12 + 2] == 2 / 3 and ints[12] == 1 / 3
    assert math.isclose(ints[25:].sum(), 1.0)
    rhythm = rhythm_features(melody)
    assert rhythm[3] == 0.25 and rhythm[1] == 0.5 and rhythm[7] == 0.25  # 4, 2, 8 sixteenths
    assert len(melody_features(melody)) == len(ints) + len(rhythm)
    assert np.array_equal(melody_features(melody, rhythm_only=True), rhythm)


def test_logistic_regression_separates_a_separable_set() -> None:
    rng = np.random.default_rng(1)
    x = rng.normal(size=(80, 3))
    y = (x[:, 0] - x[:, 2] > 0).astype(float)
    w, b = fit_logistic(x, y, l2=0.01)
    assert np.mean(((x @ w + b) > 0) == (y == 1)) >= 0.95
    assert w[0] > 0 > w[2]


def test_folds_are_stratified_and_fixed() -> None:
    y = np.array([0] * 20 + [1] * 20)
    fold = stratified_folds(y, 5, seed=3)
    for f in range(5):
        assert (y[fold == f] == 0).sum() == 4 and (y[fold == f] == 1).sum() == 4
    assert np.array_equal(fold, stratified_folds(y, 5, seed=3))


def test_alike_melodies_are_not_told_apart() -> None:
    rng = np.random.default_rng(7)
    steps = [-4, -2, -1, 0, 1, 2, 3, 5]
    a = [_walk(rng, steps) for _ in range(60)]
    b = [_walk(rng, steps) for _ in range(90)]  # the larger side is subsampled
    result = two_sample_test(a, b)
    assert result.n_per_class == 60 and len(result.folds) == 5
    assert result.accuracy <= 0.65
    assert two_sample_test(a, b, rhythm_only=True).accuracy <= 0.65


def test_steps_and_leaps_are_told_apart() -> None:
    rng = np.random.default_rng(8)
    a = [_walk(rng, [-2, -1, 1, 2]) for _ in range(50)]
    b = [_walk(rng, [-12, -9, -7, 7, 9, 12]) for _ in range(50)]
    assert two_sample_test(a, b).accuracy >= 0.9
    # Same rhythms on both sides: the rhythm-only variant must not see the difference.
    assert two_sample_test(a, b, rhythm_only=True).accuracy <= 0.65


def test_different_rhythms_are_told_apart_by_rhythm_alone() -> None:
    rng = np.random.default_rng(9)
    a = [[(p, 0.5) for p, _ in _walk(rng, [-1, 1])] for _ in range(40)]
    b = [
        [(p, 1.5 if i % 2 else 0.5) for i, (p, _) in enumerate(_walk(rng, [-1, 1]))]
        for _ in range(40)
    ]
    assert two_sample_test(a, b, rhythm_only=True).accuracy >= 0.9


def test_too_few_melodies_give_nan() -> None:
    result = two_sample_test([[(60, 1.0)] * 8] * 3, [[(62, 1.0)] * 8] * 30)
    assert math.isnan(result.accuracy) and result.folds == []


def test_repeated_runs_average_other_subsamples_and_splits() -> None:
    rng = np.random.default_rng(10)
    steps = [-4, -2, -1, 0, 1, 2, 3, 5]
    a = [_walk(rng, steps) for _ in range(40)]
    b = [_walk(rng, [-2, -1, 0, 1, 2, 7]) for _ in range(120)]
    one = two_sample_test(a, b)
    five = two_sample_test(a, b, repeats=5)
    # The first run is the single run; the others draw other melodies of the larger side.
    assert five.runs[0] == one.accuracy and one.runs == [one.accuracy] and one.spread == 0.0
    assert len(five.runs) == 5 and len(five.folds) == 25
    assert five.accuracy == np.mean(five.folds) and len(set(five.runs)) > 1
    assert five.spread == np.std(five.runs) > 0
    assert five.runs[1] == two_sample_test(a, b, seed=1).accuracy
