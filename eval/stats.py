"""Statistics used by the evaluation: KDE overlap (Yang & Lerch 2020), rank correlation,
histogram distances. Plain numpy; scipy only for a p-value when it is installed."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

GRID_POINTS = 512
MAX_SAMPLES = 4000  # a KDE over more points is subsampled (fixed seed): same curve, less time


def _as_array(values: Sequence[float] | np.ndarray) -> np.ndarray:
    a = np.asarray(values, dtype=np.float64).ravel()
    return a[np.isfinite(a)]


def _subsample(a: np.ndarray, limit: int = MAX_SAMPLES, seed: int = 0) -> np.ndarray:
    if len(a) <= limit:
        return a
    return np.random.default_rng(seed).choice(a, size=limit, replace=False)


def bandwidth(a: np.ndarray, floor: float) -> float:
    """Scott's rule (std * n^-1/5), never below ``floor`` (a constant sample has std 0)."""
    if len(a) < 2:
        return floor
    return max(float(np.std(a, ddof=1)) * len(a) ** -0.2, floor)


def kde(a: np.ndarray, grid: np.ndarray, bw: float) -> np.ndarray:
    """Gaussian kernel density of sample ``a`` evaluated on ``grid`` (integrates to ~1)."""
    z = (grid[:, None] - a[None, :]) / bw
    return np.exp(-0.5 * z * z).sum(axis=1) / (len(a) * bw * math.sqrt(2 * math.pi))


