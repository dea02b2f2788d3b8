"""A PieceReply as a Discord message: an embed, the files, and what did not fit.

Discord's limits (developer docs, "Embed Limits", "Uploading Files", "Create Message",
"Start Thread from Message"): title 256 characters, description 4096, 25 fields of
256/1024, footer 2048, 6000 in all; at most 10 attachments per message, each under the
interaction's ``filesize_limit`` (10 MiB by default); a message's content 2000; a thread's
name 1-100.

What people wrote (a hint, a caption, a name) is shown as text: plain strings that go where
Discord renders Markdown (field values, the caption) pass through ``discord.utils``'
``escape_markdown``, core's Markdown already escapes them (engine/markdown.py), and
everything shown passes ``escape_mentions``, so ``@everyone`` or ``<@id>`` stays text
even where no mention would ping (``AllowedMentions.none()``).

The motivation is read in place: the embed's description carries all of it when it fits.
A longer one is shortened there, on a paragraph boundary, ending with a pointer to the
rest: the thread the adapter starts on the message (``story_in_thread``), or
``motivation.md``, which is always attached.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import discord

from bot.core import PieceReply
from service.thumbnails import THUMBNAIL_NAME

TITLE_MAX = 256
DESCRIPTION_MAX = 4096
# What the embed shows of the motivation at most: a result stays a glance (audio, score,
# the gist); the rest of the story goes to the thread (or motivation.md).
DESCRIPTION_SHOWN = 1200
FIELD_NAME_MAX = 256
FIELD_VALUE_MAX = 1024
FIELDS_MAX = 25
FOOTER_MAX = 2048
EMBED_TOTAL_MAX = 6000
FILES_MAX = 10
MESSAGE_MAX = 2000
THREAD_NAME_MAX = 100
THREAD_MESSAGES_MAX = 10  # a story longer than this many messages ends with a pointer
DEFAULT_FILESIZE_LIMIT = 10 * 1024 * 1024
COLOUR = discord.Colour.from_rgb(88, 101, 242)
MOTIVATION_FILE = "motivation.md"
TO_THE_THREAD = "… full story in the thread 🧵"
TO_THE_FILE = f"… full story in {MOTIVATION_FILE}"
TO_THE_BUTTON = "📖 The whole story: **Why this music?** below."
SEPARATOR = "\n\n"

# Where a long text may be cut, best first: after a paragraph, a line, a sentence, a word.
# Each pattern takes the blank lines or spaces that follow, so the next piece starts with
# text (or with its first line's own indentation, which belongs to that line).
BREAKS = (
    re.compile(r"\n[ \t]*\n(?:[ \t]*\n)*"),
    re.compile(r"\n(?:[ \t]*\n)*"),
    re.compile(r"[.!?…][\"'’”)\]]*\s+"),
    re.compile(r"\s+"),
)
HEADING = re.compile(r"^#{1,6}[ \t]+(.+?)[ \t#]*$", re.MULTILINE)
BOLD_LINE = re.compile(r"\*\*[^*\n]+\*\*")
LEADING_ARTICLE = re.compile(r"^(A|An|The) ")


@dataclass
class RenderedPiece:
    embed: discord.Embed
    paths: list[tuple[str, Path]]  # what to attach, in order
    left_out: list[str] = field(default_factory=list)  # file names too large to attach
    # Set when the description was shortened and points to a thread: the description to
    # use instead when no thread can be had (it points to motivation.md).
    file_description: str | None = None

    @property
    def needs_thread(self) -> bool:
        return self.file_description is not None

    def files(self) -> list[discord.File]:
        """Fresh File objects (discord.py consumes them on send, so make them per send)."""
        return [discord.File(path, filename=name) for name, path in self.paths]


def cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def plain(text: str) -> str:
    """Someone's words, to be shown as they are written where Discord renders Markdown."""
    return discord.utils.escape_mentions(discord.utils.escape_markdown(text))


def shown(markdown: str) -> str:
    """Markdown made by Pictune (people's words inside it escaped), mentions defused."""
    return discord.utils.escape_mentions(markdown)


