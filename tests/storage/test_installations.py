"""Installations kept by OAuth ("Add to Slack") and one-use OAuth states, on SQLite and on a
real PostgreSQL (``any_store``)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from sqlalchemy import select, update

from engine.config import Settings
from storage.installations import InstallationRecord
from storage.models import AppInstallation, OAuthState
from storage.store import Store

CLIENT = "4412345678901.5512345678901"
TOKEN_A = "xoxb-1111111111111-2222222222222-aaaaaaaaaaaaaaaaaaaaaaaa"
TOKEN_A2 = "xoxb-1111111111111-2222222222222-bbbbbbbbbbbbbbbbbbbbbbbb"


def record(workspace: str = "T_A", token: str | None = TOKEN_A, **kw: object) -> InstallationRecord:
    fields: dict[str, object] = {
        "platform": "slack",
        "client_id": CLIENT,
        "workspace": workspace,
        "app_id": "A_PICTUNE",
        "workspace_name": "Team A",
        "bot_token": token,
        "bot_id": "B_1",
        "bot_user_id": "U_BOT",
        "bot_scopes": ["chat:write", "files:read"],
        "installer_id": "U_INSTALLER",
        "extra": {"token_type": "bot"},
        "installed_at": datetime(2026, 12, 1, 12, 0, tzinfo=UTC),
    } | kw
    return InstallationRecord(**fields)  # type: ignore[arg-type]


def rows(store: Store) -> list[tuple[str, str | None]]:
    with store.db.read() as session:
        found = session.execute(select(AppInstallation.workspace, AppInstallation.bot_token))
        return sorted((w, t) for w, t in found)


def test_an_installation_is_kept_found_and_replaced_by_a_reinstall(any_store: Store) -> None:
    any_store.installations.save(record())
    any_store.installations.save(record("T_B", TOKEN_A2, workspace_name="Team B"))
    found = any_store.installations.find("slack", CLIENT, workspace="T_A")
    assert found is not None and found.bot_token == TOKEN_A
    assert found.bot_scopes == ["chat:write", "files:read"]
    assert found.installed_at == datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
    assert found.extra == {"token_type": "bot"} and found.installer_id == "U_INSTALLER"
    # Another app (client id) or platform sees nothing; the org must match unless None.
    assert any_store.installations.find("slack", "other", workspace="T_A") is None
    assert any_store.installations.find("discord", CLIENT, workspace="T_A") is None
    assert any_store.installations.find("slack", CLIENT, workspace="T_A", org_id="E1") is None
    assert any_store.installations.find("slack", CLIENT, workspace="T_A", org_id=None) is not None
    # Only the installer's own installation is found by installer.
    assert (
        any_store.installations.find("slack", CLIENT, workspace="T_A", installer_id="U_X") is None
    )

    any_store.installations.save(record(token=TOKEN_A2, bot_scopes=["chat:write"]))
    assert rows(any_store) == [("T_A", TOKEN_A2), ("T_B", TOKEN_A2)]
    again = any_store.installations.find("slack", CLIENT, workspace="T_A")
    assert again is not None and again.bot_scopes == ["chat:write"]
    assert any_store.installations.count("slack", CLIENT) == 2


def test_tokens_never_show_in_a_repr(any_store: Store) -> None:
    any_store.installations.save(record(user_token="xoxp-9999999999-secret-user-token"))
    found = any_store.installations.find("slack", CLIENT, workspace="T_A")
    assert found is not None and found.user_token is not None
    shown = repr(found)
    assert TOKEN_A not in shown and "xoxp" not in shown and "T_A" in shown


def test_bot_only_save_keeps_the_installer(any_store: Store) -> None:
    any_store.installations.save(record(user_token="xoxp-1-user"))
    rotated = record(token=TOKEN_A2, installer_id=None, user_token=None)
    any_store.installations.save(rotated, bot_only=True)
    found = any_store.installations.find("slack", CLIENT, workspace="T_A")
    assert found is not None
    assert (found.bot_token, found.installer_id, found.user_token) == (
        TOKEN_A2,
        "U_INSTALLER",
        "xoxp-1-user",
    )


def test_revoking_and_uninstalling(any_store: Store) -> None:
    any_store.installations.save(record(user_token="xoxp-1-user"))
    any_store.installations.save(record("T_B"))
    # A user's token revoked: only theirs goes, the bot stays.
    assert not any_store.installations.delete("slack", CLIENT, workspace="T_A", installer_id="U_X")
    assert any_store.installations.delete(
        "slack", CLIENT, workspace="T_A", installer_id="U_INSTALLER"
    )
    found = any_store.installations.find("slack", CLIENT, workspace="T_A")
    assert found is not None and found.user_token is None and found.bot_token == TOKEN_A
    # The bot token revoked: no token left, so the row goes.
    assert any_store.installations.delete_bot("slack", CLIENT, workspace="T_A")
    assert not any_store.installations.delete_bot("slack", CLIENT, workspace="T_A")
    assert rows(any_store) == [("T_B", TOKEN_A)]
    # Uninstalled: the row goes.
    assert any_store.installations.delete("slack", CLIENT, workspace="T_B")
    assert not any_store.installations.delete("slack", CLIENT, workspace="T_B")
    assert rows(any_store) == []


def test_an_oauth_state_works_once_and_not_after_it_expired(any_store: Store) -> None:
    state = any_store.installations.issue_state(timedelta(minutes=10))
    other = any_store.installations.issue_state(timedelta(minutes=10))
    assert state != other and len(state) >= 32
    assert any_store.installations.consume_state(state)
    assert not any_store.installations.consume_state(state)  # replayed
    for forged in ("", "x" * 65, "not-issued-here", other + "x", None, 42):
        assert not any_store.installations.consume_state(forged)  # type: ignore[arg-type]
    with any_store.db.write() as session:  # ten minutes later
        session.execute(
            update(OAuthState).values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
        )
    assert not any_store.installations.consume_state(other)
    # Expired states are cleared when the next one is issued.
    any_store.installations.issue_state(timedelta(minutes=10))
    with any_store.db.read() as session:
        assert other not in session.scalars(select(OAuthState.state)).all()


def test_a_state_survives_a_restart(settings: Settings) -> None:
    first = Store.open(settings, semantic=False)
    state = first.installations.issue_state(timedelta(minutes=10))
    first.close()
    second = Store.open(settings, semantic=False)
    try:
        assert second.installations.consume_state(state)
    finally:
        second.close()


def test_two_processes_consuming_one_state_get_it_once(any_store: Store) -> None:
    """Two bot processes taking the same redirect at once (threads on one pool here, each
    with its own connection and transaction)."""
    for _ in range(5):
        state = any_store.installations.issue_state(timedelta(minutes=10))
        assert sorted(_race(lambda state=state: any_store.installations.consume_state(state))) == [
            False,
            True,
        ]


def _race(work: Callable[[], bool]) -> list[bool]:
    """``work()`` in two threads released at the same moment; their results."""
    start = threading.Barrier(2)
    results: list[bool] = []

    def run() -> None:
        start.wait()
        results.append(work())

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    return results
