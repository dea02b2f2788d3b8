"""A stand-in for the Slack Web API on loopback, for tests.

Slack's own mock server is not in the slack_bolt wheel, so this one is written from the
API's documented behaviour, only as far as Pictune uses it:

- ``POST /api/<method>``: the Web API. Arguments are read from the query string, a form
  or a JSON body (slack_sdk uses all three); the bearer token is checked on every call.
- ``GET /files-pri/<id>/<name>``: ``url_private_download``. With the right bearer token the
  file's bytes; without it (or for a file marked ``login_page``) an HTML login page with
  status 200, which is what Slack answers when the token lacks ``files:read``.
- ``POST /upload/<id>``: the URL that ``files.getUploadURLExternal`` hands out; step 2 of
  ``files_upload_v2``. ``files.completeUploadExternal`` (step 3) shares the uploaded files
  into a channel or thread as one message carrying them, and only then do they count as
  uploads. Its answer lists the files with their ``shares`` (channel -> message ts), as
  files.info does; with ``report_shares=False`` without them (Slack shares files
  asynchronously, so a real answer may not know the message yet).
- ``POST /respond/<token>``: a slash command's or action's ``response_url``.
- "Add to Slack" (OAuth v2), for several workspaces (``add_team``: each its own bot
  token): ``GET /oauth/v2/authorize`` is the page where a person approves the app; the fake
  approves at once for the ``team`` asked (default: the first one) and redirects to the
  ``redirect_uri`` (or the app's configured ``redirect_url``) with a one-use ``code`` and
  the ``state`` it was given. ``oauth.v2.access`` checks the client id and secret (HTTP
  Basic, or form fields) and the code, and answers as Slack does (``access_token``,
  ``bot_user_id``, ``team``, ``scope``, ``authed_user``); from then on that team's bot
  token works. Every Web API call is recorded with the token it used; each answers as the
  token's team (``auth.test``, the bot user of posted messages); a file hosted for a team
  downloads only with that team's token. ``uninstall`` revokes a team's token.
- Socket Mode: ``apps.connections.open`` takes the app-level token (``xapp-...``, in the
  Authorization header only, as Slack's docs require) and hands out a one-use
  ``ws://127.0.0.1:PORT/link/?ticket=...``. That WebSocket says ``hello``, then carries the
  envelopes a test pushes (``push_event``, ``push_command``, ``push_interaction``: the
  ``events_api``, ``slash_commands`` and ``interactive`` envelopes of Slack's Socket Mode)
  and records the app's acks (``envelope_id``, optional ``payload``) with how long each
  took. ``close_connections`` drops the app's sockets; ``ask_to_reconnect`` sends the
  ``disconnect`` message Slack sends before it rotates a connection.

What the platform enforces, the fake enforces too (so a test fails as Slack would):

- **Channel membership.** The bot is a member of ``joined`` (and of every DM). In a public
  channel it is not in, ``chat.postMessage`` works (``chat:write.public``) but
  ``files.completeUploadExternal``, ``chat.postEphemeral``, ``conversations.history`` and
  ``conversations.replies`` answer ``not_in_channel``; ``conversations.join`` (the
  ``channels:join`` scope) makes it a member. A private channel it is not in does not exist
  for it (``channel_not_found`` everywhere; ``conversations.join`` cannot join one). A
  file hosted in a channel downloads only for a member of it (otherwise the sign-in page,
  as Slack answers); events come only from channels the bot is in (``mention`` refuses).
- **Rate limits.** ``rate_limits`` (method -> calls per window per workspace; Tier 3
  ``chat.update`` by default, about 50 a minute) answer HTTP 429 ``ratelimited`` with
  ``Retry-After`` once spent.
- **Block Kit.** ``blocks`` of messages and views are parsed and validated with
  slack_sdk's models (section 3,000 characters, header 150, 10 fields, ...), at most 50
  per message; a message's ``text`` at most 40,000 characters: ``invalid_blocks`` /
  ``msg_too_long`` otherwise.

Every call is recorded in ``calls``; the messages, files and uploads it made are kept so a
test can assert what a person would see in a thread. The server runs its own event loop in
a thread, so it serves while the test's loop (and the Bolt app on it) are busy.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import itertools
import json
import math
import secrets
import threading
import time
import uuid
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlencode

from aiohttp import WSMsgType, web
from slack_sdk.errors import SlackObjectFormationError
from slack_sdk.models.blocks import Block

from tests.bot.slack.signed import command_fields, event_fields

LOGIN_PAGE = (
    b"<!DOCTYPE html><html lang='en-US'><head><title>Slack</title></head>"
    b"<body><form id='signin_form' action='/signin'>Sign in to Slack</form></body></html>"
)


@dataclass
class Call:
    method: str  # "chat.postMessage", or "upload", "download", "respond"
    args: dict[str, Any]
    token: str | None


@dataclass
class HostedFile:
    id: str
    name: str
    mimetype: str
    data: bytes
    login_page: bool = False  # answer the HTML login page whatever the token
    size: int | None = None  # what the metadata claims (defaults to the real size)
    user: str = "U_ALICE"
    team: str | None = None  # only this team's bot token downloads it (None: any team's)
    channel: str | None = None  # shared there: only a member of it may download it


@dataclass
class Upload:
    """One file shared by ``files.completeUploadExternal``."""

    id: str
    filename: str
    title: str | None
    data: bytes
    channel: str | None
    thread_ts: str | None
    initial_comment: str | None


@dataclass
class FakeTeam:
    """A workspace, with the bot token Pictune gets there when it is installed."""

    team_id: str
    name: str
    bot_token: str
    bot_user_id: str
    bot_id: str
    installed: bool = False  # its bot token works (from the start, or after oauth.v2.access)
    scopes: list[str] = field(default_factory=list)  # granted by the last install


@dataclass
class Grant:
    """A code handed out by the authorize page, for ``oauth.v2.access`` to exchange once."""

    team_id: str
    scopes: list[str]
    redirect_uri: str | None  # as given to the authorize page (it must come again)


@dataclass
class SocketAck:
    """What the app sent back over Socket Mode for one envelope."""

    envelope_id: str
    payload: dict[str, Any] | None
    delay: float | None  # seconds from sending the envelope (None: no such envelope)
    connection: int  # which connection carried it (1 = the first one opened)


@dataclass
class FakeSlack:
    bot_token: str = "xoxb-test-token"
    team_id: str = "T_TEAM"
    bot_user_id: str = "U_PICTUNE"
    bot_id: str = "B_PICTUNE"
    admins: set[str] = field(default_factory=lambda: {"U_ADMIN"})
    calls: list[Call] = field(default_factory=list)
    files: dict[str, HostedFile] = field(default_factory=dict)
    uploads: list[Upload] = field(default_factory=list)
    messages: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    responses: list[dict[str, Any]] = field(default_factory=list)
    report_shares: bool = True
    app_token: str = "xapp-1-A_PICTUNE-1-test-app-token"
    app_id: str = "A_PICTUNE"
    acks: list[SocketAck] = field(default_factory=list)
    socket_messages: list[Any] = field(default_factory=list)  # anything else the app sent
    connections: int = 0  # Socket Mode connections opened so far (each said hello)
    # Add to Slack: the app's credentials and configured Redirect URL, the workspaces.
    client_id: str = "4412345678901.5512345678901"
    client_secret: str = "5b3f1c9e0d2a47b6a8c4e2f1d0b9a7c6"
    redirect_url: str | None = None
    installer: str = "U_INSTALLER"  # who approves on the authorize page
    teams: dict[str, FakeTeam] = field(default_factory=dict)
    authorizations: list[dict[str, str]] = field(default_factory=list)  # authorize visits
    # Private channels ("C" ids, as Slack gives new ones); conversations.info says so.
    private_channels: set[str] = field(default_factory=set)
    # Channels the bot is a member of (DMs always); conversations.join adds public ones.
    joined: set[str] = field(default_factory=lambda: {"C_GENERAL"})
    chat_write_public: bool = True  # the chat:write.public scope: post where not a member
    # Per workspace: method -> (calls allowed, per this many seconds); then HTTP 429.
    rate_limits: dict[str, tuple[int, float]] = field(
        default_factory=lambda: {"chat.update": (50, 60.0)}
    )
    rate_limited: list[Call] = field(default_factory=list)  # the calls answered with 429

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self._clock = itertools.count(1)
        self._pending: dict[str, dict[str, Any]] = {}  # file id -> getUploadURLExternal args
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None
        self.port = 0
        self._tickets: set[str] = set()  # issued by apps.connections.open, one use each
        self._sockets: list[web.WebSocketResponse] = []  # open ones (server loop only)
        self._sent_at: dict[str, float] = {}  # envelope id -> when it was sent
        self._grants: dict[str, Grant] = {}  # OAuth codes not yet exchanged
        self._caller: FakeTeam | None = None  # the team of the Web API call being answered
        self._rate: dict[tuple[str, str], list[float]] = {}  # (team, method) -> call times
        # The first workspace is the one the single bot token was installed in.
        self.teams.setdefault(
            self.team_id,
            FakeTeam(
                self.team_id, "Pictune Test", self.bot_token, self.bot_user_id, self.bot_id, True
            ),
        )

    # ------------------------------------------------------------------ lifecycle
    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def api_url(self) -> str:
        """What ``WebClient(base_url=...)`` wants: ends with a slash."""
        return f"{self.base_url}/api/"

    def start(self) -> FakeSlack:
        ready = threading.Event()

        def serve() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            asyncio.set_event_loop(loop)
            app = web.Application(client_max_size=64 * 2**20)
            app.router.add_post("/api/{method}", self._api)
            app.router.add_get("/api/{method}", self._api)
            app.router.add_get("/files-pri/{id}/{name}", self._download)
            app.router.add_post("/upload/{id}", self._upload)
            app.router.add_post("/respond/{token}", self._respond)
            app.router.add_get("/link/", self._socket_link)
            app.router.add_get("/oauth/v2/authorize", self._authorize)
            self._runner = web.AppRunner(app, access_log=None)
            loop.run_until_complete(self._runner.setup())
            site = web.TCPSite(self._runner, "127.0.0.1", 0)
            loop.run_until_complete(site.start())
            self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
            ready.set()
            loop.run_forever()
            loop.run_until_complete(self._runner.cleanup())
            loop.close()

        self._thread = threading.Thread(target=serve, name="fake-slack", daemon=True)
        self._thread.start()
        if not ready.wait(10):
            raise RuntimeError("the fake Slack server did not start")
        return self

    def stop(self) -> None:
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
        if self._thread is not None:
            self._thread.join(10)

    # ------------------------------------------------------------------ test helpers
    def next_ts(self) -> str:
        """Slack message timestamps: unique, increasing strings."""
        return f"1700000000.{next(self._clock):06d}"

    def add_team(self, team_id: str, name: str, *, installed: bool = False) -> FakeTeam:
        """Another workspace, with a bot token of its own that works once Pictune is
        installed there (``installed=True``: already)."""
        digits = "".join(str(secrets.randbelow(10)) for _ in range(26))
        token = f"xoxb-{digits[:13]}-{digits[13:]}-{secrets.token_hex(12)}"
        team = FakeTeam(
            team_id, name, token, f"U_PICTUNE_{team_id}", f"B_PICTUNE_{team_id}", installed
        )
        with self._lock:
            self.teams[team_id] = team
        return team

    def uninstall(self, team_id: str) -> None:
        """Pictune removed from a workspace: Slack revokes its token."""
        with self._lock:
            self.teams[team_id].installed = False

    def team_of_token(self, token: str | None) -> FakeTeam | None:
        """The workspace whose working bot token this is."""
        with self._lock:
            return next(
                (t for t in self.teams.values() if t.installed and t.bot_token == token), None
            )

    def host_file(
        self,
        name: str,
        data: bytes,
        mimetype: str = "image/png",
        *,
        login_page: bool = False,
        size: int | None = None,
        team: str | None = None,
        channel: str | None = None,
    ) -> dict[str, Any]:
        """Put a file on the fake file server; returns its Slack file object. ``channel``:
        where it was shared (only a member of it may download it)."""
        file_id = f"F{next(self._ids):08d}"
        hosted = HostedFile(
            file_id, name, mimetype, data, login_page, size, team=team, channel=channel
        )
        with self._lock:
            self.files[file_id] = hosted
        return self.file_object(hosted)

    def file_object(self, f: HostedFile) -> dict[str, Any]:
        url = f"{self.base_url}/files-pri/{f.team or self.team_id}-{f.id}/{f.name}"
        return {
            "id": f.id,
            "name": f.name,
            "title": f.name,
            "mimetype": f.mimetype,
            "filetype": f.name.rsplit(".", 1)[-1].lower(),
            "size": f.size if f.size is not None else len(f.data),
            "user": f.user,
            "mode": "hosted",
            "url_private": url,
            "url_private_download": url + "?download=1",
        }

    def add_user_message(
        self,
        channel: str,
        user: str,
        text: str,
        files: list[dict[str, Any]] | None = None,
        thread_ts: str | None = None,
    ) -> dict[str, Any]:
        """A message a person posted (so conversations.* can find it); returns it."""
        ts = self.next_ts()
        message: dict[str, Any] = {"type": "message", "user": user, "text": text, "ts": ts}
        if files:
            message["files"] = files
            message["subtype"] = "file_share"
            message["upload"] = True
        if thread_ts:
            message["thread_ts"] = thread_ts
        with self._lock:
            self.messages[(channel, ts)] = message | {"channel": channel}
        return message

    def mention(
        self,
        channel: str,
        user: str,
        text: str,
        files: list[dict[str, Any]],
        bot_user_id: str | None = None,
    ) -> dict[str, Any]:
        """A person's message with files that mentions Pictune (posted, so conversations.*
        find it), as the app_mention event Slack sends for it."""
        if not self.is_member(channel):
            raise AssertionError(f"Slack sends no events from {channel}: the bot is not in it")
        body = f"<@{bot_user_id or self.bot_user_id}> {text}".strip()
        message = self.add_user_message(channel, user, body, files=files)
        return {
            "type": "app_mention",
            "channel": channel,
            "user": user,
            "text": body,
            "ts": message["ts"],
            "event_ts": message["ts"],
            "files": files,
        }

    def is_member(self, channel: str) -> bool:
        with self._lock:
            return channel.startswith("D") or channel in self.joined

    def is_private(self, channel: str) -> bool:
        return channel.startswith(("D", "G")) or channel in self.private_channels

    def _membership_error(self, channel: str | None) -> str | None:
        """What Slack answers a call that needs membership of ``channel``."""
        if not channel or self.is_member(channel):
            return None
        return "channel_not_found" if self.is_private(channel) else "not_in_channel"

    def calls_to(self, method: str) -> list[Call]:
        with self._lock:
            return [c for c in self.calls if c.method == method]

    def uploads_in(self, channel: str, thread_ts: str) -> list[Upload]:
        with self._lock:
            return [u for u in self.uploads if u.channel == channel and u.thread_ts == thread_ts]

    def thread(self, channel: str, thread_ts: str) -> list[dict[str, Any]]:
        """Bot and user messages in a thread (replies only), oldest first."""
        with self._lock:
            found = [
                m
                for (c, _), m in self.messages.items()
                if c == channel and m.get("thread_ts") == thread_ts and m["ts"] != thread_ts
            ]
        return sorted(found, key=lambda m: m["ts"])

    def thread_text(self, channel: str, thread_ts: str) -> str:
        """Everything written in a thread, text and Block Kit text, for assertions."""
        return "\n".join(message_text(m) for m in self.thread(channel, thread_ts))

    async def wait_for(
        self, predicate: Callable[[], Any], timeout: float = 60.0, what: str = "condition"
    ) -> Any:
        """Poll until ``predicate()`` is truthy (from the test's event loop)."""
        deadline = time.monotonic() + timeout
        while True:
            value = predicate()
            if value:
                return value
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {what}; calls: {self.summary()}")
            await asyncio.sleep(0.05)

    def summary(self) -> list[str]:
        with self._lock:
            return [c.method for c in self.calls]

    # ------------------------------------------------------------------ HTTP handlers
    @staticmethod
    def _token(request: web.Request) -> str | None:
        auth = request.headers.get("Authorization", "")
        return auth[7:] if auth.startswith("Bearer ") else None

    @staticmethod
    async def _args(request: web.Request) -> dict[str, Any]:
        args: dict[str, Any] = dict(request.query)
        ctype = request.content_type
        if ctype == "application/json":
            body = await request.text()
            if body:
                args.update(json.loads(body))
        elif ctype in ("application/x-www-form-urlencoded", "multipart/form-data"):
            form = await request.post()
            args.update({k: v for k, v in form.items() if isinstance(v, str)})
        else:
            body = await request.text()
            if body:
                args.update(parse_qsl(body))
        # Structured arguments arrive as JSON strings when sent as a form or query.
        for key in ("blocks", "files", "view", "metadata", "attachments"):
            if isinstance(args.get(key), str):
                with contextlib.suppress(ValueError):
                    args[key] = json.loads(args[key])
        return args

    def _record(self, method: str, args: dict[str, Any], token: str | None) -> None:
        with self._lock:
            self.calls.append(Call(method, args, token))

    async def _api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        args = await self._args(request)
        token = self._token(request) or args.pop("token", None)
        self._record(method, args, token)
        if method == "apps.connections.open":
            return web.json_response(self._connections_open(self._token(request)))
        if method == "oauth.v2.access":
            return web.json_response(self._oauth_access(request, args))
        team = self.team_of_token(token)
        if team is None:
            return web.json_response({"ok": False, "error": "invalid_auth"})
        handler = getattr(self, "_m_" + method.replace(".", "_"), None)
        if handler is None:
            return web.json_response({"ok": False, "error": "unknown_method"})
        retry_after = self._spend(team.team_id, method)
        if retry_after is not None:
            with self._lock:
                self.rate_limited.append(Call(method, args, token))
            return web.json_response(
                {"ok": False, "error": "ratelimited"},
                status=429,
                headers={"Retry-After": str(retry_after)},
            )
        problem = self._check_blocks(args)
        if problem is not None:
            return web.json_response({"ok": False, "error": problem})
        # Handlers are synchronous: nothing else runs on this loop until it returns.
        self._caller = team
        try:
            result = handler(args)
        finally:
            self._caller = None
        return web.json_response({"ok": True} | result)

    def _spend(self, team: str, method: str) -> int | None:
        """None when the call is within ``rate_limits``; else the seconds to wait."""
        limit = self.rate_limits.get(method)
        if limit is None:
            return None
        allowed, window = limit
        now = time.monotonic()
        with self._lock:
            times = [t for t in self._rate.get((team, method), []) if now - t < window]
            if len(times) >= allowed:
                self._rate[(team, method)] = times
                return max(1, math.ceil(window - (now - times[0])))
            times.append(now)
            self._rate[(team, method)] = times
        return None

    @staticmethod
    def _check_blocks(args: dict[str, Any]) -> str | None:
        """Block Kit as Slack checks it: slack_sdk's models validate each block."""
        if len(str(args.get("text") or "")) > 40_000:
            return "msg_too_long"
        view = args.get("view")
        blocks = args.get("blocks")
        if isinstance(view, dict):
            blocks = view.get("blocks")
            if len(blocks or []) > 100:
                return "invalid_arguments"
        elif blocks is not None and len(blocks) > 50:
            return "invalid_blocks"
        for block in blocks or []:
            parsed = Block.parse(block) if isinstance(block, dict) else None
            if parsed is None:
                return "invalid_blocks"
            try:
                parsed.validate_json()
            except SlackObjectFormationError:
                return "invalid_blocks"
        return None

    async def _download(self, request: web.Request) -> web.Response:
        file_id = request.match_info["id"].split("-", 1)[-1]
        token = self._token(request)
        self._record("download", {"file": file_id}, token)
        hosted = self.files.get(file_id)
        if hosted is None:
            return web.Response(status=404, text="file not found")
        team = self.team_of_token(token)
        if (
            hosted.login_page
            or team is None
            or hosted.team not in (None, team.team_id)
            or (hosted.channel is not None and not self.is_member(hosted.channel))
        ):
            return web.Response(body=LOGIN_PAGE, content_type="text/html")
        return web.Response(body=hosted.data, content_type=hosted.mimetype)

    async def _upload(self, request: web.Request) -> web.Response:
        file_id = request.match_info["id"]
        data = await request.read()
        self._record("upload", {"file": file_id, "length": len(data)}, self._token(request))
        with self._lock:
            pending = self._pending.get(file_id)
            if pending is None:
                return web.Response(status=404, text="unknown upload")
            if int(pending.get("length", -1)) != len(data):
                return web.Response(status=400, text="length mismatch")
            pending["data"] = data
        return web.Response(text=f"OK - {len(data)}")

    async def _respond(self, request: web.Request) -> web.Response:
        body = await request.json()
        self._record("respond", body, None)
        with self._lock:
            self.responses.append(body)
        return web.Response(text="ok")

    # ------------------------------------------------------------------ Add to Slack
    async def _authorize(self, request: web.Request) -> web.Response:
        """Slack's authorize page: the person approves at once, for the team asked."""
        query = dict(request.query)
        with self._lock:
            self.authorizations.append(query)
        if query.get("client_id") != self.client_id:
            return web.Response(status=400, text="invalid_client_id")
        asked_redirect = query.get("redirect_uri") or None
        if asked_redirect and self.redirect_url and asked_redirect != self.redirect_url:
            return web.Response(status=400, text="bad_redirect_uri")
        redirect = asked_redirect or self.redirect_url
        team_id = query.get("team") or self.team_id
        if redirect is None or team_id not in self.teams:
            return web.Response(status=400, text="bad_redirect_uri or unknown team")
        code = f"{secrets.randbelow(10**12)}.{secrets.token_hex(16)}"
        scopes = [s for s in query.get("scope", "").split(",") if s]
        with self._lock:
            self._grants[code] = Grant(team_id, scopes, asked_redirect)
        back = urlencode({"code": code, "state": query.get("state", "")})
        raise web.HTTPFound(f"{redirect}?{back}")

    def _oauth_access(self, request: web.Request, args: dict[str, Any]) -> dict[str, Any]:
        """``oauth.v2.access``: a code from the authorize page for the team's bot token."""
        client_id, client_secret = args.get("client_id"), args.get("client_secret")
        auth = request.headers.get("Authorization", "")
        if auth.startswith("Basic "):
            client_id, _, client_secret = base64.b64decode(auth[6:]).decode().partition(":")
        if client_id != self.client_id:
            return {"ok": False, "error": "invalid_client_id"}
        if client_secret != self.client_secret:
            return {"ok": False, "error": "bad_client_secret"}
        with self._lock:
            grant = self._grants.pop(str(args.get("code", "")), None)
        if grant is None:
            return {"ok": False, "error": "invalid_code"}
        if grant.redirect_uri is not None and args.get("redirect_uri") != grant.redirect_uri:
            return {"ok": False, "error": "bad_redirect_uri"}
        with self._lock:
            team = self.teams[grant.team_id]
            team.installed = True
            team.scopes = list(grant.scopes)
        return {
            "ok": True,
            "app_id": self.app_id,
            "authed_user": {"id": self.installer},
            "scope": ",".join(grant.scopes),
            "token_type": "bot",
            "access_token": team.bot_token,
            "bot_user_id": team.bot_user_id,
            "team": {"id": team.team_id, "name": team.name},
            "enterprise": None,
            "is_enterprise_install": False,
        }

    def _team(self) -> FakeTeam:
        """The team of the call being answered (the first one outside a call)."""
        return self._caller or self.teams[self.team_id]

    # ------------------------------------------------------------------ Socket Mode
    def _connections_open(self, token: str | None) -> dict[str, Any]:
        """``apps.connections.open``: a WebSocket URL for an app-level token (never a bot
        token, and never a token passed as a parameter: ``token`` is the header's)."""
        if token is None:
            return {"ok": False, "error": "not_authed"}
        if not token.startswith("xapp-"):
            return {"ok": False, "error": "not_allowed_token_type"}
        if token != self.app_token:
            return {"ok": False, "error": "invalid_auth"}
        ticket = uuid.uuid4().hex
        with self._lock:
            self._tickets.add(ticket)
        url = f"ws://127.0.0.1:{self.port}/link/?ticket={ticket}&app_id={self.app_id}"
        return {"ok": True, "url": url}

    async def _socket_link(self, request: web.Request) -> web.StreamResponse:
        ticket = request.query.get("ticket", "")
        with self._lock:
            known = ticket in self._tickets
            self._tickets.discard(ticket)
        if not known:
            return web.Response(status=401, text="unknown or used ticket")
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        self._sockets.append(ws)
        await ws.send_json(
            {
                "type": "hello",
                "num_connections": len(self._sockets),
                "debug_info": {"host": "fake-slack", "approximate_connection_time": 18060},
                "connection_info": {"app_id": self.app_id},
            }
        )
        with self._lock:
            self.connections += 1
            number = self.connections
        try:
            async for message in ws:
                if message.type == WSMsgType.TEXT:
                    self._from_app(message.data, number)
        finally:
            self._sockets.remove(ws)
        return ws

    def _from_app(self, data: str, connection: int) -> None:
        try:
            message = json.loads(data)
        except ValueError:
            message = data
        with self._lock:
            if isinstance(message, dict) and "envelope_id" in message:
                sent = self._sent_at.get(message["envelope_id"])
                delay = None if sent is None else time.monotonic() - sent
                payload = message.get("payload")
                self.acks.append(SocketAck(message["envelope_id"], payload, delay, connection))
            else:
                self.socket_messages.append(message)

    async def _on_server(self, work: Coroutine[Any, Any, Any]) -> Any:
        """Run ``work`` on the server's loop and wait for it from the test's loop."""
        assert self._loop is not None, "the fake Slack server is not started"
        return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(work, self._loop))

    async def _send_envelope(self, envelope: dict[str, Any]) -> None:
        if not self._sockets:
            raise AssertionError("the app has no Socket Mode connection open")
        with self._lock:
            self._sent_at[envelope["envelope_id"]] = time.monotonic()
        await self._sockets[-1].send_json(envelope)

    async def push(
        self,
        kind: str,
        payload: dict[str, Any],
        *,
        accepts_response_payload: bool = False,
        retry_attempt: int | None = None,
    ) -> str:
        """Send one envelope to the app over its newest connection; returns its id."""
        envelope: dict[str, Any] = {
            "envelope_id": str(uuid.uuid4()),
            "type": kind,
            "payload": payload,
            "accepts_response_payload": accepts_response_payload,
        }
        if retry_attempt is not None:
            envelope["retry_attempt"] = retry_attempt
            envelope["retry_reason"] = "timeout" if retry_attempt else ""
        await self._on_server(self._send_envelope(envelope))
        return str(envelope["envelope_id"])

    async def push_event(self, event: dict[str, Any], *, retry_attempt: int = 0) -> str:
        """An Events API event, wrapped as Slack wraps it (``retry_attempt`` is 0 on a
        first delivery: Slack always sends it for events)."""
        payload = event_fields(self.team_id, self.app_id, event, f"Ev{uuid.uuid4().hex[:10]}")
        return await self.push("events_api", payload, retry_attempt=retry_attempt)

    async def push_command(
        self, text: str, *, user: str, channel: str, response_url: str, command: str = "/compose"
    ) -> str:
        """A slash command: the fields HTTP mode sends as a form, as a JSON object."""
        fields = command_fields(
            self.team_id, self.app_id, text, user=user, channel=channel,
            response_url=response_url, command=command,
            trigger_id=f"trigger.{uuid.uuid4().hex[:12]}",
        )  # fmt: skip
        payload = fields | {"is_enterprise_install": "false"}
        return await self.push("slash_commands", payload, accepts_response_payload=True)

    async def push_interaction(self, payload: dict[str, Any]) -> str:
        """A button press, shortcut or form submission (``payload`` as in HTTP mode)."""
        payload = {
            "team": {"id": self.team_id, "domain": "pictune-test"},
            "api_app_id": self.app_id,
            "token": "legacy-verification-token",
            "trigger_id": f"trigger.{uuid.uuid4().hex[:12]}",
        } | payload
        answers = payload.get("type") in ("view_submission", "block_suggestion")
        return await self.push("interactive", payload, accepts_response_payload=answers)

    async def close_connections(self, code: int = 1001) -> None:
        """Slack ending the app's connections: each socket closed from the server side."""

        async def close() -> None:
            for ws in list(self._sockets):
                await ws.close(code=code, message=b"link closed")

        await self._on_server(close())

    async def ask_to_reconnect(self, reason: str = "refresh_requested") -> None:
        """The ``disconnect`` message Slack sends on a connection it is about to retire."""

        async def send() -> None:
            if not self._sockets:
                raise AssertionError("the app has no Socket Mode connection open")
            message = {"type": "disconnect", "reason": reason, "debug_info": {"host": "fake"}}
            await self._sockets[-1].send_json(message)

        await self._on_server(send())

    def ack_for(self, envelope_id: str) -> SocketAck | None:
        with self._lock:
            return next((a for a in self.acks if a.envelope_id == envelope_id), None)

    def open_connections(self) -> int:
        """Socket Mode connections open now."""
        return len(self._sockets)

    def unacked(self) -> list[str]:
        """Envelopes sent that the app never acknowledged."""
        with self._lock:
            acked = {a.envelope_id for a in self.acks}
            return [e for e in self._sent_at if e not in acked]

    async def wait_ack(self, envelope_id: str, timeout: float = 3.0) -> SocketAck:
        """The app's ack for an envelope (Slack waits 3 seconds for it, then retries)."""
        return await self.wait_for(
            lambda: self.ack_for(envelope_id), timeout, f"the ack of envelope {envelope_id}"
        )

    # ------------------------------------------------------------------ Web API methods
    def _m_auth_test(self, args: dict[str, Any]) -> dict[str, Any]:
        team = self._team()
        return {
            "url": f"https://{team.team_id.lower()}.slack.com/",
            "team": team.name,
            "user": "pictune",
            "team_id": team.team_id,
            "user_id": team.bot_user_id,
            "bot_id": team.bot_id,
            "is_enterprise_install": False,
        }

    def _post(self, args: dict[str, Any], ephemeral: bool = False) -> dict[str, Any]:
        channel = args["channel"]
        ts = self.next_ts()
        message = {
            "type": "message",
            "channel": channel,
            "ts": ts,
            "user": args.get("user") if ephemeral else self._team().bot_user_id,
            "bot_id": self._team().bot_id,
            "text": args.get("text", ""),
            "blocks": args.get("blocks") or [],
            "ephemeral": ephemeral,
        }
        if args.get("thread_ts"):
            message["thread_ts"] = args["thread_ts"]
        if args.get("metadata"):
            message["metadata"] = args["metadata"]
        with self._lock:
            self.messages[(channel, ts)] = message
        return message

    def _m_chat_postMessage(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = str(args.get("channel") or "")
        if not self.is_member(channel) and (self.is_private(channel) or not self.chat_write_public):
            return {"ok": False, "error": self._membership_error(channel)}
        message = self._post(args)
        return {"channel": message["channel"], "ts": message["ts"], "message": message}

    def _m_chat_postEphemeral(self, args: dict[str, Any]) -> dict[str, Any]:
        problem = self._membership_error(str(args.get("channel") or ""))
        if problem:
            return {"ok": False, "error": problem}
        message = self._post(args, ephemeral=True)
        return {"message_ts": message["ts"]}

    def _m_chat_update(self, args: dict[str, Any]) -> dict[str, Any]:
        key = (args["channel"], args["ts"])
        with self._lock:
            message = self.messages.get(key)
            if message is None:
                return {"ok": False, "error": "message_not_found"}
            message["text"] = args.get("text", message.get("text", ""))
            if "blocks" in args:
                message["blocks"] = args["blocks"] or []
            if args.get("metadata"):
                message["metadata"] = args["metadata"]
            message["edited"] = True
        return {"channel": key[0], "ts": key[1], "text": message["text"]}

    def _m_reactions_add(self, args: dict[str, Any]) -> dict[str, Any]:
        return {}

    def _m_reactions_remove(self, args: dict[str, Any]) -> dict[str, Any]:
        return {}

    def _m_views_open(self, args: dict[str, Any]) -> dict[str, Any]:
        view = dict(args.get("view") or {})
        view["id"] = f"V{next(self._ids):08d}"
        return {"view": view}

    def _m_views_publish(self, args: dict[str, Any]) -> dict[str, Any]:
        view = dict(args.get("view") or {})
        view["id"] = f"V{next(self._ids):08d}"
        return {"view": view}

    def _m_views_update(self, args: dict[str, Any]) -> dict[str, Any]:
        return {"view": dict(args.get("view") or {})}

    def _m_users_info(self, args: dict[str, Any]) -> dict[str, Any]:
        user = args.get("user", "")
        is_admin = user in self.admins
        return {
            "user": {
                "id": user,
                "team_id": self._team().team_id,
                "name": user.lower(),
                "real_name": user.title(),
                "is_admin": is_admin,
                "is_owner": False,
                "is_bot": user == self.bot_user_id,
                "profile": {"display_name": user.lower()},
            }
        }

    def _m_files_info(self, args: dict[str, Any]) -> dict[str, Any]:
        hosted = self.files.get(args.get("file", ""))
        if hosted is None:
            return {"ok": False, "error": "file_not_found"}
        return {"file": self.file_object(hosted)}

    def _m_conversations_open(self, args: dict[str, Any]) -> dict[str, Any]:
        return {"channel": {"id": "D" + str(args.get("users", "")).lstrip("U")}}

    def _m_conversations_info(self, args: dict[str, Any]) -> dict[str, Any]:
        """A conversation's kind, as Slack answers it (DM "D", group DM and old private
        channel "G", else a channel: private when listed in ``private_channels``)."""
        channel = str(args.get("channel", ""))
        im, group = channel.startswith("D"), channel.startswith("G")
        private = group or channel in self.private_channels
        if private and not self.is_member(channel):
            return {"ok": False, "error": "channel_not_found"}
        return {
            "channel": {
                "is_member": self.is_member(channel),
                "id": channel,
                "is_channel": not (im or group),
                "is_group": group,
                "is_im": im,
                "is_mpim": group,
                "is_private": private or im,
            }
        }

    def _m_conversations_join(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = str(args.get("channel", ""))
        if self.is_private(channel):
            if not self.is_member(channel):
                return {"ok": False, "error": "channel_not_found"}
            return {"ok": False, "error": "method_not_supported_for_channel_type"}
        with self._lock:
            self.joined.add(channel)
        return {"channel": {"id": channel, "is_channel": True, "is_member": True}}

    def _m_conversations_history(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = args["channel"]
        if problem := self._membership_error(channel):
            return {"ok": False, "error": problem}
        latest = args.get("latest")
        inclusive = str(args.get("inclusive", "false")).lower() in ("1", "true")
        with self._lock:
            found = [
                m
                for (c, ts), m in self.messages.items()
                if c == channel
                and not m.get("ephemeral")
                and (not m.get("thread_ts") or m["thread_ts"] == ts)
                and (latest is None or ts < latest or (inclusive and ts == latest))
            ]
        found.sort(key=lambda m: m["ts"], reverse=True)
        return {"messages": found[: int(args.get("limit", 100))], "has_more": False}

    def _m_conversations_replies(self, args: dict[str, Any]) -> dict[str, Any]:
        channel, ts = args["channel"], args["ts"]
        if problem := self._membership_error(channel):
            return {"ok": False, "error": problem}
        with self._lock:
            target = self.messages.get((channel, ts))
            if target is None:
                return {"ok": False, "error": "thread_not_found"}
            root = target.get("thread_ts") or ts
            found = [
                m
                for (c, t), m in self.messages.items()
                if c == channel
                and not m.get("ephemeral")
                and (t == root or m.get("thread_ts") == root)
            ]
        found.sort(key=lambda m: m["ts"])
        return {"messages": found, "has_more": False}

    def _m_files_getUploadURLExternal(self, args: dict[str, Any]) -> dict[str, Any]:
        file_id = f"F{next(self._ids):08d}"
        with self._lock:
            self._pending[file_id] = dict(args)
        return {"upload_url": f"{self.base_url}/upload/{file_id}", "file_id": file_id}

    def _m_files_completeUploadExternal(self, args: dict[str, Any]) -> dict[str, Any]:
        entries = args.get("files") or []
        channel = args.get("channel_id")
        thread_ts = args.get("thread_ts")
        shared: list[dict[str, Any]] = []
        if problem := self._membership_error(channel):
            return {"ok": False, "error": problem}
        with self._lock:
            for entry in entries:
                pending = self._pending.get(entry["id"])
                if pending is None or "data" not in pending:
                    return {"ok": False, "error": "file_not_found"}
            for entry in entries:
                pending = self._pending.pop(entry["id"])
                upload = Upload(
                    id=entry["id"],
                    filename=pending["filename"],
                    title=entry.get("title"),
                    data=pending["data"],
                    channel=channel,
                    thread_ts=thread_ts,
                    initial_comment=args.get("initial_comment"),
                )
                self.uploads.append(upload)
                shared.append({"id": upload.id, "name": upload.filename, "title": upload.title})
        if channel:
            # The files arrive as one message in the channel or thread.
            message = self._post(
                {
                    "channel": channel,
                    "thread_ts": thread_ts,
                    "text": args.get("initial_comment") or "",
                }
            )
            with self._lock:
                message["files"] = [dict(f) for f in shared]
                message["subtype"] = "file_share"
            if self.report_shares:
                kind = "private" if channel.startswith(("D", "G")) else "public"
                share = {"ts": message["ts"], "thread_ts": thread_ts, "channel_name": "general"}
                for file in shared:
                    file["shares"] = {kind: {channel: [share]}}
        return {"files": shared}


def message_text(message: dict[str, Any]) -> str:
    """A message's text plus the text inside its blocks."""
    parts = [message.get("text") or ""]

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "text" and isinstance(value, str):
                    parts.append(value)
                else:
                    walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(message.get("blocks") or [])
    return "\n".join(p for p in parts if p)
