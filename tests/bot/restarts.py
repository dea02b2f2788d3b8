"""Helpers for the tests of a bot restarted while pieces are on their way."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from sqlalchemy import select

from service.orphans import Orphan
from storage.models import Generation
from storage.store import Store

Looks = list[tuple[str, list[Orphan]]]


def waiting_in(store: Store, gid: str) -> str | None:
    """The message recorded as where the person waits for ``gid``."""
    with store.db.read() as session:
        return session.scalar(select(Generation.progress_message_id).where(Generation.id == gid))


def delivered(store: Store, gid: str) -> bool:
    with store.db.read() as session:
        when = session.scalar(select(Generation.delivered_at).where(Generation.id == gid))
    return when is not None


async def until(check: Callable[[], Any], what: str, timeout: float = 20.0) -> Any:
    """``check()``'s first true value, polled on the event loop."""
    for _ in range(int(timeout / 0.02)):
        value = check()
        if value:
            return value
        await asyncio.sleep(0.02)
    raise AssertionError(f"never happened: {what}")
