"""Consistency with embeddings: is what Pictune says about the music close to what it saw?

The packaged all-MiniLM-L6-v2 embeds each image's caption and three texts about its piece:
the brief's MidiCaps-style description, its MusicGen-style prompt, and the motivation. The
cosine similarity of each caption with its own piece's text is compared with a shuffled
baseline (each caption against another image's text, a fixed derangement), and with how often
a caption's own text ranks first among all pieces' texts.

The motivation repeats the caption word for word (its summary line and "What I saw"), which
would make the check trivial; those parts are removed before embedding.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np

from engine.retrieve.embed import load_text_embedder
from eval.context import Context
from eval.plots import figure, save
from eval.report import Section, table

_SAW = re.compile(r"## What I saw\n.*?(?=\n## )", re.S)


def motivation_without_caption(motivation: str, caption: str) -> str:
    """The motivation less its summary line (it starts with the caption) and its
    "What I saw" section; any other verbatim copy of the caption is removed too."""
    text = _SAW.sub("", motivation)
    lines = [
        line for line in text.splitlines() if not (caption and line.startswith(caption.rstrip(".")))
    ]
    text = "\n".join(lines)
    return text.replace(caption, "") if caption else text


def derangement(n: int, seed: int = 0) -> np.ndarray:
    """A permutation with no fixed point (n >= 2), from a fixed seed."""
    if n < 2:
        raise ValueError("a derangement needs at least two items")
    rng = np.random.default_rng(seed)
    while True:
        perm = rng.permutation(n)
        if not np.any(perm == np.arange(n)):
            return perm


def similarity_stats(a: np.ndarray, b: np.ndarray, seed: int = 0) -> dict[str, float]:
    """For unit vectors a[i] (captions) and b[i] (their texts): mean matched cosine, mean
    shuffled cosine, top-1 accuracy and mean reciprocal rank of the own text among all."""
    sims = a @ b.T
    matched = np.diag(sims)
    shuffled = sims[np.arange(len(a)), derangement(len(a), seed)]
    ranks = (sims > matched[:, None]).sum(axis=1) + 1
    return {
        "matched": float(matched.mean()),
        "matched_sd": float(matched.std(ddof=1)) if len(matched) > 1 else 0.0,
        "shuffled": float(shuffled.mean()),
        "shuffled_sd": float(shuffled.std(ddof=1)) if len(shuffled) > 1 else 0.0,
        "gap": float(matched.mean() - shuffled.mean()),
        "top1": float(np.mean(ranks == 1)),
        "mrr": float(np.mean(1.0 / ranks)),
        "chance_top1": 1.0 / len(a),
    }


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.maximum(np.linalg.norm(v, axis=1, keepdims=True), 1e-12)


def section(ctx: Context, pieces: list[dict[str, Any]]) -> Section:
    sec = Section("Consistency of words with the image (MiniLM)")
    ok = [p for p in pieces if p.get("ok")]
    captions = [p["perception"]["caption"] for p in ok]
    texts = {
        "brief description": [p["brief"]["description"] for p in ok],
        "MusicGen prompt": [p["brief"]["prompt"] for p in ok],
        "motivation (caption removed)": [
            motivation_without_caption(p["motivation"], c)
            for p, c in zip(ok, captions, strict=True)
        ],
    }
    embedder = load_text_embedder(ctx.settings)
    cap = _unit(embedder.embed(captions))
    rows, data, matched_sets = [], {}, {}
    for name, values in texts.items():
        vec = _unit(embedder.embed(values))
        s = similarity_stats(cap, vec)
        rows.append(
            [name, s["matched"], s["shuffled"], s["gap"], s["top1"], s["chance_top1"], s["mrr"]]
        )
        data[name] = s
        sims = cap @ vec.T
        matched_sets[name] = (np.diag(sims), sims[np.arange(len(ok)), derangement(len(ok))])
    plot = _plot(matched_sets, ctx.plot_path("consistency.png"))
    sec.add(
        f"{len(ok)} pieces of the quality set. Cosine similarity of the caption with its own "
        "piece's text (*matched*) and with another piece's text (*shuffled*, a fixed "
        "derangement); *top-1*: share of captions whose own text is the most similar of all "
        "pieces' texts (chance = 1/n); MRR: mean reciprocal rank of the own text.",
        table(
            ["text", "matched", "shuffled", "gap", "top-1", "top-1 by chance", "MRR"],
            rows,
            digits=3,
        ),
        ctx.md_image(plot, "matched vs shuffled similarity"),
    )
    sec.data = data
    return sec


def _plot(sets: dict[str, tuple[np.ndarray, np.ndarray]], path: Path) -> Path:
    fig, axes = figure(1, len(sets), 3.6, 2.8)
    for ax, (name, (matched, shuffled)) in zip(axes.flat, sets.items(), strict=True):
        bins = np.linspace(
            min(matched.min(), shuffled.min()), max(matched.max(), shuffled.max()), 20
        )
        ax.hist(shuffled, bins=bins, alpha=0.5, color="tab:grey", label="shuffled")
        ax.hist(matched, bins=bins, alpha=0.6, color="tab:blue", label="matched")
        ax.set_title(name, fontsize=9)
        ax.set_xlabel("cosine similarity to the caption", fontsize=8)
        ax.tick_params(labelsize=7)
    axes.flat[0].legend(fontsize=7)
    return save(fig, path)
