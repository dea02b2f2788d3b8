"""The permissions Pictune asks for in a server, exactly those it uses, and its invite URL.

- View Channels, Send Messages: answers, progress, results in the channel (a result posted
  after the interaction's 15 minutes, a rerun from a 🔁, the community channel);
- Embed Links: a result is an embed;
- Attach Files: the audio, the MIDI, the ABC, the score and ``motivation.md``;
- Read Message History: a rerun answers as a reply to the message reacted on (Discord
  needs it for a message reference);
- Create Public Threads, Send Messages in Threads: a long motivation, in a thread on the
  result (without them it goes as ``motivation.md`` only).

Nothing else: no reactions are added, no messages of others managed. The scopes are
``bot`` and ``applications.commands``. ``pictune doctor`` prints the URL.
"""

from __future__ import annotations

import base64
import binascii

import discord

SCOPES = ("bot", "applications.commands")
PERMISSIONS = discord.Permissions(
    view_channel=True,
    send_messages=True,
    embed_links=True,
    attach_files=True,
    read_message_history=True,
    create_public_threads=True,
    send_messages_in_threads=True,
)


def application_id(token: str) -> int | None:
    """The bot's id from its token (a bot token starts with its user id in base64, which
    for an application's bot is the application id); None when it does not look like one."""
    first = token.strip().split(".", 1)[0]
    try:
        text = base64.b64decode(first + "=" * (-len(first) % 4), validate=True).decode("ascii")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    return int(text) if text.isdigit() else None


def invite_url(client_id: int | str) -> str:
    """The URL a server manager opens to add Pictune with exactly ``PERMISSIONS``."""
    return discord.utils.oauth_url(client_id, permissions=PERMISSIONS, scopes=SCOPES)
