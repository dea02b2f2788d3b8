"""Music quality: do the pieces look like the corpus they learn from, are they valid, new, varied?

- MusPy metrics of generated pieces against a random sample of the music21 corpus tunes:
  per metric, the overlapping area (OA) of the two KDE-smoothed distributions, and Yang &
  Lerch (2020)'s own form (OA of the corpus' intra-set distances with the corpus-to-generated
  inter-set distances) with its KL divergence.
- ABC validity: symusic and music21 both parse it; the share of bars whose length fits the meter.
- Novelty: the longest run of melody notes copied from an exemplar.
- Diversity: mean pairwise Jensen-Shannon distance between the melodies' pitch-class and
  rhythm histograms, beside the same for corpus tunes.

The corpus tunes are single melodies, so every metric is measured on the melody (``V:1``)
except ``polyphony``, which engine.metrics measures over all voices. It is shown twice: all
voices (Pictune's texture, by design not the corpus') and melody only (comparable).
"""

from __future__ import annotations

import json
import random
import re
from pathlib import Path
from typing import Any

import numpy as np

from engine.compose.markov import MAX_COPIED_NOTES
from engine.errors import PictuneError
from engine.metrics import METRICS, measure
from engine.retrieve.corpus import iter_music21_tunes
from eval import stats
from eval.context import Context
from eval.images import EvalImage, spread
from eval.plots import figure, save
from eval.report import Section, table
from eval.run import engine_hash, melody_profile

TARGET_OA = 0.7
MELODY_POLYPHONY = "polyphony (melody)"
_VOICE = re.compile(r"^V:\s*(\S+)", re.M)


def melody_only(abc: str) -> str:
    """The ABC with only its first voice (header kept), for metrics comparable with a
    single-line corpus tune."""
    starts = [m.start() for m in _VOICE.finditer(abc)]
    if len(starts) < 2:
        return abc
    return abc[: starts[1]]


def corpus_sample(n: int, seed: int, cache_dir: Path | None) -> list[dict[str, Any]]:
    """MusPy metrics and melody profile of ``n`` random corpus tunes (fixed seed), cached."""
    path = cache_dir / f"corpus-{n}-{seed}-{engine_hash()}.json" if cache_dir else None
    if path is not None and path.exists():
        return json.loads(path.read_text())
    tunes = list(iter_music21_tunes())
    rng = random.Random(seed)
    rng.shuffle(tunes)
    out: list[dict[str, Any]] = []
    for tune in tunes:
        if len(out) >= n:
            break
        try:
            metrics = measure(tune.abc)
        except PictuneError:
            continue  # a tune symusic cannot read is not part of the reference
        metrics[MELODY_POLYPHONY] = metrics["polyphony"]
        out.append(
            {
                "id": tune.id,
                "collection": tune.collection,
                "metrics": metrics,
                "melody": melody_profile(tune.abc),
            }
        )
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(out))
    return out


def add_melody_polyphony(pieces: list[dict[str, Any]]) -> None:
    """Adds the melody-only polyphony to each piece's metrics (and to every round's)."""
    for p in pieces:
        if not p.get("ok"):
            continue
        if MELODY_POLYPHONY not in p["metrics"]:
            p["metrics"][MELODY_POLYPHONY] = measure(melody_only(p["abc"]))["polyphony"]


def metric_names() -> list[str]:
    return [*METRICS, MELODY_POLYPHONY]


def overlap_table(
    generated: list[dict[str, float]],
    corpus: list[dict[str, float]],
    names: list[str] | None = None,
) -> list[dict[str, Any]]:
    """One row per metric: both sets' mean and sd, OA, Yang-Lerch OA and KL divergence."""
    rows = []
    for name in names or metric_names():
        g = [m[name] for m in generated if name in m]
        c = [m[name] for m in corpus if name in m]
        if not g or not c:
            continue
        sg, sc = stats.summary(g), stats.summary(c)
        rows.append(
            {
                "metric": name,
                "corpus_mean": sc["mean"],
                "corpus_sd": sc["sd"],
                "generated_mean": sg["mean"],
                "generated_sd": sg["sd"],
                "oa": stats.overlap_area(g, c),
                "oa_yang_lerch": stats.yang_lerch_overlap(c, g),
                "kld": stats.kl_divergence(
                    stats.intra_set_distances(c), stats.inter_set_distances(c, g)
                ),
            }
        )
    return rows


