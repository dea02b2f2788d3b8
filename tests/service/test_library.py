"""The library (service/library.py): finding, listing, favourites, deleting, the messages
that show a piece, and a workspace's settings, each with the sentence it refuses with."""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from typing import Any

import pytest
from PIL import Image

from engine.config import Settings
from engine.errors import Forbidden, InputError, InvalidOption, LimitReached, NotFound
from service.api import Requester
from service.library import Library, clean_id
from service.place_words import place_words
from service.requests import Requests
from storage.store import Store
from tests.bot.jobs import ThreadJobService
from tests.images import rgb_png

ADA = Requester("discord", "guild-1", "ada", channel="c1", user_name="Ada")
GRACE = Requester("discord", "guild-1", "grace", channel="c1", user_name="Grace")
STRANGER = Requester("slack", "team-9", "ada", channel="c9")
SLACKER = Requester("slack", "team-9", "bob", channel="c9")


@pytest.fixture
def library(settings: Settings, store: Store) -> Library:
    return Library(settings, store)


@pytest.fixture
def requests(library: Library, store: Store) -> Requests:
    """Pieces to look up are made through the requests, as the bots make them."""
    return Requests(library, ThreadJobService(store))


async def test_listings_favourites_and_delete(library: Library, requests: Requests) -> None:
    made = await requests.compose(ADA, rgb_png(), hint="waltz")
    assert [v.id for v in library.history(GRACE)] == [made.id]
    assert [v.id for v in library.history(GRACE, user_id="grace")] == []
    assert [v.id for v in library.search(GRACE, "moon")] == [made.id]
    assert library.search(STRANGER, "moon") == []  # another workspace never sees it
    assert library.favourite(GRACE, made.id) is True
    assert [v.id for v in library.favourites(GRACE)] == [made.id]
    assert library.favourite(GRACE, made.id) is False
    assert library.favourites(GRACE) == []
    with pytest.raises(Forbidden):
        library.delete(GRACE, made.id)
    assert library.delete(GRACE, made.id, is_manager=True) == made.id
    with pytest.raises(NotFound):
        library.find(ADA, made.id)


@pytest.mark.parametrize("text", ["", "   ", "x" * 201])
def test_searches_need_a_few_words(library: Library, text: str) -> None:
    with pytest.raises(InvalidOption) as caught:
        library.search(ADA, text)
    assert caught.value.user_message.endswith(".")


async def test_finding_a_piece_by_its_id_as_typed(library: Library, requests: Requests) -> None:
    made = await requests.compose(ADA, rgb_png())
    assert library.find(GRACE, f"`{made.id.upper()}`").id == made.id
    assert library.finished(GRACE, made.id).status == "done"
    assert clean_id(" `PT-AB12` ") == "pt-ab12"
    for bad in ("", "pt ab", "x" * 33, "pt-ä;"):
        with pytest.raises(NotFound):
            library.find(ADA, bad)


async def test_a_piece_on_its_way_is_not_finished(
    library: Library, requests: Requests, store: Store
) -> None:
    pending = store.create_pending(ADA, image_sha256="ab" * 32, mode="symbolic")
    assert library.find(ADA, pending).status == "queued"
    with pytest.raises(InputError, match="still being composed"):
        library.finished(ADA, pending)


async def test_messages_find_their_piece(library: Library, requests: Requests) -> None:
    made = await requests.compose(ADA, rgb_png())
    library.link_message(made.id, "m-1")
    assert library.generation_for_message(GRACE, "m-1") == made.id
    assert library.generation_for_message(STRANGER, "m-1") is None
    assert library.generation_for_message(GRACE, "m-2") is None


async def test_settings_quota_and_community_channel(library: Library, requests: Requests) -> None:
    with pytest.raises(Forbidden):
        library.update_settings(ADA, is_manager=False, default_mode="symbolic")
    with pytest.raises(InvalidOption):
        library.update_settings(ADA, is_manager=True, default_mode="opera")
    choices = library.update_settings(
        ADA, is_manager=True, community_channel="c-gallery", user_daily_quota=1
    )
    assert choices.community_channel == "c-gallery" and choices.user_daily_quota == 1
    made = await requests.compose(ADA, rgb_png())
    assert library.community_channel(ADA, made) == "c-gallery"
    asked_there = Requester("discord", "guild-1", "ada", channel="c-gallery")
    assert library.community_channel(asked_there, made) is None
    with pytest.raises(LimitReached, match="daily limit"):
        await requests.compose(ADA, rgb_png())
    await requests.compose(GRACE, rgb_png())  # others are not held back
    library.update_settings(ADA, is_manager=True, community_channel="")
    assert library.community_channel(ADA, made) is None


