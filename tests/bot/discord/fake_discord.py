"""A loopback fake of Discord, enough for the real discord.py client to run against it.

An aiohttp server with:
- the gateway websocket: HELLO, IDENTIFY -> READY (+ GUILD_CREATE), heartbeats, and
  ``dispatch(event, data)`` for INTERACTION_CREATE, MESSAGE_REACTION_ADD, ...;
- the REST routes the bot uses: login (``/users/@me``, ``/oauth2/applications/@me``),
  ``/gateway/bot``, command sync (global and guild), the interaction callback, webhook
  follow-ups and edits of ``@original`` (JSON or multipart with files), channel messages
  (create, edit, fetch), reactions, threads started from a message (``threads``; messages
  sent to a thread's id land in it; ``refuse_threads`` makes a channel answer 403 or 400);
- a CDN that serves attachments registered with ``add_attachment``;
- direct-message interactions (``slash(..., dm=True)``: no guild, the DM channel), and the
  bot opening a DM with someone (``POST /users/@me/channels``; ``dm_channels``).

What Discord enforces, the fake enforces too: an interaction's token works for 15 minutes
(then its webhook routes answer 401 Invalid Webhook Token, 50027); a message's content is at
most 2,000 characters, at most 10 embeds, each within Discord's embed limits (title 256,
description 4,096, 25 fields of 256/1,024, footer 2,048, author 256, 6,000 in all):
400 Invalid Form Body (50035) otherwise.

Everything received is recorded in ``requests`` (with uploaded files as bytes), and the
messages the bot made are kept in ``messages`` as Discord would show them.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aiohttp import WSMsgType, web

DISCORD_EPOCH_MS = 1_420_070_400_000
APP_ID = 900000000000000001
BOT_ID = 900000000000000001  # a bot user's id is its application's id
GUILD_ID = 910000000000000001
CHANNEL_ID = 920000000000000001
COMMUNITY_ID = 920000000000000002
USER_ID = 930000000000000001
OTHER_USER_ID = 930000000000000002
ADMIN_USER_ID = 930000000000000003
DM_CHANNEL_ID = 940000000000000001
PRIVATE_CHANNEL_ID = 920000000000000003  # a text channel @everyone may not view
PRIVATE_THREAD_ID = 920000000000000004  # a private thread in the general channel
VIEW_CHANNEL = 1 << 10
ALL_PERMISSIONS = str((1 << 41) - 1)
MEMBER_PERMISSIONS = str(1 << 11 | 1 << 10 | 1 << 15 | 1 << 6)  # send, view, attach, react
MANAGER_PERMISSIONS = str(int(MEMBER_PERMISSIONS) | 1 << 5)  # + Manage Server
EPHEMERAL = 1 << 6
MESSAGE_MAX = 2000  # characters of a message's content
TOKEN_LIFE_S = 15 * 60  # an interaction's token works this long
EMBEDS_MAX = 10
EMBED_LIMITS = {"title": 256, "description": 4096, "footer": 2048, "author": 256}
EMBED_TOTAL_MAX = 6000
THREAD_ARCHIVE_MINUTES = (60, 1440, 4320, 10080)
# Discord's answers when a thread cannot start (JSON error codes from the developer docs).
THREAD_REFUSALS = {
    403: {"message": "Missing Permissions", "code": 50013},
    400: {"message": "Cannot execute action on this channel type", "code": 50024},
}


def snowflake(counter: int, *, age_s: float = 0.0) -> str:
    ms = int(time.time() * 1000 - age_s * 1000) - DISCORD_EPOCH_MS
    return str((ms << 22) | (counter & 0x3FFFFF))


def _json(data: Any, status: int = 200) -> web.Response:
    # discord.py parses a body as JSON only when Content-Type is exactly application/json.
    return web.Response(
        body=json.dumps(data).encode(), status=status, headers={"Content-Type": "application/json"}
    )


def user_payload(user_id: int, name: str, *, bot: bool = False) -> dict[str, Any]:
    return {
        "id": str(user_id),
        "username": name,
        "global_name": name.title(),
        "discriminator": "0",
        "avatar": None,
        "bot": bot,
        "public_flags": 0,
    }


@dataclass
class Recorded:
    method: str
    path: str
    query: dict[str, str]
    json: Any
    files: dict[str, bytes] = field(default_factory=dict)  # filename -> bytes
    status: int = 200


class Refused(Exception):
    """A REST call Discord answers with an error status and JSON body."""

    def __init__(self, status: int, body: dict[str, Any]) -> None:
        super().__init__(body.get("message"))
        self.status = status
        self.body = body


class FakeDiscord:
    def __init__(self) -> None:
        self.requests: list[Recorded] = []
        self.messages: dict[str, dict[str, Any]] = {}  # message id -> payload
        self.files: dict[str, bytes] = {}  # attachment id -> bytes (uploaded or registered)
        self.commands: dict[str, list[dict[str, Any]]] = {}  # "global" | guild id -> commands
        self.originals: dict[str, str] = {}  # interaction token -> message id of @original
        self.interactions: dict[str, dict[str, Any]] = {}  # token -> interaction payload
        self.identified = asyncio.Event()
        self.ready = asyncio.Event()
        self.cdn: dict[str, tuple[bytes, str]] = {}  # path -> (bytes, content type)
        self.threads: dict[str, dict[str, Any]] = {}  # thread id (= its message's) -> channel
        self.refuse_threads: dict[str, int] = {}  # channel id -> status to answer (403, 400)
        self.dm_channels: dict[str, str] = {str(USER_ID): str(DM_CHANNEL_ID)}  # user -> DM
        self._ids = itertools.count(1)
        self._seq = itertools.count(1)
        self._sockets: list[web.WebSocketResponse] = []
        self._runner: web.AppRunner | None = None
        self.base = ""
        self.changed = asyncio.Condition()

    # Server ------------------------------------------------------------------------------

    async def start(self) -> None:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_get("/gateway", self._gateway)
        app.router.add_get("/cdn/{path:.*}", self._cdn)
        app.router.add_route("*", "/api/v10/{path:.*}", self._rest)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.base = f"http://127.0.0.1:{port}"

    async def stop(self) -> None:
        for ws in list(self._sockets):
            await ws.close()
        if self._runner is not None:
            await self._runner.cleanup()

    @property
    def api_url(self) -> str:
        return f"{self.base}/api/v10"

    def new_id(self, *, age_s: float = 0.0) -> str:
        return snowflake(next(self._ids), age_s=age_s)

    # Gateway -----------------------------------------------------------------------------

    async def _gateway(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        self._sockets.append(ws)
        await ws.send_json({"op": 10, "d": {"heartbeat_interval": 41250}, "s": None, "t": None})
        try:
            async for msg in ws:
                if msg.type != WSMsgType.TEXT:
                    continue
                data = json.loads(msg.data)
                op = data.get("op")
                if op == 1:
                    await ws.send_json({"op": 11, "d": None, "s": None, "t": None})
                elif op == 2:
                    self.identified.set()
                    await self._send(ws, "READY", self._ready_payload())
                    await self._send(ws, "GUILD_CREATE", self.guild_payload())
                    self.ready.set()
        finally:
            self._sockets.remove(ws)
        return ws

    async def _send(self, ws: web.WebSocketResponse, event: str, data: Any) -> None:
        await ws.send_json({"op": 0, "t": event, "s": next(self._seq), "d": data})

    async def dispatch(self, event: str, data: Any) -> None:
        assert self._sockets, "no bot is connected to the gateway"
        for ws in list(self._sockets):
            await self._send(ws, event, data)

    def _ready_payload(self) -> dict[str, Any]:
        return {
            "v": 10,
            "user": user_payload(BOT_ID, "pictune", bot=True),
            "guilds": [{"id": str(GUILD_ID), "unavailable": True}],
            "session_id": "fake-session",
            "resume_gateway_url": f"{self.base.replace('http', 'ws')}/gateway",
            "application": {"id": str(APP_ID), "flags": 0},
            "shard": [0, 1],
        }

    def channel_payload(
        self, channel_id: int, name: str, *, hidden: bool = False
    ) -> dict[str, Any]:
        """A guild text channel; ``hidden``: its overwrites deny @everyone VIEW_CHANNEL."""
        overwrites = (
            [{"id": str(GUILD_ID), "type": 0, "allow": "0", "deny": str(VIEW_CHANNEL)}]
            if hidden
            else []
        )
        return {
            "id": str(channel_id),
            "type": 0,
            "guild_id": str(GUILD_ID),
            "name": name,
            "position": 0,
            "permission_overwrites": overwrites,
            "nsfw": False,
            "parent_id": None,
            "topic": None,
            "last_message_id": None,
            "rate_limit_per_user": 0,
        }

    def guild_payload(self) -> dict[str, Any]:
        return {
            "id": str(GUILD_ID),
            "name": "Test Server",
            "icon": None,
            "owner_id": str(ADMIN_USER_ID),
            "afk_channel_id": None,
            "afk_timeout": 300,
            "verification_level": 0,
            "default_message_notifications": 0,
            "explicit_content_filter": 0,
            "roles": [
                {
                    "id": str(GUILD_ID),
                    "name": "@everyone",
                    "permissions": MEMBER_PERMISSIONS,
                    "position": 0,
                    "color": 0,
                    "hoist": False,
                    "managed": False,
                    "mentionable": False,
                    "flags": 0,
                }
            ],
            "emojis": [],
            "stickers": [],
            "features": [],
            "mfa_level": 0,
            "system_channel_id": None,
            "system_channel_flags": 0,
            "rules_channel_id": None,
            "vanity_url_code": None,
            "description": None,
            "banner": None,
            "premium_tier": 0,
            "preferred_locale": "en-US",
            "public_updates_channel_id": None,
            "nsfw_level": 0,
            "premium_progress_bar_enabled": False,
            "unavailable": False,
            "member_count": 3,
            "large": False,
            "joined_at": datetime.now(UTC).isoformat(),
            "members": [],
            "channels": [
                self.channel_payload(CHANNEL_ID, "general"),
                self.channel_payload(COMMUNITY_ID, "pictune-gallery"),
                self.channel_payload(PRIVATE_CHANNEL_ID, "secret", hidden=True),
            ],
            "threads": [],
            "voice_states": [],
            "presences": [],
            "stage_instances": [],
            "guild_scheduled_events": [],
            "soundboard_sounds": [],
        }

    # CDN ---------------------------------------------------------------------------------

    def add_attachment(
        self,
        data: bytes,
        filename: str,
        content_type: str | None,
        *,
        size: int | None = None,
        serve: bool = True,
    ) -> dict[str, Any]:
        """An attachment payload whose URL this fake's CDN serves; ``size`` may lie (the
        metadata a client sees) while the bytes are what a download gets."""
        att_id = self.new_id()
        path = f"attachments/{CHANNEL_ID}/{att_id}/{filename}"
        if serve:
            self.cdn[path] = (data, content_type or "application/octet-stream")
        payload: dict[str, Any] = {
            "id": att_id,
            "filename": filename,
            "size": len(data) if size is None else size,
            "url": f"{self.base}/cdn/{path}?ex=1&is=2&hm=3",
            "proxy_url": f"{self.base}/cdn/{path}",
        }
        if content_type:
            payload["content_type"] = content_type
        return payload

    async def _cdn(self, request: web.Request) -> web.Response:
        self._record(request, None, {})
        found = self.cdn.get(request.match_info["path"])
        if found is None:
            return web.Response(status=404, text="not found")
        data, content_type = found
        return web.Response(body=data, content_type=content_type)

    # Interactions ------------------------------------------------------------------------

    def _member(self, user_id: int, permissions: str) -> dict[str, Any]:
        names = {USER_ID: "ada", OTHER_USER_ID: "grace", ADMIN_USER_ID: "boss"}
        return {
            "user": user_payload(user_id, names.get(user_id, "someone")),
            "roles": [],
            "joined_at": datetime.now(UTC).isoformat(),
            "deaf": False,
            "mute": False,
            "flags": 0,
            "permissions": permissions,
            "nick": None,
        }

    def _interaction(
        self,
        kind: int,
        data: dict[str, Any],
        *,
        user_id: int,
        permissions: str,
        message: dict[str, Any] | None = None,
        age_s: float = 0.0,
        dm: bool = False,
        place: int = CHANNEL_ID,
    ) -> dict[str, Any]:
        token = f"tok-{next(self._ids)}"
        payload: dict[str, Any] = {
            "id": self.new_id(age_s=age_s),
            "application_id": str(APP_ID),
            "type": kind,
            "token": token,
            "version": 1,
            "guild_id": str(GUILD_ID),
            "guild": {"id": str(GUILD_ID), "locale": "en-US", "features": []},
            "channel_id": str(place),
            "channel": self.place_payload(place),
            "member": self._member(user_id, permissions),
            "app_permissions": ALL_PERMISSIONS,
            "locale": "en-GB",
            "guild_locale": "en-US",
            "entitlements": [],
            "authorizing_integration_owners": {"0": str(GUILD_ID)},
            "context": 0,
            "attachment_size_limit": 10 * 1024 * 1024,
            "data": data,
        }
        if message is not None:
            payload["message"] = message
        if dm:  # a direct message with the bot: no guild, the person as ``user``
            for key in ("guild_id", "guild", "member", "guild_locale"):
                del payload[key]
            user = self._member(user_id, permissions)["user"]
            payload["user"] = user
            payload["channel_id"] = str(DM_CHANNEL_ID)
            payload["channel"] = {"id": str(DM_CHANNEL_ID), "type": 1, "recipients": [user]}
            payload["context"] = 1
            payload["authorizing_integration_owners"] = {"1": str(user_id)}
        self.interactions[token] = payload
        return payload

    def place_payload(self, place: int) -> dict[str, Any]:
        """The ``channel`` of an interaction used in ``place``, as Discord sends it."""
        if place == PRIVATE_THREAD_ID:
            return {
                "id": str(place),
                "type": 12,
                "guild_id": str(GUILD_ID),
                "name": "just us",
                "parent_id": str(CHANNEL_ID),
                "owner_id": str(USER_ID),
                "flags": 0,
                "message_count": 0,
                "member_count": 2,
                "rate_limit_per_user": 0,
                "last_message_id": None,
                "thread_metadata": {
                    "archived": False,
                    "auto_archive_duration": 1440,
                    "archive_timestamp": datetime.now(UTC).isoformat(),
                    "locked": False,
                    "invitable": False,
                },
            }
        names = {CHANNEL_ID: "general", COMMUNITY_ID: "pictune-gallery"}
        hidden = place == PRIVATE_CHANNEL_ID
        return self.channel_payload(place, names.get(place, "secret"), hidden=hidden)

    def _command_id(self, name: str) -> str:
        for command in self.commands.get("global", []):
            if command["name"] == name:
                return command["id"]
        return self.new_id()

    def slash(
        self,
        name: str,
        options: list[dict[str, Any]] | None = None,
        *,
        attachments: list[dict[str, Any]] | None = None,
        resolved: dict[str, Any] | None = None,
        user_id: int = USER_ID,
        permissions: str = MEMBER_PERMISSIONS,
        age_s: float = 0.0,
        dm: bool = False,
        place: int = CHANNEL_ID,
    ) -> dict[str, Any]:
        data: dict[str, Any] = {
            "id": self._command_id(name),
            "name": name,
            "type": 1,
            "options": options or [],
        }
        resolved = dict(resolved or {})
        if attachments:
            resolved["attachments"] = {a["id"]: a for a in attachments}
        if resolved:
            data["resolved"] = resolved
        return self._interaction(
            2, data, user_id=user_id, permissions=permissions, age_s=age_s, dm=dm, place=place
        )

    def user_message(
        self, attachments: list[dict[str, Any]], *, author: int = OTHER_USER_ID
    ) -> dict[str, Any]:
        """A message someone posted (for the context menu)."""
        message = self._message_payload(
            CHANNEL_ID,
            {"content": "", "attachments": attachments},
            author=user_payload(author, "grace"),
        )
        message["attachments"] = attachments
        self.messages[message["id"]] = message
        return message

    def context_menu(
        self, name: str, target: dict[str, Any], *, user_id: int = USER_ID
    ) -> dict[str, Any]:
        data = {
            "id": self._command_id(name),
            "name": name,
            "type": 3,
            "target_id": target["id"],
            "resolved": {"messages": {target["id"]: target}},
        }
        return self._interaction(2, data, user_id=user_id, permissions=MEMBER_PERMISSIONS)

    def button(
        self,
        message_id: str,
        custom_id: str,
        *,
        user_id: int = USER_ID,
        permissions: str = MEMBER_PERMISSIONS,
    ) -> dict[str, Any]:
        message = self.messages[message_id]
        data = {"custom_id": custom_id, "component_type": 2}
        return self._interaction(3, data, user_id=user_id, permissions=permissions, message=message)

    def modal_submit(
        self,
        modal: dict[str, Any],
        values: dict[str, str],
        *,
        user_id: int = USER_ID,
        message_id: str | None = None,
    ) -> dict[str, Any]:
        """The person sends a form the bot opened (``modal``: what the bot's callback
        carried), each text field set to ``values`` (the others to their default)."""
        rows = []
        for row in modal["components"]:
            field = row["components"][0] if row["type"] == 1 else row["component"]
            value = values.get(field["custom_id"], field.get("value") or "")
            rows.append(
                {
                    "type": 1,
                    "components": [{"type": 4, "custom_id": field["custom_id"], "value": value}],
                }
            )
        data = {"custom_id": modal["custom_id"], "components": rows}
        message = self.messages[message_id] if message_id else None
        return self._interaction(
            5, data, user_id=user_id, permissions=MEMBER_PERMISSIONS, message=message
        )

    def modals(self, interaction: dict[str, Any]) -> list[dict[str, Any]]:
        """The forms the bot opened in answer to ``interaction`` (callback type 9)."""
        return [
            rec.json["data"]
            for rec in self.calls("POST", f"/api/v10/interactions/{interaction['id']}/")
            if rec.json.get("type") == 9
        ]

    def reaction(
        self, message_id: str, emoji: str = "🔁", *, user_id: int = USER_ID
    ) -> dict[str, Any]:
        return {
            "user_id": str(user_id),
            "channel_id": self.messages[message_id]["channel_id"],
            "message_id": message_id,
            "guild_id": str(GUILD_ID),
            "member": self._member(user_id, MEMBER_PERMISSIONS),
            "emoji": {"id": None, "name": emoji},
            "burst": False,
            "type": 0,
            "message_author_id": str(BOT_ID),
        }

    # REST --------------------------------------------------------------------------------

    async def _read_body(self, request: web.Request) -> tuple[Any, dict[str, bytes]]:
        files: dict[str, bytes] = {}
        if request.content_type.startswith("multipart/"):
            payload: Any = None
            reader = await request.multipart()
            while (part := await reader.next()) is not None:
                content = await part.read()  # type: ignore[union-attr]
                if part.name == "payload_json":  # type: ignore[union-attr]
                    payload = json.loads(content)
                elif part.filename:  # type: ignore[union-attr]
                    files[part.filename] = bytes(content)  # type: ignore[union-attr]
            return payload, files
        raw = await request.read()
        return (json.loads(raw) if raw else None), files

    def _record(self, request: web.Request, body: Any, files: dict[str, bytes]) -> Recorded:
        rec = Recorded(request.method, request.path, dict(request.query), body, files)
        self.requests.append(rec)
        return rec

    async def _rest(self, request: web.Request) -> web.StreamResponse:
        body, files = await self._read_body(request)
        rec = self._record(request, body, files)
        parts = request.match_info["path"].strip("/").split("/")
        try:
            self._check_token(parts)
            if request.method in ("POST", "PATCH"):
                check_message(body.get("data") if "callback" in parts else body)
            result = await self._route(request.method, parts, body, files, request)
        except KeyError as exc:
            rec.status = 404
            return _json({"message": f"Unknown {exc}", "code": 10008}, status=404)
        except Refused as exc:
            rec.status = exc.status
            return _json(exc.body, status=exc.status)
        async with self.changed:
            self.changed.notify_all()
        if result is None:
            return web.Response(status=204)
        return _json(result)

    async def _route(
        self,
        method: str,
        parts: list[str],
        body: Any,
        files: dict[str, bytes],
        request: web.Request,
    ) -> Any:
        match (method, parts):
            case ("GET", ["users", "@me"]):
                return user_payload(BOT_ID, "pictune", bot=True)
            case ("GET", ["oauth2", "applications", "@me"]):
                return self._app_info()
            case ("GET", ["gateway", "bot"]):
                return {
                    "url": f"{self.base.replace('http', 'ws')}/gateway",
                    "shards": 1,
                    "session_start_limit": {
                        "total": 1000,
                        "remaining": 999,
                        "reset_after": 0,
                        "max_concurrency": 1,
                    },
                }
            case ("PUT", ["applications", _, "commands"]):
                return self._sync("global", body)
            case ("PUT", ["applications", _, "guilds", guild, "commands"]):
                return self._sync(guild, body)
            case ("POST", ["interactions", _, token, "callback"]):
                return self._callback(token, body, files)
            case ("GET", ["webhooks", _, token, "messages", "@original"]):
                return self.messages[self.originals[token]]
            case ("PATCH", ["webhooks", _, token, "messages", "@original"]):
                return self._edit(self.originals[token], body, files)
            case ("DELETE", ["webhooks", _, token, "messages", "@original"]):
                self.messages[self.originals[token]]["deleted"] = True
                return None
            case ("PATCH", ["webhooks", _, token, "messages", message_id]):
                return self._edit(message_id, body, files)
            case ("POST", ["webhooks", _, token]):
                message = self._create(self._channel_of(token), body, files, webhook=True)
                message["interaction_token"] = token
                return message
            case ("POST", ["channels", channel, "messages"]) if channel in self.threads:
                return self._post_in_thread(channel, body, files)
            case ("POST", ["channels", channel, "messages"]):
                return self._create(int(channel), body, files)
            case ("POST", ["channels", channel, "messages", message_id, "threads"]):
                return self._start_thread(channel, message_id, body)
            case ("PATCH", ["channels", _, "messages", message_id]):
                if int(self.messages[message_id].get("flags") or 0) & EPHEMERAL:
                    # Only the interaction's token edits an ephemeral message (Discord
                    # answers 10008 Unknown Message through the channel).
                    raise KeyError(message_id)
                return self._edit(message_id, body, files)
            case ("GET", ["channels", _, "messages", message_id]):
                return self.messages[message_id]
            case ("POST", ["users", "@me", "channels"]):
                return self._open_dm(body)
            case ("PUT", ["channels", _, "messages", message_id, "reactions", emoji, "@me"]):
                self.messages[message_id].setdefault("reactions_added", []).append(emoji)
                return None
        raise KeyError("/".join(parts))

    def _check_token(self, parts: list[str]) -> None:
        """Webhook routes of an interaction stop working 15 minutes after it was made."""
        if len(parts) < 3 or parts[0] != "webhooks":
            return
        interaction = self.interactions.get(parts[2])
        if interaction is None:
            return
        made = ((int(interaction["id"]) >> 22) + DISCORD_EPOCH_MS) / 1000
        if time.time() - made > TOKEN_LIFE_S:
            raise Refused(401, {"message": "Invalid Webhook Token", "code": 50027})

    def _app_info(self) -> dict[str, Any]:
        return {
            "id": str(APP_ID),
            "name": "Pictune",
            "icon": None,
            "description": "",
            "bot_public": True,
            "bot_require_code_grant": False,
            "owner": user_payload(ADMIN_USER_ID, "boss"),
            "verify_key": "0" * 64,
            "flags": 0,
            "summary": "",
            "team": None,
        }

    def _sync(self, scope: str, body: list[dict[str, Any]]) -> list[dict[str, Any]]:
        out = []
        for command in body:
            command = dict(command)
            command.setdefault("id", self.new_id())
            command["application_id"] = str(APP_ID)
            command.setdefault("version", self.new_id())
            command.setdefault("default_member_permissions", None)
            command.setdefault("dm_permission", True)
            command.setdefault("type", 1)
            command.setdefault("description", "")
            out.append(command)
        self.commands[scope] = out
        return out

    def _callback(
        self, token: str, body: dict[str, Any], files: dict[str, bytes]
    ) -> dict[str, Any]:
        interaction = self.interactions[token]
        kind = body["type"]
        data = body.get("data") or {}
        result: dict[str, Any] = {
            "interaction": {"id": interaction["id"], "type": interaction["type"]}
        }
        if kind in (4, 5):  # a message now, or "thinking…" to be edited later
            message = self._create(self._channel_of(token), data, files, webhook=True)
            if kind == 5:
                message["loading"] = True
                message["flags"] = int(data.get("flags", 0)) | 128
            message["interaction_token"] = token
            self.originals[token] = message["id"]
            result["interaction"]["response_message_id"] = message["id"]
            result["interaction"]["response_message_loading"] = kind == 5
            result["interaction"]["response_message_ephemeral"] = bool(
                int(data.get("flags", 0)) & EPHEMERAL
            )
            result["resource"] = {"type": kind, "message": message}
        elif kind == 7:  # update the message the component is on
            message_id = interaction["message"]["id"]
            message = self._edit(message_id, data, files)
            self.originals[token] = message_id
            result["resource"] = {"type": kind, "message": message}
        elif kind == 6:
            self.originals[token] = interaction["message"]["id"]
        return result

    def _message_payload(
        self, channel_id: int, body: dict[str, Any], *, author: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        return {
            "id": self.new_id(),
            "channel_id": str(channel_id),
            "guild_id": str(GUILD_ID),
            "type": 0,
            "content": body.get("content") or "",
            "author": author or user_payload(BOT_ID, "pictune", bot=True),
            "embeds": body.get("embeds") or [],
            "attachments": [],
            "components": body.get("components") or [],
            "flags": int(body.get("flags") or 0),
            "timestamp": datetime.now(UTC).isoformat(),
            "edited_timestamp": None,
            "mentions": [],
            "mention_roles": [],
            "pinned": False,
            "mention_everyone": False,
            "tts": False,
        }

    def _attachments(self, body: dict[str, Any], files: dict[str, bytes]) -> list[dict[str, Any]]:
        out = []
        for i, (name, data) in enumerate(files.items()):
            att_id = self.new_id()
            self.files[att_id] = data
            out.append(
                {
                    "id": att_id,
                    "filename": name,
                    "size": len(data),
                    "url": f"{self.base}/cdn/uploads/{att_id}/{name}",
                    "proxy_url": f"{self.base}/cdn/uploads/{att_id}/{name}",
                    "index": i,
                }
            )
        return out

    def _create(
        self,
        channel_id: int,
        body: dict[str, Any] | None,
        files: dict[str, bytes],
        *,
        webhook: bool = False,
    ) -> dict[str, Any]:
        body = body or {}
        message = self._message_payload(channel_id, body)
        if webhook:
            message["webhook_id"] = str(APP_ID)
            message["application_id"] = str(APP_ID)
        message["attachments"] = self._attachments(body, files)
        if body.get("message_reference"):
            message["message_reference"] = body["message_reference"]
        if str(channel_id) in self.dm_channels.values():
            del message["guild_id"]
        self.messages[message["id"]] = message
        return message

    def _open_dm(self, body: dict[str, Any]) -> dict[str, Any]:
        """POST /users/@me/channels: the bot's DM channel with ``recipient_id``."""
        user_id = str(body["recipient_id"])
        channel_id = self.dm_channels.setdefault(user_id, self.new_id())
        names = {str(USER_ID): "ada", str(OTHER_USER_ID): "grace"}
        return {
            "id": channel_id,
            "type": 1,
            "last_message_id": None,
            "recipients": [user_payload(int(user_id), names.get(user_id, "someone"))],
        }

    def dm_messages(self, user_id: int = USER_ID) -> list[dict[str, Any]]:
        """The messages the bot sent to ``user_id`` by DM, oldest first."""
        channel_id = self.dm_channels.get(str(user_id))
        return [m for m in self.messages.values() if m["channel_id"] == channel_id]

    def _channel_of(self, token: str) -> int:
        """The channel an interaction's answers go to (where it was used)."""
        interaction = self.interactions.get(token)
        return int(interaction["channel_id"]) if interaction else CHANNEL_ID

    # Threads -----------------------------------------------------------------------------

    def _start_thread(
        self, channel_id: str, message_id: str, body: dict[str, Any] | None
    ) -> dict[str, Any]:
        """POST /channels/{channel.id}/messages/{message.id}/threads: a public thread (a
        channel of type 11) whose id is the message's, as Discord documents."""
        message = self.messages[message_id]
        if message["channel_id"] != channel_id:
            raise KeyError(f"message {message_id} in channel {channel_id}")
        status = self.refuse_threads.get(channel_id)
        if status is not None:
            raise Refused(status, THREAD_REFUSALS[status])
        body = body or {}
        name = body.get("name")
        archive = body.get("auto_archive_duration", 1440)
        invalid = (
            not isinstance(name, str)
            or not 1 <= len(name) <= 100
            or archive not in THREAD_ARCHIVE_MINUTES
            or channel_id in self.dm_channels.values()
            or int(message.get("flags") or 0) & EPHEMERAL
            or message_id in self.threads
        )
        if invalid:
            raise Refused(400, {"message": "Invalid Form Body", "code": 50035})
        now = datetime.now(UTC).isoformat()
        thread = {
            "id": message_id,
            "guild_id": str(GUILD_ID),
            "parent_id": channel_id,
            "owner_id": str(BOT_ID),
            "name": name,
            "type": 11,
            "last_message_id": None,
            "message_count": 0,
            "member_count": 1,
            "rate_limit_per_user": body.get("rate_limit_per_user") or 0,
            "flags": 0,
            "thread_metadata": {
                "archived": False,
                "auto_archive_duration": archive,
                "archive_timestamp": now,
                "locked": False,
                "create_timestamp": now,
            },
            "member": {"id": message_id, "user_id": str(BOT_ID), "join_timestamp": now, "flags": 0},
            "total_message_sent": 0,
            "messages": [],  # not Discord's: the ids of the messages posted in it, in order
        }
        self.threads[message_id] = thread
        message["thread"] = {k: v for k, v in thread.items() if k != "messages"}
        return message["thread"]

    def _post_in_thread(
        self, thread_id: str, body: dict[str, Any] | None, files: dict[str, bytes]
    ) -> dict[str, Any]:
        content = (body or {}).get("content") or ""
        if not (content.strip() or files) or len(content) > MESSAGE_MAX:
            raise Refused(400, {"message": "Invalid Form Body", "code": 50035})
        thread = self.threads[thread_id]
        message = self._create(int(thread_id), body, files)
        thread["messages"].append(message["id"])
        thread["message_count"] += 1
        thread["total_message_sent"] += 1
        thread["last_message_id"] = message["id"]
        return message

    def _edit(
        self, message_id: str, body: dict[str, Any] | None, files: dict[str, bytes]
    ) -> dict[str, Any]:
        message = self.messages[message_id]
        body = body or {}
        for key in ("content", "embeds", "components", "flags"):
            if key in body:
                message[key] = (
                    body[key] if body[key] is not None else ([] if key != "content" else "")
                )
        if "attachments" in body or files:
            kept_ids = {str(a.get("id")) for a in body.get("attachments") or []}
            kept = [a for a in message["attachments"] if str(a["id"]) in kept_ids]
            message["attachments"] = kept + self._attachments(body, files)
        message["loading"] = False
        message["edited_timestamp"] = datetime.now(UTC).isoformat()
        message.setdefault("edits", 0)
        message["edits"] += 1
        return message

    # Helpers for tests -------------------------------------------------------------------

    def calls(self, method: str, prefix: str) -> list[Recorded]:
        return [r for r in self.requests if r.method == method and r.path.startswith(prefix)]

    async def wait_for(self, predicate: Any, timeout: float = 60.0) -> Any:
        """Wait until ``predicate()`` returns something truthy; return it."""
        deadline = time.monotonic() + timeout
        async with self.changed:
            while True:
                value = predicate()
                if value:
                    return value
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError("the fake Discord did not see what was expected")
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.changed.wait(), timeout=min(remaining, 0.5))

    def thread_texts(self, thread_id: str) -> list[str]:
        """The contents of the messages posted in a thread, in order."""
        return [self.messages[m]["content"] for m in self.threads[thread_id]["messages"]]

    def thread_posts(self, thread_id: str) -> list[Recorded]:
        """The requests that posted in a thread (to check their allowed_mentions)."""
        return self.calls("POST", f"/api/v10/channels/{thread_id}/messages")

    def original(self, interaction: dict[str, Any]) -> dict[str, Any] | None:
        message_id = self.originals.get(interaction["token"])
        return None if message_id is None else self.messages[message_id]

    def followups(self, interaction: dict[str, Any]) -> list[dict[str, Any]]:
        return [
            m
            for m in self.messages.values()
            if m.get("interaction_token") == interaction["token"]
            and m["id"] != self.originals.get(interaction["token"])
        ]


