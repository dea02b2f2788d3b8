"""📖 "Why this music?": the whole motivation of a piece, for the person who pressed the
button only (ephemeral), a page at a time with ◀ and ▶ buttons.

Page buttons carry the piece and the page (``pictune:whypage:pt-7f3a2c:2``) and are
``DynamicItem``s like the result's buttons, so they work after a restart too."""

from __future__ import annotations

import re

import discord

from bot.core import PieceReply
from bot.discord.replies import core_of, requester_for

PAGE_TEMPLATE = r"pictune:whypage:(?P<gid>[a-z0-9-]{1,32}):(?P<page>\d{1,3})"


def page_text(reply: PieceReply, page: int) -> tuple[str, int]:
    """Page ``page`` (from 0, kept within the pages) of the story, with its header; and the
    page shown."""
    pages = reply.why_pages()
    page = min(max(page, 0), len(pages) - 1)
    header = f"📖 **Why this music?** {reply.id} · page {page + 1} of {len(pages)}"
    return f"{header}\n\n{pages[page]}", page


def page_view(generation_id: str, page: int, total: int) -> discord.ui.View:
    view = discord.ui.View(timeout=None)
    if total > 1:
        view.add_item(WhyPage(generation_id, page - 1, "◀", disabled=page == 0))
        view.add_item(WhyPage(generation_id, page + 1, "▶", disabled=page >= total - 1))
    return view


class WhyPage(discord.ui.DynamicItem[discord.ui.Button], template=PAGE_TEMPLATE):  # type: ignore[type-arg]
    def __init__(
        self, generation_id: str, page: int, label: str = "▶", *, disabled: bool = False
    ) -> None:
        super().__init__(
            discord.ui.Button(
                label=label,
                style=discord.ButtonStyle.secondary,
                custom_id=f"pictune:whypage:{generation_id}:{max(page, 0)}",
                disabled=disabled,
            )
        )
        self.generation_id = generation_id
        self.page = max(page, 0)

    @classmethod
    async def from_custom_id(
        cls,
        interaction: discord.Interaction,
        item: discord.ui.Item,  # type: ignore[type-arg]
        match: re.Match[str],
        /,
    ) -> WhyPage:
        return cls(match["gid"], int(match["page"]))

    async def callback(self, interaction: discord.Interaction) -> None:
        reply = core_of(interaction).piece(requester_for(interaction), self.generation_id)
        text, page = page_text(reply, self.page)
        await interaction.response.edit_message(
            content=text, view=page_view(reply.id, page, len(reply.why_pages()))
        )


async def on_why(interaction: discord.Interaction, generation_id: str) -> None:
    """The 📖 button: the first page, for the presser only."""
    reply = core_of(interaction).piece(requester_for(interaction), generation_id)
    text, page = page_text(reply, 0)
    await interaction.response.send_message(
        text,
        view=page_view(reply.id, page, len(reply.why_pages())),
        ephemeral=True,
        allowed_mentions=discord.AllowedMentions.none(),
    )