def densities(
    a: Sequence[float] | np.ndarray, b: Sequence[float] | np.ndarray, points: int = GRID_POINTS
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(grid, density of a, density of b) on one shared grid covering both samples.

    The bandwidth floor is 1% of the combined span, so two constant samples still get
    well-defined (narrow) densities: identical constants overlap fully, distinct ones not at all.
    """
    x, y = _subsample(_as_array(a)), _subsample(_as_array(b), seed=1)
    if len(x) == 0 or len(y) == 0:
        raise ValueError("both samples need at least one finite value")
    both = np.concatenate([x, y])
    span = float(both.max() - both.min())
    floor = 0.01 * span if span > 0 else 1e-3 * max(1.0, abs(float(both.mean())))
    bx, by = bandwidth(x, floor), bandwidth(y, floor)
    pad = 4 * max(bx, by)
    grid = np.linspace(both.min() - pad, both.max() + pad, points)
    return grid, kde(x, grid, bx), kde(y, grid, by)


def overlap_area(a: Sequence[float] | np.ndarray, b: Sequence[float] | np.ndarray) -> float:
    """Overlapping area of the two samples' KDE densities: 1 identical, 0 disjoint."""
    grid, pa, pb = densities(a, b)
    return float(min(1.0, np.trapezoid(np.minimum(pa, pb), grid)))


def kl_divergence(a: Sequence[float] | np.ndarray, b: Sequence[float] | np.ndarray) -> float:
    """KL(a || b) of the two KDE densities (in nats), as Yang & Lerch report beside the overlap."""
    grid, pa, pb = densities(a, b)
    eps = 1e-12
    pa, pb = pa + eps, pb + eps
    return float(np.trapezoid(pa * np.log(pa / pb), grid))


def intra_set_distances(a: Sequence[float] | np.ndarray, limit: int = MAX_SAMPLES) -> np.ndarray:
    """|a_i - a_j| for all pairs i < j (a random subset of pairs when there are many)."""
    x = _as_array(a)
    i, j = np.triu_indices(len(x), k=1)
    d = np.abs(x[i] - x[j])
    return _subsample(d, limit, seed=2)


def inter_set_distances(
    a: Sequence[float] | np.ndarray, b: Sequence[float] | np.ndarray, limit: int = MAX_SAMPLES
) -> np.ndarray:
    """|a_i - b_j| for all pairs (a random subset when there are many)."""
    x, y = _as_array(a), _as_array(b)
    d = np.abs(x[:, None] - y[None, :]).ravel()
    return _subsample(d, limit, seed=3)


def yang_lerch_overlap(reference: Sequence[float], generated: Sequence[float]) -> float:
    """Yang & Lerch (2020)'s comparison of one feature: the overlapping area between the
    reference set's intra-set distance distribution and the reference-to-generated inter-set
    distance distribution. High when generated pieces sit among the reference ones."""
    intra = intra_set_distances(reference)
    inter = inter_set_distances(reference, generated)
    return overlap_area(intra, inter)


def ranks(values: Sequence[float] | np.ndarray) -> np.ndarray:
    """Ranks 1..n, ties given their average rank."""
    x = np.asarray(values, dtype=np.float64)
    order = np.argsort(x, kind="mergesort")
    r = np.empty(len(x), dtype=np.float64)
    r[order] = np.arange(1, len(x) + 1)
    for value in np.unique(x):
        tied = x == value
        if tied.sum() > 1:
            r[tied] = r[tied].mean()
    return r


def spearman(x: Sequence[float], y: Sequence[float]) -> tuple[float, float | None]:
    """Spearman's rank correlation and its two-sided p-value (None without scipy).

    A constant input has no rank order: the correlation is NaN then."""
    rx, ry = ranks(x), ranks(y)
    if len(rx) != len(ry):
        raise ValueError("x and y differ in length")
    if len(rx) < 3 or np.std(rx) == 0 or np.std(ry) == 0:
        return float("nan"), None
    rho = float(np.corrcoef(rx, ry)[0, 1])
    n = len(rx)
    try:
        from scipy import stats
    except ImportError:
        return rho, None
    if abs(rho) >= 1.0:
        return rho, 0.0
    t = rho * math.sqrt((n - 2) / (1 - rho * rho))
    return rho, float(2 * stats.t.sf(abs(t), n - 2))


def normalised_histogram(values: Sequence[float], bins: Sequence[float]) -> np.ndarray:
    """Histogram of values over explicit bin edges, summing to 1 (all zeros when empty)."""
    counts, _ = np.histogram(np.asarray(values, dtype=np.float64), bins=np.asarray(bins))
    total = counts.sum()
    return counts / total if total else counts.astype(np.float64)


def jensen_shannon(p: Sequence[float], q: Sequence[float]) -> float:
    """Jensen-Shannon distance (base 2, 0..1) between two histograms."""
    a, b = np.asarray(p, dtype=np.float64), np.asarray(q, dtype=np.float64)
    a = a / a.sum() if a.sum() else a
    b = b / b.sum() if b.sum() else b
    m = 0.5 * (a + b)

    def kl(u: np.ndarray) -> float:
        mask = u > 0
        return float(np.sum(u[mask] * np.log2(u[mask] / m[mask])))

    return math.sqrt(max(0.0, 0.5 * kl(a) + 0.5 * kl(b)))


def mean_pairwise(histograms: Sequence[Sequence[float]]) -> float:
    """Mean Jensen-Shannon distance over all pairs of histograms (NaN with fewer than 2)."""
    h = [np.asarray(x, dtype=np.float64) for x in histograms]
    if len(h) < 2:
        return float("nan")
    d = [jensen_shannon(h[i], h[j]) for i in range(len(h)) for j in range(i + 1, len(h))]
    return float(np.mean(d))


def summary(values: Sequence[float]) -> dict[str, float]:
    """mean, sd, median, 5th and 95th percentile."""
    a = _as_array(values)
    if len(a) == 0:
        return {k: float("nan") for k in ("mean", "sd", "median", "p5", "p95")}
    return {
        "mean": float(a.mean()),
        "sd": float(a.std(ddof=1)) if len(a) > 1 else 0.0,
        "median": float(np.median(a)),
        "p5": float(np.percentile(a, 5)),
        "p95": float(np.percentile(a, 95)),
    }
