"""Per-stage latency of the embedded pipeline, and peak memory.

    .venv/bin/python bench/compose.py [--images 12] [--duration 30] [--rounds 3]

Prints a table (p50/p95 per stage and end to end, over varied images; "score" is the wait
for the score picture after the audio is encoded, drawn meanwhile) and writes
bench/results/compose.json. Run it by hand: timings on shared machines are noisy, so they
are measured here and never asserted in tests. The first run builds the tune index.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import platform
import resource
import statistics
import time
from pathlib import Path

import numpy as np
from PIL import Image

from engine.config import Settings
from engine.pipeline import Pipeline
from engine.types import ComposeRequest


def varied_images(n: int) -> list[bytes]:
    """Real photos from scikit-image's public-domain samples, then procedural scenes."""
    from skimage import data

    photos = [
        "astronaut",
        "coffee",
        "chelsea",
        "rocket",
        "immunohistochemistry",
        "hubble_deep_field",
    ]
    out: list[bytes] = []
    for name in photos[:n]:
        buf = io.BytesIO()
        Image.fromarray(getattr(data, name)()).convert("RGB").save(buf, "JPEG", quality=90)
        out.append(buf.getvalue())
    rng = np.random.default_rng(0)
    while len(out) < n:
        h, w = 480, 640
        base = rng.uniform(0, 255, 3)
        yy, xx = np.mgrid[0:h, 0:w]
        grad = (yy / h)[..., None] * rng.uniform(-120, 120, 3)
        noise = rng.normal(0, rng.uniform(0, 60), (h, w, 1))
        img = np.clip(base + grad + noise + 40 * np.sin(xx / rng.uniform(5, 80))[..., None], 0, 255)
        buf = io.BytesIO()
        Image.fromarray(img.astype(np.uint8)).save(buf, "PNG")
        out.append(buf.getvalue())
    return out


def pct(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) if values else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--images", type=int, default=12)
    parser.add_argument("--duration", type=float, default=30.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--out", type=Path, default=Path("bench/results/compose.json"))
    args = parser.parse_args()

    settings = Settings()
    start = time.perf_counter()
    pipeline = Pipeline(settings)
    _ = pipeline.stages  # load the index and models: measured apart from the pieces
    load_s = time.perf_counter() - start
    images = varied_images(args.images)
    pipeline.run(ComposeRequest(image=images[0], duration=5.0, refine_rounds=0))  # warm caches

    per_stage: dict[str, list[float]] = {}
    totals: list[float] = []
    for i, image in enumerate(images):
        t0 = time.perf_counter()
        piece = pipeline.run(
            ComposeRequest(image=image, duration=args.duration, refine_rounds=args.rounds, seed=i)
        )
        totals.append(time.perf_counter() - t0)
        for stage, seconds in piece.timings.items():
            per_stage.setdefault(stage, []).append(seconds)

    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    rows = [(s, pct(v, 50), pct(v, 95)) for s, v in per_stage.items()]
    rows.append(("end to end", pct(totals, 50), pct(totals, 95)))
    print(f"{len(images)} images, {args.duration:.0f} s pieces, {args.rounds} refinement rounds")
    print(f"{'stage':<12} {'p50 ms':>9} {'p95 ms':>9}")
    for name, p50, p95 in rows:
        print(f"{name:<12} {p50 * 1000:>9.1f} {p95 * 1000:>9.1f}")
    load_avg = os.getloadavg()
    print(f"stages loaded in {load_s:.2f} s; peak RSS {peak_mb:.0f} MB")
    print("load average (1, 5, 15 min) at the end:", " ".join(f"{x:.2f}" for x in load_avg))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(
        json.dumps(
            {
                "machine": f"{platform.node()} {platform.processor()} cpus={os.cpu_count()}",
                "load_average": load_avg,
                "images": len(images),
                "duration_s": args.duration,
                "rounds": args.rounds,
                "load_s": load_s,
                "stages": {n: {"p50_s": a, "p95_s": b} for n, a, b in rows},
                "mean_end_to_end_s": statistics.mean(totals),
                "peak_rss_mb": peak_mb,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
