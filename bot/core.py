"""What a person reads from Pictune, whatever the chat platform.

The Discord and Slack adapters are thin: they turn platform events into calls on the use
cases of service/ (``PictuneBot.requests``: compose, rerun, follow, cancel; ``PictuneBot.library``:
history, search, favourites, delete, workspace settings) and turn the answers into platform
messages. ``PictuneBot`` is where those answers become words: a finished piece as a
``PieceReply``, progress lines, the details behind a piece, listings and settings as text,
so both platforms say the same thing. Errors are ``PictuneError`` subclasses whose
``user_message`` the adapter shows as it is (ephemeral on Discord, in the thread on Slack).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from engine.bridge.hints import MAX_HINT_CHARS
from engine.bridge.options import options_words
from engine.compose.instruments import PROGRAM_NAMES
from engine.config import Settings
from engine.errors import JobFailed, PictuneError
from engine.markdown import escape_markdown
from engine.types import MusicBrief, Perception, PieceOptions
from engine.why import why_in_brief
from service import intake
from service.api import JobEvent, JobService
from service.library import Library
from service.orphans import Orphan
from service.place_words import place_words
from service.queue_info import queue_info
from service.requests import ProgressSink, Requests, no_progress
from service.thumbnails import THUMBNAIL_NAME
from service.weblinks import page_url
from storage.personal import DefaultsView
from storage.store import Store
from storage.views import GenerationView, Requester, WorkspaceSettingsView, piece_title

log = logging.getLogger("pictune.bot")

SUMMARY_MAX = 300  # characters of the motivation shown in a result
WHY_PAGE_CHARS = 1800  # characters of the motivation per page of "Why this music?"
# File order in a reply: what people want first goes first (and survives a size cut).
FILE_ORDER = ("audio", "score", "picture", "midi", "abc", "motivation")
# What the person reads above a piece that comes as a new message after a restart.
READY_AFTER_RESTART = "your piece is ready (Pictune restarted while making it)."


@dataclass(frozen=True)
class Attachment:
    """An uploaded file as the platform describes it, known before downloading it."""

    filename: str
    content_type: str | None
    size: int | None
    url: str


# The fields of a wish form, in order: name -> (label, placeholder, longest), all optional.
WISH_FIELDS: dict[str, tuple[str, str, int]] = {
    "hint": ("Your wish", "e.g. as a lullaby, slower, with a cello", MAX_HINT_CHARS),
    "style": ("Style", "folk, jazz, lullaby, rock, waltz…", 20),
    "tempo": ("Tempo in bpm", "e.g. 72", 6),
    "key": ("Key or mode", "e.g. D minor, F# dorian, minor", 24),
    "instruments": ("Instruments, melody first", "e.g. violin, piano, cello", 80),
}
OPTION_FIELDS = ("style", "tempo", "key", "instruments")


@dataclass(frozen=True)
class OptionsForm:
    """A hint and options as typed into a form (the Remix form, /compose's options)."""

    hint: str = ""
    style: str = ""
    tempo: str = ""
    key: str = ""  # "D minor", "dorian"
    instruments: str = ""  # "violin, piano"

    def options(self) -> PieceOptions | None:
        """The options typed into the form, checked (InvalidOption names what is accepted)."""
        return intake.read_options(
            style=self.style, tempo=self.tempo, key=self.key, instruments=self.instruments
        )


@dataclass(frozen=True)
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
    web_url: str | None = None  # its web page ("Open in browser"), where one opens for all
    # "Why, in brief": three or four plain sentences (engine/why.py); "" when unknown.
    why: str = ""
    # Whether its workspace tells a piece's whole story in a thread on the result; where it
    # does not, the result shows ``why`` and a "Why this music?" button pages the story.
    story_threads: bool = True

    def why_pages(self, size: int = WHY_PAGE_CHARS) -> list[str]:
        """The whole motivation in pages of at most ``size`` characters (paragraphs kept
        whole where they fit), for the "Why this music?" button."""
        return pages(self.motivation_markdown or self.summary or self.why, size)

    @property
    def id(self) -> str:
        return self.generation.id


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


def pages(text: str, size: int) -> list[str]:
    """``text`` in pages of at most ``size`` characters: whole paragraphs where they fit,
    a paragraph longer than a page cut at a line or a word."""
    out: list[str] = []
    page = ""
    for block in [b.strip() for b in text.split("\n\n") if b.strip()]:
        while len(block) > size:
            cut_at = max(block.rfind("\n", 0, size), block.rfind(" ", 0, size))
            cut_at = cut_at if cut_at > size // 2 else size
            head, block = block[:cut_at].rstrip(), block[cut_at:].lstrip()
            if page:
                out.append(page)
                page = ""
            out.append(head)
        if page and len(page) + 2 + len(block) > size:
            out.append(page)
            page = ""
        page = f"{page}\n\n{block}" if page else block
    if page:
        out.append(page)
    return out or [""]


Stamp = Callable[[datetime], str]  # a moment as a platform shows it in the reader's zone


def utc_stamp(moment: datetime) -> str:
    """A moment where no platform can show it in the reader's zone: UTC, said so."""
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def history_line(view: GenerationView, stamp: Stamp = utc_stamp) -> str:
    """One line of a listing: id, when, who, what."""
    when = stamp(view.created_at) if view.created_at else ""
    who = escape_markdown(view.user_name or view.user_id)
    what = (view.caption or view.hint or "a piece").rstrip(".")
    if len(what) > 80:
        what = what[:79] + "…"
    status = "" if view.status == "done" else f" ({view.status})"
    return f"`{view.id}` · {when} · {who} · {escape_markdown(what)}{status}"


class PictuneBot:
    """The words of Pictune around its use cases: what a chat adapter shows a person.

    ``requests`` (service/requests.py) and ``library`` (service/library.py) are the use
    cases; the methods here call them and turn their answers into what a person reads."""

    def __init__(
        self,
        settings: Settings,
        service: JobService,
        store: Store,
        http: httpx.AsyncClient | None = None,
    ) -> None:
        self.settings = settings
        self.library = Library(settings, store)
        self.requests = Requests(self.library, service)
        self._http = http
        self._own_http = http is None

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

    # A piece, as a reply ------------------------------------------------------------------

    async def compose(
        self,
        requester: Requester,
        image: bytes,
        *,
        progress: ProgressSink = no_progress,
        **options: Any,
    ) -> PieceReply:
        """``requests.compose`` (its options: hint, mode, duration, seed, refine_rounds,
        filename, image_checked), the finished piece as a reply."""
        view = await self.requests.compose(requester, image, progress=progress, **options)
        return self._reply(view)

    async def rerun(
        self,
        requester: Requester,
        generation_id: str,
        *,
        progress: ProgressSink = no_progress,
        **options: Any,
    ) -> PieceReply:
        """``requests.rerun`` (its options: variation, refine_rounds): refined, or a variation
        with a new seed, as a reply."""
        view = await self.requests.rerun(requester, generation_id, progress=progress, **options)
        return self._reply(view)

    async def remix(
        self,
        requester: Requester,
        generation_id: str,
        *,
        progress: ProgressSink = no_progress,
        **changes: Any,
    ) -> PieceReply:
        """``requests.remix`` (hint, options): the same picture, new wishes, as a reply."""
        view = await self.requests.remix(requester, generation_id, progress=progress, **changes)
        return self._reply(view)

    async def extend(
        self, requester: Requester, generation_id: str, *, progress: ProgressSink = no_progress
    ) -> PieceReply:
        """``requests.extend``: a longer piece continuing this one, as a reply."""
        return self._reply(await self.requests.extend(requester, generation_id, progress=progress))

    def remix_defaults(self, requester: Requester, generation_id: str) -> OptionsForm:
        """What the Remix form shows filled in: the piece's own hint and options."""
        view = self.library.find(requester, generation_id)
        chosen = PieceOptions.from_dict((view.brief or {}).get("options")) or PieceOptions()
        key = " ".join(x for x in (chosen.key, chosen.mode) if x)
        return OptionsForm(
            hint=view.hint or "",
            style=chosen.style or "",
            tempo=str(chosen.tempo or ""),
            key=key,
            instruments=", ".join(PROGRAM_NAMES.get(p, "") for p in chosen.instruments),
        )

    async def follow(self, orphan: Orphan, progress: ProgressSink = no_progress) -> PieceReply:
        """``requests.follow``: a piece left by an earlier process, finished, as a reply."""
        return self._reply(await self.requests.follow(orphan, progress))

    def piece(self, requester: Requester, generation_id: str) -> PieceReply:
        """A stored piece as a reply (for /show)."""
        return self._reply(self.library.finished(requester, generation_id))

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
        chosen = PieceOptions.from_dict(brief.get("options"))
        if chosen is not None:
            fields.append(("Your options", ", ".join(options_words(chosen))))
        title = piece_title(brief)
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
            web_url=page_url(self.settings, view),
            why=self._why(view),
            story_threads=bool(
                self.library.workspace_settings(
                    Requester(view.platform, view.workspace, view.user_id)
                ).story_threads
            ),
        )

    def _why(self, view: GenerationView) -> str:
        """ "Why, in brief" from what is stored of the piece (its maker may see all of it)."""
        try:
            summary = self.library.store.summary(
                view.id, workspace=view.workspace, user_id=view.user_id
            )
            perception = Perception.from_dict(summary["perception"])
            brief = MusicBrief.from_dict(view.brief)
        except Exception:  # noqa: BLE001 - an old or partial record: the summary instead
            log.debug("no brief why for %s", view.id, exc_info=True)
            return motivation_summary(view.motivation or "")
        titles = [str(e.get("title") or "") for e in summary.get("exemplars") or []]
        return why_in_brief(perception, brief, titles)

    def _files(self, view: GenerationView) -> list[tuple[str, Path]]:
        """The files a user receives, most wanted first (a size cut drops the last): the
        piece's, and the picture it was made from (``THUMBNAIL_NAME``), small."""
        files = dict(view.files)
        picture = self.library.thumbnails.path(view)
        if picture is not None:
            files[THUMBNAIL_NAME] = picture
        ranked = [(_file_rank(name), name, path) for name, path in files.items()]
        ranked = [r for r in ranked if r[0] < len(FILE_ORDER)]
        ranked.sort()
        return [(name, path) for _, name, path in ranked]

    def details(self, requester: Requester, generation_id: str) -> str:
        """Everything behind a piece in Markdown: perception, brief, exemplars, metrics per
        round, timings."""
        view = self.library.find(requester, generation_id)
        summary = self.library.summary(requester, view)
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

    # Progress -----------------------------------------------------------------------------

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
                await self.requests.record_progress_message(generation_id, str(message_id))

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

    # Words for the answers of the use cases ------------------------------------------------

    @staticmethod
    def listing(views: list[GenerationView], empty: str, stamp: Stamp = utc_stamp) -> str:
        """A listing as text; ``empty`` is said when there is nothing; ``stamp`` shows when."""
        return "\n".join(history_line(v, stamp) for v in views) if views else empty

    def my_defaults_text(self, requester: Requester, mine: DefaultsView) -> str:
        """A person's own defaults, and what applies where they set none."""
        choices = self.library.workspace_settings(requester)
        low, high = intake.duration_range(self.settings, choices.max_duration)
        length = (
            f"{intake.fit_duration(mine.duration, self.settings, longest=choices.max_duration):g} s"
            if mine.duration is not None
            else f"not set ({min(self.settings.duration, high):g} s)"
        )
        default_mode = choices.default_mode or self.settings.mode
        return "\n".join(
            [
                "**Your defaults here**",
                f"Length: {length}; this {place_words(requester.platform).place} allows "
                f"{low:g} to {high:g} s.",
                f"Mode: {mine.mode or f'not set ({default_mode})'}",
                f"Private by default: {'on' if mine.private else 'off'}",
                f"Style: {mine.style or 'not set (the picture chooses)'}",
            ]
        )

    def top_text(self, ranked: list[tuple[GenerationView, int]], stamp: Stamp = utc_stamp) -> str:
        """/top: the most liked public pieces of the week, most liked first."""
        if not ranked:
            return "No likes this week yet: react ⭐ on a piece in the community channel."
        return "\n".join(f"⭐ {likes} · {history_line(view, stamp)}" for view, likes in ranked)

    async def info_text(self, requester: Requester, stamp: Stamp = utc_stamp) -> str:
        """/info: the queue, the asker's pieces and when they should be ready, today's
        quota, and what each stage runs."""
        info = await queue_info(self.requests, requester)
        place = place_words(requester.platform).place
        lines = [
            "**Pictune now**",
            f"In the queue: {info.queued} waiting, {info.running} being made.",
        ]
        now = datetime.now(UTC)
        for piece in info.mine:
            where = "being made" if piece.ahead is None else f"{piece.ahead} ahead of it"
            when = ""
            if piece.estimate_s is not None:
                when = f", ready around {stamp(now + timedelta(seconds=piece.estimate_s))}"
            lines.append(f"Your `{piece.generation_id}`: {where}{when}.")
        if not info.mine:
            lines.append("You have no piece on its way.")
        if info.typical_s is not None:
            lines.append(f"A piece takes about {info.typical_s:.0f} s here lately.")
        left = info.left_today
        if left is None:
            lines.append(f"Today: you made {info.made_today}; this {place} sets no daily limit.")
        else:
            pieces = "piece" if left == 1 else "pieces"
            lines.append(f"Today: you made {info.made_today}; {left} more {pieces} allowed.")
        lines.append(
            "Engine: " + ", ".join(f"{stage} {backend}" for stage, backend in info.backends) + "."
        )
        return "\n".join(lines)

    @staticmethod
    def favourite_text(generation_id: str, now: bool) -> str:
        """What a favourite toggle answers (the adapter may add where to see the list)."""
        if now:
            return f"⭐ {generation_id} is in your favourites."
        return f"{generation_id} is no longer in your favourites."

    @staticmethod
    def cancel_text(cancelled: list[str]) -> str:
        return f"✖️ Cancelling {', '.join(cancelled)}."

    def community_channel(self, requester: Requester, reply: PieceReply) -> str | None:
        """Where a public piece is also posted, or None (private, not set, or asked there)."""
        return self.library.community_channel(requester, reply.generation)

    @staticmethod
    def community_text(reply: PieceReply, link: str | None) -> str:
        where = f" — [original]({link})" if link else ""
        who, title = escape_markdown(reply.author), escape_markdown(reply.title)
        return f"🎵 New piece by {who}: **{title}**{where}"

    def settings_text(self, choices: WorkspaceSettingsView) -> str:
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
                "Whole stories in threads: " + ("on" if choices.story_threads else "off"),
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
    if name == THUMBNAIL_NAME:
        return FILE_ORDER.index("picture")
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
