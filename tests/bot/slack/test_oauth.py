"""Add to Slack: Pictune installed into several workspaces by OAuth v2.

The real Bolt app serves HTTP on loopback (``/slack/install``, ``/slack/oauth_redirect``,
``/slack/events``) with the real history (SQLite); the fake Slack plays Slack's authorize
page, ``oauth.v2.access`` and the Web API of two workspaces with different bot tokens, and
records which token every call used. The test plays the installer's browser (it keeps the
state cookie that Bolt sets; a browser sends it back to the same host)."""

from __future__ import annotations

import asyncio
import contextlib
import io
import logging
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest
from pydantic import SecretStr
from slack_sdk.oauth.installation_store import Installation
from sqlalchemy import update

from bot.core import PictuneBot
from bot.slack.app import build_app, connection_mode, serve, start_http
from bot.slack.installations import DatabaseInstallationStore
from bot.slack.listeners import SlackAdapter
from bot.slack.oauth import REDIRECT_PATH, bot_scopes, oauth_settings
from engine.config import Settings
from engine.errors import ConfigError, PictuneError
from engine.logging import KeyValueFormatter, secret_values
from service.api import Requester
from service.local import LocalJobService
from service.worker_runtime import WorkerRuntime
from storage.models import AppInstallation, OAuthState
from storage.store import Store
from tests import images
from tests.bot.jobs import RecordingPipeline, ThreadJobService, stub_runner
from tests.bot.restarts import delivered, until
from tests.bot.slack.conftest import ALICE, CHANNEL, SIGNING_SECRET, SlackBench
from tests.bot.slack.fake_slack import FakeSlack, FakeTeam, message_text
from tests.bot.slack.helpers import PIECE_FILES
from tests.bot.slack.signed import SignedSender

BETA = "T_BETA"
GALLERY = "C_GALLERY"
COOKIE = "slack-app-oauth-state"


@pytest.fixture
def oauth_settings_(slack_settings: Settings, fake_slack: FakeSlack) -> Settings:
    """HTTP mode with Add to Slack: no bot token, the fake's client id and authorize page."""
    return slack_settings.model_copy(
        update={
            "slack_bot_token": None,
            "slack_client_id": fake_slack.client_id,
            "slack_client_secret": SecretStr(fake_slack.client_secret),
            "slack_authorize_url": f"{fake_slack.base_url}/oauth/v2/authorize",
        }
    )


@dataclass
class Served:
    fake: FakeSlack
    store: Store
    bot: PictuneBot
    adapter: SlackAdapter
    base: str  # http://127.0.0.1:PORT

    def sender(self, team: str) -> SignedSender:
        return SignedSender(f"{self.base}/slack/events", SIGNING_SECRET, team)

    async def settle(self) -> None:
        for _ in range(3):
            await asyncio.sleep(0.02)
            await asyncio.wait_for(self.adapter.drain(), 60)

    def installed(self, team: str) -> AppInstallation | None:
        with self.store.db.read() as session:
            row = session.get(AppInstallation, ("slack", self.fake.client_id, "", team))
            if row is not None:
                session.expunge(row)
            return row


@asynccontextmanager
async def serving(settings: Settings, fake: FakeSlack) -> AsyncIterator[Served]:
    """One bot process: the app as ``build_app`` makes it, served on a free port, which the
    fake's app configuration lists as its Redirect URL."""
    store = Store.open(settings, semantic=False)
    service = ThreadJobService(store, stub_runner)
    await service.start()
    bot = PictuneBot(settings, service, store)
    adapter = SlackAdapter(bot, progress_interval=0.0, rerun_rounds=0)
    http, port = await start_http(build_app(settings, bot, adapter=adapter), "127.0.0.1", 0)
    fake.redirect_url = f"http://127.0.0.1:{port}{REDIRECT_PATH}"
    try:
        yield Served(fake, store, bot, adapter, f"http://127.0.0.1:{port}")
    finally:
        await asyncio.wait_for(adapter.drain(), 60)
        await http.cleanup()
        await service.stop()
        await bot.close()
        store.close()


