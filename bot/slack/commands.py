"""``/compose`` subcommands: history, search, favourites, favourite, show, cancel, delete,
settings.

``/compose`` alone (or with a hint) opens the compose form; that part lives with the other
listeners. Answers go back through the command's ``response_url``, visible only to the
person who asked, except ``show``, which posts the piece in the channel.
"""

from __future__ import annotations

import logging
import re
from typing import TYPE_CHECKING, Any

from slack_bolt.context.async_context import AsyncBoltContext
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.slack import blocks, community
from bot.slack.places import INVITE_FIRST, NotInvited
from engine.errors import InputError, InvalidOption, PictuneError
from service.api import Requester

if TYPE_CHECKING:
    from bot.slack.listeners import SlackAdapter

log = logging.getLogger("pictune.slack")

_MENTION = re.compile(r"<@([^>|]+)(?:\|[^>]*)?>")
_CHANNEL = re.compile(r"<#([^>|]+)(?:\|[^>]*)?>")
NOT_POSTED = "Slack would not let me post that piece here: try again in a moment."
LISTING_EMPTY = "No pieces yet: mention @Pictune in a message with an image to make one."

COMMANDS = frozenset(
    {
        "help",
        "history",
        "search",
        "show",
        "favourites",
        "favorites",
        "favourite",
        "favorite",
        "cancel",
        "delete",
        "settings",
        "info",
        "publish",
        "top",
    }
)
SETTING_NAMES = {
    "channel": "community_channel",
    "community": "community_channel",
    "mode": "default_mode",
    "quota": "user_daily_quota",
    "team-quota": "workspace_daily_quota",
    "max-duration": "max_duration",
    "threads": "story_threads",
}


async def run_subcommand(
    adapter: SlackAdapter,
    sub: str,
    rest: str,
    client: AsyncWebClient,
    context: AsyncBoltContext,
    channel: str,
    respond: Any,
) -> None:
    async def answer(markdown: str) -> None:
        await respond(
            text=blocks.mrkdwn(markdown)[: blocks.SECTION_MAX],
            blocks=blocks.text_blocks(markdown),
            response_type="ephemeral",
        )

    try:
        requester = await context["requester"](channel)
        if sub == "help":
            await respond(text=blocks.HELP, response_type="ephemeral")
        elif sub == "history":
            who = _MENTION.search(rest)
            user = (
                who.group(1)
                if who
                else (requester.user_id if rest.lower() in ("me", "mine") else None)
            )
            await answer(
                adapter.bot.listing(
                    adapter.bot.library.history(requester, user_id=user),
                    LISTING_EMPTY,
                    blocks.slack_stamp,
                )
            )
        elif sub == "search":
            await answer(
                adapter.bot.listing(
                    adapter.bot.library.search(requester, rest),
                    "Nothing found: try other words.",
                    blocks.slack_stamp,
                )
            )
        elif sub in ("favourites", "favorites"):
            await answer(
                adapter.bot.listing(
                    adapter.bot.library.favourites(requester),
                    "No favourites yet.",
                    blocks.slack_stamp,
                )
            )
        elif sub in ("favourite", "favorite"):
            if not rest:
                raise InputError("Which piece? Give its id, e.g. `/compose favourite pt-7f3a2c`.")
            gid = adapter.bot.library.find(requester, rest).id
            now = adapter.bot.library.favourite(requester, gid)
            see = " See `/compose favourites`." if now else ""
            await answer(adapter.bot.favourite_text(gid, now) + see)
        elif sub == "cancel":
            cancelled = await adapter.bot.requests.cancel(requester, rest or None)
            await answer(adapter.bot.cancel_text(cancelled))
        elif sub == "show":
            await show_piece(adapter, client, requester, rest, channel, respond)
        elif sub == "delete":
            admin = await context["is_admin"]()
            gone = adapter.bot.library.delete(requester, rest, is_manager=admin)
            await answer(f"Deleted {gone}.")
        elif sub == "settings":
            await answer(await settings(adapter, client, context, requester, rest))
        elif sub == "publish":
            await answer(await community.publish(adapter, client, requester, rest))
        elif sub == "top":
            await answer(community.top(adapter, requester))
        elif sub == "info":
            await answer(await adapter.bot.info_text(requester, stamp=blocks.slack_stamp))
    except Exception as exc:
        if not isinstance(exc, PictuneError):
            log.error("/compose %s failed", sub, exc_info=True)
        await respond(text=blocks.warning(exc), response_type="ephemeral")


