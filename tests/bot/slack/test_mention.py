"""What a message that mentions Pictune asks for."""

from __future__ import annotations

import pytest

from bot.slack.mention import parse_request
from engine.errors import InvalidOption


def test_parse_request_reads_hint_mode_and_duration() -> None:
    asked = parse_request("<@U_PICTUNE> a stormy sea mode=Symbolic duration=45s")
    assert (asked.hint, asked.mode, asked.duration) == ("a stormy sea", "symbolic", 45.0)
    assert parse_request("<@U_PICTUNE>").hint is None
    with pytest.raises(InvalidOption):
        parse_request("duration=long")