@dataclass
class Visit:
    """The browser after ``GET /slack/install``: where it goes next and its state cookie."""

    authorize_url: str
    state: str
    cookie: str


async def get(url: str, cookie: str | None = None) -> httpx.Response:
    async with httpx.AsyncClient(timeout=10) as browser:
        return await browser.get(url, headers={"Cookie": cookie} if cookie else {})


async def start_install(served: Served, team: str) -> Visit:
    started = await get(f"{served.base}/slack/install?team={team}")
    assert started.status_code == 302, started.text
    location = started.headers["location"]
    state = parse_qs(urlsplit(location).query)["state"][0]
    return Visit(location, state, started.headers["set-cookie"].split(";")[0])


async def approve(visit: Visit) -> str:
    """Slack's page: the person approves; the URL Slack sends the browser back to."""
    page = await get(visit.authorize_url)
    assert page.status_code == 302, page.text
    return str(page.headers["location"])


async def install(served: Served, team: str) -> None:
    visit = await start_install(served, team)
    back = await get(await approve(visit), visit.cookie)
    assert back.status_code == 200, back.text


def mention(fake: FakeSlack, team: FakeTeam, text: str = "a calm sea") -> dict[str, Any]:
    """Alice mentions Pictune in ``team`` with an image only that team's token downloads."""
    image = fake.host_file("sea.png", images.photo_like(1), team=team.team_id)
    return fake.mention(CHANNEL, ALICE, text, [image], bot_user_id=team.bot_user_id)


async def test_add_to_slack_keeps_the_workspace_token_and_never_logs_it(
    oauth_settings_: Settings, fake_slack: FakeSlack
) -> None:
    fake = fake_slack
    beta = fake.add_team(BETA, "Beta Band")
    written = io.StringIO()
    shown = logging.StreamHandler(written)  # as `pictune serve` writes its logs
    shown.setFormatter(KeyValueFormatter(secret_values(oauth_settings_)))
    records: list[logging.LogRecord] = []
    kept = logging.Handler()
    kept.emit = records.append  # type: ignore[method-assign]
    root, ours = logging.getLogger(), logging.getLogger("pictune.slack")
    levels = root.level, ours.level
    root.addHandler(shown)
    root.addHandler(kept)
    root.setLevel(logging.DEBUG)  # Slack's client logs its requests and answers at DEBUG
    ours.setLevel(logging.DEBUG)  # whatever other tests left on "pictune"
    try:
        async with serving(oauth_settings_, fake) as served:
            visit = await start_install(served, BETA)
            asked = parse_qs(urlsplit(visit.authorize_url).query)
            assert visit.authorize_url.startswith(f"{fake.base_url}/oauth/v2/authorize?")
            assert asked["client_id"] == [fake.client_id] and asked["team"] == [BETA]
            assert asked["scope"][0].split(",") == list(bot_scopes())  # the manifest's
            assert visit.cookie == f"{COOKIE}={visit.state}" and len(visit.state) >= 32
            assert fake.team_of_token(beta.bot_token) is None  # not installed yet

            back = await get(await approve(visit), visit.cookie)
            assert back.status_code == 200 and f"team={BETA}" in back.text
            assert fake.team_of_token(beta.bot_token) is beta
            assert beta.scopes == list(bot_scopes())
            row = served.installed(BETA)
            assert row is not None
            assert row.bot_token == beta.bot_token and row.bot_user_id == beta.bot_user_id
            assert row.bot_id == beta.bot_id  # from auth.test with the new token
            assert row.bot_scopes == ",".join(bot_scopes())
            assert (row.installer_id, row.workspace_name, row.app_id) == (
                fake.installer,
                "Beta Band",
                fake.app_id,
            )
            (exchange,) = fake.calls_to("oauth.v2.access")
            assert exchange.token is None  # the client secret went as HTTP Basic, no token
    finally:
        root.removeHandler(shown)
        root.removeHandler(kept)
        root.setLevel(levels[0])
        ours.setLevel(levels[1])
    text = written.getvalue()
    assert f"installed in workspace {BETA}" in text
    assert any("oauth.v2.access" in r.getMessage() for r in records)  # the answer was logged
    assert beta.bot_token not in text and fake.client_secret not in text
    for record in records:  # nothing said it at INFO or above, even before masking
        if record.levelno >= logging.INFO:
            assert beta.bot_token not in record.getMessage()


