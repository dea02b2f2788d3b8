"""Can a classifier tell Pictune's melodies from the corpus'? A two-sample classifier test.

Distribution metrics (MusPy's, in eval/quality.py) compare one number at a time; a listener
hears combinations: which intervals follow which, which note lengths follow which. The
classifier two-sample test (Lopez-Paz & Oquab, 2017) asks the combined question directly: if
a simple model, trained on interval and duration n-gram histograms, cannot beat chance on
held-out melodies, the two sets are alike in those respects. Cross-validated accuracy near
0.5 means indistinguishable; near 1.0, a telltale style.

Everything is numpy (no scikit-learn in the project): standardised features, L2-regularised
logistic regression fitted by Newton's method, stratified k-fold cross-validation with a
fixed seed, so the number is reproducible. Classes are balanced by subsampling the larger
side, so 0.5 is exactly chance.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

Melody = Sequence[tuple[int, float]]  # (MIDI pitch, duration in quarter notes)

MAX_INTERVAL = 12  # intervals are clipped to +-an octave: wider leaps are rare and alike
MAX_SIXTEENTHS = 16  # lengths are clipped to a whole note (in sixteenths)
MAX_RATIO = 4  # log2 of a length ratio is clipped to +-4 (16 times longer or shorter)
DEFAULT_L2 = 1.0  # penalty on the mean log-loss: strong, since features outnumber melodies

_N_INT = 2 * MAX_INTERVAL + 1
_N_LEN = MAX_SIXTEENTHS
_N_RATIO = 2 * MAX_RATIO + 1


@dataclass
class ClassifierResult:
    accuracy: float  # mean held-out accuracy over the folds (of every run)
    folds: list[float] = field(default_factory=list)  # accuracy of each fold
    n_per_class: int = 0  # melodies per class after balancing
    features: int = 0  # feature columns before dropping constant ones
    runs: list[float] = field(default_factory=list)  # mean accuracy of each run (subsample)

    @property
    def spread(self) -> float:
        """Standard deviation of the runs' accuracies (0 for a single run)."""
        return float(np.std(self.runs)) if len(self.runs) > 1 else 0.0

    def as_dict(self) -> dict[str, object]:
        return {
            "accuracy": self.accuracy,
            "folds": self.folds,
            "runs": self.runs,
            "spread": self.spread,
            "n_per_class": self.n_per_class,
            "features": self.features,
        }


def _hist(codes: list[int], size: int) -> np.ndarray:
    """Relative frequencies, so that a long tune and a short one are comparable."""
    h = np.bincount(np.asarray(codes, dtype=int), minlength=size).astype(float)[:size]
    total = h.sum()
    return h / total if total else h


def interval_features(melody: Melody) -> np.ndarray:
    """Histograms of melodic interval 1-grams and 2-grams (semitones, clipped to +-12)."""
    pitches = [p for p, _ in melody]
    ints = [
        int(np.clip(b - a, -MAX_INTERVAL, MAX_INTERVAL)) + MAX_INTERVAL
        for a, b in zip(pitches, pitches[1:], strict=False)
    ]
    pairs = [a * _N_INT + b for a, b in zip(ints, ints[1:], strict=False)]
    return np.concatenate([_hist(ints, _N_INT), _hist(pairs, _N_INT * _N_INT)])


def rhythm_features(melody: Melody) -> np.ndarray:
    """Histograms of note lengths (sixteenths, 1-grams and 2-grams) and of the length ratio to
    the previous note (rounded log2, 1-grams and 2-grams): absolute and tempo-free rhythm."""
    sixteenths = [max(1, min(MAX_SIXTEENTHS, round(d * 4))) for _, d in melody]
    lens = [s - 1 for s in sixteenths]
    len_pairs = [a * _N_LEN + b for a, b in zip(lens, lens[1:], strict=False)]
    ratios = [
        int(np.clip(round(math.log2(b / a)), -MAX_RATIO, MAX_RATIO)) + MAX_RATIO
        for a, b in zip(sixteenths, sixteenths[1:], strict=False)
    ]
    ratio_pairs = [a * _N_RATIO + b for a, b in zip(ratios, ratios[1:], strict=False)]
    return np.concatenate(
        [
            _hist(lens, _N_LEN),
            _hist(len_pairs, _N_LEN * _N_LEN),
            _hist(ratios, _N_RATIO),
            _hist(ratio_pairs, _N_RATIO * _N_RATIO),
        ]
    )


def melody_features(melody: Melody, *, rhythm_only: bool = False) -> np.ndarray:
    """The feature vector of one melody: rhythm n-grams, preceded by interval n-grams unless
    ``rhythm_only`` (which asks whether the rhythm alone gives Pictune away)."""
    rhythm = rhythm_features(melody)
    return rhythm if rhythm_only else np.concatenate([interval_features(melody), rhythm])


