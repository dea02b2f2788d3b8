"""Requests for pieces: compose, rerun, follow, cancel, with the rules around them.

The options of a request resolved against the workspace's defaults, the daily quotas, one
rerun per person and piece at a time, the lease on posting a piece's outcome (so that one
bot process posts it, and another takes over when that one dies), and the pieces left
undelivered by an earlier process (orphans). Plain application code over the job service
and the Store, the same for every front door: it returns the finished piece as the history
shows it (``GenerationView``); the words around it are the caller's."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from engine.errors import (
    Cancelled,
    Forbidden,
    InputError,
    InvalidOption,
    JobFailed,
    LimitReached,
)
from engine.types import ComposeRequest, PieceOptions
from service import intake
from service.api import JobEvent, JobService
from service.library import HISTORY_MAX, Library
from service.orphans import Orphan
from service.quotas import check_quota
from storage.jobs import worker_name
from storage.views import GenerationView, Requester

log = logging.getLogger("pictune.requests")

ProgressSink = Callable[[JobEvent], Awaitable[None]]

# The right to post a piece's outcome is a lease renewed while the bot follows the job: a bot
# that dies is replaced once its lease runs out (storage/deliveries.py).
DELIVERY_LEASE = 60.0  # seconds
ORPHAN_WINDOW = timedelta(hours=24)  # older undelivered pieces are never posted
NOT_EXTENSIBLE = "Only a piece written as notes can go on: this one is audio alone."


async def no_progress(event: JobEvent) -> None:
    """The default progress sink: ignore."""


@dataclass(frozen=True)
class _ActiveJob:
    job_id: str
    requester: Requester

    def owned_by(self, requester: Requester) -> bool:
        mine = (self.requester.platform, self.requester.workspace, self.requester.user_id)
        return mine == (requester.platform, requester.workspace, requester.user_id)


class Requests:
    """Asking for pieces and following them to their end, for one front-door process."""

    def __init__(self, library: Library, service: JobService) -> None:
        self.library = library
        self.settings = library.settings
        self.store = library.store
        self.service = service
        # (user, generation) pairs with a rerun on the way: one at a time each.
        self._reruns: set[tuple[str, str, str]] = set()
        # Pieces this process is following (waiting for their result): generation id -> job.
        # Only for what this process does; the job service knows every job on its way.
        self._active: dict[str, _ActiveJob] = {}
        # This process's name when it holds the right to post a piece's outcome.
        self.owner = worker_name("bot")
        self.delivery_lease = DELIVERY_LEASE
        self.orphan_window = ORPHAN_WINDOW

    # Options and quotas -------------------------------------------------------------------

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
        """The mode and seconds after the person's own defaults, then the workspace's
        default mode; the workspace's longest piece bounds a length asked for (refused
        beyond it) and a personal default (fitted to it: nobody typed it just now)."""
        choices = self.library.workspace_settings(requester)
        mine = self.library.my_defaults(requester)
        mode = intake.check_mode(mode or mine.mode, self.settings, default=choices.default_mode)
        if duration is None and mine.duration is not None:
            return mode, intake.fit_duration(
                mine.duration, self.settings, longest=choices.max_duration
            )
        seconds = intake.check_duration(duration, self.settings, longest=choices.max_duration)
        return mode, seconds

    def private_by_default(self, requester: Requester) -> bool:
        """Whether the person asked for their pieces to be private unless they say."""
        return bool(self.library.my_defaults(requester).private)

    # Composing ----------------------------------------------------------------------------

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
        options: PieceOptions | None = None,
        private: bool | None = None,
        progress: ProgressSink = no_progress,
    ) -> GenerationView:
        """Compose a piece from image bytes; ``progress`` hears every step; returns the
        finished piece. Raises a PictuneError with a user message on any failure.
        ``image_checked``: the bytes were already sniffed and decoded (no second decode).
        The person's own defaults (length, mode, style; ``private`` when None) fill what
        the request leaves open, bounded by the workspace's limits."""
        hint = intake.check_hint(hint)
        mode, seconds = self._resolve_options(requester, mode, duration)
        mine = self.library.my_defaults(requester)
        if private if private is not None else mine.private:
            requester = dataclasses.replace(requester, visibility="private")
        if mine.style and not (options and options.style):
            options = dataclasses.replace(options or PieceOptions(), style=mine.style)
        seed = intake.check_seed(seed)
        refine_rounds = intake.check_refine_rounds(refine_rounds)
        if not image_checked:
            intake.check_downloaded(image, self.settings)
            await asyncio.to_thread(intake.read_image, image, self.settings)
        check_quota(self.library, requester)
        request = ComposeRequest(
            image=image,
            hint=hint,
            duration=seconds,
            mode=mode,  # type: ignore[arg-type]
            seed=seed,
            refine_rounds=refine_rounds,
            filename=filename,
            options=options if options is not None and not options.empty else None,
        )
        return await self._run(request, requester, None, progress)

    async def rerun(
        self,
        requester: Requester,
        generation_id: str,
        *,
        variation: bool = False,
        refine_rounds: int | None = None,
        progress: ProgressSink = no_progress,
    ) -> GenerationView:
        """Make a piece again from its stored source image. Refine (``variation=False``): the
        previous ABC and metrics feed the next refinement. Variation: the same request with a
        new seed. One new version per user and piece at a time."""

        def again(parent: GenerationView, request: ComposeRequest) -> ComposeRequest:
            if variation:
                return dataclasses.replace(request, seed=random.randrange(2**31))
            abc_path = parent.files.get("piece.abc")
            abc = abc_path.read_text(errors="replace") if abc_path is not None else None
            return dataclasses.replace(
                request,
                parent_abc=abc,
                parent_metrics=(parent.metrics or None) if abc else None,
            )

        return await self._child(requester, generation_id, again, refine_rounds, progress)

    async def remix(
        self,
        requester: Requester,
        generation_id: str,
        *,
        hint: str | None,
        options: PieceOptions | None = None,
        progress: ProgressSink = no_progress,
    ) -> GenerationView:
        """The same picture (and seed) with a new hint and new options in place of the
        piece's own: "the same, but as a lullaby". A child of the piece in its lineage."""
        hint = intake.check_hint(hint)
        options = options if options is not None and not options.empty else None

        def remixed(parent: GenerationView, request: ComposeRequest) -> ComposeRequest:
            return dataclasses.replace(request, hint=hint, options=options)

        return await self._child(requester, generation_id, remixed, None, progress)

    async def extend(
        self,
        requester: Requester,
        generation_id: str,
        *,
        progress: ProgressSink = no_progress,
    ) -> GenerationView:
        """A longer piece continuing this one: the same brief, picture and settings, the
        piece's sections kept as the opening (so its opening bars are the same), then more
        sections and a new ending; the default length more, up to the longest allowed here.
        A child of the piece in its lineage."""

        def longer(parent: GenerationView, request: ComposeRequest) -> ComposeRequest:
            if parent.mode == "audio":
                raise InvalidOption(NOT_EXTENSIBLE)
            was = float(parent.brief.get("duration") or 0.0)
            choices = self.library.workspace_settings(requester)
            seconds = intake.extended_duration(was, self.settings, longest=choices.max_duration)
            rounds = self.library.summary(requester, parent).get("rounds") or []
            usable = [r for r in rounds if r.get("metrics")]
            best = min(usable, key=lambda r: r["distance"]) if usable else {}
            return dataclasses.replace(
                request,
                duration=seconds,
                # The round that made the piece composed with seed + its number.
                seed=(parent.seed or 0) + int(best.get("round", 0)),
                refine_rounds=0,
                knobs=best.get("knobs") or None,
                continues=[*parent.brief.get("continues", []), was],
            )

        return await self._child(requester, generation_id, longer, None, progress)

    async def _child(
        self,
        requester: Requester,
        generation_id: str,
        change: Callable[[GenerationView, ComposeRequest], ComposeRequest],
        refine_rounds: int | None,
        progress: ProgressSink,
    ) -> GenerationView:
        """A new piece from a piece's stored source image, its request as the piece's own
        (hint, options, mode, duration, seed) changed by ``change``, as its child. One new
        version per user and piece at a time; as visible as its parent."""
        parent = self.library.find(requester, generation_id)
        # A new version is as visible as its parent: a private piece stays private.
        requester = dataclasses.replace(requester, visibility=parent.visibility)
        key = (requester.platform, requester.user_id, parent.id)
        busy = f"You already asked for a new version of {parent.id}: wait for it to finish."
        if key in self._reruns:
            raise LimitReached(busy)
        self._reruns.add(key)
        try:
            # One asked before this process started is only in the database.
            if await asyncio.to_thread(self._rerun_on_its_way, requester, parent.id):
                raise LimitReached(busy)
            image = await asyncio.to_thread(self.store.load_source_image, parent.id)
            check_quota(self.library, requester)
            # The workspace's longest duration applies, even if it changed since.
            choices = self.library.workspace_settings(requester)
            mode = intake.check_mode(parent.mode, self.settings, default=choices.default_mode)
            seconds = intake.fit_duration(
                parent.brief.get("duration"), self.settings, longest=choices.max_duration
            )
            request = ComposeRequest(
                image=image,
                hint=parent.hint,
                duration=seconds,
                mode=mode,  # type: ignore[arg-type]
                seed=parent.seed,
                refine_rounds=refine_rounds,
                options=PieceOptions.from_dict(parent.brief.get("options")),
            )
            request = change(parent, request)
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
    ) -> GenerationView:
        submitted = await self.service.submit(request, requester, parent_id=parent_id)
        # This process posts the outcome: no other bot claims the piece while it follows it.
        await self._bookkeep(
            self.store.deliveries.hold,
            submitted.generation_id,
            owner=self.owner,
            lease_seconds=self.delivery_lease,
        )
        queued = JobEvent(
            job_id=submitted.job_id,
            generation_id=submitted.generation_id,
            state="queued",
            stage="queued",
            message="queued",
            position=submitted.position,
        )
        return await self._follow(
            submitted.job_id, submitted.generation_id, requester, progress, first=queued
        )

    # Following a piece to its end, with the lease on posting it ---------------------------

    async def _follow(
        self,
        job_id: str,
        generation_id: str,
        requester: Requester,
        progress: ProgressSink,
        *,
        first: JobEvent | None = None,
    ) -> GenerationView:
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
            view = self.library.finished(requester, generation_id)
        except (JobFailed, Cancelled):
            await self._bookkeep(self.store.deliveries.mark_delivered, generation_id)
            raise
        except asyncio.CancelledError:
            # The bot is shutting down: not the piece's fault, so the next bot to look takes
            # it at once (the attempt is not counted) instead of waiting for the lease.
            await self._bookkeep(self.store.deliveries.release, generation_id, owner=self.owner)
            raise
        # Anything else (the job service lost, a bug) keeps the lease: it runs out, the
        # attempt counts, and a piece that always fails is given up after MAX_ATTEMPTS.
        finally:
            keeper.cancel()
            self._active.pop(generation_id, None)
        # A fresh lease: the adapter has that long to post it before anyone else may.
        await self._bookkeep(
            self.store.deliveries.renew,
            generation_id,
            owner=self.owner,
            lease_seconds=self.delivery_lease,
        )
        return view

    async def _keep_lease(self, generation_id: str) -> None:
        """Renew the lease on posting a piece three times per lease while following it."""
        while True:
            await asyncio.sleep(self.delivery_lease / 3)
            try:
                renewed = await asyncio.to_thread(
                    self.store.deliveries.renew,
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

    async def record_progress_message(self, generation_id: str, message_id: str) -> None:
        """Remember the message where the person waits for a piece (unique within the
        platform: Slack ``f"{channel}:{ts}"``), so that a restarted bot posts the outcome
        there."""
        await self._bookkeep(
            self.store.deliveries.set_progress_message, generation_id, str(message_id)
        )

    # Delivering after a restart -----------------------------------------------------------

    async def orphans(self, platform: str) -> list[Orphan]:
        """Claim the pieces asked on ``platform`` whose outcome nobody has posted and no
        live bot holds (asked before this process started, or by a bot that died), within
        ``orphan_window``, oldest first. Each is this process's to ``follow`` and post until
        its lease runs out; several bot processes may call this at once."""
        claimed = await asyncio.to_thread(
            self.store.deliveries.claim_undelivered,
            platform,
            owner=self.owner,
            lease_seconds=self.delivery_lease,
            window=self.orphan_window,
        )
        return [Orphan.of(c) for c in claimed]

    async def follow(self, orphan: Orphan, progress: ProgressSink = no_progress) -> GenerationView:
        """Follow a claimed piece to its end, as ``compose`` does for a new one, and return it
        finished (a piece that ended meanwhile at once, from the history). Raises JobFailed
        or Cancelled with the user-facing reason (then it counts as delivered)."""
        return await self._follow(orphan.job_id, orphan.generation_id, orphan.requester, progress)

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
                    task = asyncio.create_task(_deliver_orphan(deliver, orphan))
                    tasks.add(task)
                    task.add_done_callback(tasks.discard)
                await asyncio.sleep(every if every is not None else self.delivery_lease / 2)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    # Pieces on their way ------------------------------------------------------------------

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
            view = self.library.find(requester, generation_id)  # NotFound when not theirs
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


async def _deliver_orphan(deliver: Callable[[Orphan], Awaitable[None]], orphan: Orphan) -> None:
    try:
        await deliver(orphan)
    except Exception:  # its lease runs out and a later look tries again
        log.warning("delivering %s failed", orphan.generation_id, exc_info=True)
