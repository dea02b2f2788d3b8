"""Whether a Slack conversation is private: a DM, a group DM (mpim) or a private channel.

A piece asked in one is private (storage.views.visibility_for). Slack says so in different
ways: DM ids start with "D", group DMs and older private channels with "G"; message events
carry ``channel_type`` ("channel", "group", "im", "mpim"). Newer private channels have "C"
ids like public ones and app_mention events, commands, shortcuts and buttons carry no
type, so ``conversations.info`` is asked (channels:read, groups:read, im:read, mpim:read)
and its answer kept a while. When Slack cannot say (a missing scope, an error), the place
counts as private: a piece wrongly kept private can still be shown on purpose, one wrongly
listed in the workspace cannot be taken back.
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

log = logging.getLogger("pictune.slack")

PRIVATE_TYPES = frozenset({"group", "im", "mpim", "private_channel"})
PUBLIC_TYPES = frozenset({"channel", "public_channel"})
REMEMBER_S = 300.0  # a channel made private (or public) counts as such within 5 minutes
REMEMBER_MAX = 2000


class Places:
    """The privacy of conversations, asked of Slack once per channel and ``REMEMBER_S``."""

    def __init__(self, remember_s: float = REMEMBER_S) -> None:
        self.remember_s = remember_s
        self._known: OrderedDict[str, tuple[float, bool]] = OrderedDict()

    async def is_private(
        self, client: AsyncWebClient, channel: str | None, channel_type: str | None = None
    ) -> bool:
        if not channel:
            return True  # nowhere known: nobody else should find the piece
        if channel.startswith(("D", "G")):
            return True
        if channel_type in PRIVATE_TYPES:
            return True
        if channel_type in PUBLIC_TYPES:
            return False
        known = self._known.get(channel)
        if known is not None and time.monotonic() - known[0] < self.remember_s:
            return known[1]
        private = await self._ask(client, channel)
        self._known[channel] = (time.monotonic(), private)
        self._known.move_to_end(channel)
        while len(self._known) > REMEMBER_MAX:
            self._known.popitem(last=False)
        return private

    @staticmethod
    async def _ask(client: AsyncWebClient, channel: str) -> bool:
        try:
            info = (await client.conversations_info(channel=channel))["channel"] or {}
        except (SlackApiError, KeyError, TypeError):
            log.warning(
                "conversations.info failed for %s: pieces there are kept private "
                "(does the app have channels:read and groups:read?)",
                channel,
                exc_info=True,
            )
            return True
        return bool(
            info.get("is_private")
            or info.get("is_im")
            or info.get("is_mpim")
            or info.get("is_group")
        )