async def test_wording_follows_the_platform(library: Library, requests: Requests) -> None:
    assert place_words("discord").place == "server"
    assert place_words("slack").place == "workspace"
    library.update_settings(SLACKER, is_manager=True, workspace_daily_quota=1)
    made = await requests.compose(SLACKER, rgb_png())
    with pytest.raises(LimitReached) as caught:
        await requests.compose(STRANGER, rgb_png())
    assert "This workspace has reached" in caught.value.user_message
    with pytest.raises(Forbidden, match="workspace admins") as refused:
        library.update_settings(SLACKER, is_manager=False, default_mode="audio")
    assert "server" not in refused.value.user_message
    with pytest.raises(Forbidden) as refused:
        library.delete(STRANGER, made.id)
    assert "workspace admins" in refused.value.user_message
    with pytest.raises(Forbidden, match="server managers"):
        library.update_settings(ADA, is_manager=False, default_mode="audio")


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"max_duration": "45"}, 45.0),
        ({"max_duration": "45s"}, 45.0),
        ({"max_duration": 0}, None),
        ({"user_daily_quota": "3"}, 3),
        ({"user_daily_quota": "0"}, None),
        ({"default_mode": " Symbolic "}, "symbolic"),
    ],
)
def test_settings_accept_numbers_as_typed(
    library: Library, changes: dict[str, Any], expected: Any
) -> None:
    choices = library.update_settings(ADA, is_manager=True, **changes)
    assert getattr(choices, next(iter(changes))) == expected


@pytest.mark.parametrize(
    "changes",
    [
        {"max_duration": "long"},
        {"max_duration": 9999},
        {"max_duration": 1},  # under the deployment's shortest piece
        {"max_duration": "nan"},
        {"user_daily_quota": "lots"},
        {"user_daily_quota": "2.5"},
        {"workspace_daily_quota": -1},
        {"colour": "blue"},
    ],
)
def test_settings_refuse_bad_values_with_a_clear_answer(
    library: Library, changes: dict[str, Any]
) -> None:
    with pytest.raises(InvalidOption) as caught:
        library.update_settings(ADA, is_manager=True, **changes)
    assert caught.value.user_message.endswith(".")
    assert library.workspace_settings(ADA).max_duration is None


async def test_the_picture_beside_the_music_is_made_once_and_deleted_with_the_piece(
    library: Library, requests: Requests, store: Store
) -> None:
    view = await requests.compose(ADA, rgb_png(640, 480))
    path = library.thumbnails.path(view)
    assert path is not None and path.read_bytes()[:3] == b"\xff\xd8\xff"  # a JPEG
    with Image.open(path) as picture:
        assert picture.size == (320, 240)  # the longer side 320, the shape kept
    made = path.stat().st_mtime_ns
    assert library.thumbnails.path(library.find(ADA, view.id)) == path
    assert path.stat().st_mtime_ns == made  # made once
    library.delete(ADA, view.id)
    assert not path.exists()
    # A piece that kept no picture is shown without one.
    bare = store.create_pending(ADA, image_sha256="ab" * 32, mode="symbolic")
    assert (
        library.thumbnails.path(store.get(bare, workspace=ADA.workspace, user_id=ADA.user_id))
        is None
    )


def test_story_threads_are_off_until_a_manager_turns_them_on(library: Library) -> None:
    assert not library.workspace_settings(ADA).story_threads
    with pytest.raises(Forbidden):
        library.update_settings(ADA, is_manager=False, story_threads=True)
    assert library.update_settings(ADA, is_manager=True, story_threads="on").story_threads
    assert not library.update_settings(ADA, is_manager=True, story_threads=False).story_threads
    with pytest.raises(InvalidOption, match="on or off"):
        library.update_settings(ADA, is_manager=True, story_threads="sometimes")


async def test_likes_count_only_public_community_posts_and_top_ranks_the_week(
    library: Library, requests: Requests, store: Store
) -> None:
    public = await requests.compose(ADA, rgb_png(40, 30))
    hidden = await requests.compose(ADA, rgb_png(30, 40), private=True)
    library.link_message(public.id, "m-public", role="community")
    library.link_message(hidden.id, "m-hidden", role="community")  # as if it leaked there
    library.link_message(public.id, "m-result")  # the result itself: not a community post
    assert library.like(GRACE, "m-public") == 1
    assert library.like(GRACE, "m-public") == 1  # once per person
    assert library.like(ADA, "m-public") == 2
    assert library.like(GRACE, "m-hidden") is None  # a private piece is never counted
    assert library.like(GRACE, "m-result") is None
    assert library.like(STRANGER, "m-public") is None  # another workspace's post
    assert [(v.id, n) for v, n in library.top(GRACE)] == [(public.id, 2)]
    assert library.like(ADA, "m-public", liked=False) == 1
    with pytest.raises(Forbidden):
        library.publish(GRACE, public.id)  # not hers (and public anyway)
    with pytest.raises(NotFound):
        library.publish(GRACE, hidden.id)  # she cannot even see it
    assert library.publish(ADA, hidden.id).visibility == "public"
    assert library.like(GRACE, "m-hidden") == 1  # public now: counted
    with pytest.raises(InputError, match="already public"):
        library.publish(ADA, hidden.id)


async def test_a_reused_id_never_shows_another_piece_s_picture(
    library: Library, requests: Requests, store: Store
) -> None:
    """A database started afresh over the same data folder may give an id out again."""
    view = await requests.compose(ADA, rgb_png(640, 480))
    old = library.thumbnails.path(view)
    assert old is not None and old.is_relative_to(library.settings.data_dir)
    later = dataclasses.replace(view, created_at=view.created_at + timedelta(seconds=1))
    assert library.thumbnails.path(later) != old