async def test_a_state_is_single_use_bound_to_the_browser_and_survives_a_restart(
    oauth_settings_: Settings, fake_slack: FakeSlack
) -> None:
    fake = fake_slack
    fake.add_team(BETA, "Beta Band")
    async with serving(oauth_settings_, fake) as first:
        visit = await start_install(first, BETA)
    # Pictune restarts while the person reads Slack's page; the new process takes them back.
    async with serving(oauth_settings_, fake) as second:
        back = await approve(visit)
        assert back.startswith(second.base)
        assert (await get(back)).status_code == 400  # another browser: no state cookie
        assert (await get(back, visit.cookie)).status_code == 200
        assert second.installed(BETA) is not None

        async def fresh_code() -> str:  # a code Slack would exchange: only the state is wrong
            return parse_qs(urlsplit(await approve(await start_install(second, BETA))).query)[
                "code"
            ][0]

        def redirect(code: str, state: str) -> str:
            return f"{second.base}{REDIRECT_PATH}?" + urlencode({"code": code, "state": state})

        replayed = redirect(await fresh_code(), visit.state)  # the used state, again
        assert (await get(replayed, visit.cookie)).status_code == 401
        forged = redirect(await fresh_code(), "x" * 43)  # one never issued, cookie to match
        assert (await get(forged, f"{COOKIE}={'x' * 43}")).status_code == 401

        late = await start_install(second, BETA)
        with second.store.db.write() as session:  # ten minutes pass
            session.execute(
                update(OAuthState).values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
            )
        assert (await get(await approve(late), late.cookie)).status_code == 401
        assert len(fake.calls_to("oauth.v2.access")) == 1  # no refused state got a token
        assert second.store.installations.count("slack") == 1


async def test_each_workspace_is_answered_with_its_own_token(
    oauth_settings_: Settings, fake_slack: FakeSlack
) -> None:
    fake = fake_slack
    alpha, beta = fake.teams[fake.team_id], fake.add_team(BETA, "Beta Band")
    stranger = fake.add_team("T_NEVER", "Never Installed")
    async with serving(oauth_settings_, fake) as served:
        await install(served, alpha.team_id)
        await install(served, BETA)
        for team in (beta, stranger, alpha):
            before = len(fake.calls)
            event = mention(fake, team)
            response = await served.sender(team.team_id).event(event)
            assert response.status_code == 200
            await served.settle()
            used = fake.calls[before:]
            history = served.bot.library.history(Requester("slack", team.team_id, ALICE, CHANNEL))
            if team is stranger:  # never installed: no token, so no answer (and no crash)
                assert used == [] and history == []
                continue
            assert {c.token for c in used if c.token is not None} == {team.bot_token}
            methods = {c.method for c in used}
            assert {"auth.test", "download", "chat.postMessage", "chat.update"} <= methods
            assert {"files.getUploadURLExternal", "files.completeUploadExternal"} <= methods
            names = {u.filename for u in fake.uploads_in(CHANNEL, event["ts"])}
            assert names >= PIECE_FILES
            assert len(history) == 1 and history[0].hint == "a calm sea"


