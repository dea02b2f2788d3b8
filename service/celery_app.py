"""The Celery application for scale-out workers: ``pictune worker`` or
``celery -A service.celery_app worker -c 1``.

Delivery is at least once and completion exactly once: messages are acknowledged only after
the job ended (``task_acks_late``) and given back when the worker process dies
(``task_reject_on_worker_lost``); each worker takes one message at a time (prefetch 1), so a
killed worker holds at most the job it was running. Whatever arrives twice is sorted out by
the job row (see ``storage.jobs.JobQueue.claim``): a message for a finished piece is
dropped, one for a job another live worker holds comes back later.

Run one worker process per GPU (``-c 1``, ``CUDA_VISIBLE_DEVICES=N``): the pipeline is
loaded once per process when it starts (``worker_process_init``), which is also when the
process starts serving Prometheus ``/metrics`` on ``PICTUNE_HTTP_PORT`` + its pool index
(0 turns it off).
"""

from __future__ import annotations

from typing import Any

from billiard.process import current_process
from celery import Celery, Task, signals

from engine.config import Settings, get_settings
from engine.logging import configure_logging
from service.celery_worker import run_delivered_job
from service.prometheus import serve_worker_metrics, worker_metrics
from service.worker_runtime import process_runtime

TASK_NAME = "pictune.run_job"
QUEUE_NAME = "pictune"
# How long a new pool process may take to load its models before Celery gives up on it.
# Celery's default (4 s) kills a replacement process still loading weights, then starts
# another, forever.
MODEL_LOAD_TIMEOUT = 900.0


def make_celery(settings: Settings) -> Celery:
    app = Celery("pictune", broker=settings.redis_url)
    app.conf.update(
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        worker_proc_alive_timeout=MODEL_LOAD_TIMEOUT,
        task_ignore_result=True,
        task_serializer="json",
        accept_content=["json"],
        task_default_queue=QUEUE_NAME,
        broker_connection_retry_on_startup=True,
        # A message unacknowledged this long goes to another worker; the job row decides
        # whether it still needs running, so this only has to outlast a normal job.
        broker_transport_options={"visibility_timeout": max(3600, int(4 * settings.job_timeout))},
        task_soft_time_limit=settings.job_timeout,
        task_time_limit=settings.job_timeout + 60,
        worker_hijack_root_logger=False,
        worker_redirect_stdouts=False,
        worker_send_task_events=False,
        task_send_sent_event=False,
    )
    return app


app = make_celery(get_settings())


@signals.setup_logging.connect
def _setup_logging(**_: Any) -> None:
    configure_logging(get_settings())


@signals.worker_process_init.connect
def _load_models(**_: Any) -> None:
    settings = get_settings()
    configure_logging(settings)
    # Each pool process serves its own /metrics on PICTUNE_HTTP_PORT + its pool index (a
    # process the pool replaces gets the same index, so the same port).
    index = int(getattr(current_process(), "index", 0) or 0)
    serve_worker_metrics(worker_metrics(), settings.http_port, index)
    process_runtime().warm()


@app.task(name=TASK_NAME, bind=True, max_retries=None)
def run_job(self: Task, job_id: str) -> str:
    return run_delivered_job(self, job_id)
