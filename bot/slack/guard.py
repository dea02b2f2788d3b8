"""Checks on every request from Slack before Bolt authorizes it: signature, replays, retries.

Replaces Bolt's own signature check (``request_verification_enabled=False``, this runs as
``before_authorize``, where Bolt's check would have run) because that check

- raised on a non-numeric or empty ``X-Slack-Request-Timestamp`` (HTTP 500, an ERROR
  traceback) where a forged request deserves a plain 401;
- accepted the same signed request again and again within its five minutes (a Refine press
  replayed three times made three more pieces). A request's signature covers its timestamp
  and body, so a signature seen before is a replay: refused with 401;

and because a retry (``X-Slack-Retry-Num`` > 0) was dropped even when its first delivery
never arrived. Events are now told apart by their ``event_id``: one already seen is
acknowledged and dropped, whatever its retry number; one not seen is worked on.

What was seen is kept in this process's memory for ten minutes (a timestamp is accepted up
to five minutes either side of now, Slack retries for about five), at most ``MAX_SEEN``
entries (the oldest go first; only requests signed with the secret are remembered, so only
Slack's own traffic fills it). Several HTTP bot processes behind one URL do not share it: a
replay sent to another process would pass there. Pictune runs one Slack process per app
(Socket Mode delivers each event to one connection anyway); sharing would need a table of
seen signatures in the database.
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable

from slack_bolt.middleware.async_middleware import AsyncMiddleware
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.response import BoltResponse
from slack_sdk.signature import SignatureVerifier

log = logging.getLogger("pictune.slack")

WINDOW_S = 5 * 60  # Slack's own limit on a request's age
KEEP_S = 2 * WINDOW_S  # a timestamp is valid from WINDOW_S before it to WINDOW_S after
MAX_SEEN = 50_000


class Seen:
    """Keys seen within the last ``keep_s`` seconds, in bounded memory."""

    def __init__(
        self,
        keep_s: float = KEEP_S,
        max_entries: int = MAX_SEEN,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.keep_s = keep_s
        self.max_entries = max_entries
        self.clock = clock
        self._until: OrderedDict[str, float] = OrderedDict()  # insertion order = expiry order

    def first_time(self, key: str) -> bool:
        """True (and remembered) when ``key`` was not seen within the window."""
        now = self.clock()
        while self._until and next(iter(self._until.values())) <= now:
            self._until.popitem(last=False)
        if key in self._until:
            return False
        if len(self._until) >= self.max_entries:
            self._until.popitem(last=False)
            log.warning(
                "Slack: more than %d requests in ten minutes; forgetting the oldest",
                self.max_entries,
            )
        self._until[key] = now + self.keep_s
        return True

    def __len__(self) -> int:
        return len(self._until)


def retry_number(req: AsyncBoltRequest) -> int:
    """Which redelivery of an event ``req`` is: 0 for the first delivery. HTTP mode sends
    the header on redeliveries only; Socket Mode marks every event (``retry_attempt``),
    which Bolt turns into the same header."""
    values = req.headers.get("x-slack-retry-num") or ["0"]
    try:
        return int(values[0] or 0)
    except ValueError:
        return 0


def header(req: AsyncBoltRequest, name: str) -> str:
    values = req.headers.get(name) or [""]
    return (values[0] or "").strip()


def refused() -> BoltResponse:
    return BoltResponse(status=401, body={"error": "invalid request"})


class RequestGuard(AsyncMiddleware):
    """Signature (HTTP mode), replays, and events delivered more than once (both modes)."""

    def __init__(self, signing_secret: str, seen: Seen | None = None) -> None:
        self.signing_secret = signing_secret
        self.seen = seen or Seen()
        self._verifier: SignatureVerifier | None = None

    @property
    def verifier(self) -> SignatureVerifier:
        # Made on first use, like Bolt's: an empty secret fails requests, not start-up.
        if self._verifier is None:
            self._verifier = SignatureVerifier(signing_secret=self.signing_secret)
        return self._verifier

    async def async_process(
        self,
        *,
        req: AsyncBoltRequest,
        resp: BoltResponse,
        next: Callable[[], Awaitable[BoltResponse]],
    ) -> BoltResponse | None:
        if req.mode != "socket_mode":  # Socket Mode requests come over Slack's own WebSocket
            problem = self.signature_problem(req)
            if problem:
                log.info("Slack: refused a request: %s", problem)  # no traceback: not our fault
                return refused()
        body = req.body if isinstance(req.body, dict) else {}
        event_id, team = body.get("event_id"), body.get("team_id")
        # Keyed by workspace too: an id is only promised unique by the workspace it came from.
        seen_key = f"event:{team}:{event_id}"
        if isinstance(event_id, str) and event_id and not self.seen.first_time(seen_key):
            log.info(
                "Slack: event %s already seen (retry %d); dropped", event_id, retry_number(req)
            )
            return BoltResponse(status=200, body="")
        return await next()

    def signature_problem(self, req: AsyncBoltRequest) -> str | None:
        timestamp = header(req, "x-slack-request-timestamp")
        signature = header(req, "x-slack-signature")
        if not timestamp.isascii() or not timestamp.isdigit():
            return "missing or non-numeric timestamp"
        if not signature:
            return "no signature"
        try:
            valid = self.verifier.is_valid(req.raw_body, timestamp, signature)
        except ValueError:  # an empty signing secret
            return "no signing secret configured"
        if not valid:
            return "bad signature or stale timestamp"
        if not self.seen.first_time("sig:" + signature):
            return "replayed (a signature already seen)"
        return None
