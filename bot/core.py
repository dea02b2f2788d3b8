"""The platform-neutral bot: what Pictune does when someone asks, whatever the chat platform.

The Discord and Slack adapters are thin: they turn platform events into calls on
``PictuneBot`` and turn its plain answers (``PieceReply``, lists of ``GenerationView``,
Markdown strings) into platform messages. All wording a user reads comes from here, so both
platforms say the same thing. Errors are ``PictuneError`` subclasses whose ``user_message``
the adapter shows as it is (ephemeral on Discord, in the thread on Slack).
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import math
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from engine.config import Settings
from engine.errors import (
    Cancelled,
    Forbidden,
    InputError,
    InvalidOption,
    JobFailed,
    LimitReached,
    NotFound,
    PictuneError,
)
from engine.markdown import escape_markdown
from engine.types import ComposeRequest
from service import intake
from service.api import JobEvent, JobService, Requester
from storage.jobs import worker_name
from storage.store import GenerationView, Store, Undelivered

log = logging.getLogger("pictune.bot")

ProgressSink = Callable[[JobEvent], Awaitable[None]]

HISTORY_MAX = 25  # the most pieces one listing shows
FAVOURITES_SCAN = 100  # the most favourites looked through to toggle one
SUMMARY_MAX = 300  # characters of the motivation shown in a result
# File order in a reply: what people want first goes first (and survives a size cut).
FILE_ORDER = ("audio", "score", "midi", "abc", "motivation")
# The right to post a piece's outcome is a lease renewed while the bot follows the job: a bot
# that dies is replaced once its lease runs out (storage/deliveries.py).
DELIVERY_LEASE = 60.0  # seconds
ORPHAN_WINDOW = timedelta(hours=24)  # older undelivered pieces are never posted
# What the person reads above a piece that comes as a new message after a restart.
READY_AFTER_RESTART = "your piece is ready (Pictune restarted while making it)."


async def _no_progress(event: JobEvent) -> None:
    """The default progress sink: ignore."""


@dataclass(frozen=True)
class PlaceWords:
    """What a platform calls the place a bot serves and the people who run it."""

    place: str  # "server"
    managers: str  # "server managers"


PLACE_WORDS = {
    "discord": PlaceWords("server", "server managers"),
    "slack": PlaceWords("workspace", "workspace admins"),
}
DEFAULT_PLACE_WORDS = PlaceWords("workspace", "workspace managers")


def place_words(platform: str) -> PlaceWords:
    """The words for ``platform``'s places: Discord has servers, Slack workspaces."""
    return PLACE_WORDS.get(platform, DEFAULT_PLACE_WORDS)


@dataclass
class Attachment:
    """An uploaded file as the platform describes it, known before downloading it."""

    filename: str
    content_type: str | None
    size: int | None
    url: str


@dataclass
class PieceReply:
    """A finished piece, ready for any platform to show."""

    generation: GenerationView
    title: str  # "Pictune pt-7f3a2c: a calm waltz in D major"
    caption: str  # what was seen
    summary: str  # one or two sentences of the motivation
    fields: list[tuple[str, str]]  # ("Key", "D minor"), ("Tempo", "72 bpm"), ...
    files: list[tuple[str, Path]]  # (file name, path); audio, score, MIDI, ABC, motivation
    motivation_markdown: str
    footer: str  # "pt-7f3a2c · seed 123 · refined from pt-1a2b3c"
    author: str  # who asked, as shown ("for Ada")

    @property
    def id(self) -> str:
        return self.generation.id


@dataclass
class Orphan:
    """A piece whose outcome nobody has posted, asked for before this bot process started
    (or by one that died), now claimed by this process: ``follow`` it, post the piece where
    the person waits (``progress_message_id``, when known; else in ``requester.channel``),
    then ``link_message`` it (role "reply"), which counts it as delivered. A failure that
    ``follow`` raises already counts as delivered: show its ``user_message`` there."""

    generation_id: str
    job_id: str
    requester: Requester  # who asked, where; visibility is the piece's
    progress_message_id: str | None  # the platform message showing its progress
    state: str  # queued | running | done | failed | cancelled
    created_at: datetime

    @classmethod
    def of(cls, claimed: Undelivered) -> Orphan:
        return cls(
            generation_id=claimed.generation_id,
            job_id=claimed.job_id,
            requester=Requester(
                platform=claimed.platform,
                workspace=claimed.workspace,
                user_id=claimed.user_id,
                channel=claimed.channel,
                user_name=claimed.user_name,
                visibility=claimed.visibility,
            ),
            progress_message_id=claimed.progress_message_id,
            # The files are in before the job closes: a done piece is done.
            state="done" if claimed.status == "done" else claimed.job_state,
            created_at=claimed.created_at,
        )


@dataclass
class WorkspaceChoices:
    """A workspace's settings as the bot applies them (None: the deployment's default)."""

    community_channel: str | None = None
    default_mode: str | None = None
    user_daily_quota: int | None = None
    workspace_daily_quota: int | None = None
    max_duration: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)