async def test_uninstalling_forgets_the_token_and_keeps_the_pieces(
    oauth_settings_: Settings, fake_slack: FakeSlack
) -> None:
    fake = fake_slack
    alpha, beta = fake.teams[fake.team_id], fake.add_team(BETA, "Beta Band")
    async with serving(oauth_settings_, fake) as served:
        await install(served, alpha.team_id)
        await install(served, BETA)
        await served.sender(BETA).event(mention(fake, beta))
        await served.settle()
        assert served.store.count(workspace=BETA) == 1

        outside = await served.adapter.client_for(BETA)  # for posts outside a request
        assert outside is not None and outside.token == beta.bot_token

        uninstalled = {"type": "app_uninstalled", "event_ts": fake.next_ts()}
        assert (await served.sender(BETA).event(uninstalled)).status_code == 200
        await until(lambda: served.installed(BETA) is None, "the installation forgotten")
        fake.uninstall(BETA)  # Slack revokes the token as well
        assert served.store.count(workspace=BETA) == 1  # the history stays
        assert served.installed(alpha.team_id) is not None
        assert await served.adapter.client_for(BETA) is None

        before = len(fake.calls)
        assert (await served.sender(BETA).event(mention(fake, beta))).status_code == 200
        await served.settle()
        assert fake.calls[before:] == []

        fake.uninstall(alpha.team_id)  # the token revoked, the event not arrived yet
        with pytest.raises(PictuneError):  # installed, but refused: try again later
            await served.adapter.client_for(alpha.team_id)
        revoked = {
            "type": "tokens_revoked",
            "tokens": {"oauth": [], "bot": [alpha.bot_user_id]},
            "event_ts": fake.next_ts(),
        }
        assert (await served.sender(alpha.team_id).event(revoked)).status_code == 200
        await until(lambda: served.installed(alpha.team_id) is None, "the bot token forgotten")


async def test_a_piece_left_by_a_restart_is_posted_with_its_workspaces_token(
    oauth_settings_: Settings, fake_slack: FakeSlack
) -> None:
    """Pieces asked in workspace B and in a workspace that removed Pictune since, by a bot
    that stopped before showing any progress; the next ``serve`` (Add to Slack, HTTP) posts
    B's in its channel and community channel with B's token, and leaves the other."""
    fake = fake_slack
    beta = fake.add_team(BETA, "Beta Band", installed=True)
    settings = oauth_settings_.model_copy(
        update={"worker_mode": "thread", "http_port": 0, "slack_port": 0}
    )
    store = Store.open(settings, semantic=False)
    pipeline = RecordingPipeline()
    pipeline.gate = threading.Event()
    service = LocalJobService(
        settings, store, runtime=WorkerRuntime(settings, store=store, pipeline=pipeline)
    )
    await service.start()
    running: asyncio.Task[None] | None = None
    bot: PictuneBot | None = None
    try:
        await DatabaseInstallationStore(store, fake.client_id).async_save(
            Installation(
                app_id=fake.app_id,
                team_id=BETA,
                team_name="Beta Band",
                bot_token=beta.bot_token,
                bot_id=beta.bot_id,
                bot_user_id=beta.bot_user_id,
                bot_scopes=list(bot_scopes()),
                user_id=fake.installer,
            )
        )
        store.workspaces.update("slack", BETA, community_channel=GALLERY)
        asked = await _asked_then_stopped(settings, service, store, BETA)
        gone = await _asked_then_stopped(settings, service, store, "T_GONE")

        before = len(fake.calls)
        bot = PictuneBot(settings, service, store)
        running = asyncio.create_task(serve(settings, bot, host="127.0.0.1"))
        pipeline.gate.set()
        (message,) = await fake.wait_for(
            lambda: [
                m
                for (c, _), m in list(fake.messages.items())
                if c == CHANNEL and not m.get("thread_ts") and asked in message_text(m)
            ],
            what="the piece in its channel",
        )
        assert message_text(message).startswith(f"<@{ALICE}> your piece is ready")
        await fake.wait_for(
            lambda: {u.filename for u in fake.uploads_in(CHANNEL, message["ts"])} >= PIECE_FILES,
            what="its files",
        )
        await fake.wait_for(
            lambda: [m for (c, _), m in list(fake.messages.items()) if c == GALLERY],
            what="the community post",
        )
        await until(lambda: delivered(store, asked), "the piece counted as delivered")
        await until(lambda: delivered(store, gone), "the other one given up")
        used = fake.calls[before:]
        assert {c.token for c in used if c.token is not None} == {beta.bot_token}
        assert not any(gone in message_text(m) for m in list(fake.messages.values()))
    finally:
        pipeline.gate.set()
        if running is not None:
            running.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.wait_for(running, 30)
        if bot is not None:
            await bot.close()
        await service.stop()
        store.close()