async def show_piece(
    adapter: SlackAdapter,
    client: AsyncWebClient,
    requester: Requester,
    gid: str,
    channel: str,
    respond: Any,
) -> None:
    """Post a stored piece again, files in its thread."""
    if not gid:
        raise InputError("Which piece? Give its id, e.g. `/compose show pt-7f3a2c`.")
    reply = adapter.bot.piece(requester, gid)
    try:
        await adapter.replies.post_piece(client, reply, channel, role="show")
    except NotInvited:
        await respond(text=INVITE_FIRST, response_type="ephemeral")
    except SlackApiError as exc:
        log.warning("/compose show in %s failed: %s", channel, exc.response.get("error"))
        await respond(text=NOT_POSTED, response_type="ephemeral")


PERSONAL_NAMES = {"length": "duration", "duration": "duration", "mode": "mode"}
PERSONAL_NAMES |= {"private": "private", "style": "style"}


def my_settings(adapter: SlackAdapter, requester: Requester, rest: str) -> str:
    """``settings me`` shows one's own defaults; ``settings me length 45``, ``mode M``,
    ``private on|off``, ``style jazz`` change one, ``settings me clear`` forgets them."""
    library = adapter.bot.library
    if rest.lower() == "clear":
        mine = library.update_my_defaults(
            requester, **dict.fromkeys(set(PERSONAL_NAMES.values()), "")
        )
    elif rest:
        name, _, value = rest.partition(" ")
        key = PERSONAL_NAMES.get(name.lower())
        if key is None or not value.strip():
            raise InvalidOption(
                "Use `/compose settings me length 45`, `mode symbolic`, `private on`, "
                "`style jazz` or `clear` (`none` clears one)."
            )
        mine = library.update_my_defaults(requester, **{key: value.strip()})
    else:
        mine = library.my_defaults(requester)
    return adapter.bot.my_defaults_text(requester, mine)


async def settings(
    adapter: SlackAdapter,
    client: AsyncWebClient,
    context: AsyncBoltContext,
    requester: Requester,
    rest: str,
) -> str:
    """``settings`` shows; ``settings channel #c|none``, ``mode M``, ``quota N``,
    ``team-quota N``, ``max-duration S`` change (admins only)."""
    if rest.lower() == "me" or rest.lower().startswith("me "):
        return my_settings(adapter, requester, rest[2:].strip())
    if rest:
        name, _, value = rest.partition(" ")
        value = value.strip()
        key = SETTING_NAMES.get(name.lower())
        if key is None or not value:
            raise InvalidOption(
                "Use `/compose settings channel #channel`, `mode symbolic`, `quota 5`, "
                "`team-quota 100`, `max-duration 60` or `threads on` (`none` or 0 clears one)."
            )
        if key == "community_channel":
            found = _CHANNEL.search(value)
            value = (
                found.group(1)
                if found
                else ("" if value.lower() in ("none", "off") else value.lstrip("#"))
            )
        elif value.lower() in ("none", "off"):
            value = "" if key == "default_mode" else "0"
        admin = await context["is_admin"]()
        choices = adapter.bot.library.update_settings(requester, is_manager=admin, **{key: value})
    else:
        choices = adapter.bot.library.workspace_settings(requester)
    text = adapter.bot.settings_text(choices)
    if key_changed(rest, "community_channel") and choices.community_channel:
        try:  # its copies carry files: Pictune must be in the channel
            await adapter.places.ensure_member(client, choices.community_channel)
        except PictuneError as exc:
            text += f"\n\n⚠️ <#{choices.community_channel}>: {exc.user_message}"
    if choices.community_channel:
        text = text.replace(f": {choices.community_channel}", f": <#{choices.community_channel}>")
    return text


def key_changed(rest: str, key: str) -> bool:
    """Whether ``settings REST`` sets the setting ``key``."""
    return SETTING_NAMES.get(rest.partition(" ")[0].lower()) == key