def render_piece(
    reply: PieceReply,
    *,
    filesize_limit: int | None = None,
    with_files: bool = True,
    note: str | None = None,
    story_in_thread: bool = False,
) -> RenderedPiece:
    """The message for a piece. ``story_in_thread``: the adapter will start a thread on
    the message for a motivation too long for the embed, so point there."""
    limit = filesize_limit or DEFAULT_FILESIZE_LIMIT
    paths: list[tuple[str, Path]] = []
    left_out: list[str] = []
    if with_files:
        for name, path in reply.files:
            try:
                size = path.stat().st_size
            except OSError:
                left_out.append(name)
                continue
            if size > limit or len(paths) >= FILES_MAX:
                left_out.append(name)
            else:
                paths.append((name, path))

    embed = discord.Embed(
        title=cut(f"🎵 {reply.title}", TITLE_MAX), colour=COLOUR, url=reply.web_url
    )
    for name, value in reply.fields[:FIELDS_MAX]:
        embed.add_field(name=cut(name, FIELD_NAME_MAX), value=cut(plain(value), FIELD_VALUE_MAX))
    embed.set_footer(text=cut(f"{reply.footer} · for {reply.author}", FOOTER_MAX))
    if any(name == "score.png" for name, _ in paths):
        embed.set_image(url="attachment://score.png")
    if any(name == THUMBNAIL_NAME for name, _ in paths):  # the picture beside the music
        embed.set_thumbnail(url=f"attachment://{THUMBNAIL_NAME}")

    tail = []
    if note:
        tail.append(note)
    if reply.web_url:
        tail.append(f"[Open in browser]({reply.web_url})")
    if left_out:
        tail.append(
            "Too large to attach here: " + ", ".join(left_out) + ". Try a shorter duration."
        )
    if reply.why and not reply.story_threads:
        # The workspace keeps results short: the gist here, the story behind the 📖 button.
        embed.description = cut(SEPARATOR.join([reply.why, *tail, TO_THE_BUTTON]), DESCRIPTION_MAX)
        while embed.fields and len(embed) > EMBED_TOTAL_MAX:
            embed.remove_field(len(embed.fields) - 1)
        _fit_total(embed)
        return RenderedPiece(embed=embed, paths=paths, left_out=left_out)
    file_pointer = TO_THE_FILE if any(name == MOTIVATION_FILE for name, _ in paths) else "…"
    pointer = TO_THE_THREAD if story_in_thread else file_pointer

    # The description comes before the fields: drop fields (from the end) that would leave
    # it too little room under the embed's total, as before.
    whole, _ = _description(reply, DESCRIPTION_SHOWN, pointer, tail)
    while embed.fields and len(embed) + len(whole) > EMBED_TOTAL_MAX:
        embed.remove_field(len(embed.fields) - 1)
    room = max(1, min(DESCRIPTION_SHOWN, EMBED_TOTAL_MAX - len(embed)))
    embed.description, shortened = _description(reply, room, pointer, tail)
    rendered = RenderedPiece(embed=embed, paths=paths, left_out=left_out)
    if shortened and story_in_thread:
        rendered.file_description, _ = _description(reply, room, file_pointer, tail)
    _fit_total(embed)
    return rendered


def _description(reply: PieceReply, room: int, pointer: str, tail: list[str]) -> tuple[str, bool]:
    """The embed's description within ``room`` characters, and whether the motivation had
    to be shortened. The caption leads unless the motivation shown already says it."""
    story = shown(story_markdown(reply.motivation_markdown))
    text, shortened = _with_story([], story, room, pointer, tail)
    caption = plain(reply.caption)
    if reply.caption and caption not in text:
        text, shortened = _with_story([f"*{caption}*"], story, room, pointer, tail)
    return text, shortened


def _with_story(
    head: list[str], story: str, room: int, pointer: str, tail: list[str]
) -> tuple[str, bool]:
    whole = SEPARATOR.join([*head, *([story] if story else []), *tail])
    if len(whole) <= room or not story:
        return cut(whole, room), False
    others = SEPARATOR.join([*head, *tail])
    story_room = room - len(others) - (len(SEPARATOR) if others else 0)
    short = shorten(story, story_room - len(pointer) - len(SEPARATOR))
    told = f"{short}{SEPARATOR}{pointer}" if short else pointer
    return cut(SEPARATOR.join([*head, told, *tail]), room), True