async def _asked_then_stopped(
    settings: Settings, service: LocalJobService, store: Store, team: str
) -> str:
    """A piece asked in ``team`` by a bot that stopped before it showed any progress."""
    before = PictuneBot(settings, service, store)
    queued: asyncio.Future[str] = asyncio.get_running_loop().create_future()

    async def progress(event: Any) -> None:
        if not queued.done():
            queued.set_result(event.generation_id)

    requester = Requester("slack", team, ALICE, CHANNEL, "alice")
    composing = asyncio.create_task(
        before.compose(requester, images.photo_like(2), progress=progress)
    )
    gid = await asyncio.wait_for(queued, 10)
    composing.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await composing
    await before.close()
    return gid


def test_add_to_slack_is_http_mode_with_both_credentials(oauth_settings_: Settings) -> None:
    assert connection_mode(oauth_settings_) == "oauth"
    for update_, says in (
        ({"slack_client_secret": None}, "both SLACK_CLIENT_ID and SLACK_CLIENT_SECRET"),
        ({"slack_app_token": SecretStr("xapp-1-A-1-abc")}, "unset SLACK_APP_TOKEN"),
        ({"slack_signing_secret": None}, "SLACK_SIGNING_SECRET"),
    ):
        with pytest.raises(ConfigError) as info:
            connection_mode(oauth_settings_.model_copy(update=update_))
        assert says in info.value.user_message


def test_the_redirect_uri_is_checked_and_sent(
    oauth_settings_: Settings, settings: Settings
) -> None:
    store = Store.open(settings, semantic=False)
    try:
        uri = f"https://pictune.example.org/bots{REDIRECT_PATH}"
        chosen = oauth_settings(
            oauth_settings_.model_copy(update={"slack_redirect_uri": uri}), store
        )
        url = chosen.authorize_url_generator.generate(state="s")
        assert parse_qs(urlsplit(url).query)["redirect_uri"] == [uri]
        for wrong in ("https://pictune.example.org/slack/events", "pictune.example.org"):
            with pytest.raises(ConfigError, match="SLACK_REDIRECT_URI"):
                oauth_settings(
                    oauth_settings_.model_copy(update={"slack_redirect_uri": wrong}), store
                )
    finally:
        store.close()


async def test_with_one_token_an_uninstall_is_only_reported(
    bench: SlackBench, caplog: pytest.LogCaptureFixture
) -> None:
    """The single-token ways are unchanged: every post outside a request uses the one
    client, and ``app_uninstalled`` (nothing to forget) is said in the log."""
    caplog.set_level(logging.WARNING, logger="pictune.slack")
    client = await bench.adapter.client_for("T_ANYWHERE")
    assert client is not None and client.token == bench.fake.bot_token
    uninstalled = {"type": "app_uninstalled", "event_ts": bench.fake.next_ts()}
    assert (await bench.sender.event(uninstalled)).status_code == 200
    await until(
        lambda: any("removed from workspace" in r.getMessage() for r in caplog.records),
        "the warning",
    )
    assert bench.fake.calls == []
