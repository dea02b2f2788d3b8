"""The ablations arXiv 2509.22378 calls for, on Pictune's embedded pipeline.

- Retrieval: k = 0 (the composer's own habits), 1 and 5 exemplars. Does retrieval help
  validity and closeness to the corpus?
- Refinement: rounds 0..3. Distance to the image's targets per round, per metric; and whether
  one metric improves at another's cost. A run with n rounds is the first n + 1 rounds of a run
  with 3 (refinement is deterministic and greedy), so the quality set's records answer it.
- Hint vs no hint: does a hint visibly change the brief and the music, in the asked direction,
  without breaking validity?
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from engine.bridge.rules import MAX_TEMPO, MIN_TEMPO, MODE_SHIFT
from engine.refine import SCALES, distance
from eval.context import Context
from eval.images import spread
from eval.plots import figure, save
from eval.quality import add_melody_polyphony, metric_names, overlap_table, quality_images, validity
from eval.report import Section, table

K_VALUES = (0, 1, 5)
CAP = 3.0  # per-metric distance cap, as in engine.refine
# The comparable metrics: polyphony over all voices is Pictune's texture, not the corpus'.
COMPARABLE = [m for m in metric_names() if m != "polyphony"]


def mean_oa(rows: list[dict[str, Any]]) -> tuple[float, float]:
    values = [r["oa"] for r in rows if r["metric"] in COMPARABLE]
    return float(np.mean(values)), float(np.min(values))


# ---------------------------------------------------------------- retrieval k


def retrieval_section(ctx: Context, corpus: list[dict[str, Any]]) -> Section:
    sec = Section("Ablation: retrieval (k = 0, 1, 5)")
    # Drawn from the quality set, so the k = 5 pieces come from the cache.
    images = spread(quality_images(ctx), 16 if ctx.quick else 50)
    reference = [c["metrics"] for c in corpus]
    rows, per_metric, data = [], {}, {}
    for k in K_VALUES:
        pieces = [
            ctx.composer.piece(im.name, im.bytes(), k=k, duration=ctx.duration) for im in images
        ]
        add_melody_polyphony(pieces)
        ok = [p for p in pieces if p.get("ok")]
        v = validity(pieces)
        oa = overlap_table([p["metrics"] for p in ok], reference)
        avg, worst = mean_oa(oa)
        dist = float(np.mean([distance(p["metrics"], p["targets"]) for p in ok]))
        rows.append(
            [
                k,
                v["valid"],
                v["bars_right_length"],
                avg,
                worst,
                dist,
                v["copied_median"],
                v["copied_max"],
            ]
        )
        per_metric[k] = {r["metric"]: r["oa"] for r in oa}
        data[k] = {
            "validity": v,
            "mean_oa": avg,
            "min_oa": worst,
            "distance": dist,
            "oa": per_metric[k],
        }
        ctx.log(f"ablation: k={k} done")
    sec.add(
        f"{len(images)} images, each composed with k exemplars retrieved (default refinement). "
        "Mean and min OA are over the comparable metrics (all but polyphony of all voices); "
        "distance is the final distance to the image's targets (engine.refine.distance, in "
        "corpus standard deviations).",
        table(
            [
                "k",
                "valid",
                "bars right",
                "mean OA",
                "min OA",
                "distance to targets",
                "copied run, median",
                "copied run, max",
            ],
            rows,
            digits=3,
        ),
        "OA per metric:",
        table(
            ["metric", *[f"k = {k}" for k in K_VALUES]],
            [[m, *[per_metric[k].get(m) for k in K_VALUES]] for m in COMPARABLE],
            digits=3,
        ),
    )
    sec.data = data
    return sec


# ---------------------------------------------------------------- refinement rounds


def per_metric_distance(metrics: dict[str, float], targets: dict[str, float]) -> dict[str, float]:
    return {
        m: min(CAP, abs(metrics[m] - t) / SCALES[m])
        for m, t in targets.items()
        if m in metrics and m in SCALES
    }


def best_so_far(rounds: list[dict[str, Any]], n: int) -> int:
    """Index of the round a run with ``n`` refinement rounds would keep (first of equals)."""
    best = 0
    for i, r in enumerate(rounds[: n + 1]):
        d = r["distance"] if r["distance"] is not None else float("inf")
        b = rounds[best]["distance"] if rounds[best]["distance"] is not None else float("inf")
        if d < b:
            best = i
    return best


def refinement_section(
    ctx: Context, pieces: list[dict[str, Any]], corpus: list[dict[str, Any]]
) -> Section:
    sec = Section("Ablation: refinement rounds (0 to 3)")
    ok = [p for p in pieces if p.get("ok") and len(p["rounds"]) >= 2]
    n_rounds = min(len(p["rounds"]) for p in ok) - 1 if ok else 0
    reference = [c["metrics"] for c in corpus]
    metrics = list(SCALES)

    rows, curves_raw, curves_best, per_metric_best = [], [], [], {m: [] for m in metrics}
    kept: dict[int, list[dict[str, float]]] = {}
    for n in range(n_rounds + 1):
        raw = [p["rounds"][n]["distance"] for p in ok if p["rounds"][n]["distance"] is not None]
        chosen = [p["rounds"][best_so_far(p["rounds"], n)] for p in ok]
        best_d = [r["distance"] for r in chosen]
        kept[n] = [r["metrics"] for r in chosen]
        per = [
            per_metric_distance(r["metrics"], p["targets"]) for r, p in zip(chosen, ok, strict=True)
        ]
        for m in metrics:
            per_metric_best[m].append(float(np.mean([d[m] for d in per])))
        oa = overlap_table(kept[n], reference, [m for m in COMPARABLE if m != "polyphony (melody)"])
        avg, worst = mean_oa(oa)
        improved = float(
            np.mean(
                [b < p["rounds"][0]["distance"] - 1e-9 for b, p in zip(best_d, ok, strict=True)]
            )
        )
        rows.append([n, float(np.mean(raw)), float(np.mean(best_d)), improved, avg, worst])
        curves_raw.append(float(np.mean(raw)))
        curves_best.append(float(np.mean(best_d)))

    # Trade-offs: from round 0 to the kept round, which metrics got closer and which further.
    trade_rows, changes = [], []
    for p in ok:
        b = best_so_far(p["rounds"], n_rounds)
        if b == 0:
            continue
        before = per_metric_distance(p["rounds"][0]["metrics"], p["targets"])
        after = per_metric_distance(p["rounds"][b]["metrics"], p["targets"])
        changes.append([after[m] - before[m] for m in metrics])
    delta = np.array(changes) if changes else np.zeros((0, len(metrics)))
    tol = 0.1  # a change under a tenth of the corpus spread is no change
    for i, m in enumerate(metrics):
        col = delta[:, i] if len(delta) else np.array([])
        trade_rows.append(
            [
                m,
                float(np.mean(col < -tol)) if len(col) else None,
                float(np.mean(col > tol)) if len(col) else None,
                float(np.mean(col)) if len(col) else None,
            ]
        )
    cost = float(np.mean((delta > tol).any(axis=1))) if len(delta) else float("nan")

    # Where do the targets sit, relative to the corpus? Refinement pulls toward the targets,
    # so a target range centred away from the corpus pulls the music away from it.
    target_rows = []
    for m in metrics:
        c_values = [c["metrics"][m] for c in corpus if m in c["metrics"]]
        c_mean, c_sd = float(np.mean(c_values)), float(np.std(c_values))
        t_mean = float(np.mean([p["targets"][m] for p in ok]))
        r0 = float(np.mean([p["rounds"][0]["metrics"][m] for p in ok]))
        kept_mean = float(np.mean([k[m] for k in kept[n_rounds]]))
        toward = abs(kept_mean - c_mean) < abs(r0 - c_mean)
        target_rows.append(
            [
                m,
                c_mean,
                t_mean,
                (t_mean - c_mean) / c_sd if c_sd else float("nan"),
                r0,
                kept_mean,
                "toward" if toward else "away from",
            ]
        )
    plot = _plot_rounds(
        curves_raw, curves_best, per_metric_best, ctx.plot_path("refinement_rounds.png")
    )
    heat = (
        _plot_tradeoffs(delta, metrics, ctx.plot_path("refinement_tradeoffs.png"))
        if len(delta) > 2
        else None
    )

    sec.add(
        f"The {len(ok)} pieces of the quality set, each refined for {n_rounds} rounds. With n "
        "rounds, the piece kept is the closest of rounds 0..n. *Round's own* is the distance "
        "of the piece composed in that round (each round starts from the best so far, so a "
        "round may land further away); *kept* is the distance of the piece a run with n rounds "
        "returns. OA is against the corpus, on the kept pieces (melody metrics).",
        table(
            [
                "rounds n",
                "round's own distance",
                "kept distance",
                "share improved over round 0",
                "mean OA",
                "min OA",
            ],
            rows,
            digits=3,
        ),
        ctx.md_image(plot, "distance to target per round"),
        f"Per metric, from round 0 to the kept piece ({len(delta)} pieces whose kept piece is a "
        "refined one); a change counts when it exceeds 0.1 corpus standard deviations:",
        table(
            ["metric", "closer to target", "further from target", "mean change (sd units)"],
            trade_rows,
            digits=3,
        ),
        f"In {cost:.0%} of these pieces at least one metric moved further from its target "
        "while the overall distance fell: refinement trades metrics against each other.",
        "Targets against the corpus: the targets come from the picture (engine.refine."
        "derive_targets), so refinement moves each metric toward them, which is toward the "
        "corpus only where they are centred on it. *Offset* is (mean target − corpus mean) in "
        "corpus standard deviations; the last column says whether refinement moved the mean "
        "toward the corpus or away from it.",
        table(
            [
                "metric",
                "corpus mean",
                "mean target",
                "offset (sd)",
                "round 0 mean",
                "kept mean",
                "refinement moves the mean",
            ],
            target_rows,
            digits=3,
        ),
    )
    if heat is not None:
        sec.add(
            ctx.md_image(heat, "correlation of per-metric changes"),
            "Correlation between the metrics' changes (round 0 → kept): a negative cell means "
            "when one gets closer the other tends to get further.",
        )
    sec.data = {
        "rounds": rows,
        "tradeoffs": trade_rows,
        "share_with_cost": cost,
        "per_metric": per_metric_best,
        "targets": {
            r[0]: dict(
                zip(
                    ["corpus", "target", "offset_sd", "round0", "kept", "moves"], r[1:], strict=True
                )
            )
            for r in target_rows
        },
    }
    return sec


def _plot_rounds(
    raw: list[float], best: list[float], per_metric: dict[str, list[float]], path: Path
) -> Path:
    fig, axes = figure(1, 2, 4.2, 3.0)
    x = list(range(len(raw)))
    axes[0, 0].plot(x, raw, "o--", label="round's own")
    axes[0, 0].plot(x, best, "o-", label="kept (best so far)")
    axes[0, 0].set_xlabel("refinement rounds")
    axes[0, 0].set_ylabel("mean distance to targets")
    axes[0, 0].set_xticks(x)
    axes[0, 0].legend(fontsize=8)
    for m, values in per_metric.items():
        axes[0, 1].plot(x, values, "o-", label=m, markersize=3)
    axes[0, 1].set_xlabel("refinement rounds")
    axes[0, 1].set_ylabel("per-metric distance (sd units), kept")
    axes[0, 1].set_xticks(x)
    axes[0, 1].legend(fontsize=6)
    return save(fig, path)


def _plot_tradeoffs(delta: np.ndarray, metrics: list[str], path: Path) -> Path:
    with np.errstate(invalid="ignore", divide="ignore"):
        corr = np.corrcoef(delta.T)
    corr = np.nan_to_num(corr)
    fig, axes = figure(1, 1, 6.0, 5.0)
    ax = axes[0, 0]
    im = ax.imshow(corr, vmin=-1, vmax=1, cmap="coolwarm")
    ax.set_xticks(range(len(metrics)), metrics, rotation=60, ha="right", fontsize=7)
    ax.set_yticks(range(len(metrics)), metrics, fontsize=7)
    fig.colorbar(im, ax=ax)
    return save(fig, path)


# ---------------------------------------------------------------- hint vs no hint


def _faster(base: dict[str, Any], hinted: dict[str, Any]) -> bool:
    return hinted["tempo"] > base["tempo"] or base["tempo"] >= MAX_TEMPO


def _slower(base: dict[str, Any], hinted: dict[str, Any]) -> bool:
    return hinted["tempo"] < base["tempo"] or base["tempo"] <= MIN_TEMPO


HINTS: dict[str, tuple[str, Callable[[dict[str, Any], dict[str, Any]], bool]]] = {
    "faster": ("tempo rises", _faster),
    "slower": ("tempo falls", _slower),
    "sad piano": (
        "minor-family mode, piano melody",
        lambda b, h: MODE_SHIFT[h["mode"]] <= -2 and h["melody_program"] == 0,
    ),
    "happy": ("major-family mode", lambda b, h: MODE_SHIFT[h["mode"]] >= -1),
    "jazzy": ("genre jazz", lambda b, h: h["genre"] == "jazz"),
    "quiet": ("softer", lambda b, h: h["velocity"] < b["velocity"] or b["velocity"] <= 20),
    "with drums": ("drums on", lambda b, h: bool(h["drums"])),
}


def hint_section(ctx: Context) -> Section:
    sec = Section("Ablation: hint vs no hint")
    images = spread(quality_images(ctx), 6 if ctx.quick else 20)
    base = {
        im.name: ctx.composer.piece(im.name, im.bytes(), duration=ctx.duration) for im in images
    }
    rows, data = [], {}
    for hint, (expect, check) in HINTS.items():
        pieces = [
            (
                base[im.name],
                ctx.composer.piece(im.name, im.bytes(), hint=hint, duration=ctx.duration),
            )
            for im in images
        ]
        pairs = [(b, h) for b, h in pieces if b.get("ok") and h.get("ok")]
        changed = float(
            np.mean([b["brief"]["description"] != h["brief"]["description"] for b, h in pairs])
        )
        abc_changed = float(np.mean([b["abc"] != h["abc"] for b, h in pairs]))
        met = float(np.mean([check(b["brief"], h["brief"]) for b, h in pairs]))
        v = validity([h for _, h in pieces])
        d_base = float(np.mean([distance(b["metrics"], b["targets"]) for b, _ in pairs]))
        d_hint = float(np.mean([distance(h["metrics"], h["targets"]) for _, h in pairs]))
        rows.append([f"“{hint}”", expect, changed, abc_changed, met, v["valid"], d_base, d_hint])
        data[hint] = {
            "brief_changed": changed,
            "abc_changed": abc_changed,
            "expected": met,
            "valid": v["valid"],
            "distance_without": d_base,
            "distance_with": d_hint,
        }
    ctx.log("ablation: hints done")
    sec.add(
        f"{len(images)} images composed without a hint and with each hint (default settings). "
        "Shares over the images. Distances are to each piece's own targets (derived from the "
        "picture and the brief, so a hint that changes density moves them a little).",
        table(
            [
                "hint",
                "expected",
                "brief changed",
                "music changed",
                "expectation met",
                "valid",
                "distance, no hint",
                "distance, hint",
            ],
            rows,
            digits=3,
        ),
    )
    sec.data = data
    return sec
