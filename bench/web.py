"""The web pages under a big gallery: time to first byte of the gallery, a piece's page and
a search, with 10,000 pieces in the history.

    .venv/bin/python bench/web.py [--pieces 10000] [--requests 300]

Fills a fresh SQLite history through the real Store (``Store.record``: rows, the full-text
index, content-addressed files; small synthetic payloads, so many pieces share their
files; 20% private, 10 workspaces, all published), starts `pictune web` as its own process
(as deployed: one process, aiohttp), then asks over keep-alive HTTP on loopback, one request
at a time: ``/``, ``/p/<id>`` (random public pieces), ``/?q=<word>`` (words of the
motivations, from rare to common), ``/?before=<id>`` (a page deep in the gallery) and, as
the baseline in the same run, ``/healthz`` (one tiny query: the floor any page stands on).
Time to first byte: from sending the request to reading the status line and headers (the
server writes its answer at once). Prints a table and writes bench/results/web.json.
Target: p50 under 50 ms for / and /p/<id> on 2 cores.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import platform
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from engine.config import Settings  # noqa: E402
from storage import migrate  # noqa: E402
from storage.artifacts import ArtifactStore  # noqa: E402
from storage.db import Database  # noqa: E402
from storage.store import Store  # noqa: E402
from storage.views import Requester  # noqa: E402
from tests.storage.conftest import TINY_PNG, make_composition  # noqa: E402

WORDS = [
    "heron",
    "lantern",
    "harbour",
    "meadow",
    "ember",
    "glacier",
    "orchard",
    "cathedral",
    "dune",
    "willow",
    "thunder",
    "lullaby",
    "violet",
    "amber",
    "tide",
    "quarry",
    "pine",
    "canyon",
    "marble",
    "ferry",
]
WORKSPACES = 10
PRIVATE_SHARE = 0.2


def fill(data_dir: Path, pieces: int) -> list[str]:
    """``pieces`` finished pieces through Store.record; returns the ids of the public ones."""
    settings = Settings(_env_file=None, data_dir=data_dir)
    db = Database(settings.resolved_database_url())
    migrate.ensure_current(db, auto_upgrade=True)
    # fsync off while filling: this measures reading, not how fast a disk syncs.
    store = Store(db, ArtifactStore(data_dir / "artifacts", fsync=False))
    rng = random.Random(1)
    public: list[str] = []
    t0 = time.perf_counter()
    for i in range(pieces):
        # Word k appears in about 1 / (k + 1) of the pieces: rare and common words.
        words = [w for k, w in enumerate(WORDS) if rng.random() < 1 / (k + 1)]
        private = rng.random() < PRIVATE_SHARE
        who = Requester(
            platform="discord",
            workspace=f"ws{i % WORKSPACES}",
            user_id=f"user{i % 97}",
            visibility="private" if private else "public",
        )
        composition = make_composition(
            caption=f"a scene of {' and '.join(words) or 'quiet light'} number {i}",
            motivation=f"# Why this music\n\nThe {' '.join(words)} became a slow tune.",
            seed=i % 50,  # 50 distinct sets of files, shared by the pieces
        )
        gid = store.record(composition, who, source_image=TINY_PNG)
        if not private:
            public.append(gid)
        if (i + 1) % 1000 == 0:
            rate = (i + 1) / (time.perf_counter() - t0)
            print(f"  {i + 1} pieces ({rate:.0f}/s)", flush=True)
    store.close()
    return public


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(data_dir: Path, port: int) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO),
        "PICTUNE_DATA_DIR": str(data_dir),
        "PICTUNE_WEB_WORKSPACES": "*",
        "PICTUNE_SEMANTIC_SEARCH": "false",
        "PICTUNE_LOG_LEVEL": "WARNING",
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "bot.cli", "web", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        cwd=REPO,
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/healthz")
            if conn.getresponse().status == 200:
                return proc
        except OSError:
            time.sleep(0.2)
    proc.kill()
    raise SystemExit("the web server did not start")


def ttfb(conn: http.client.HTTPConnection, path: str) -> float:
    t0 = time.perf_counter()
    conn.request("GET", path)
    response = conn.getresponse()  # status line and headers read: the first bytes
    t1 = time.perf_counter()
    body = response.read()
    if response.status != 200 or not body:
        raise SystemExit(f"{path}: HTTP {response.status}")
    return (t1 - t0) * 1000


def measure(port: int, paths: list[str], warmup: int = 10) -> dict[str, float]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    for path in paths[:warmup]:
        ttfb(conn, path)
    times = [ttfb(conn, path) for path in paths]
    conn.close()
    return {
        "n": len(times),
        "p50_ms": round(float(np.percentile(times, 50)), 2),
        "p95_ms": round(float(np.percentile(times, 95)), 2),
        "max_ms": round(max(times), 2),
    }


def table(result: dict) -> str:
    lines = [
        f"{result['pieces']} pieces ({result['public']} public), "
        f"{result['requests']} requests per row, {result['cpus']} CPUs, "
        f"load average {result['load_average']}",
        f"{'request':<28} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8}",
    ]
    for name, row in result["ttfb"].items():
        lines.append(f"{name:<28} {row['p50_ms']:>8} {row['p95_ms']:>8} {row['max_ms']:>8}")
    target = result["target_p50_ms"]
    ok = all(result["ttfb"][k]["p50_ms"] < target for k in ("/", "/p/<id>"))
    lines.append(f"target: p50 < {target} ms for / and /p/<id>: {'met' if ok else 'NOT met'}")
    return "\n".join(lines)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--pieces", type=int, default=10_000)
    p.add_argument("--requests", type=int, default=300)
    p.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "web.json")
    p.add_argument("--keep", action="store_true", help="keep the filled history (~350 MB)")
    args = p.parse_args()
    data_dir = Path(tempfile.mkdtemp(prefix="pictune-web-"))
    print(f"filling {args.pieces} pieces into {data_dir} ...", flush=True)
    t0 = time.perf_counter()
    public = fill(data_dir, args.pieces)
    fill_s = time.perf_counter() - t0
    port = free_port()
    server = start_server(data_dir, port)
    rng = random.Random(2)
    n = args.requests
    try:
        rows = {
            "/healthz (baseline)": measure(port, ["/healthz"] * n),
            "/": measure(port, ["/"] * n),
            "/p/<id>": measure(port, [f"/p/{rng.choice(public)}" for _ in range(n)]),
            "/?q=<word>": measure(port, [f"/?q={rng.choice(WORDS)}" for _ in range(n)]),
            "/?q=<two words>": measure(
                port, [f"/?q={rng.choice(WORDS)}+{rng.choice(WORDS)}" for _ in range(n)]
            ),
            "/?before=<id> (deep page)": measure(
                port, [f"/?before={rng.choice(public[: len(public) // 2])}" for _ in range(n)]
            ),
        }
    finally:
        server.send_signal(signal.SIGINT)
        server.wait(timeout=30)
        if not args.keep:
            shutil.rmtree(data_dir, ignore_errors=True)
    result = {
        "pieces": args.pieces,
        "public": len(public),
        "requests": n,
        "fill_s": round(fill_s, 1),
        "cpus": os.cpu_count(),
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "python": platform.python_version(),
        "target_p50_ms": 50,
        "ttfb": rows,
    }
    print(table(result))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"\nwritten to {args.out}")


if __name__ == "__main__":
    main()
