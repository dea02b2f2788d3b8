"""Time the retrieval index: a full build, a cold load, and 100 searches.

    .venv/bin/python bench/index.py [--limit N] [--searches 100] [--compare]

Builds the whole music21 index into a temporary cache folder (the user cache is left
alone), times each build stage, loads the index in a fresh process (a cold load, as a
worker starting up does), then runs searches for varied briefs. Prints a table and writes
bench/results/index.json.

--compare (needs the ml extra) first builds the same index with sentence-transformers, as
builds did before the NumPy MiniLM, in the same run: both builds' times side by side, and
the largest difference between their vectors.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from engine.config import Settings  # noqa: E402
from engine.retrieve import load_retriever  # noqa: E402
from engine.retrieve.index import IndexInfo, build_index  # noqa: E402
from engine.types import MusicBrief  # noqa: E402

COLD_LOAD = """
import json, sys, time
t0 = time.perf_counter()
from engine.config import Settings
from engine.retrieve.index import load_index
t1 = time.perf_counter()
index = load_index(Settings(_env_file=None, cache_dir=sys.argv[1]))
t2 = time.perf_counter()
print(json.dumps({"import_s": t1 - t0, "load_s": t2 - t1, "tunes": len(index.tunes),
                  "sentence_transformers_imported": "sentence_transformers" in sys.modules}))
