"""Load on the embedded default: many people submit at once; how does the queue hold up?

    .venv/bin/python bench/load.py [--jobs 50] [--concurrency 2] [--mode process|thread]
                                   [--duration 30] [--rounds 3]

Submits ``--jobs`` pieces at the same moment (distinct users, a few workspaces) to the local
job service with the real pipeline, follows each one to the end and reports: throughput
(pieces per minute), p50/p95 of end-to-end latency (submit -> done, as the bot sees it) and
of queue wait (submit -> a worker starts it), peak RSS of the service with its worker
processes, and how many were lost (must be 0). Prints a table and writes
bench/results/load.json. The first run may build the tune index (minutes).
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import platform
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import psutil
from PIL import Image, ImageDraw

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine.config import Settings  # noqa: E402
from engine.errors import PictuneError  # noqa: E402
from engine.types import ComposeRequest  # noqa: E402
from service.api import Requester  # noqa: E402
from service.local import LocalJobService  # noqa: E402
from storage.store import Store  # noqa: E402

WORKSPACES = 5


def images(n: int) -> list[bytes]:
    """Distinct procedural scenes: gradients, shapes and noise of varied colour and light."""
    rng = np.random.default_rng(1)
    out = []
    for i in range(n):
        w, h = 320, 240
        base = rng.integers(0, 255, 3)
        top = rng.integers(0, 255, 3)
        ys = np.linspace(0, 1, h)[:, None, None]
        grad = (base * (1 - ys) + top * ys).astype(np.uint8)
        arr = np.repeat(grad, w, axis=1)
        arr = np.clip(arr + rng.normal(0, 12 * (i % 4), arr.shape), 0, 255).astype(np.uint8)
        im = Image.fromarray(arr)
        draw = ImageDraw.Draw(im)
        for _ in range(int(rng.integers(1, 8))):
            x, y = int(rng.integers(0, w)), int(rng.integers(0, h))
            r = int(rng.integers(5, 60))
            draw.ellipse(
                (x - r, y - r, x + r, y + r), fill=tuple(int(c) for c in rng.integers(0, 255, 3))
            )
        buf = io.BytesIO()
        im.save(buf, "JPEG", quality=88)
        out.append(buf.getvalue())
    return out


class RssSampler:
    """Peak resident memory of this process plus its children, sampled every 0.1 s."""

    def __init__(self) -> None:
        self.peak_total = 0
        self.peak_service = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        me = psutil.Process()
        while not self._stop.wait(0.1):
            try:
                own = me.memory_info().rss
                total = own + sum(c.memory_info().rss for c in me.children(recursive=True))
            except psutil.Error:
                continue
            self.peak_service = max(self.peak_service, own)
            self.peak_total = max(self.peak_total, total)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    return float(np.percentile(values, q))


async def run(args: argparse.Namespace) -> dict:
    data_dir = Path(tempfile.mkdtemp(prefix="pictune-load-"))
    settings = Settings(
        data_dir=data_dir,
        worker_mode=args.mode,
        concurrency=args.concurrency,
        duration=args.duration,
        refine_rounds=args.rounds,
        http_port=0,
        semantic_search=not args.no_embed,
        queue_cap=max(100, args.jobs),
        workspace_active_limit=max(10, -(-args.jobs // WORKSPACES)),
    )
    store = Store.open(settings, semantic=not args.no_embed)
    service = LocalJobService(settings, store)
    pictures = images(args.jobs)

    with RssSampler() as rss:
        t_start = time.perf_counter()
        await service.start()
        # Wait until the workers have their models: that is start-up, not load.
        while (await service.health())["workers"]["ready"] < settings.concurrency:
            await asyncio.sleep(0.2)
        ready_s = time.perf_counter() - t_start

        async def one(i: int) -> dict:
            requester = Requester("bench", f"ws{i % WORKSPACES}", f"user{i}")
            t0 = time.perf_counter()
            try:
                sub = await service.submit(ComposeRequest(image=pictures[i]), requester)
                await service.wait(sub.job_id, timeout=3600)
                return {"ok": True, "job": sub.job_id, "t0": t0, "t1": time.perf_counter()}
            except PictuneError as exc:
                return {"ok": False, "error": exc.user_message, "t0": t0, "t1": time.perf_counter()}

        t_load = time.perf_counter()
        results = await asyncio.gather(*(one(i) for i in range(args.jobs)))
        t_end = time.perf_counter()
        counts = await service.db(service.jobs.counts)
        waits = []
        for r in results:
            if r["ok"]:
                job = service.jobs.get(r["job"])
                if job is not None and job.started_at is not None:
                    waits.append((job.started_at - job.created_at).total_seconds())
        await service.stop()
    store.close()

    done = [r for r in results if r["ok"]]
    latency = [r["t1"] - r["t0"] for r in done]
    wall = t_end - t_load
    return {
        "jobs": args.jobs,
        "done": len(done),
        "lost": args.jobs - len(done),
        "errors": sorted({r["error"] for r in results if not r["ok"]}),
        "db_states": counts,
        "wall_s": round(wall, 2),
        "throughput_per_min": round(len(done) / wall * 60, 2) if wall > 0 else None,
        "latency_p50_s": round(pct(latency, 50), 2),
        "latency_p95_s": round(pct(latency, 95), 2),
        "queue_wait_p50_s": round(pct(waits, 50), 2),
        "queue_wait_p95_s": round(pct(waits, 95), 2),
        "service_s_per_piece": round(wall * args.concurrency / max(1, len(done)), 2),
        "workers_ready_s": round(ready_s, 1),
        "peak_rss_total_mb": round(rss.peak_total / 2**20),
        "peak_rss_service_mb": round(rss.peak_service / 2**20),
        "settings": {
            "worker_mode": args.mode,
            "concurrency": args.concurrency,
            "duration": args.duration,
            "refine_rounds": args.rounds,
            "semantic_search": not args.no_embed,
        },
        "machine": {
            "python": platform.python_version(),
            "cpus": psutil.cpu_count(),
            "platform": platform.platform(),
        },
    }


def table(r: dict) -> str:
    rows = [
        ("jobs submitted at once", r["jobs"]),
        ("done / lost", f"{r['done']} / {r['lost']}"),
        ("workers (mode)", f"{r['settings']['concurrency']} ({r['settings']['worker_mode']})"),
        (
            "piece",
            f"{r['settings']['duration']:.0f} s, {r['settings']['refine_rounds']} refine rounds",
        ),
        ("wall time", f"{r['wall_s']} s"),
        ("throughput", f"{r['throughput_per_min']} pieces/min"),
        ("end-to-end latency p50 / p95", f"{r['latency_p50_s']} s / {r['latency_p95_s']} s"),
        ("queue wait p50 / p95", f"{r['queue_wait_p50_s']} s / {r['queue_wait_p95_s']} s"),
        (
            "peak RSS service / with workers",
            f"{r['peak_rss_service_mb']} MB / {r['peak_rss_total_mb']} MB",
        ),
        ("workers ready after", f"{r['workers_ready_s']} s"),
    ]
    width = max(len(k) for k, _ in rows)
    return "\n".join(f"| {k:<{width}} | {v} |" for k, v in rows)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--jobs", type=int, default=50)
    p.add_argument("--concurrency", type=int, default=2)
    p.add_argument("--mode", choices=("process", "thread"), default="process")
    p.add_argument("--duration", type=float, default=30.0)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--no-embed", action="store_true", help="skip history embeddings")
    p.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "load.json")
    args = p.parse_args()
    result = asyncio.run(run(args))
    print(table(result))
    if result["errors"]:
        print("errors:", "; ".join(result["errors"]))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))
    print(f"\nwritten to {args.out}")
    return 0 if result["lost"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