def fit_logistic(
    x: np.ndarray, y: np.ndarray, l2: float = DEFAULT_L2, iterations: int = 50
) -> tuple[np.ndarray, float]:
    """Weights and bias minimising mean log-loss + l2/2 |w|^2 (bias not penalised), by Newton's
    method: a few exact steps, no learning rate to tune. ``x`` should be standardised."""
    n, p = x.shape
    xb = np.hstack([x, np.ones((n, 1))])
    theta = np.zeros(p + 1)
    penalty = np.full(p + 1, l2)
    penalty[-1] = 0.0
    for _ in range(iterations):
        prob = 1.0 / (1.0 + np.exp(-np.clip(xb @ theta, -30, 30)))
        grad = xb.T @ (prob - y) / n + penalty * theta
        weight = prob * (1 - prob)
        hess = (xb * weight[:, None]).T @ xb / n + np.diag(penalty) + 1e-9 * np.eye(p + 1)
        step = np.linalg.solve(hess, grad)
        theta -= step
        if np.max(np.abs(step)) < 1e-8:
            break
    return theta[:-1], float(theta[-1])


def _standardise(train: np.ndarray, test: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Scale by the training fold only (no leak from the held-out melodies); columns that are
    constant there carry no information and are dropped."""
    mean, sd = train.mean(axis=0), train.std(axis=0)
    keep = sd > 1e-12
    return (train[:, keep] - mean[keep]) / sd[keep], (test[:, keep] - mean[keep]) / sd[keep]


def stratified_folds(y: np.ndarray, k: int, seed: int) -> np.ndarray:
    """Fold index of each sample: each class shuffled (fixed seed) and dealt round-robin, so
    every fold holds the two classes in equal measure."""
    rng = np.random.default_rng(seed)
    fold = np.empty(len(y), dtype=int)
    for label in np.unique(y):
        idx = np.flatnonzero(y == label)
        rng.shuffle(idx)
        fold[idx] = np.arange(len(idx)) % k
    return fold


def cross_validated_accuracy(
    x: np.ndarray, y: np.ndarray, k: int = 5, seed: int = 0, l2: float = DEFAULT_L2
) -> list[float]:
    """Held-out accuracy of each of ``k`` stratified folds."""
    fold = stratified_folds(y, k, seed)
    out = []
    for f in range(k):
        test = fold == f
        if not test.any() or test.all():
            continue
        xtr, xte = _standardise(x[~test], x[test])
        w, b = fit_logistic(xtr, y[~test], l2)
        predicted = (xte @ w + b) > 0
        out.append(float(np.mean(predicted == (y[test] == 1))))
    return out


def two_sample_test(
    a: Sequence[Melody],
    b: Sequence[Melody],
    *,
    rhythm_only: bool = False,
    k: int = 5,
    seed: int = 0,
    l2: float = DEFAULT_L2,
    min_notes: int = 3,
    repeats: int = 1,
) -> ClassifierResult:
    """Cross-validated accuracy of telling melodies of ``a`` from those of ``b``.

    Melodies with fewer than ``min_notes`` notes have no 2-grams and are left out; the larger
    side is then subsampled (fixed seed) to the size of the smaller, so chance is 0.5. With
    fewer than ``k`` melodies a side there is nothing to test: accuracy is NaN.

    ``repeats`` runs the test on as many subsamples and fold splits (seeds ``seed``,
    ``seed + 1``, ...) and averages them: with few melodies a side, one run is partly luck
    (eval/styles.py, CLASSIFIER_RUNS).
    """
    sides = [[m for m in side if len(m) >= min_notes] for side in (a, b)]
    n = min(len(s) for s in sides)
    if n < k:
        return ClassifierResult(float("nan"), [], n, 0)
    features = {id(m): melody_features(m, rhythm_only=rhythm_only) for side in sides for m in side}
    folds: list[float] = []
    runs: list[float] = []
    for run in range(max(1, repeats)):
        rng = np.random.default_rng(seed + run)
        picked = [
            [side[i] for i in sorted(rng.choice(len(side), n, replace=False))] for side in sides
        ]
        x = np.array([features[id(m)] for s in picked for m in s])
        y = np.array([0] * n + [1] * n, dtype=float)
        these = cross_validated_accuracy(x, y, k, seed + run, l2)
        folds += these
        runs.append(float(np.mean(these)))
    width = len(next(iter(features.values())))
    return ClassifierResult(float(np.mean(folds)), folds, n, width, runs)