"""

KEYS = ("C", "G", "D", "A", "E", "F", "Bb")
MODES = ("major", "minor", "dorian", "mixolydian")
METERS = ("4/4", "3/4", "6/8", "2/4")
MOODS = (("calm", "dreamy"), ("lively", "bright"), ("melancholic", "tender"), ("dark", "tense"))


def brief(i: int) -> MusicBrief:
    return MusicBrief(
        key=KEYS[i % len(KEYS)],
        mode=MODES[i % len(MODES)],
        tempo=60 + (i * 7) % 120,
        meter=METERS[(i // 3) % len(METERS)],
        melody_program=0,
        harmony_program=48,
        bass_program=32,
        drums=False,
        register=60 + i % 15,
        density=(i % 10) / 10,
        dynamics="mf",
        velocity=80,
        accompaniment="block",
        genre="folk",
        moods=list(MOODS[i % len(MOODS)]),
        instruments=["piano"],
        description="",
        prompt="",
        reasons=[],
        duration=30.0,
    )


def timed_build(
    settings: Settings, limit: int | None, embedder_factory=None
) -> tuple[IndexInfo, float, dict[str, float], float]:
    """Build the index; (its info, seconds, seconds per stage, CPU seconds of all threads).
    ``embedder_factory`` makes the embedder inside the timed build (the "loading model"
    stage), as the default does. CPU seconds move less than wall time on a busy machine."""
    stage_start: dict[str, float] = {}
    start = time.perf_counter()
    cpu_start = time.process_time()

    def progress(done: int, total: int, stage: str) -> None:
        stage_start.setdefault(stage, time.perf_counter() - start)

    embedder = None
    if embedder_factory is not None:
        progress(0, 0, "loading model")
        embedder = embedder_factory()
    info = build_index(settings, progress=progress, limit=limit, embedder=embedder)
    build_s = time.perf_counter() - start
    order = sorted(stage_start, key=stage_start.get)
    stages = {
        s: (stage_start[order[i + 1]] if i + 1 < len(order) else build_s) - stage_start[s]
        for i, s in enumerate(order)
    }
    return info, build_s, stages, time.process_time() - cpu_start


def compare_builds(limit: int | None) -> dict[str, object]:
    """The same index built with sentence-transformers (the embedder builds used before)."""
    from engine.retrieve.embed import MiniLMEmbedder

    with tempfile.TemporaryDirectory(prefix="pictune-bench-") as tmp:
        settings = Settings(_env_file=None, cache_dir=Path(tmp))
        info, build_s, stages, cpu_s = timed_build(settings, limit, MiniLMEmbedder)
        vectors = np.load(info.path / "vectors.npy")
    return {"build_s": build_s, "stages": stages, "cpu_s": cpu_s, "vectors": vectors}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--limit", type=int, default=None, help="index only N tunes")
    parser.add_argument("--searches", type=int, default=100)
    parser.add_argument("--k", type=int, default=5)
    parser.add_argument(
        "--compare", action="store_true", help="also build with sentence-transformers"
    )
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "index.json")
    args = parser.parse_args()

    before = compare_builds(args.limit) if args.compare else None
    with tempfile.TemporaryDirectory(prefix="pictune-bench-") as tmp:
        settings = Settings(_env_file=None, cache_dir=Path(tmp))
        info, build_s, stages, cpu_s = timed_build(settings, args.limit)
        vectors = np.load(info.path / "vectors.npy")
        torch_imported = "torch" in sys.modules and before is None

        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        cold = json.loads(
            subprocess.run(
                [sys.executable, "-c", COLD_LOAD, tmp],
                capture_output=True,
                text=True,
                check=True,
                env=env,
                cwd=ROOT,
            ).stdout.strip()
        )

        t = time.perf_counter()
        retriever = load_retriever(settings)
        warm_load_s = time.perf_counter() - t
        t = time.perf_counter()
        retriever.search(brief(0), args.k)
        first_search_s = time.perf_counter() - t  # the build already loaded the model
        times = []
        for i in range(args.searches):
            t = time.perf_counter()
            found = retriever.search(brief(i), args.k)
            times.append(time.perf_counter() - t)
            assert len(found) == min(args.k, info.tunes)

    times.sort()
    result = {
        "machine": f"{platform.machine()}, {os.cpu_count()} cpus, python {platform.python_version()}",
        "tunes": info.tunes,
        "skipped": info.skipped,
        "descriptions": info.descriptions,
        "sentences": info.sentences,
        "size_mib": round(info.size / 2**20, 2),
        "build_s": round(build_s, 2),
        "build_stages_s": {k: round(v, 2) for k, v in stages.items()},
        "build_cpu_s": round(cpu_s, 2),
        "cold_import_s": round(cold["import_s"], 3),
        "cold_load_s": round(cold["load_s"], 3),
        "cold_load_imports_sentence_transformers": cold["sentence_transformers_imported"],
        "warm_load_s": round(warm_load_s, 3),
        "first_search_s": round(first_search_s, 3),
        "searches": len(times),
        "search_median_ms": round(statistics.median(times) * 1000, 1),
        "search_p95_ms": round(times[int(0.95 * (len(times) - 1))] * 1000, 1),
        "search_max_ms": round(times[-1] * 1000, 1),
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "build_imported_torch": torch_imported,
    }
    if before is not None:
        result["before_sentence_transformers"] = {
            "build_s": round(before["build_s"], 2),
            "build_stages_s": {k: round(v, 2) for k, v in before["stages"].items()},
            "build_cpu_s": round(before["cpu_s"], 2),
            "max_vector_difference": float(np.abs(before["vectors"] - vectors).max()),
        }

    rows = [
        ("tunes indexed / skipped", f"{info.tunes:,} / {info.skipped}"),
        ("distinct descriptions / sentences", f"{info.descriptions:,} / {info.sentences:,}"),
        ("index size", f"{result['size_mib']} MiB"),
        ("build, total", f"{build_s:.1f} s"),
        *((f"  {stage}", f"{secs:.1f} s") for stage, secs in stages.items()),
        ("  CPU time, all threads", f"{cpu_s:.1f} s"),
        ("cold load (fresh process)", f"{cold['load_s'] * 1000:.0f} ms"),
        ("  import before it", f"{cold['import_s'] * 1000:.0f} ms"),
        ("first search (model loaded by the build)", f"{first_search_s:.2f} s"),
        (f"search x{len(times)}, median", f"{result['search_median_ms']} ms"),
        ("  p95 / max", f"{result['search_p95_ms']} / {result['search_max_ms']} ms"),
    ]
    if before is not None:
        b = result["before_sentence_transformers"]
        rows += [
            ("before: build with sentence-transformers", f"{before['build_s']:.1f} s"),
            *((f"  {stage}", f"{secs:.1f} s") for stage, secs in before["stages"].items()),
            ("  CPU time, all threads", f"{before['cpu_s']:.1f} s"),
            ("  largest vector difference", f"{b['max_vector_difference']:.1e}"),
        ]
    rows.append(("load average (1, 5, 15 min)", " ".join(map(str, result["load_average"]))))
    width = max(len(r[0]) for r in rows)
    for name, value in rows:
        print(f"{name:<{width}}  {value}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"\nwritten to {args.out}")


if __name__ == "__main__":
    main()
