"""`pictune serve` picks the platforms whose tokens are configured and says what is missing."""

from __future__ import annotations

import argparse

import pytest
from pydantic import SecretStr

from bot.commands import serve
from engine.config import Settings


def test_configured_platforms(settings: Settings) -> None:
    none, missing = serve.configured_platforms(settings)
    assert none == [] and any("DISCORD_TOKEN" in m for m in missing)

    both = settings.model_copy(
        update={
            "discord_token": SecretStr("d"),
            "slack_bot_token": SecretStr("xoxb-1-2-abc"),
            "slack_app_token": SecretStr("xapp-1-A1-abc"),
        }
    )
    assert serve.configured_platforms(both) == (["discord", "slack"], [])

    half = settings.model_copy(update={"slack_bot_token": SecretStr("xoxb-1-2-abc")})
    started, missing = serve.configured_platforms(half)
    assert started == [] and any("SLACK_SIGNING_SECRET" in m for m in missing)


def test_serve_without_tokens_says_so(
    settings: Settings, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(serve, "get_settings", lambda: settings)
    assert serve.run(argparse.Namespace(only=None)) == 2
    err = capsys.readouterr().err
    assert "DISCORD_TOKEN" in err and "nothing to serve" in err
    assert serve.run(argparse.Namespace(only="discord")) == 2


def test_add_to_slack_starts_slack_without_a_bot_token(settings: Settings) -> None:
    oauth = settings.model_copy(
        update={
            "slack_client_id": "123.456",
            "slack_client_secret": SecretStr("shh"),
            "slack_signing_secret": SecretStr("sig"),
        }
    )
    assert serve.configured_platforms(oauth)[0] == ["slack"]
    no_secret = oauth.model_copy(update={"slack_signing_secret": None})
    started, missing = serve.configured_platforms(no_secret)
    assert started == [] and any("SLACK_SIGNING_SECRET" in m for m in missing)
    half = oauth.model_copy(update={"slack_client_secret": None})
    started, missing = serve.configured_platforms(half)
    assert started == [] and any("SLACK_CLIENT_SECRET" in m for m in missing)
