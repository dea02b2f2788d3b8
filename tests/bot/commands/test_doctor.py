"""`pictune doctor` on a real temporary deployment: what it says and its exit code."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.cli import main
from engine.config import get_settings

SECRET = "MTIzNDU2Nzg5MDEyMzQ1Njc4.abcdef.doctor-must-not-print-this"


@pytest.fixture
def deployment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.chdir(tmp_path)  # no stray .env
    monkeypatch.setenv("PICTUNE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("PICTUNE_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("DISCORD_TOKEN", SECRET)
    get_settings.cache_clear()
    yield tmp_path
    get_settings.cache_clear()


def test_healthy_deployment(deployment: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["doctor"]) == 0
    out = capsys.readouterr().out
    assert "ok  soundfont" in out and ".sf2" in out
    assert "ok  database" in out
    assert "index" in out and "pictune index build" in out  # not built in this temp cache
    assert "DISCORD_TOKEN" in out and SECRET not in out and "doctor-must-not" not in out
    assert "Pictune is ready." in out


def test_broken_deployment_says_what_to_fix(
    deployment: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PICTUNE_SOUNDFONT", str(deployment / "missing.sf2"))
    monkeypatch.setenv("PICTUNE_COMPOSE", "gpt:whatever")
    monkeypatch.setenv("PICTUNE_QUEUE", "celery")
    monkeypatch.setenv("PICTUNE_REDIS_URL", "redis://127.0.0.1:1/0")
    get_settings.cache_clear()
    assert main(["doctor"]) != 0
    out = capsys.readouterr().out
    assert "FAIL  soundfont" in out and "PICTUNE_SOUNDFONT" in out
    assert "FAIL  model compose" in out and "PICTUNE_COMPOSE" in out
    assert "FAIL  queue" in out and "PICTUNE_REDIS_URL" in out
    assert "3 problem(s) to fix." in out


def test_bad_setting_value(
    deployment: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PICTUNE_CONCURRENCY", "lots")
    get_settings.cache_clear()
    assert main(["doctor"]) != 0
    assert "FAIL  configuration" in capsys.readouterr().out


def test_a_file_that_is_not_a_soundfont(
    deployment: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    fake = deployment / "piano.sf2"
    fake.write_text("not a SoundFont at all")
    monkeypatch.setenv("PICTUNE_SOUNDFONT", str(fake))
    get_settings.cache_clear()
    assert main(["doctor"]) != 0
    out = capsys.readouterr().out
    assert "FAIL  soundfont" in out and "is not a SoundFont" in out


def test_a_data_dir_that_cannot_be_a_folder(
    deployment: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (deployment / "plain").write_text("a file")
    monkeypatch.setenv("PICTUNE_DATA_DIR", str(deployment / "plain" / "data"))
    get_settings.cache_clear()
    assert main(["doctor"]) != 0
    out = capsys.readouterr().out
    assert "FAIL  data dir" in out and "PICTUNE_DATA_DIR" in out
    # Not "is the database server running?": the folder is what is wrong.
    assert "database server" not in out


def test_bad_setting_names_the_variable_and_value(
    deployment: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PICTUNE_DURATION", "-5")
    get_settings.cache_clear()
    assert main(["doctor"]) != 0
    out = capsys.readouterr().out
    assert "FAIL  configuration" in out and "PICTUNE_DURATION='-5'" in out


def test_unreadable_env_file(deployment: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (deployment / ".env").write_bytes(b"\xff\xfe\x00garbage\n")
    get_settings.cache_clear()
    assert main(["doctor"]) != 0
    out = capsys.readouterr().out
    assert "FAIL  configuration" in out and ".env" in out


def test_tokens_name_what_slack_lacks(
    deployment: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SLACK_CLIENT_ID", "123.456")
    monkeypatch.setenv("SLACK_CLIENT_SECRET", SECRET)
    get_settings.cache_clear()
    main(["doctor"])
    out = capsys.readouterr().out
    assert "SLACK_SIGNING_SECRET" in out and SECRET not in out
    monkeypatch.setenv("SLACK_SIGNING_SECRET", "sig")
    get_settings.cache_clear()
    main(["doctor"])
    out = capsys.readouterr().out
    assert "ok  tokens" in out and "SLACK_CLIENT_ID" in out


def test_doctor_fails_where_serve_would_stop(
    deployment: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Half-configured Slack (a bot token, no app token nor signing secret) and swapped
    tokens are problems: `pictune serve` refuses them, so doctor cannot say ready."""
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-1-2-abc")
    get_settings.cache_clear()
    assert main(["doctor"]) != 0
    out = capsys.readouterr().out
    assert "FAIL  tokens" in out and "SLACK_APP_TOKEN" in out and "Pictune is ready" not in out
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xapp-1-A1-2-abc")
    monkeypatch.setenv("SLACK_APP_TOKEN", "xoxb-1-2-abc")
    get_settings.cache_clear()
    assert main(["doctor"]) != 0
    assert "are swapped" in capsys.readouterr().out
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-1-2-abc")
    monkeypatch.setenv("SLACK_APP_TOKEN", "xapp-1-A1-2-abc")
    get_settings.cache_clear()
    assert main(["doctor"]) == 0


def test_doctor_says_the_modes_and_the_discord_invite(
    deployment: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from bot.discord.invite import PERMISSIONS

    assert main(["doctor"]) == 0
    out = capsys.readouterr().out
    assert "ok  modes" in out and "symbolic; default symbolic" in out
    assert "audio needs PICTUNE_MUSICGEN" in out
    # The id inside the token (123456789012345678), with exactly the permissions used.
    assert "client_id=123456789012345678" in out
    assert f"permissions={PERMISSIONS.value}" in out and "applications.commands" in out
    assert not PERMISSIONS.add_reactions and PERMISSIONS.attach_files


def test_doctor_refuses_a_mode_without_its_model(
    deployment: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PICTUNE_MODE", "audio")
    get_settings.cache_clear()
    assert main(["doctor"]) != 0
    out = capsys.readouterr().out
    assert "FAIL  configuration" in out and "PICTUNE_MUSICGEN" in out
