"""Share links: unguessable, revocable, and closed by deleting the piece."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from engine.errors import NotFound
from storage.shares import TOKEN_PATTERN, Shares, token_digest
from storage.store import Store
from storage.views import Requester
from tests.storage.conftest import make_composition

OWNER = Requester(platform="discord", workspace="G1", user_id="U1", visibility="private")


def test_the_owner_shares_a_private_piece_and_revokes_the_link(store: Store) -> None:
    gid = store.record(make_composition(), OWNER)
    shares = Shares(store.db)
    token = shares.create(gid, workspace="G1", user_id="U1")
    assert TOKEN_PATTERN.match(token)
    assert shares.create(gid, workspace="G1", user_id="U1") != token
    assert shares.resolve(token) == gid
    # Only the digest is kept: the database alone opens nothing.
    with store.db.read() as session:
        rows = [tuple(r) for r in session.execute(text("SELECT * FROM share_links"))]
    assert token_digest(token) in {r[0] for r in rows}
    assert not any(token in str(value) for row in rows for value in row)
    with pytest.raises(NotFound):
        shares.revoke(token, user_id="U2")  # not theirs
    shares.revoke(token, user_id="U1")
    assert shares.resolve(token) is None
    with pytest.raises(NotFound):
        shares.revoke(token, user_id="U1")


def test_nobody_else_may_share_a_private_piece(store: Store) -> None:
    gid = store.record(make_composition(), OWNER)
    shares = Shares(store.db)
    with pytest.raises(NotFound):
        shares.create(gid, workspace="G1", user_id="U2")
    with pytest.raises(NotFound):
        shares.create(gid, workspace="G2", user_id="U1")


def test_deleting_the_piece_closes_its_links(store: Store) -> None:
    gid = store.record(make_composition(), OWNER)
    shares = Shares(store.db)
    token = shares.create(gid, workspace="G1", user_id="U1")
    store.delete(gid, by_user="U1")
    assert shares.resolve(token) is None


def test_revoke_all_and_bad_tokens(store: Store) -> None:
    gid = store.record(make_composition(), OWNER)
    shares = Shares(store.db)
    tokens = [shares.create(gid, workspace="G1", user_id="U1") for _ in range(3)]
    assert shares.revoke_all(gid, user_id="U1") == 3
    assert all(shares.resolve(t) is None for t in tokens)
    for bad in ("", "x", "../../etc", "a" * 42, "a" * 44, tokens[0][:-1] + "!"):
        assert shares.resolve(bad) is None
