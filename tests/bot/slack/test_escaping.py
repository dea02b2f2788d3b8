"""What people wrote (a hint, a name) comes back as text on Slack: in the result, the
listings, the details and the community copy, never as a link or a mention."""

from __future__ import annotations

import re
from typing import Any

import pytest

from bot.slack import blocks
from engine.markdown import escape_markdown
from engine.types import ComposeRequest, Composition, ProgressFn
from tests import images
from tests.bot.jobs import stub_runner
from tests.bot.slack.conftest import ALICE, CHANNEL, SlackBench
from tests.bot.slack.fake_slack import message_text
from tests.bot.slack.helpers import command, history, requester
from tests.storage.conftest import make_composition

HINT = "[Reset your password](https://evil.example/reset) <@U_BOB> <!everyone> @everyone"
NAME = "[Support](https://evil.example/login) <!here>"
COMMUNITY = "C_COMMUNITY"


def motivating_runner(request: ComposeRequest, progress: ProgressFn) -> Composition:
    """``stub_runner``'s piece with a motivation that quotes the hint as the engine does
    (engine/motivation.py, tested in tests/engine/test_motivation.py)."""
    piece = stub_runner(request, progress)
    quoted = f"You asked for “{escape_markdown(request.hint or '')}”. See [the docs](https://pictune.example)."
    return make_composition(
        caption=piece.perception.caption, hint=request.hint, motivation=quoted, seed=piece.seed
    )


@pytest.fixture
def runner() -> Any:
    return motivating_runner


def links_and_mentions(text: str) -> list[str]:
    """Slack's live markup in posted text: links <url|text>, <@user>, <!everyone>, <!here>
    (Pictune's own <!date^…> timestamps notify no one and are left out)."""
    return re.findall(r"<(?:https?://[^>]*|@[^>]*|!(?!date\^)[^>]*)>", text)


async def test_a_hint_and_a_name_are_shown_as_text_everywhere(bench: SlackBench) -> None:
    # The whole story goes in the thread (story threads on), so the motivation is posted too.
    bench.store.workspaces.update(
        "slack", bench.fake.team_id, community_channel=COMMUNITY, story_threads=True
    )
    original = bench.fake._m_users_info

    def users_info(args: dict[str, Any]) -> dict[str, Any]:
        answer = original(args)
        answer["user"]["profile"]["display_name"] = NAME
        return answer

    bench.fake._m_users_info = users_info  # type: ignore[method-assign]
    image = bench.fake.host_file("sea.png", images.photo_like(3))
    event = bench.fake.mention(CHANNEL, ALICE, HINT, [image])
    assert (await bench.sender.event(event)).status_code == 200
    await bench.settle()
    (piece,) = history(bench)
    assert piece.hint and "evil.example" in piece.hint

    result = bench.fake.thread_text(CHANNEL, event["ts"])
    assert "evil.example/reset" in result  # shown...
    assert links_and_mentions(result) == ["<https://pictune.example|the docs>"]  # ...as text
    community = [m for (c, _), m in bench.fake.messages.items() if c == COMMUNITY]
    copy = "\n".join(message_text(m) for m in community)
    assert "evil.example/login" in copy
    assert [x for x in links_and_mentions(copy) if "evil" in x or "!" in x] == []

    listing = await command(bench, "history")
    assert "evil.example" in listing and not links_and_mentions(listing)
    details = bench.bot.details(requester(bench), piece.id)
    assert not links_and_mentions(blocks.mrkdwn(details))
