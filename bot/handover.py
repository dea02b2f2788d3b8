"""Stopping a bot process without losing pieces, for every platform adapter.

A task that only follows a job (its piece submitted and held by this process, see core's
delivery lease) is cancelled when the bot stops: core gives the piece back at once and the
next bot process posts it, instead of this one waiting for long jobs. A task that posts a
result (or a failure) is finished first, up to ``grace`` seconds, so that no piece is left
half-posted.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable
from typing import Any, TypeVar

from service.api import JobEvent
from service.requests import ProgressSink

log = logging.getLogger("pictune.bot")

T = TypeVar("T")
SHUTDOWN_GRACE = 30.0  # seconds stopping waits for results being posted


class Handover:
    def __init__(self, grace: float = SHUTDOWN_GRACE) -> None:
        self.grace = grace
        self.stopping = False
        self._following: set[asyncio.Task[Any]] = set()  # cancelled when stopping
        self._posting: set[asyncio.Task[Any]] = set()  # finished when stopping

    def following(self, sink: ProgressSink) -> ProgressSink:
        """``sink``, marking the task that hears it as following a job. A task that starts
        following while the bot stops is cancelled once it has shown (and so recorded)
        where the person waits, so that the next bot posts in that message."""

        async def progress(event: JobEvent) -> None:
            task = asyncio.current_task()
            if task is not None and task not in self._following:
                self._following.add(task)
                task.add_done_callback(self._following.discard)
                if self.stopping:
                    await sink(event)
                    task.cancel()
                    return
            await sink(event)

        return progress

    async def posting(self, work: Awaitable[T]) -> T:
        """Post to the end even if the caller is cancelled: ``stop`` waits for it."""
        task = asyncio.ensure_future(work)
        self._posting.add(task)
        task.add_done_callback(self._posting.discard)
        return await asyncio.shield(task)

    async def stop(self, *also: asyncio.Task[Any] | None) -> None:
        """Cancel what only follows a job (and the tasks in ``also``), let what posts
        finish within the grace period, then cancel what is left."""
        self.stopping = True
        for task in (*also, *self._following):
            if task is not None:
                task.cancel()
        pending = [t for t in (*also, *self._following, *self._posting) if t and not t.done()]
        if pending:
            _, late = await asyncio.wait(pending, timeout=self.grace)
            for task in late:
                log.warning("stopped before a result was posted: %s", task.get_name())
                task.cancel()