def validity(pieces: list[dict[str, Any]]) -> dict[str, float]:
    """Rates over the pieces: parsed by symusic, by music21, by both with no problem found;
    bars of the right length; copied runs; distinct ABC."""
    n = len(pieces)
    ok = [p for p in pieces if p.get("ok")]
    checks = [p["checks"] for p in ok]
    bars_ok = sum(c["bars_ok"] for c in checks)
    bars = sum(c["bars_total"] for c in checks)
    copied = [p["copied"] for p in ok if p.get("exemplars")]
    return {
        "pieces": n,
        "composed": len(ok) / n if n else float("nan"),
        "symusic": sum(c["symusic"] for c in checks) / n if n else float("nan"),
        "music21": sum(c["music21"] for c in checks) / n if n else float("nan"),
        "valid": sum(c["symusic"] and c["music21"] and not c["problems"] for c in checks) / n
        if n
        else float("nan"),
        "bars_right_length": bars_ok / bars if bars else float("nan"),
        "melody_bars_right_length": (
            sum(c["melody_bars_ok"] for c in checks)
            / max(1, sum(c["melody_bars_total"] for c in checks))
        ),
        "copied_median": float(np.median(copied)) if copied else float("nan"),
        "copied_max": float(max(copied)) if copied else float("nan"),
        "copied_over_limit": sum(c > MAX_COPIED_NOTES for c in copied) / len(copied)
        if copied
        else float("nan"),
        "distinct_abc": len({p["abc"] for p in ok}) / n if n else float("nan"),
    }


def diversity(melodies: list[dict[str, Any]]) -> dict[str, float]:
    return {
        "pitch_class": stats.mean_pairwise([m["pitch_class_hist"] for m in melodies]),
        "rhythm": stats.mean_pairwise([m["rhythm_hist"] for m in melodies]),
    }