def check_message(body: Any) -> None:
    """Discord's limits on a message's content and embeds (400, Invalid Form Body)."""
    if not isinstance(body, dict):
        return
    problems = []
    if len(str(body.get("content") or "")) > MESSAGE_MAX:
        problems.append("content: Must be 2000 or fewer in length.")
    embeds = body.get("embeds") or []
    if len(embeds) > EMBEDS_MAX:
        problems.append("embeds: Must be 10 or fewer in length.")
    for embed in embeds:
        texts = {
            "title": embed.get("title") or "",
            "description": embed.get("description") or "",
            "footer": (embed.get("footer") or {}).get("text") or "",
            "author": (embed.get("author") or {}).get("name") or "",
        }
        problems += [f"embeds.{k}: too long" for k, v in texts.items() if len(v) > EMBED_LIMITS[k]]
        fields = embed.get("fields") or []
        if len(fields) > 25:
            problems.append("embeds.fields: Must be 25 or fewer in length.")
        for f in fields:
            if len(f.get("name") or "") > 256 or len(f.get("value") or "") > 1024:
                problems.append("embeds.fields: too long")
            if not f.get("name") or not f.get("value"):
                problems.append("embeds.fields: This field is required")
        total = sum(len(v) for v in texts.values()) + sum(
            len(f.get("name") or "") + len(f.get("value") or "") for f in fields
        )
        if total > EMBED_TOTAL_MAX:
            problems.append("embeds: Embed size exceeds maximum size of 6000")
    if problems:
        raise Refused(400, {"message": "Invalid Form Body", "code": 50035, "errors": problems})
