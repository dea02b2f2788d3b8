"""`pictune worker`: a Celery worker for the scale-out queue (PICTUNE_QUEUE=celery).

Run one per GPU, one process each (the default), e.g.
``CUDA_VISIBLE_DEVICES=1 PICTUNE_DEVICE=cuda pictune worker --name gpu1``.
The bot (same PICTUNE_DATABASE_URL, PICTUNE_REDIS_URL and data directory) sends it jobs.

Each worker process serves Prometheus ``/metrics`` (``pictune_worker_*``: jobs run, stage
latencies on this machine, busy) on PICTUNE_HTTP_PORT plus its pool index: port N with the
default ``-c 1``, N..N+c-1 with ``-c c``. Give workers sharing a host (or the bot's host)
different ports, or 0 to turn it off; a taken port is logged and costs only the metrics.
"""

from __future__ import annotations

import argparse
import socket

from engine.config import get_settings
from engine.errors import ConfigError
from engine.logging import configure_logging


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "worker",
        help="run a Celery worker (one per GPU); /metrics on PICTUNE_HTTP_PORT (0: off)",
    )
    p.add_argument(
        "--concurrency", "-c", type=int, default=1, help="worker processes; 1 per GPU (default 1)"
    )
    p.add_argument("--name", default=None, help="worker name (default: pictune@<host>)")
    p.add_argument("--loglevel", default=None, help="default: PICTUNE_LOG_LEVEL")
    p.set_defaults(func=run)


def celery_argv(args: argparse.Namespace, loglevel: str) -> list[str]:
    from service.celery_app import QUEUE_NAME

    name = args.name or f"pictune@{socket.gethostname()}"
    if "@" not in name:
        name = f"{name}@{socket.gethostname()}"
    return [
        "worker",
        "--concurrency",
        str(max(1, args.concurrency)),
        "--queues",
        QUEUE_NAME,
        "--hostname",
        name,
        "--loglevel",
        loglevel,
        "--without-gossip",
        "--without-mingle",
    ]


def run(args: argparse.Namespace) -> int:
    settings = get_settings()
    if settings.queue != "celery":
        raise ConfigError(
            "This Pictune uses the embedded queue: set PICTUNE_QUEUE=celery to run workers.",
            detail=f"PICTUNE_QUEUE={settings.queue}",
        )
    configure_logging(settings)
    from service.celery_app import app

    app.worker_main(celery_argv(args, (args.loglevel or settings.log_level).upper()))
    return 0
