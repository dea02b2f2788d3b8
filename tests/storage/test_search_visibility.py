"""Search starvation: 520 private pieces of another workspace that say "harbour" must not
push a workspace's own "harbour" piece out of its results (the candidate limit used to be
applied before the visibility filter). On SQLite (FTS5) and PostgreSQL (tsvector)."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pytest
from sqlalchemy.orm import Session

from service.api import Requester
from storage.history import visible_to
from storage.models import Generation, utcnow
from storage.search import MAX_CANDIDATES, index_generation, semantic_pool, text_matches, to_blob
from storage.store import Store
from tests.storage.conftest import FakeEmbedder, make_composition

CROWD = MAX_CANDIDATES + 20  # 520


def crowd(store: Store, *, embed: bool = False) -> None:
    """CROWD private "harbour" pieces of workspace "other", all better matches (the word
    three times) and newer than the one the test looks for."""
    vector = to_blob(FakeEmbedder().embed(["harbour harbour harbour boats"])[0])
    later = utcnow() + timedelta(minutes=5)
    with store.db.write() as session:
        for i in range(CROWD):
            gen = Generation(
                id=f"pt-{i:06x}a",
                created_at=later + timedelta(seconds=i),
                platform="slack",
                workspace="other",
                user_id="mallory",
                visibility="private",
                image_sha256="0" * 64,
                mode="symbolic",
                status="done",
                caption="harbour harbour harbour boats",
                description="a harbour at night",
                embedding=vector if embed else None,
                embedding_model="fake" if embed else None,
            )
            session.add(gen)
            session.flush()
            index_generation(session, gen)


def own_piece(store: Store) -> str:
    return store.record(
        make_composition(caption="a quiet harbour at dawn", salt="own"),
        Requester("slack", "mine", "ada", channel="C1"),
    )


@pytest.mark.parametrize("any_term", [False, True])
def test_text_matches_filters_visibility_before_the_limit(any_store: Store, any_term: bool) -> None:
    gen_id = own_piece(any_store)
    crowd(any_store)
    where = [visible_to("mine", "ada"), Generation.status == "done"]
    with any_store.db.read() as session:
        assert isinstance(session, Session)
        unfiltered = text_matches(session, "harbour", any_term=any_term)
        filtered = text_matches(session, "harbour", any_term=any_term, where=where)
    assert gen_id not in unfiltered  # the starvation, as the store used to see it
    assert filtered == [gen_id]
    with any_store.db.read() as session:
        others = text_matches(session, "harbour", where=[visible_to("other", "mallory")])
    assert len(others) == MAX_CANDIDATES  # the limit still holds


def test_semantic_pool_holds_only_visible_pieces(any_store: Store) -> None:
    gen_id = own_piece(any_store)
    crowd(any_store, embed=True)
    with any_store.db.write() as session:
        session.get(Generation, gen_id).embedding = to_blob(  # type: ignore[union-attr]
            FakeEmbedder().embed(["a quiet harbour at dawn"])[0]
        )
    where = [visible_to("mine", "ada"), Generation.status == "done"]
    with any_store.db.read() as session:
        pool = semantic_pool(session, where, limit=10)
    assert [gid for gid, _ in pool] == [gen_id]
    assert np.frombuffer(pool[0][1], dtype="<f4").shape == (384,)


def test_store_search_finds_its_own_piece_in_a_crowd(settings, embedder) -> None:  # type: ignore[no-untyped-def]
    with Store.open(settings, embedder=embedder) as store:
        gen_id = own_piece(store)
        crowd(store)
        found = store.search("harbour", workspace="mine", user_id="ada", semantic=False)
    assert [v.id for v in found] == [gen_id]


def test_store_semantic_search_is_not_starved(settings, embedder) -> None:  # type: ignore[no-untyped-def]
    """The semantic pool was already filtered in its query: kept that way."""
    with Store.open(settings, embedder=embedder) as store:
        gen_id = own_piece(store)
        crowd(store, embed=True)
        found = store.search("harbor dawn quiet", workspace="mine", user_id="ada")
    assert gen_id in [v.id for v in found]