class ProgressThrottle:
    """Passes progress on at most once per ``interval`` seconds (chat platforms rate-limit
    message edits). The first event and every final one always pass; an event that arrives
    too soon is dropped unless it is the last word: the next one carries newer news anyway."""

    def __init__(self, sink: Callable[[str], Awaitable[None]], interval: float = 1.5) -> None:
        self._sink = sink
        self._interval = interval
        self._last_at: float | None = None
        self._last_text: str | None = None

    async def __call__(self, text: str, *, force: bool = False) -> None:
        now = time.monotonic()
        if text == self._last_text:
            return
        if not force and self._last_at is not None and now - self._last_at < self._interval:
            return
        self._last_at = now
        self._last_text = text
        try:
            await self._sink(text)
        except Exception:  # a lost progress edit must never sink the piece
            log.warning("progress update failed", exc_info=True)


def motivation_summary(markdown: str, limit: int = SUMMARY_MAX) -> str:
    """The first paragraph of a motivation that is not a heading, cut to ``limit``."""
    for block in markdown.split("\n\n"):
        text = " ".join(block.split())
        if text and not text.startswith("#"):
            return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"
    return ""


def history_line(view: GenerationView) -> str:
    """One line of a listing: id, when, who, what."""
    when = view.created_at.strftime("%Y-%m-%d %H:%M") if view.created_at else ""
    who = escape_markdown(view.user_name or view.user_id)
    what = (view.caption or view.hint or "a piece").rstrip(".")
    if len(what) > 80:
        what = what[:79] + "…"
    status = "" if view.status == "done" else f" ({view.status})"
    return f"`{view.id}` · {when} · {who} · {escape_markdown(what)}{status}"


@dataclass
class _ActiveJob:
    job_id: str
    requester: Requester

    def owned_by(self, requester: Requester) -> bool:
        mine = (self.requester.platform, self.requester.workspace, self.requester.user_id)
        return mine == (requester.platform, requester.workspace, requester.user_id)


