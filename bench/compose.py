"""Per-stage latency of the embedded pipeline, and peak memory, beside a baseline engine.

    .venv/bin/python bench/compose.py [--images 12] [--duration 30] [--rounds 3]
                                      [--baseline REF] [--pairs 1]

Runs the same pieces twice, each in a fresh process: once with the engine at git REF (by
default the engine before issue 13's faster render: one synth, the whole SoundFont in
memory), exported to a temporary folder, and once with this working tree's engine; with
``--pairs 2`` or more it alternates them again, so that a change in the machine's load
falls on both. Prints one table (p50/p95 per stage and end to end over varied images,
the CPU time a piece took in all threads and subprocesses, peak RSS, the load average at
the start and end of each run; "score" is the wait for the score picture after the audio
is encoded, drawn meanwhile) and writes bench/results/compose.json. Run it by hand:
timings on shared machines are noisy, so they are measured here, never asserted in tests.
The first run builds the tune index.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
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


BASELINE = "e643669"  # the engine before issue 13's render work (one synth, SoundFont loaded)
ROOT = Path(__file__).resolve().parent.parent


def measure(args: argparse.Namespace) -> dict:
    """One variant, in this process: the engine on sys.path."""
    settings = Settings()
    start = time.perf_counter()
    pipeline = Pipeline(settings)
    _ = pipeline.stages  # load the index and models: measured apart from the pieces
    load_s = time.perf_counter() - start
    images = varied_images(args.images)
    pipeline.run(ComposeRequest(image=images[0], duration=5.0, refine_rounds=0))  # warm caches

    load_before = os.getloadavg()
    per_stage: dict[str, list[float]] = {}
    totals: list[float] = []
    cpu: list[float] = []
    for i, image in enumerate(images):
        t0, c0 = time.perf_counter(), _cpu_seconds()
        piece = pipeline.run(
            ComposeRequest(image=image, duration=args.duration, refine_rounds=args.rounds, seed=i)
        )
        totals.append(time.perf_counter() - t0)
        cpu.append(_cpu_seconds() - c0)
        for stage, seconds in piece.timings.items():
            per_stage.setdefault(stage, []).append(seconds)
    rows = {s: (pct(v, 50), pct(v, 95)) for s, v in per_stage.items()}
    rows["end to end"] = (pct(totals, 50), pct(totals, 95))
    rows["CPU a piece"] = (pct(cpu, 50), pct(cpu, 95))
    return {
        "engine": str(Path(sys.modules["engine"].__file__ or "").parent),
        "load_s": load_s,
        "stages": {n: {"p50_s": a, "p95_s": b} for n, (a, b) in rows.items()},
        "mean_end_to_end_s": statistics.mean(totals),
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "load_average_start": load_before,
        "load_average_end": os.getloadavg(),
    }


def _cpu_seconds() -> float:
    """CPU time of this process (all threads) and of its finished subprocesses."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def run_variant(name: str, engine_root: Path, args: argparse.Namespace, out: Path) -> dict:
    """Measure in a fresh process whose ``engine`` package comes from engine_root."""
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", str(out)]
    cmd += ["--images", str(args.images), "--duration", str(args.duration)]
    cmd += ["--rounds", str(args.rounds)]
    env = dict(os.environ, PYTHONPATH=str(engine_root))
    subprocess.run(cmd, check=True, env=env, cwd=ROOT)
    result = json.loads(out.read_text())
    result["variant"] = name
    return result


def export_engine(ref: str, folder: Path) -> None:
    """The engine package as it was at ``ref`` (git archive), into folder."""
    archive = subprocess.run(
        ["git", "archive", ref, "engine"], cwd=ROOT, check=True, capture_output=True
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(folder)], input=archive, check=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--images", type=int, default=12)
    parser.add_argument("--duration", type=float, default=30.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--baseline", default=BASELINE, help="git ref of the baseline engine")
    parser.add_argument("--pairs", type=int, default=1)
    parser.add_argument("--out", type=Path, default=Path("bench/results/compose.json"))
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        args.child.write_text(json.dumps(measure(args)))
        return

    runs: list[dict] = []
    with tempfile.TemporaryDirectory(prefix="pictune-bench-") as tmp:
        baseline_root = Path(tmp) / "baseline"
        baseline_root.mkdir()
        export_engine(args.baseline, baseline_root)
        variants = [(f"baseline {args.baseline}", baseline_root), ("this tree", ROOT)]
        for pair in range(max(1, args.pairs)):
            for name, root in variants if pair % 2 == 0 else variants[::-1]:
                print(f"measuring {name} ...", flush=True)
                runs.append(run_variant(name, root, args, Path(tmp) / f"{len(runs)}.json"))
    report(runs, args)


def report(runs: list[dict], args: argparse.Namespace) -> None:
    """Print the runs side by side (the median over pairs) and write the JSON."""
    names = list(dict.fromkeys(r["variant"] for r in runs))
    by_name = {n: [r for r in runs if r["variant"] == n] for n in names}
    stages = list(dict.fromkeys(s for r in runs for s in r["stages"]))

    def cell(name: str, stage: str, key: str) -> str:
        values = [r["stages"][stage][key] for r in by_name[name] if stage in r["stages"]]
        return f"{statistics.median(values) * 1000:.1f}" if values else "-"

    print(f"{args.images} images, {args.duration:.0f} s pieces, {args.rounds} refinement rounds")
    head = "".join(f" | {n + ' p50 / p95 ms':>32}" for n in names)
    print(f"{'stage':<12}{head}")
    for stage in stages:
        cells = "".join(
            f" | {cell(n, stage, 'p50_s') + ' / ' + cell(n, stage, 'p95_s'):>32}" for n in names
        )
        print(f"{stage:<12}{cells}")
    for n in names:
        rss = statistics.median(r["peak_rss_mb"] for r in by_name[n])
        loads = "; ".join(
            " ".join(f"{x:.2f}" for x in r["load_average_start"])
            + " -> "
            + " ".join(f"{x:.2f}" for x in r["load_average_end"])
            for r in by_name[n]
        )
        print(f"{n}: peak RSS {rss:.0f} MB; load average (1, 5, 15 min) {loads}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(
        json.dumps(
            {
                "machine": f"{platform.node()} {platform.processor()} cpus={os.cpu_count()}",
                "images": args.images,
                "duration_s": args.duration,
                "rounds": args.rounds,
                "runs": runs,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