def plot_distributions(
    generated: list[dict[str, float]],
    corpus: list[dict[str, float]],
    rows: list[dict[str, Any]],
    path: Path,
) -> Path:
    names = [r["metric"] for r in rows]
    cols = 4
    fig, axes = figure((len(names) + cols - 1) // cols, cols, 3.4, 2.6)
    for ax, row in zip(axes.flat, rows, strict=False):
        name = row["metric"]
        g = [m[name] for m in generated if name in m]
        c = [m[name] for m in corpus if name in m]
        grid, pg, pc = stats.densities(g, c)
        ax.fill_between(grid, pc, alpha=0.35, color="tab:grey", label="corpus")
        ax.plot(grid, pg, color="tab:blue", label="Pictune")
        ax.fill_between(grid, np.minimum(pg, pc), alpha=0.5, color="tab:green", label="overlap")
        ax.set_title(f"{name}\nOA {row['oa']:.2f}", fontsize=9)
        ax.tick_params(labelsize=7)
        ax.set_yticks([])
    for ax in list(axes.flat)[len(names) :]:
        ax.axis("off")
    axes.flat[0].legend(fontsize=7)
    return save(fig, path)


def quality_images(ctx: Context) -> list[EvalImage]:
    """The quality set: every image (quick: 50 spread over the set)."""
    return spread(ctx.images, 50) if ctx.quick else ctx.images


def quality_pieces(ctx: Context) -> list[dict[str, Any]]:
    """One piece per image of the quality set, default settings."""
    images = quality_images(ctx)
    pieces = []
    for i, im in enumerate(images):
        pieces.append(ctx.composer.piece(im.name, im.bytes(), duration=ctx.duration))
        if (i + 1) % 10 == 0:
            ctx.log(f"quality: {i + 1}/{len(images)} pieces")
    add_melody_polyphony(pieces)
    return pieces


def corpus_for(ctx: Context) -> list[dict[str, Any]]:
    return corpus_sample(300 if ctx.quick else 1000, seed=0, cache_dir=ctx.cache_dir)


def section(ctx: Context, pieces: list[dict[str, Any]], corpus: list[dict[str, Any]]) -> Section:
    sec = Section("Music quality against the corpus")
    ok = [p for p in pieces if p.get("ok")]
    generated = [p["metrics"] for p in ok]
    reference = [c["metrics"] for c in corpus]
    rows = overlap_table(generated, reference)
    short = [r["metric"] for r in rows if r["oa"] < TARGET_OA]
    v = validity(pieces)
    ours_div = diversity([p["melody"] for p in ok])
    corpus_div = diversity([c["melody"] for c in corpus[: len(ok)]])
    plot = plot_distributions(
        generated, reference, rows, ctx.plot_path("quality_distributions.png")
    )

    sec.add(
        f"{len(pieces)} pieces of {ctx.duration:.0f} s, one per image (default settings: "
        f"k = {ctx.settings.retrieve_k} exemplars, {ctx.settings.refine_rounds} refinement rounds), "
        f"against {len(corpus)} tunes drawn at random (seed 0) from the music21 ABC corpus. "
        "OA: overlapping area of the two KDE-smoothed distributions of the metric (1 = the same "
        "distribution). OA (Y&L) and KLD: Yang & Lerch (2020)'s form, comparing the corpus' "
        "intra-set distances with the corpus-to-Pictune inter-set distances.",
        table(
            [
                "metric",
                "corpus mean",
                "corpus sd",
                "Pictune mean",
                "Pictune sd",
                "OA",
                "OA (Y&L)",
                "KLD (Y&L)",
            ],
            [
                [
                    r["metric"],
                    r["corpus_mean"],
                    r["corpus_sd"],
                    r["generated_mean"],
                    r["generated_sd"],
                    r["oa"],
                    r["oa_yang_lerch"],
                    r["kld"],
                ]
                for r in rows
            ],
            digits=3,
        ),
        ctx.md_image(plot, "Distribution of each metric: corpus (grey) and Pictune (blue)"),
    )
    if short:
        sec.add(
            f"**Below the 0.7 aim:** {', '.join(short)}. "
            + (
                "`polyphony` over all voices is expected to differ: the corpus tunes are single "
                "melodies while every Pictune piece has melody, chords and bass (its melody-only "
                "row is the comparable one). "
                if "polyphony" in short
                else ""
            )
            + "See *Findings* at the end for what should change."
        )
    else:
        sec.add("Every metric reaches the 0.7 aim.")
    lenient = [
        r["metric"] for r in rows if r["metric"] != "polyphony" and r["oa_yang_lerch"] >= TARGET_OA
    ]
    comparable = [r["metric"] for r in rows if r["metric"] != "polyphony"]
    sec.add(
        f"Yang & Lerch's own form is more lenient: {len(lenient)} of the {len(comparable)} "
        "comparable metrics reach 0.7 with it, because distances between pieces spread wider "
        "than the metric values themselves. The direct OA is the stricter number and the one "
        "the aim is checked on."
    )
    sec.add(
        "`polyphony (melody)` is 1.0 for every Pictune melody and for all but a few corpus "
        "tunes: its OA falls short of 1 only because a KDE of a constant sample is a narrower "
        "spike than that of an almost constant one (a limit of KDE-based overlap on "
        "near-constant metrics, shared with `empty_beat_rate` and `scale_consistency`)."
    )
    sec.add(
        "Validity, novelty and diversity:",
        table(
            ["measure", "value"],
            [
                ["pieces composed", v["composed"]],
                ["ABC parsed by symusic", v["symusic"]],
                ["ABC parsed by music21", v["music21"]],
                ["valid (both parse, no problem found by validate_abc)", v["valid"]],
                ["bars of the right length (all voices)", v["bars_right_length"]],
                ["bars of the right length (melody)", v["melody_bars_right_length"]],
                ["longest run copied from an exemplar, median (notes)", v["copied_median"]],
                ["longest run copied from an exemplar, max (notes)", v["copied_max"]],
                [
                    f"pieces copying more than {MAX_COPIED_NOTES} notes in a row",
                    v["copied_over_limit"],
                ],
                ["distinct pieces (share of unique ABC)", v["distinct_abc"]],
                [
                    "melody length, median (s), Pictune",
                    float(np.median([p["melody"]["seconds"] for p in ok])),
                ],
                [
                    "melody length, median (s), corpus tunes (repeats not expanded)",
                    float(np.median([c["melody"]["seconds"] for c in corpus])),
                ],
                [
                    "pitch-class diversity, Pictune (mean pairwise JS distance)",
                    ours_div["pitch_class"],
                ],
                ["pitch-class diversity, corpus tunes (same number)", corpus_div["pitch_class"]],
                ["rhythm diversity, Pictune", ours_div["rhythm"]],
                ["rhythm diversity, corpus tunes", corpus_div["rhythm"]],
            ],
            digits=3,
        ),
        "Shares are of all pieces (0..1). The copied run counts consecutive melody notes with the "
        "same intervals and rhythm as a run in any of the piece's exemplars; a random melody "
        "shares 2–4 such notes with some tune by chance.",
    )
    sec.data = {
        "overlap": rows,
        "validity": v,
        "diversity": {"pictune": ours_div, "corpus": corpus_div},
        "below_aim": short,
    }
    return sec
