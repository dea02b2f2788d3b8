"""The discord.py client: intents, the command tree, persistent buttons, the API address.

``settings.discord_api_url`` points the client at another Discord API (the loopback fake in
the tests, or a proxy). discord.py keeps its REST base in the class attribute
``discord.http.Route.BASE`` and its gateway address in ``DiscordWebSocket.DEFAULT_GATEWAY``;
both are set in ``use_api`` and nowhere else. The gateway address is then asked of the API
itself (``GET /gateway/bot``), as Discord documents.
"""

from __future__ import annotations

import asyncio
import functools
import logging

import discord
import yarl
from discord import app_commands
from discord.gateway import DiscordWebSocket
from discord.http import Route

from bot.core import PictuneBot, user_message
from bot.discord.commands import register_commands
from bot.discord.community import handle_like
from bot.discord.handlers import press
from bot.discord.reactions import handle_reaction
from bot.discord.replies import send_ephemeral
from bot.discord.resume import resume
from bot.discord.views import PieceButton
from bot.discord.why import WhyPage
from bot.handover import Handover
from engine.config import Settings
from engine.errors import ConfigError

log = logging.getLogger("pictune.discord")


def use_api(api_url: str) -> None:
    """Send every REST call (webhooks and interaction callbacks included) to ``api_url``,
    e.g. ``http://127.0.0.1:8123/api/v10``."""
    Route.BASE = api_url.rstrip("/")


def intents() -> discord.Intents:
    """Only what the bot needs: no message content, no members."""
    wanted = discord.Intents.none()
    wanted.guilds = True  # channel names and the community channel
    wanted.guild_reactions = True  # 🔁 on a result
    wanted.dm_reactions = True
    return wanted


class PictuneClient(discord.Client):
    """The Discord side of Pictune. ``core`` does the work; this class wires events."""

    def __init__(
        self,
        core: PictuneBot,
        settings: Settings,
        *,
        sync_guild: int | None = None,
        edit_interval: float = 1.5,
        guild_ready_timeout: float = 2.0,
    ) -> None:
        # Nothing the bot says pings anyone unless a send names the person it is for:
        # hints, captions and names are quoted back, and "@everyone" in a hint must stay text.
        # guild_ready_timeout: how long READY waits for more servers after the last one.
        super().__init__(
            intents=intents(),
            allowed_mentions=discord.AllowedMentions.none(),
            guild_ready_timeout=guild_ready_timeout,
        )
        self.core = core
        self.settings = settings
        self.sync_guild = sync_guild
        self.edit_interval = edit_interval  # seconds between progress edits of one message
        self.tree = app_commands.CommandTree(self)
        self.tree.on_error = self._on_command_error  # type: ignore[method-assign]
        register_commands(self.tree, settings)
        # Closing cancels what follows a job and finishes what posts (bot/handover.py).
        self.handover = Handover()
        self._orphans: asyncio.Task[None] | None = None

    async def setup_hook(self) -> None:
        # Buttons on every result, from any earlier run of the bot, are routed by their
        # custom_id: nothing has to be remembered in memory across a restart.
        self.add_dynamic_items(PieceButton, WhyPage)
        if self.settings.discord_api_url:
            _, url, _ = await self.http.get_bot_gateway()
            DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(url)
        if self.sync_guild is not None:
            guild = discord.Object(id=self.sync_guild)
            self.tree.copy_global_to(guild=guild)
            await self.tree.sync(guild=guild)
        await self.tree.sync()
        # setup_hook runs once per start, not on gateway reconnects: one watcher.
        if self._orphans is None:
            self._orphans = asyncio.create_task(self._deliver_orphans())

    async def _deliver_orphans(self) -> None:
        """Post what earlier bot processes left undelivered, for as long as the client
        runs. After READY, so that channels are known (whether a story can go in a thread)."""
        await self.wait_until_ready()
        await self.core.requests.watch_orphans("discord", functools.partial(resume, self))

    async def press(
        self, interaction: discord.Interaction, action: str, generation_id: str
    ) -> None:
        """A button under a piece was pressed (bot/discord/views.py routes it here)."""
        await press(interaction, action, generation_id)

    async def on_raw_reaction_add(self, payload: discord.RawReactionActionEvent) -> None:
        await handle_reaction(self, payload)
        await handle_like(self, payload)

    async def on_raw_reaction_remove(self, payload: discord.RawReactionActionEvent) -> None:
        await handle_like(self, payload)

    async def _on_command_error(
        self, interaction: discord.Interaction, error: app_commands.AppCommandError
    ) -> None:
        """Last resort: log the details, tell the person something short and useful."""
        original = getattr(error, "original", error)
        if isinstance(error, app_commands.MissingPermissions):
            text = "You need the Manage Server permission for that."
        elif isinstance(error, app_commands.CommandOnCooldown):
            text = f"Slow down: try again in {error.retry_after:.0f} s."
        else:
            log.error("command failed", exc_info=original)
            text = user_message(original)
        await send_ephemeral(interaction, text)

    async def close(self) -> None:
        await self.handover.stop(self._orphans)
        await super().close()
        await self.core.close()


async def run(settings: Settings, core: PictuneBot) -> None:
    """Log in and serve until cancelled."""
    if settings.discord_token is None:
        raise ConfigError("Discord needs DISCORD_TOKEN: see the README.")
    if settings.discord_api_url:
        use_api(settings.discord_api_url)
    client = PictuneClient(core, settings)
    async with client:
        await client.start(settings.discord_token.get_secret_value())
