"""The web's view of the history: the chat visibility rule asked for the published
workspaces and an anonymous reader."""

from __future__ import annotations

import pytest

from engine.errors import NotFound
from storage.gallery import PICTURE, Filters, Gallery, published_from
from storage.store import Store
from storage.views import Requester
from tests.storage.conftest import TINY_PNG, FakeEmbedder, make_composition


def _gallery(store: Store, published: frozenset[str] | None = frozenset({"local"})) -> Gallery:
    return Gallery(store.db, store.artifacts, published=published, embedder=FakeEmbedder())


def _make(store: Store, salt: str, *, who: Requester | None = None, **kw: object) -> str:
    return store.record(
        make_composition(salt=salt, **kw),  # type: ignore[arg-type]
        who or Requester(),
        source_image=TINY_PNG,
    )


def test_published_from_the_setting() -> None:
    assert published_from("*") is None
    assert published_from(" local, T123 ,") == frozenset({"local", "T123"})
    assert published_from("") == frozenset()


def test_the_gallery_lists_public_pieces_of_published_workspaces_newest_first(
    store: Store,
) -> None:
    first = _make(store, "a")
    second = _make(store, "b")
    _make(store, "c", who=Requester(visibility="private"))
    _make(store, "d", who=Requester(platform="discord", workspace="G1", user_id="U1"))
    gallery = _gallery(store)
    assert [v.id for v in gallery.page()] == [second, first]
    assert {v.id for v in _gallery(store, None).page()} >= {first, second}
    assert len(_gallery(store, None).page()) == 3  # every workspace, still no private piece
    # Pages: the next one starts after the last id of this one.
    assert [v.id for v in gallery.page(limit=1)] == [second]
    assert [v.id for v in gallery.page(limit=1, before=second)] == [first]


def test_filters_by_style_mood_and_workspace(store: Store) -> None:
    gid = _make(store, "a")
    gallery = _gallery(store, frozenset({"local", "G1"}))
    assert [v.id for v in gallery.page(filters=Filters(style="folk"))] == [gid]
    assert gallery.page(filters=Filters(style="jazz")) == []
    assert [v.id for v in gallery.page(filters=Filters(mood="calm"))] == [gid]
    assert gallery.page(filters=Filters(mood="cal")) == []  # a whole mood, not a fragment
    assert [v.id for v in gallery.page(filters=Filters(workspace="local"))] == [gid]
    assert gallery.page(filters=Filters(workspace="G1")) == []
    # A workspace that is not published stays out, even when asked for by name.
    assert _gallery(store).page(filters=Filters(workspace="G1")) == []


def test_search_finds_public_pieces_only(store: Store) -> None:
    public = _make(store, "a", motivation="The lighthouse became a slow horn call.")
    _make(
        store,
        "b",
        motivation="Another lighthouse, kept to myself.",
        who=Requester(visibility="private"),
    )
    found = _gallery(store).search("lighthouse")
    assert [(v.id, v.match) for v in found] == [(public, "text")]


def test_a_piece_opens_only_when_listed_unless_shared(store: Store) -> None:
    public = _make(store, "a")
    private = _make(store, "b", who=Requester(visibility="private"))
    gallery = _gallery(store)
    page = gallery.piece(public)
    assert page.view.id == public and page.abc and page.abc.startswith("X:1")
    assert {f.kind for f in page.files.values()} >= {"audio", "midi", "abc", "score", "source"}
    with pytest.raises(NotFound):
        gallery.piece(private)
    assert gallery.piece(private, shared=True).view.id == private
    assert gallery.file(public, PICTURE).kind == "source"
    with pytest.raises(NotFound):
        gallery.file(private, PICTURE)
    with pytest.raises(NotFound):
        gallery.file(public, "result.json")  # the summary is not served


def test_a_deleted_piece_is_gone_at_once(store: Store) -> None:
    gid = _make(store, "a")
    gallery = _gallery(store)
    gallery.piece(gid)
    store.delete(gid, by_user="local")
    for shared in (False, True):
        with pytest.raises(NotFound):
            gallery.piece(gid, shared=shared)
    assert gallery.page() == []


def test_lineage_names_the_parent_and_the_children(store: Store) -> None:
    parent = _make(store, "a", seed=7)
    refined = store.record(make_composition(salt="b", seed=7), Requester(), parent_id=parent)
    varied = store.record(make_composition(salt="c", seed=9), Requester(), parent_id=parent)
    hidden = store.record(
        make_composition(salt="d", seed=9), Requester(visibility="private"), parent_id=parent
    )
    gallery = _gallery(store)
    relatives = [(how, v.id) for how, v in gallery.piece(parent).relatives]
    assert relatives == [("refinement", refined), ("variation", varied)]
    assert hidden not in {gid for _, gid in relatives}
    assert [(how, v.id) for how, v in gallery.piece(refined).relatives] == [("parent", parent)]
