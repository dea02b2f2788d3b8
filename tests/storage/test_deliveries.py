"""storage/deliveries.py: which bot posts a piece's outcome, on SQLite and PostgreSQL.

Leases are moved into the past with an UPDATE ("the bot died a while ago") rather than
waited for, so nothing here depends on the clock's speed.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from storage.deliveries import MAX_ATTEMPTS, Undelivered
from storage.jobs import JobQueue
from storage.models import Generation, utcnow
from storage.store import Requester, Store
from tests.storage.conftest import TINY_PNG, make_composition
from tests.storage.test_jobs import run_together

LEASE = 60.0


@pytest.fixture
def queue(any_store: Store) -> JobQueue:
    return JobQueue(any_store.db)


def asked(
    store: Store, queue: JobQueue, user: str = "u1", platform: str = "discord", n: int = 0
) -> tuple[str, str]:
    """A piece asked through the job service, as a bot asks: (generation id, job id)."""
    gen = store.create_pending(
        Requester(platform, "g1", user, "c1", user_name=user.title()),
        mode="symbolic",
        source_image=TINY_PNG + f"{user}{n}".encode(),
    )
    job, _ = queue.enqueue(
        generation_id=gen, payload={}, platform=platform, workspace="g1", user_id=user
    )
    return gen, job.id


def backdate(
    store: Store, gen: str, *, asked_ago: float | None = None, lease_ago: float = 0
) -> None:
    """Move a piece's asking time (``asked_ago`` seconds ago) and, when it has one, its lease
    (ran out ``lease_ago`` seconds ago) into the past."""
    now = utcnow()
    with store.db.write() as session:
        row = session.get(Generation, gen)
        assert row is not None
        if asked_ago is not None:
            row.created_at = now - timedelta(seconds=asked_ago)
        if lease_ago and row.delivery_lease_until is not None:
            row.delivery_lease_until = now - timedelta(seconds=lease_ago)


def claim(store: Store, owner: str = "bot-a", platform: str = "discord") -> list[Undelivered]:
    return store.deliveries.claim_undelivered(platform, owner=owner, lease_seconds=LEASE)


def test_a_piece_is_claimed_once_whatever_its_state(any_store: Store, queue: JobQueue) -> None:
    running, _ = asked(any_store, queue, n=2)
    done, _ = asked(any_store, queue, n=3)
    failed, _ = asked(any_store, queue, n=4)
    claims = {c.generation_id: c for c in (queue.claim_next("w") for _ in range(3)) if c}
    any_store.complete(done, make_composition(seed=3))
    queue.finish(claims[done], "done")
    queue.finish(claims[failed], "failed", error="That picture was too dark: try another.")
    queued, _ = asked(any_store, queue, n=1)
    cancelled, cancelled_job = asked(any_store, queue, n=5)
    queue.cancel(cancelled_job)
    cli = any_store.record(make_composition(seed=9), Requester("discord", "g1", "u1", channel="c1"))
    elsewhere, _ = asked(any_store, queue, platform="slack", n=6)
    any_store.deliveries.set_progress_message(running, "1234567890")
    ours = [queued, running, done, failed, cancelled]
    for gen in [*ours, cli, elsewhere]:
        backdate(any_store, gen, asked_ago=2 * LEASE)

    found = {c.generation_id: c for c in claim(any_store)}
    assert set(found) == set(ours)  # not the CLI's piece (no job), not Slack's
    assert [found[g].job_state for g in ours] == [
        "queued",
        "running",
        "done",
        "failed",
        "cancelled",
    ]
    assert found[running].progress_message_id == "1234567890"
    assert found[queued].progress_message_id is None
    assert found[done].status == "done"
    first = found[running]
    assert (first.platform, first.workspace, first.channel, first.user_id, first.user_name) == (
        "discord",
        "g1",
        "c1",
        "u1",
        "U1",
    )
    assert first.visibility == "public" and first.attempts == 1 and first.job_id
    assert claim(any_store, "bot-b") == [] and claim(any_store, "bot-a") == []  # held now
    assert [c.generation_id for c in claim(any_store, platform="slack")] == [elsewhere]


def test_a_fresh_piece_is_left_to_the_bot_that_asked(any_store: Store, queue: JobQueue) -> None:
    """Between submitting and holding, a new piece is nobody's for one lease: another bot
    must not grab it from under the one that asked."""
    gen, _ = asked(any_store, queue)
    assert claim(any_store, "bot-b") == []
    assert any_store.deliveries.hold(gen, owner="bot-a", lease_seconds=LEASE)
    backdate(any_store, gen, asked_ago=2 * LEASE)
    assert claim(any_store, "bot-b") == []  # held, and the lease is live
    assert not any_store.deliveries.hold(gen, owner="bot-b", lease_seconds=LEASE)
    assert any_store.deliveries.renew(gen, owner="bot-a", lease_seconds=LEASE)
    assert not any_store.deliveries.renew(gen, owner="bot-b", lease_seconds=LEASE)


def test_a_piece_given_back_is_claimed_at_once_without_counting(
    any_store: Store, queue: JobQueue
) -> None:
    gen, _ = asked(any_store, queue)
    assert any_store.deliveries.hold(gen, owner="bot-a", lease_seconds=LEASE)
    assert not any_store.deliveries.release(gen, owner="bot-b")  # not theirs to give
    assert any_store.deliveries.release(gen, owner="bot-a")  # the bot stops: no lease left
    (taken,) = claim(any_store, "bot-b")
    assert taken.generation_id == gen and taken.attempts == 1


def test_an_expired_lease_is_claimed_again(any_store: Store, queue: JobQueue) -> None:
    gen, _ = asked(any_store, queue)
    backdate(any_store, gen, asked_ago=2 * LEASE)
    assert [c.generation_id for c in claim(any_store, "bot-a")] == [gen]
    backdate(any_store, gen, lease_ago=1)  # bot-a died mid-delivery
    (again,) = claim(any_store, "bot-b")
    assert again.generation_id == gen and again.attempts == 2
    assert not any_store.deliveries.renew(gen, owner="bot-a", lease_seconds=LEASE)
    assert any_store.deliveries.renew(gen, owner="bot-b", lease_seconds=LEASE)
    # Each claim counts: a piece whose post keeps failing is given up after MAX_ATTEMPTS.
    for n in range(3, MAX_ATTEMPTS + 1):
        backdate(any_store, gen, lease_ago=1)
        assert [c.attempts for c in claim(any_store, f"bot-{n}")] == [n]
    backdate(any_store, gen, lease_ago=1)
    assert claim(any_store, "bot-z") == []


def test_delivered_and_deleted_pieces_are_never_claimed(any_store: Store, queue: JobQueue) -> None:
    delivered, _ = asked(any_store, queue, n=1)
    deleted, _ = asked(any_store, queue, n=2)
    for gen in (delivered, deleted):
        backdate(any_store, gen, asked_ago=2 * LEASE)
    assert any_store.deliveries.mark_delivered(delivered)
    assert not any_store.deliveries.mark_delivered(delivered)  # once
    assert not any_store.deliveries.set_progress_message(delivered, "55")  # nobody waits any more
    any_store.delete(deleted, by_user="u1")
    assert claim(any_store) == []


def test_pieces_older_than_the_window_are_left(any_store: Store, queue: JobQueue) -> None:
    old, _ = asked(any_store, queue, n=1)
    recent, _ = asked(any_store, queue, n=2)
    backdate(any_store, old, asked_ago=25 * 3600)
    backdate(any_store, recent, asked_ago=23 * 3600)
    assert [c.generation_id for c in claim(any_store)] == [recent]
    assert (
        any_store.deliveries.claim_undelivered(
            "discord", owner="bot-b", lease_seconds=LEASE, window=timedelta(days=2)
        )[0].generation_id
        == old
    )


def test_two_bots_claiming_at_once_get_disjoint_sets(any_store: Store, queue: JobQueue) -> None:
    pieces = {asked(any_store, queue, n=i)[0] for i in range(24)}
    for gen in pieces:
        backdate(any_store, gen, asked_ago=2 * LEASE)
    results = run_together(
        4,
        lambda i: [
            c.generation_id
            for _ in range(3)
            for c in any_store.deliveries.claim_undelivered(
                "discord", owner=f"bot-{i}", lease_seconds=LEASE, limit=4
            )
        ],
    )
    taken: list[str] = []
    for got in results:
        assert isinstance(got, list), got
        taken += got
    assert sorted(taken) == sorted(pieces)  # every piece exactly once


def test_a_progress_message_id_is_checked(any_store: Store, queue: JobQueue) -> None:
    gen, _ = asked(any_store, queue)
    for bad in ("", "x" * 129):
        with pytest.raises(ValueError):
            any_store.deliveries.set_progress_message(gen, bad)
    assert any_store.deliveries.set_progress_message(gen, "C123:1700000000.000100")
