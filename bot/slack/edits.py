"""Slack's rate limits, as Pictune keeps within them.

``chat.update`` is a Tier 3 method: about 50 calls a minute per workspace, then HTTP 429
with ``Retry-After``. Every piece on its way edits its status message (progress, its place
in the queue) and then turns it into the result, so a burst of pieces in one workspace
would spend that budget on progress and leave results undelivered. Three rules:

- every Web API client retries what Slack asks to be retried (``retry_handlers``: 429
  after ``Retry-After``, 500/503 and dropped connections a few times);
- progress edits are optional: at most one per piece every ``PIECE_INTERVAL_S`` seconds,
  and only while the workspace has spent under ``PROGRESS_PER_MINUTE`` edits in the last
  minute (``EditBudget.allow``), which leaves the rest of Tier 3 to results and errors;
- a result (or an error) must land: ``until_it_lands`` retries a rate-limited call after
  ``Retry-After`` for as long as it takes (up to ``LAND_WITHIN_S``), never falling back to
  posting a second message.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable
from typing import TypeVar

from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.async_handler import AsyncRetryHandler
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
    AsyncServerErrorRetryHandler,
)

log = logging.getLogger("pictune.slack")

PIECE_INTERVAL_S = 5.0  # one progress edit per piece at most this often
PROGRESS_PER_MINUTE = 30  # progress edits a workspace may spend a minute (Tier 3: ~50)
LAND_WITHIN_S = 15 * 60.0  # how long a result keeps trying to land
WINDOW_S = 60.0

T = TypeVar("T")


def retry_handlers() -> list[AsyncRetryHandler]:
    """What every Slack Web API client of Pictune retries by itself."""
    return [
        AsyncConnectionErrorRetryHandler(max_retry_count=2),
        AsyncRateLimitErrorRetryHandler(max_retry_count=2),
        AsyncServerErrorRetryHandler(max_retry_count=2),
    ]


class EditBudget:
    """Which progress edits to make: per piece at most every ``piece_interval`` seconds,
    per workspace at most ``per_minute`` in any minute. ``spend`` counts the edits that
    must happen (results, errors) against the same minute."""

    def __init__(
        self,
        *,
        piece_interval: float = PIECE_INTERVAL_S,
        per_minute: int = PROGRESS_PER_MINUTE,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.piece_interval = piece_interval
        self.per_minute = per_minute
        self.clock = clock
        self._team: dict[str, deque[float]] = {}
        self._piece: dict[str, float] = {}

    def allow(self, team: str, piece: str) -> bool:
        """True (and counted) when a progress edit of ``piece`` may be made now."""
        now = self.clock()
        last = self._piece.get(piece)
        if last is not None and now - last < self.piece_interval:
            return False
        spent = self._recent(team, now)
        if len(spent) >= self.per_minute:
            return False
        spent.append(now)
        self._piece[piece] = now
        return True

    def spend(self, team: str) -> None:
        """An edit that is made whatever the budget (a result, an error)."""
        now = self.clock()
        self._recent(team, now).append(now)

    def done(self, piece: str) -> None:
        self._piece.pop(piece, None)

    def _recent(self, team: str, now: float) -> deque[float]:
        spent = self._team.setdefault(team, deque())
        while spent and now - spent[0] >= WINDOW_S:
            spent.popleft()
        return spent


def retry_after(exc: SlackApiError) -> float | None:
    """Seconds Slack asked to wait, when ``exc`` is a rate limit; None otherwise."""
    response = exc.response
    if response is None:
        return None
    if response.status_code != 429 and response.get("error") != "ratelimited":
        return None
    headers = {k.lower(): v for k, v in (response.headers or {}).items()}
    value = headers.get("retry-after")
    if isinstance(value, list):
        value = value[0] if value else None
    try:
        return max(1.0, float(value)) if value is not None else 1.0
    except ValueError:
        return 1.0


async def until_it_lands(
    call: Callable[[], Awaitable[T]], *, within: float = LAND_WITHIN_S, what: str = "a result"
) -> T:
    """``call()`` again after each rate limit Slack answers, for up to ``within`` seconds.
    Any other error (and a rate limit past the deadline) is raised."""
    deadline = time.monotonic() + within
    while True:
        try:
            return await call()
        except SlackApiError as exc:
            wait = retry_after(exc)
            if wait is None or time.monotonic() + wait > deadline:
                raise
            log.info("Slack rate-limited %s: trying again in %.0f s", what, wait)
            await asyncio.sleep(wait)
