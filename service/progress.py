"""Progress fan-out: from the process running a job to everyone following it.

Events always go two ways: the worker writes the latest one into the job row (so a client
that arrives late, or one that missed a message, reads where the job stands) and publishes
it on a hub for the followers that are listening now.

- ``LocalHub``: in-process publish/subscribe, safe to publish from worker threads.
- ``RedisHub``: the same, fed by one Redis pattern subscription (``pictune:job:*``) that
  carries the events Celery workers publish with ``RedisPublisher``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections import defaultdict
from dataclasses import asdict
from typing import Any

from engine.types import ProgressEvent
from service.api import JobEvent
from storage.jobs import JobView

log = logging.getLogger(__name__)

CHANNEL_PREFIX = "pictune:job:"


def queued_message(position: int) -> str:
    if position <= 0:
        return "queued: you're next"
    return f"queued ({position} ahead of you)"


def running_event(job_id: str, generation_id: str, event: ProgressEvent) -> JobEvent:
    return JobEvent(
        job_id=job_id,
        generation_id=generation_id,
        state="running",
        stage=event.stage,
        message=event.message,
        step=event.step,
        total=event.total,
    )


def final_event(job: JobView) -> JobEvent:
    gen = job.generation_id or ""
    if job.state == "done":
        return JobEvent(job.id, gen, "done", "done", "done")
    if job.state == "cancelled":
        return JobEvent(job.id, gen, "cancelled", "cancelled", "cancelled", error=job.error)
    reason = job.error or "Composing failed. Please try again."
    return JobEvent(job.id, gen, "failed", "failed", reason, error=reason)


def snapshot_event(job: JobView, position: int | None) -> JobEvent:
    """Where a job stands according to its row."""
    gen = job.generation_id or ""
    if job.final:
        return final_event(job)
    if job.state == "queued":
        pos = position or 0
        return JobEvent(job.id, gen, "queued", "queued", queued_message(pos), position=pos)
    p = job.progress or {}
    return JobEvent(
        job.id,
        gen,
        "running",
        p.get("stage", "starting"),
        p.get("message", "starting"),
        step=p.get("step"),
        total=p.get("total"),
        seq=p.get("seq"),
    )


def event_to_json(event: JobEvent) -> str:
    return json.dumps(asdict(event))


def event_from_json(data: str | bytes) -> JobEvent:
    d: dict[str, Any] = json.loads(data)
    return JobEvent(**d)


def same(a: JobEvent | None, b: JobEvent) -> bool:
    """Two events a user would read as the same line."""
    return a is not None and (a.state, a.stage, a.message, a.position, a.step) == (
        b.state,
        b.stage,
        b.message,
        b.position,
        b.step,
    )


class Subscription:
    def __init__(self, hub: LocalHub, job_id: str) -> None:
        self.hub = hub
        self.job_id = job_id
        self.queue: asyncio.Queue[JobEvent] = asyncio.Queue()

    async def get(self, timeout: float) -> JobEvent | None:
        try:
            return await asyncio.wait_for(self.queue.get(), timeout)
        except TimeoutError:
            return None

    def close(self) -> None:
        self.hub._remove(self)


class LocalHub:
    """Publish from any thread; subscribers get events on the loop the hub was bound to."""

    def __init__(self) -> None:
        self._subs: dict[str, set[Subscription]] = defaultdict(set)
        self._loop: asyncio.AbstractEventLoop | None = None

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop

    def subscribe(self, job_id: str) -> Subscription:
        sub = Subscription(self, job_id)
        self._subs[job_id].add(sub)
        return sub

    def _remove(self, sub: Subscription) -> None:
        subs = self._subs.get(sub.job_id)
        if subs is not None:
            subs.discard(sub)
            if not subs:
                self._subs.pop(sub.job_id, None)

    def publish(self, event: JobEvent) -> None:
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            self._deliver(event)
        else:
            loop.call_soon_threadsafe(self._deliver, event)

    def _deliver(self, event: JobEvent) -> None:
        for sub in list(self._subs.get(event.job_id, ())):
            sub.queue.put_nowait(event)

    async def start(self) -> None:
        self.bind(asyncio.get_running_loop())

    async def stop(self) -> None:
        pass


class RedisHub(LocalHub):
    """A LocalHub fed by Redis: one pattern subscription for all jobs of the deployment."""

    def __init__(self, redis_url: str) -> None:
        super().__init__()
        self.redis_url = redis_url
        self._client: Any = None
        self._reader: asyncio.Task[None] | None = None

    async def start(self) -> None:
        import redis.asyncio as aioredis

        await super().start()
        self._client = aioredis.from_url(self.redis_url)
        pubsub = self._client.pubsub()
        await pubsub.psubscribe(CHANNEL_PREFIX + "*")
        self._reader = asyncio.create_task(self._read(pubsub), name="pictune-progress-reader")

    async def _read(self, pubsub: Any) -> None:
        while True:
            try:
                message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
            except asyncio.CancelledError:
                raise
            except Exception:
                # Redis went away: followers fall back on the database until it returns.
                log.warning("progress channel lost; retrying", exc_info=True)
                await asyncio.sleep(1.0)
                with contextlib.suppress(Exception):
                    await pubsub.psubscribe(CHANNEL_PREFIX + "*")
                continue
            if message is None or message.get("type") != "pmessage":
                continue
            try:
                self._deliver(event_from_json(message["data"]))
            except (ValueError, TypeError):
                log.warning("ignoring a malformed progress message")

    async def stop(self) -> None:
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._reader
        if self._client is not None:
            with contextlib.suppress(Exception):
                await self._client.aclose()


class RedisPublisher:
    """The worker's side: publish a job's events on its channel (never raises)."""

    def __init__(self, redis_url: str) -> None:
        import redis

        self._client = redis.Redis.from_url(redis_url)

    def publish(self, event: JobEvent) -> None:
        try:
            self._client.publish(CHANNEL_PREFIX + event.job_id, event_to_json(event))
        except Exception:
            log.warning("could not publish progress; followers will poll", exc_info=True)
