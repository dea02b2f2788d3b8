"""What Pictune knows of a Slack conversation: whether it is private, whether the bot is in it.

**Privacy.** A piece asked in a DM, a group DM (mpim) or a private channel is private
(storage.views.visibility_for). Slack says so in different ways: DM ids start with "D",
group DMs and older private channels with "G"; message events carry ``channel_type``
("channel", "group", "im", "mpim"). Newer private channels have "C" ids like public ones
and app_mention events, commands, shortcuts and buttons carry no type, so
``conversations.info`` is asked (channels:read, groups:read, im:read, mpim:read) and its
answer kept a while. When Slack cannot say (a missing scope, an error), the place counts
as private: a piece wrongly kept private can still be shown on purpose, one wrongly listed
in the workspace cannot be taken back.

**Membership.** Slack lets a bot with ``chat:write.public`` post text in a public channel
it is not in, but nothing more: sharing files (``files.completeUploadExternal``), ephemeral
messages, reading the channel's messages and files, and the events of that channel all
need the bot to be a member. So before composing for a channel, and before posting a piece
(or its copy in the community channel) there, ``ensure_member`` joins a public channel
(``conversations.join``, the ``channels:join`` scope). A private channel cannot be joined:
the person is told to invite the bot, before anything is composed (``NotInvited``).
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from dataclasses import dataclass

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from engine.errors import InputError, PictuneError

log = logging.getLogger("pictune.slack")

PRIVATE_TYPES = frozenset({"group", "im", "mpim", "private_channel"})
PUBLIC_TYPES = frozenset({"channel", "public_channel"})
REMEMBER_S = 300.0  # a channel made private (or public) counts as such within 5 minutes
REMEMBER_MAX = 2000
INVITE_FIRST = (
    "I'm not in this conversation, so I can't post here or open its files: invite me with "
    "`/invite @Pictune` (or add me from the channel's settings, Integrations), then ask again."
)
NO_JOIN_SCOPE = (
    "I can't join this channel: the Slack app lacks the channels:join permission. "
    "Ask a workspace admin to reinstall Pictune (docs/slack.md), or invite me with "
    "`/invite @Pictune`."
)
ARCHIVED = "This channel is archived: I can't post here."
# What conversations.join answers for a channel the bot is already in, or a private one.
ALREADY_IN = frozenset({"already_in_channel", "method_not_supported_for_channel_type"})


class NotInvited(InputError):
    """The bot is not in a conversation it cannot join by itself (private, group DM)."""

    user_message = INVITE_FIRST


@dataclass(frozen=True)
class Place:
    private: bool
    member: bool | None  # None: Slack did not say


class Places:
    """Conversations as Slack described them, asked once per channel and ``REMEMBER_S``."""

    def __init__(self, remember_s: float = REMEMBER_S) -> None:
        self.remember_s = remember_s
        self._known: OrderedDict[str, tuple[float, Place]] = OrderedDict()

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
        return (await self.look(client, channel)).private

    async def look(self, client: AsyncWebClient, channel: str) -> Place:
        known = self._known.get(channel)
        if known is not None and time.monotonic() - known[0] < self.remember_s:
            return known[1]
        place = await self._ask(client, channel)
        self._remember(channel, place)
        return place

    async def ensure_member(self, client: AsyncWebClient, channel: str | None) -> None:
        """Be in ``channel`` before posting or sharing files there: a public channel is
        joined; NotInvited where the bot cannot join (a private channel, a group DM)."""
        if not channel or channel.startswith("D"):
            return  # a DM with the bot: always in it
        place = await self.look(client, channel)
        if place.member:
            return
        if channel.startswith("G") or (place.private and place.member is False):
            raise NotInvited()
        try:
            await client.conversations_join(channel=channel)
        except SlackApiError as exc:
            error = exc.response.get("error") if exc.response is not None else None
            if error in ALREADY_IN:
                self._remember(channel, Place(private=place.private, member=True))
                return
            if error in ("channel_not_found", "is_private"):
                raise NotInvited(detail=f"conversations.join {channel}: {error}") from None
            if error == "missing_scope":
                raise PictuneError(
                    NO_JOIN_SCOPE, detail="conversations.join: missing_scope"
                ) from None
            if error == "is_archived":
                raise InputError(ARCHIVED) from None
            raise
        log.info("Slack: joined %s to post there", channel)
        self._remember(channel, Place(private=False, member=True))

    def forget(self, channel: str) -> None:
        """Slack refused something membership allows: ask again next time."""
        self._known.pop(channel, None)

    def _remember(self, channel: str, place: Place) -> None:
        self._known[channel] = (time.monotonic(), place)
        self._known.move_to_end(channel)
        while len(self._known) > REMEMBER_MAX:
            self._known.popitem(last=False)

    @staticmethod
    async def _ask(client: AsyncWebClient, channel: str) -> Place:
        try:
            info = (await client.conversations_info(channel=channel))["channel"] or {}
        except (SlackApiError, KeyError, TypeError):
            # A private channel the bot is not in does not exist for it (channel_not_found).
            log.info(
                "conversations.info failed for %s: pieces there are kept private "
                "(not in that private channel, or no channels:read and groups:read)",
                channel,
            )
            return Place(private=True, member=None)
        private = bool(
            info.get("is_private")
            or info.get("is_im")
            or info.get("is_mpim")
            or info.get("is_group")
        )
        member = info.get("is_member")
        return Place(private=private, member=None if member is None else bool(member))