def story_markdown(markdown: str) -> str:
    """A motivation as an embed shows it: without its top heading (the embed has a title),
    other headings as bold lines (Discord clients do not all draw headings in embeds)."""
    text = markdown.strip()
    first, _, rest = text.partition("\n")
    if re.match(r"#[ \t]", first):
        text = rest.strip()
    return HEADING.sub(lambda m: f"**{m.group(1)}**", text)


def shorten(text: str, limit: int) -> str:
    """The start of ``text`` within ``limit`` characters, cut where ``split_text`` would cut,
    without headings left dangling at the end."""
    if limit <= 0:
        return ""
    first = split_text(text, limit)[0].rstrip() if text else ""
    paragraphs = first.split(SEPARATOR)
    while len(paragraphs) > 1 and BOLD_LINE.fullmatch(paragraphs[-1].strip()):
        paragraphs.pop()
    return SEPARATOR.join(paragraphs)


def split_text(text: str, limit: int = MESSAGE_MAX) -> list[str]:
    """``text`` in pieces of at most ``limit`` characters that join back to exactly
    ``text``. A cut falls after a paragraph when one ends in the second half of the piece,
    else after a line, a sentence or a word; only a word longer than ``limit`` is cut."""
    if limit < 1:
        raise ValueError("limit must be at least 1")
    pieces: list[str] = []
    start = 0
    while len(text) - start > limit:
        end = _cut_point(text, start, start + limit)
        pieces.append(text[start:end])
        start = end
    if start < len(text):
        pieces.append(text[start:])
    return pieces


def _cut_point(text: str, start: int, stop: int) -> int:
    """Where a piece that begins at ``start`` and may run up to ``stop`` should end."""
    farthest = start
    for pattern in BREAKS:
        ends = [
            m.end()
            for m in pattern.finditer(text, start, stop)
            if m.start() > start and not _ends_with_heading(text, start, m.start())
        ]
        if not ends:
            continue
        if ends[-1] - start >= (stop - start) // 2:
            return ends[-1]
        farthest = max(farthest, ends[-1])
    return farthest if farthest > start else stop


def _ends_with_heading(text: str, start: int, end: int) -> bool:
    """Whether the last line of ``text[start:end]`` is a heading (it belongs with what
    follows it, so no cut right after it)."""
    line_start = max(text.rfind("\n", start, end) + 1, start)
    return text[line_start:end].lstrip().startswith("#")


def story_messages(markdown: str) -> list[str]:
    """A motivation as thread messages of at most MESSAGE_MAX characters, joining back to
    it exactly. Pieces of bare whitespace are dropped (Discord refuses empty messages);
    past THREAD_MESSAGES_MAX the last message says where the rest is."""
    pieces = [piece for piece in split_text(shown(markdown), MESSAGE_MAX) if piece.strip()]
    if len(pieces) > THREAD_MESSAGES_MAX:
        rest = f"… the rest is in {MOTIVATION_FILE}, attached to the piece."
        pieces = [*pieces[: THREAD_MESSAGES_MAX - 1], rest]
    return pieces


def thread_name(title: str) -> str:
    """\"About <title>\" on one line, within Discord's 1-100 characters for a thread name."""
    words = " ".join(title.split())
    words = LEADING_ARTICLE.sub(lambda m: m.group(1).lower() + " ", words)
    return cut(f"About {words}" if words else "About this piece", THREAD_NAME_MAX)


def _fit_total(embed: discord.Embed) -> None:
    """Last resort (a huge title or footer): drop fields from the end, then shorten the
    description, until under the total."""
    while len(embed) > EMBED_TOTAL_MAX and embed.fields:
        embed.remove_field(len(embed.fields) - 1)
    if len(embed) > EMBED_TOTAL_MAX and embed.description:
        excess = len(embed) - EMBED_TOTAL_MAX
        embed.description = cut(embed.description, max(1, len(embed.description) - excess - 1))


def listing_embed(title: str, text: str) -> discord.Embed:
    return discord.Embed(
        title=cut(title, TITLE_MAX), description=cut(shown(text), DESCRIPTION_MAX), colour=COLOUR
    )
