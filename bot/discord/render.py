"""A PieceReply as a Discord message: an embed, the files, and what did not fit.

Discord's limits (developer docs, "Embed Limits" and "Uploading Files"): title 256
characters, description 4096, 25 fields of 256/1024, footer 2048, 6000 in all; at most 10
attachments per message, each under the interaction's ``filesize_limit`` (10 MiB by default).
The full motivation always travels as ``motivation.md``; the embed carries its summary,
and says where the rest is when the motivation is longer than that.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import discord

from bot.core import PieceReply

TITLE_MAX = 256
DESCRIPTION_MAX = 4096
FIELD_NAME_MAX = 256
FIELD_VALUE_MAX = 1024
FIELDS_MAX = 25
FOOTER_MAX = 2048
EMBED_TOTAL_MAX = 6000
FILES_MAX = 10
DEFAULT_FILESIZE_LIMIT = 10 * 1024 * 1024
COLOUR = discord.Colour.from_rgb(88, 101, 242)
MOTIVATION_FILE = "motivation.md"


@dataclass
class RenderedPiece:
    embed: discord.Embed
    paths: list[tuple[str, Path]]  # what to attach, in order
    left_out: list[str] = field(default_factory=list)  # file names too large to attach

    def files(self) -> list[discord.File]:
        """Fresh File objects (discord.py consumes them on send, so make them per send)."""
        return [discord.File(path, filename=name) for name, path in self.paths]


def cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def render_piece(
    reply: PieceReply,
    *,
    filesize_limit: int | None = None,
    with_files: bool = True,
    note: str | None = None,
) -> RenderedPiece:
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

    description_parts = []
    if reply.caption:
        description_parts.append(f"*{reply.caption}*")
    if reply.summary and reply.summary != reply.caption:
        description_parts.append(reply.summary)
    attached = {name for name, _ in paths}
    if MOTIVATION_FILE in attached and _longer_than_summary(reply):
        description_parts.append(f"📄 The whole story of this piece is in {MOTIVATION_FILE}.")
    if note:
        description_parts.append(note)
    if left_out:
        description_parts.append(
            "Too large to attach here: " + ", ".join(left_out) + ". Try a shorter duration."
        )
    embed = discord.Embed(
        title=cut(f"🎵 {reply.title}", TITLE_MAX),
        description=cut("\n\n".join(description_parts), DESCRIPTION_MAX),
        colour=COLOUR,
    )
    for name, value in reply.fields[:FIELDS_MAX]:
        embed.add_field(name=cut(name, FIELD_NAME_MAX), value=cut(value, FIELD_VALUE_MAX))
    embed.set_footer(text=cut(f"{reply.footer} · for {reply.author}", FOOTER_MAX))
    if any(name == "score.png" for name, _ in paths):
        embed.set_image(url="attachment://score.png")
    _fit_total(embed)
    return RenderedPiece(embed=embed, paths=paths, left_out=left_out)


def _longer_than_summary(reply: PieceReply) -> bool:
    """Whether the motivation says more than the summary shown: more than one paragraph
    (headings aside), or a first paragraph cut short."""
    paragraphs = [
        block
        for block in reply.motivation_markdown.split("\n\n")
        if block.strip() and not block.lstrip().startswith("#")
    ]
    return len(paragraphs) > 1 or reply.summary.endswith("…")


def _fit_total(embed: discord.Embed) -> None:
    """Drop fields from the end, then shorten the description, until under the total."""
    while len(embed) > EMBED_TOTAL_MAX and embed.fields:
        embed.remove_field(len(embed.fields) - 1)
    if len(embed) > EMBED_TOTAL_MAX and embed.description:
        excess = len(embed) - EMBED_TOTAL_MAX
        embed.description = cut(embed.description, max(1, len(embed.description) - excess - 1))


def listing_embed(title: str, text: str) -> discord.Embed:
    return discord.Embed(
        title=cut(title, TITLE_MAX), description=cut(text, DESCRIPTION_MAX), colour=COLOUR
    )