class PictuneBot:
    """Everything a chat adapter can ask of Pictune."""

    def __init__(
        self,
        settings: Settings,
        service: JobService,
        store: Store,
        http: httpx.AsyncClient | None = None,
    ) -> None:
        self.settings = settings
        self.service = service
        self.store = store
        self._http = http
        self._own_http = http is None
        # (user, generation) pairs with a rerun on the way: one at a time each.
        self._reruns: set[tuple[str, str, str]] = set()
        # Pieces this process is following (waiting for their result): generation id -> job.
        # Only for what this process does; the job service knows every job on its way.
        self._active: dict[str, _ActiveJob] = {}
        # This process's name when it holds the right to post a piece's outcome.
        self.owner = worker_name("bot")
        self.delivery_lease = DELIVERY_LEASE
        self.orphan_window = ORPHAN_WINDOW

    async def close(self) -> None:
        if self._http is not None and self._own_http:
            await self._http.aclose()
            self._http = None

    # Intake: the rules live in service/intake.py; these bind them to this bot's settings.

    def check_attachment(self, attachment: Attachment) -> None:
        """Refuse what is surely not an acceptable image from the metadata alone, before
        anything is downloaded."""
        intake.check_upload(
            attachment.filename, attachment.size, attachment.content_type, self.settings
        )

    def _client(self) -> httpx.AsyncClient:
        if self._http is None:
            self._http = httpx.AsyncClient(follow_redirects=True)
            self._own_http = True
        return self._http

    async def download(self, url: str, *, headers: dict[str, str] | None = None) -> bytes:
        """Fetch an upload with the size cap and timeout, checked to be an image's bytes."""
        return await intake.download_capped(self._client(), url, self.settings, headers=headers)

    async def fetch_image(
        self, attachment: Attachment, *, headers: dict[str, str] | None = None
    ) -> bytes:
        """Everything intake does for one attachment: metadata check, capped download,
        sniffing and a full decode. The bytes returned are safe to queue."""
        self.check_attachment(attachment)
        data = await self.download(attachment.url, headers=headers)
        await asyncio.to_thread(intake.read_image, data, self.settings)
        return data

    # Composing ----------------------------------------------------------------------------

    def _choices(self, requester: Requester) -> WorkspaceChoices:
        return self.workspace_settings(requester)

    def check_options(
        self,
        requester: Requester,
        *,
        hint: str | None = None,
        mode: str | None = None,
        duration: float | None = None,
    ) -> tuple[str | None, str, float]:
        """Validate the options of a request before anything slow happens; returns them
        cleaned and resolved against the workspace's defaults: (hint, mode, seconds)."""
        mode, seconds = self._resolve_options(requester, mode, duration)
        return intake.check_hint(hint), mode, seconds

    def _resolve_options(
        self, requester: Requester, mode: str | None, duration: float | None
    ) -> tuple[str, float]:
        """The mode and seconds after the workspace's default mode and longest piece."""
        choices = self._choices(requester)
        mode = intake.check_mode(mode, self.settings, default=choices.default_mode)
        seconds = intake.check_duration(duration, self.settings, longest=choices.max_duration)
        return mode, seconds

    def _check_quota(self, requester: Requester) -> None:
        choices = self._choices(requester)
        place = place_words(requester.platform).place
        if choices.user_daily_quota is not None:
            used = self._made_today(requester, requester.user_id)
            if used >= choices.user_daily_quota:
                pieces = "piece" if used == 1 else "pieces"
                raise LimitReached(
                    f"You have made {used} {pieces} today, this {place}'s daily limit: "
                    "try again tomorrow."
                )
        if choices.workspace_daily_quota is not None:
            used = self._made_today(requester, None)
            if used >= choices.workspace_daily_quota:
                raise LimitReached(
                    f"This {place} has reached its daily number of pieces: try again tomorrow."
                )

    def _made_today(self, requester: Requester, user_id: str | None) -> int:
        """Pieces asked for since midnight UTC (finished or on their way), by one user or
        by everyone here."""
        midnight = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
        return self.store.count_since(
            midnight,
            workspace=requester.workspace,
            user_id=user_id,
            platform=requester.platform,
        )

    async def compose(
        self,
        requester: Requester,
        image: bytes,
        *,
        hint: str | None = None,
        mode: str | None = None,
        duration: float | None = None,
        seed: int | None = None,
        refine_rounds: int | None = None,
        filename: str | None = None,
        image_checked: bool = False,
        progress: ProgressSink = _no_progress,
    ) -> PieceReply:
        """Compose a piece from image bytes; ``progress`` hears every step; returns the
        finished piece. Raises a PictuneError with a user message on any failure.
        ``image_checked``: the bytes came from ``fetch_image`` (no second decode)."""
        hint = intake.check_hint(hint)
        mode, seconds = self._resolve_options(requester, mode, duration)
        seed = intake.check_seed(seed)
        refine_rounds = intake.check_refine_rounds(refine_rounds)
        if not image_checked:
            intake.check_downloaded(image, self.settings)
            await asyncio.to_thread(intake.read_image, image, self.settings)
        self._check_quota(requester)
        request = ComposeRequest(
            image=image,
            hint=hint,
            duration=seconds,
            mode=mode,  # type: ignore[arg-type]
            seed=seed,
            refine_rounds=refine_rounds,
            filename=filename,
        )
        return await self._run(request, requester, None, progress)

    async def rerun(
        self,
        requester: Requester,
        generation_id: str,
        *,
        variation: bool = False,
        refine_rounds: int | None = None,
        progress: ProgressSink = _no_progress,
    ) -> PieceReply:
        """Make a piece again from its stored source image. Refine (``variation=False``): the
        previous ABC and metrics feed the next refinement. Variation: the same request with a
        new seed. One rerun per user and piece at a time."""
        parent = self._get(requester, generation_id)
        # A rerun is as visible as its parent: a private piece stays private.
        requester = dataclasses.replace(requester, visibility=parent.visibility)
        key = (requester.platform, requester.user_id, parent.id)
        if key in self._reruns:
            raise LimitReached(
                f"You already asked for a new version of {parent.id}: wait for it to finish."
            )
        self._reruns.add(key)
        try:
            # One asked before this process started is only in the database.
            if await asyncio.to_thread(self._rerun_on_its_way, requester, parent.id):
                raise LimitReached(
                    f"You already asked for a new version of {parent.id}: wait for it to finish."
                )
            image = await asyncio.to_thread(self.store.load_source_image, parent.id)
            self._check_quota(requester)
            abc = None
            if not variation:
                abc_path = parent.files.get("piece.abc")
                abc = abc_path.read_text(errors="replace") if abc_path is not None else None
            # The workspace's longest duration applies, even if it changed since.
            mode, seconds = self._resolve_options(
                requester, parent.mode, parent.brief.get("duration")
            )
            request = ComposeRequest(
                image=image,
                hint=parent.hint,
                duration=seconds,
                mode=mode,  # type: ignore[arg-type]
                seed=random.randrange(2**31) if variation else parent.seed,
                refine_rounds=refine_rounds,
                parent_abc=abc,
                parent_metrics=(parent.metrics or None) if abc else None,
            )
            return await self._run(request, requester, parent.id, progress)
        finally:
            self._reruns.discard(key)

    def _rerun_on_its_way(self, requester: Requester, parent_id: str) -> bool:
        """Whether one of the requester's pieces still on its way reruns ``parent_id``."""
        on_their_way = self.store.history(
            workspace=requester.workspace,
            user_id=requester.user_id,
            viewer_id=requester.user_id,
            statuses=("queued", "running"),
            limit=HISTORY_MAX,
        )
        return any(
            v.parent_id == parent_id and v.platform == requester.platform for v in on_their_way
        )

    def rerun_in_progress(self, requester: Requester, generation_id: str) -> bool:
        return (requester.platform, requester.user_id, generation_id) in self._reruns

    async def _run(
        self,
        request: ComposeRequest,
        requester: Requester,
        parent_id: str | None,
        progress: ProgressSink,
    ) -> PieceReply:
        submitted = await self.service.submit(request, requester, parent_id=parent_id)
        # This process posts the outcome: no other bot claims the piece while it follows it.
        await self._bookkeep(
            self.store.hold_delivery,
            submitted.generation_id,
            owner=self.owner,
            lease_seconds=self.delivery_lease,
        )
        queued = JobEvent(
            job_id=submitted.job_id,
            generation_id=submitted.generation_id,
            state="queued",
            stage="queued",
            message=_queued_words(submitted.position),
            position=submitted.position,
        )
        return await self._follow(
            submitted.job_id, submitted.generation_id, requester, progress, first=queued
        )

    async def _follow(
        self,
        job_id: str,
        generation_id: str,
        requester: Requester,
        progress: ProgressSink,
        *,
        first: JobEvent | None = None,
    ) -> PieceReply:
        """Follow a job to its end (progress to ``progress``, ``first`` before the job's own
        events) and return the finished piece; raises JobFailed or Cancelled with the
        user-facing reason. The lease on posting its outcome is renewed meanwhile.

        A failure or cancellation counts as delivered as it is raised: the adapter's next step
        is that one-line notice, and its error path cannot tell which piece it was about. A
        piece counts as delivered once the adapter links its result (``link_message``)."""
        self._active[generation_id] = _ActiveJob(job_id, requester)
        keeper = asyncio.create_task(self._keep_lease(generation_id))
        try:
            if first is not None:
                await progress(first)
            async for event in self.service.events(job_id):
                if not event.final:
                    await progress(event)
            await self.service.wait(job_id)
            reply = self.piece(requester, generation_id)
        except (JobFailed, Cancelled):
            await self._bookkeep(self.store.mark_delivered, generation_id)
            raise
        except asyncio.CancelledError:
            # The bot is shutting down: not the piece's fault, so the next bot to look takes
            # it at once (the attempt is not counted) instead of waiting for the lease.
            await self._bookkeep(self.store.release_delivery, generation_id, owner=self.owner)
            raise
        # Anything else (the job service lost, a bug) keeps the lease: it runs out, the
        # attempt counts, and a piece that always fails is given up after MAX_ATTEMPTS.
        finally:
            keeper.cancel()
            self._active.pop(generation_id, None)
        # A fresh lease: the adapter has that long to post it before anyone else may.
        await self._bookkeep(
            self.store.renew_delivery,
            generation_id,
            owner=self.owner,
            lease_seconds=self.delivery_lease,
        )
        return reply

    async def _keep_lease(self, generation_id: str) -> None:
        """Renew the lease on posting a piece three times per lease while following it."""
        while True:
            await asyncio.sleep(self.delivery_lease / 3)
            try:
                renewed = await asyncio.to_thread(
                    self.store.renew_delivery,
                    generation_id,
                    owner=self.owner,
                    lease_seconds=self.delivery_lease,
                )
            except Exception:  # the database hiccuped: the next round tries again
                log.warning("renewing the delivery of %s failed", generation_id, exc_info=True)
                continue
            if not renewed:  # taken by a bot that saw this one stall past its lease
                log.warning("another bot took over the delivery of %s", generation_id)
                return

    async def _bookkeep(self, fn: Callable[..., bool], *args: Any, **kwargs: Any) -> bool:
        """A delivery record, off the event loop. Never fails the piece: at worst its
        outcome is posted twice or only seen in the history, which the log tells."""
        try:
            return await asyncio.to_thread(fn, *args, **kwargs)
        except Exception:
            log.warning("delivery record %s failed", getattr(fn, "__name__", fn), exc_info=True)
            return False

    # Delivering after a restart -----------------------------------------------------------

    async def orphans(self, platform: str) -> list[Orphan]:
        """Claim the pieces asked on ``platform`` whose outcome nobody has posted and no
        live bot holds (asked before this process started, or by a bot that died), within
        ``orphan_window``, oldest first. Each is this process's to ``follow`` and post until
        its lease runs out; several bot processes may call this at once."""
        claimed = await asyncio.to_thread(
            self.store.claim_undelivered,
            platform,
            owner=self.owner,
            lease_seconds=self.delivery_lease,
            window=self.orphan_window,
        )
        return [Orphan.of(c) for c in claimed]

    async def follow(self, orphan: Orphan, progress: ProgressSink = _no_progress) -> PieceReply:
        """Follow a claimed piece to its end, as ``compose`` does for a new one, and return it
        finished (a piece that ended meanwhile at once, from the history). Raises JobFailed
        or Cancelled with the user-facing reason (then it counts as delivered)."""
        return await self._follow(orphan.job_id, orphan.generation_id, orphan.requester, progress)

    def delivered(self, generation_id: str) -> bool:
        """The outcome of a piece was posted (call it after posting): no bot posts it again.
        ``link_message`` with the role "reply" does this too."""
        return self.store.mark_delivered(_clean_id(generation_id))

    async def record_progress_message(self, generation_id: str, message_id: str) -> None:
        """Remember the message where the person waits for a piece (unique within the
        platform: Slack ``f"{channel}:{ts}"``), so that a restarted bot posts the outcome
        there. ``progress_sink`` does it for what ``show`` returns."""
        await self._bookkeep(self.store.set_progress_message, generation_id, str(message_id))

    async def watch_orphans(
        self,
        platform: str,
        deliver: Callable[[Orphan], Awaitable[None]],
        *,
        every: float | None = None,
    ) -> None:
        """Deliver what earlier bot processes left undelivered: claim ``orphans`` now and
        then every ``every`` seconds (default: half a lease, so the pieces of a bot that
        crashed are picked up soon after its lease runs out) and run ``deliver(orphan)``
        (``follow``, then post) for each in its own task. Runs until cancelled."""
        tasks: set[asyncio.Task[None]] = set()
        try:
            while True:
                try:
                    found = await self.orphans(platform)
                except Exception:
                    log.warning("looking for undelivered pieces failed", exc_info=True)
                    found = []
                for orphan in found:
                    task = asyncio.create_task(self._deliver_orphan(deliver, orphan))
                    tasks.add(task)
                    task.add_done_callback(tasks.discard)
                await asyncio.sleep(every if every is not None else self.delivery_lease / 2)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    @staticmethod
    async def _deliver_orphan(deliver: Callable[[Orphan], Awaitable[None]], orphan: Orphan) -> None:
        try:
            await deliver(orphan)
        except Exception:  # its lease runs out and a later look tries again
            log.warning("delivering %s failed", orphan.generation_id, exc_info=True)

    async def in_progress(self, requester: Requester) -> list[str]:
        """The requester's pieces on their way, oldest first: every queued or running job of
        theirs in the job service, including those submitted before this process started."""
        jobs = await self.service.active_jobs(requester)
        return [job.generation_id for job in jobs if job.generation_id]

    def following(self, requester: Requester) -> list[str]:
        """The requester's pieces on their way that this process is following (waiting for
        their result), oldest first: a part of ``in_progress``."""
        return [gid for gid, job in self._active.items() if job.owned_by(requester)]

    async def cancel(self, requester: Requester, generation_id: str | None = None) -> list[str]:
        """Cancel one of the requester's pieces on their way, or all of them; returns the ids
        cancelled. A queued piece stops at once, a running one after its current step; the
        person waiting for it is told "That piece was cancelled." where they asked.

        The job service's database is the truth, not what this process follows: a piece
        asked for before a restart of the bot is still found and cancelled."""
        if generation_id is not None:
            view = self._get(requester, generation_id)  # NotFound when not theirs to see
            job = await self.service.job_for_generation(view.id)
            if job is None or job.final:
                raise InputError(f"{view.id} is not being composed: there is nothing to cancel.")
            if not job.owned_by(requester):
                raise Forbidden("Only the person who asked for that piece can cancel it.")
            wanted = [(view.id, job.job_id)]
        else:
            jobs = await self.service.active_jobs(requester)
            wanted = [(job.generation_id, job.job_id) for job in jobs if job.generation_id]
            if not wanted:
                raise InputError("You have no piece being composed right now.")
        cancelled = []
        for gid, job_id in wanted:
            if await self.service.cancel(job_id, requester):
                cancelled.append(gid)
        if not cancelled:
            raise InputError("That piece has just finished: there is nothing to cancel.")
        return cancelled

    def cancel_text(self, cancelled: list[str]) -> str:
        return f"✖️ Cancelling {', '.join(cancelled)}."

    def progress_sink(
        self, show: Callable[[str, str], Awaitable[str | None]], interval: float = 1.5
    ) -> ProgressSink:
        """Progress for a message that shows a piece on its way: ``show(line, generation_id)``
        at most once per ``interval`` seconds (the queue position always passes). ``show``
        may return the id of the message it shows the line in (Slack: ``f"{channel}:{ts}"``):
        it is remembered as where the person waits, for a restarted bot to post there."""
        latest = {"generation_id": ""}
        recorded: dict[str, str] = {}  # generation id -> progress message id

        async def sink(line: str) -> None:
            generation_id = latest["generation_id"]
            message_id = await show(line, generation_id)
            if message_id and generation_id and recorded.get(generation_id) != str(message_id):
                recorded[generation_id] = str(message_id)
                await self.record_progress_message(generation_id, str(message_id))

        throttle = ProgressThrottle(sink, interval)

        async def progress(event: JobEvent) -> None:
            latest["generation_id"] = event.generation_id
            await throttle(self.progress_text(event), force=event.stage == "queued")

        return progress

    def progress_text(self, event: JobEvent) -> str:
        """The line a user sees while waiting: "Composing… refining (round 2 of 3)"."""
        if event.stage == "queued" or event.state == "queued":
            return f"⏳ {_queued_words(event.position)}"
        if event.state == "failed":
            return f"⚠️ {event.error or JobFailed.user_message}"
        message = event.message or event.stage
        if event.step is not None and event.total and "of" not in message:
            message = f"{message} ({event.step} of {event.total})"
        return f"🎼 {message[:1].upper()}{message[1:]}…"

    # Showing ------------------------------------------------------------------------------

    def find(self, requester: Requester, generation_id: str) -> GenerationView:
        """A piece this requester may see; NotFound otherwise."""
        return self._get(requester, generation_id)

    def _get(self, requester: Requester, generation_id: str) -> GenerationView:
        return self.store.get(
            _clean_id(generation_id), workspace=requester.workspace, user_id=requester.user_id
        )

    def piece(self, requester: Requester, generation_id: str) -> PieceReply:
        """A stored piece as a reply (for /show and after composing)."""
        view = self._get(requester, generation_id)
        if view.status != "done":
            if view.status in ("queued", "running"):
                raise InputError(f"{view.id} is still being composed: try again in a moment.")
            raise NotFound(f"{view.id} did not finish: {view.error or 'it failed'}.")
        return self._reply(view)

    show = piece

    def _reply(self, view: GenerationView) -> PieceReply:
        brief = view.brief or {}
        motivation = view.motivation or ""
        fields: list[tuple[str, str]] = []
        if brief:
            fields.append(("Key", f"{brief.get('key', '?')} {brief.get('mode', '')}".strip()))
            fields.append(("Tempo", f"{brief.get('tempo', '?')} bpm"))
            fields.append(("Metre", str(brief.get("meter", "?"))))
            if brief.get("instruments"):
                fields.append(("Instruments", ", ".join(brief["instruments"])))
            if brief.get("moods"):
                fields.append(("Mood", ", ".join(brief["moods"][:3])))
        if view.audio_seconds:
            fields.append(("Length", f"{view.audio_seconds:.0f} s"))
        if view.hint:
            fields.append(("Hint", view.hint))
        moods = brief.get("moods") or []
        what = " ".join([*moods[:1], brief.get("genre") or "", "piece"]).split()
        key = f"{brief.get('key', '')} {brief.get('mode', '')}".strip()
        title = " ".join(["A", *what]) + (f" in {key}" if key else "")
        footer = f"{view.id} · seed {view.seed}" if view.seed is not None else view.id
        if view.parent_id:
            footer += f" · from {view.parent_id}"
        return PieceReply(
            generation=view,
            title=title,
            caption=view.caption or "",
            summary=motivation_summary(motivation),
            fields=fields,
            files=self._files(view),
            motivation_markdown=motivation,
            footer=footer,
            author=view.user_name or view.user_id,
        )

    @staticmethod
    def _files(view: GenerationView) -> list[tuple[str, Path]]:
        """The files a user receives, most wanted first (a size cut drops the last)."""
        ranked = [(_file_rank(name), name, path) for name, path in view.files.items()]
        ranked = [r for r in ranked if r[0] < len(FILE_ORDER)]
        ranked.sort()
        return [(name, path) for _, name, path in ranked]

    def details(self, requester: Requester, generation_id: str) -> str:
        """Everything behind a piece in Markdown: perception, brief, exemplars, metrics per
        round, timings."""
        view = self._get(requester, generation_id)
        summary = self.store.summary(
            view.id, workspace=requester.workspace, user_id=requester.user_id
        )
        p = summary.get("perception") or {}
        b = view.brief or summary.get("brief") or {}
        exemplars = summary.get("exemplars") or []
        rounds = summary.get("rounds") or []
        lines = [f"**{view.id}** — {view.mode}, seed {view.seed}"]
        if view.parent_id:
            lines.append(f"Made again from `{view.parent_id}`.")
        if p:
            colours = ", ".join(c["name"] for c in p.get("dominant_colours", [])[:4])
            lines += [
                "",
                "**Seen**: " + escape_markdown(p.get("caption") or ""),
                f"brightness {p.get('brightness', 0):.2f} · contrast {p.get('contrast', 0):.2f}"
                f" · saturation {p.get('saturation', 0):.2f} · warmth {p.get('warmth', 0):+.2f}"
                f" · texture {p.get('texture', 0):.2f}"
                + (f" · colours: {colours}" if colours else ""),
            ]
        if b:
            lines += [
                "",
                f"**Brief**: {b.get('genre')} · {b.get('key')} {b.get('mode')} · {b.get('meter')}"
                f" · {b.get('tempo')} bpm · {', '.join(b.get('instruments', []))}",
            ]
            lines += [
                f"• {escape_markdown(r['choice'])} ← {escape_markdown(r['feature'])}"
                for r in b.get("reasons", [])[:8]
            ]
        if exemplars:
            names = [f"{e.get('title') or e.get('id')} ({e.get('collection')})" for e in exemplars]
            lines += ["", "**Tunes it learned from**: " + "; ".join(names[:8])]
        if rounds:
            lines += ["", "**Refinement** (distance to the image's targets; lower is closer)"]
            for r in rounds:
                metrics = r.get("metrics", {})
                shown = ", ".join(f"{k} {v:.2f}" for k, v in list(metrics.items())[:4])
                lines.append(
                    f"round {r.get('round')}: distance {r.get('distance', 0):.3f}"
                    + (f" · {shown}" if shown else "")
                )
        if view.timings:
            total = sum(float(v) for v in view.timings.values())
            lines += ["", f"**Time**: {total:.1f} s in all"]
        text = "\n".join(lines)
        return text if len(text) <= 1900 else text[:1899] + "…"

    def history(
        self,
        requester: Requester,
        *,
        user_id: str | None = None,
        limit: int = 10,
    ) -> list[GenerationView]:
        limit = _page_size(limit)
        return self.store.history(
            workspace=requester.workspace,
            user_id=user_id,
            viewer_id=requester.user_id,
            limit=limit,
        )

    def search(self, requester: Requester, text: str, *, limit: int = 10) -> list[GenerationView]:
        text = (text or "").strip()
        if not text:
            raise InvalidOption("Tell me what to look for, e.g. `sea` or `waltz`.")
        if len(text) > 200:
            raise InvalidOption("That search is too long: use a few words.")
        limit = _page_size(limit)
        return self.store.search(
            text, workspace=requester.workspace, user_id=requester.user_id, limit=limit
        )

    def listing(self, views: list[GenerationView], empty: str) -> str:
        """A listing as text; ``empty`` is said when there is nothing."""
        return "\n".join(history_line(v) for v in views) if views else empty

    def favourites(self, requester: Requester, *, limit: int = 10) -> list[GenerationView]:
        limit = _page_size(limit)
        return self.store.favourites(
            workspace=requester.workspace, user_id=requester.user_id, limit=limit
        )

    def favourite(self, requester: Requester, generation_id: str) -> bool:
        """Toggle a favourite; True when it is now one of the requester's favourites."""
        view = self._get(requester, generation_id)
        mine = {v.id for v in self.favourites(requester, limit=FAVOURITES_SCAN)}
        where = {"workspace": requester.workspace, "user_id": requester.user_id}
        if view.id in mine:
            self.store.unfavourite(view.id, **where)
            return False
        self.store.favourite(view.id, **where)
        return True

    def favourite_text(self, generation_id: str, now: bool) -> str:
        """What a favourite toggle answers (the adapter may add where to see the list)."""
        if now:
            return f"⭐ {generation_id} is in your favourites."
        return f"{generation_id} is no longer in your favourites."

    def delete(self, requester: Requester, generation_id: str, *, is_manager: bool = False) -> str:
        """Delete a piece (its requester, or a workspace manager). Returns the deleted id."""
        view = self._get(requester, generation_id)
        if view.user_id != requester.user_id and not is_manager:
            managers = place_words(requester.platform).managers
            raise Forbidden(
                f"Only the person who made that piece (or one of the {managers}) can do that."
            )
        self.store.delete(
            view.id, by_user=requester.user_id, is_admin=is_manager, workspace=requester.workspace
        )
        return view.id

    # Messages and the community channel ----------------------------------------------------

    def link_message(
        self, generation_id: str, message_id: str | list[str], role: str = "reply"
    ) -> None:
        """Remember that a platform message (or several) shows a piece, for reactions and
        buttons. Message ids must be unique within the platform (Slack: ``f"{channel}:{ts}"``).
        The role "reply" is the result where the person asked: the piece counts as delivered."""
        ids = [str(m) for m in message_id] if isinstance(message_id, list) else str(message_id)
        if ids:
            self.store.set_message_ids(generation_id, {role: ids})
            if role == "reply":  # the result is posted: no other bot posts it again
                self.store.mark_delivered(generation_id)

    def generation_for_message(self, requester: Requester, message_id: str) -> str | None:
        """The piece a message shows, if this requester may see it."""
        view = self.store.find_by_message(requester.platform, str(message_id))
        if view is None or view.workspace != requester.workspace:
            return None
        if view.visibility == "private" and view.user_id != requester.user_id:
            return None
        return view.id

    def community_channel(self, requester: Requester, reply: PieceReply) -> str | None:
        """Where a public piece is also posted, or None (private, not set, or asked there)."""
        if reply.generation.visibility != "public":
            return None
        channel = self._choices(requester).community_channel
        if not channel or channel == requester.channel:
            return None
        return channel

    def community_text(self, reply: PieceReply, link: str | None) -> str:
        where = f" — [original]({link})" if link else ""
        who, title = escape_markdown(reply.author), escape_markdown(reply.title)
        return f"🎵 New piece by {who}: **{title}**{where}"

    # Settings -----------------------------------------------------------------------------

    def workspace_settings(self, requester: Requester) -> WorkspaceChoices:
        raw = self.store.workspace_settings(requester.platform, requester.workspace)
        return WorkspaceChoices(
            community_channel=raw.community_channel,
            default_mode=raw.default_mode,
            user_daily_quota=raw.user_daily_quota,
            workspace_daily_quota=raw.workspace_daily_quota,
            max_duration=raw.max_duration,
        )

    def update_settings(
        self, requester: Requester, *, is_manager: bool, **changes: Any
    ) -> WorkspaceChoices:
        """Change a workspace's settings (managers only). ``changes`` may hold
        community_channel, default_mode, user_daily_quota, workspace_daily_quota,
        max_duration; a value of None leaves it as it is, "" or 0 clears it."""
        if not is_manager:
            managers = place_words(requester.platform).managers
            raise Forbidden(f"Only {managers} can change Pictune's settings.")
        clean: dict[str, Any] = {}
        for name, value in changes.items():
            if value is None:
                continue
            if name == "default_mode":
                value = str(value).strip().lower() or None
                if value is not None:
                    try:
                        value = intake.check_mode(value, self.settings)
                    except InvalidOption:
                        raise InvalidOption(
                            "The default mode must be symbolic, audio or hybrid."
                        ) from None
            elif name in ("user_daily_quota", "workspace_daily_quota"):
                quota = _number(value, int)
                if quota is None or not 0 <= quota <= 10_000:
                    raise InvalidOption("A quota is a number of pieces from 0 (no limit) to 10000.")
                value = quota or None
            elif name == "max_duration":
                low, high = self.settings.min_duration, self.settings.max_duration
                seconds = _number(value, float)
                if seconds is None or (seconds != 0 and not low <= seconds <= high):
                    raise InvalidOption(
                        f"The longest piece must be between {low:.0f} and {high:.0f} seconds "
                        "(0 for the default)."
                    )
                value = seconds or None
            elif name == "community_channel":
                value = str(value).strip() or None
            else:
                raise InvalidOption(f"There is no setting called {name}.")
            clean[name] = value
        if clean:
            self.store.update_workspace_settings(requester.platform, requester.workspace, **clean)
        return self.workspace_settings(requester)

    def settings_text(self, choices: WorkspaceChoices) -> str:
        def show(value: Any, default: str) -> str:
            return default if value in (None, "") else str(value)

        return "\n".join(
            [
                "**Pictune settings here**",
                f"Community channel: {show(choices.community_channel, 'none')}",
                f"Default mode: {show(choices.default_mode, self.settings.mode)}",
                f"Pieces per member per day: {show(choices.user_daily_quota, 'no limit')}",
                f"Pieces per day in all: {show(choices.workspace_daily_quota, 'no limit')}",
                f"Longest piece: {choices.max_duration or self.settings.max_duration:g} s",
            ]
        )


def user_message(exc: BaseException) -> str:
    """What to tell a person about any failure: a PictuneError's own words, else a generic
    line (the details go to the log, never to the chat)."""
    if isinstance(exc, PictuneError):
        return exc.user_message
    return PictuneError.user_message


def _file_rank(name: str) -> int:
    """Position of a file in FILE_ORDER by its name; past the end for files not sent."""
    suffix = Path(name).suffix.lower()
    kind = {
        ".mp3": "audio",
        ".ogg": "audio",
        ".wav": "audio",
        ".png": "score",
        ".mid": "midi",
        ".abc": "abc",
        ".md": "motivation",
    }.get(suffix)
    return FILE_ORDER.index(kind) if kind else len(FILE_ORDER)


def _queued_words(position: int | None) -> str:
    if not position:
        return "Starting now…"
    ahead = "piece" if position == 1 else "pieces"
    return f"In the queue: {position} {ahead} ahead of yours."


def _page_size(limit: Any) -> int:
    """How many rows a listing shows: clamped to 1..HISTORY_MAX; a non-number is refused."""
    number = intake.finite_number(limit, f"Ask for 1 to {HISTORY_MAX} pieces.")
    return max(1, min(int(number), HISTORY_MAX))


def _number(value: Any, kind: type[int] | type[float]) -> int | float | None:
    """A setting's number from a command's text ("5", "60s", 60.0); None when it is not one."""
    if isinstance(value, bool):
        return None
    text = str(value).strip().lower().removesuffix("s").strip()
    try:
        number = kind(text) if kind is float else kind(float(text))
    except (TypeError, ValueError, OverflowError):
        return None
    if kind is int and number != float(text):
        return None  # 2.5 pieces is not a quota
    return number if math.isfinite(number) else None  # NaN and infinities are not numbers here


def _clean_id(generation_id: str) -> str:
    gid = (generation_id or "").strip().strip("`").lower()
    if not gid or len(gid) > 32 or not all(c.isalnum() or c == "-" for c in gid):
        raise NotFound()
    return gid
