"""The durable queue on a real SQLite file: limits, claiming, guards, crash recovery."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest

from engine.config import Settings
from engine.errors import Busy, LimitReached
from storage.jobs import CRASHED_MESSAGE, JobQueue, Limits
from storage.store import Origin, Store
from tests.storage.conftest import TINY_PNG

NO_LIMITS = Limits(0, 0, 0)


@pytest.fixture
def q_store(settings: Settings) -> Iterator[Store]:
    s = Store.open(settings, semantic=False)
    yield s
    s.close()


@pytest.fixture
def queue(q_store: Store) -> JobQueue:
    return JobQueue(q_store.db)


def add(
    store: Store,
    queue: JobQueue,
    user: str = "u1",
    ws: str = "g1",
    limits: Limits = NO_LIMITS,
    max_attempts: int = 3,
) -> tuple[str, str, int]:
    gen = store.create_pending(
        Origin("discord", ws, None, user), mode="symbolic", source_image=TINY_PNG + user.encode()
    )
    job, pos = queue.enqueue(
        generation_id=gen,
        payload={"hint": None},
        platform="discord",
        workspace=ws,
        user_id=user,
        limits=limits,
        max_attempts=max_attempts,
    )
    return job.id, gen, pos


def gen_status(store: Store, gen: str, ws: str = "g1") -> str:
    return store.get(gen, workspace=ws, user_id=None).status


def test_positions_and_fifo_claims(q_store: Store, queue: JobQueue) -> None:
    ids = [add(q_store, queue, user=f"u{i}") for i in range(3)]
    assert [pos for _, _, pos in ids] == [0, 1, 2]
    claim = queue.claim_next("w")
    assert claim is not None and claim.job_id == ids[0][0] and claim.attempt == 1
    assert gen_status(q_store, ids[0][1]) == "running"
    assert queue.position(ids[2][0]) == 1
    assert queue.counts()["running"] == 1 and queue.counts()["queued"] == 2


def test_limits_per_user_workspace_and_queue(q_store: Store, queue: JobQueue) -> None:
    limits = Limits(user_active=2, workspace_active=3, queue_cap=4)
    add(q_store, queue, "a", limits=limits)
    add(q_store, queue, "a", limits=limits)
    with pytest.raises(LimitReached) as exc:
        add(q_store, queue, "a", limits=limits)
    assert "2 pieces" in exc.value.user_message
    add(q_store, queue, "b", limits=limits)  # someone else is not held back
    with pytest.raises(LimitReached) as exc:
        add(q_store, queue, "c", limits=limits)  # the workspace is full
    assert "server" in exc.value.user_message
    add(q_store, queue, "d", ws="g2", limits=limits)
    with pytest.raises(Busy):
        add(q_store, queue, "e", ws="g3", limits=limits)  # 4 queued in all


def test_concurrent_claims_never_share_a_job(q_store: Store, queue: JobQueue) -> None:
    for i in range(20):
        add(q_store, queue, user=f"u{i}")
    got: list[str] = []
    lock = threading.Lock()

    def worker(name: str) -> None:
        while (claim := queue.claim_next(name)) is not None:
            with lock:
                got.append(claim.job_id)

    threads = [threading.Thread(target=worker, args=(f"w{i}",)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(got) == 20 and len(set(got)) == 20


def test_finish_is_guarded_by_the_claim(q_store: Store, queue: JobQueue) -> None:
    job_id, gen, _ = add(q_store, queue)
    claim = queue.claim_next("w1")
    assert claim is not None
    assert queue.fail_now(job_id, "Composing took too long")  # e.g. a timeout elsewhere
    assert gen_status(q_store, gen) == "failed"
    assert queue.finish(claim, "done") is False  # the late worker cannot overwrite it
    assert queue.claim_status(claim) == "lost"
    job = queue.get(job_id)
    assert job is not None and job.state == "failed" and job.error == "Composing took too long"


def test_failure_marks_the_generation_with_the_user_reason(q_store: Store, queue: JobQueue) -> None:
    job_id, gen, _ = add(q_store, queue)
    claim = queue.claim_next("w1")
    assert claim is not None
    assert queue.finish(claim, "failed", error="That image looks broken.", error_detail="trace")
    view = q_store.get(gen, workspace="g1", user_id=None)
    assert view.status == "failed" and view.error == "That image looks broken."
    assert queue.finish(claim, "failed") is False  # only once


def test_stale_jobs_requeue_then_fail_after_max_attempts(q_store: Store, queue: JobQueue) -> None:
    job_id, gen, _ = add(q_store, queue, max_attempts=2)
    for attempt in (1, 2):
        claim = queue.claim_next("dead-worker")
        assert claim is not None and claim.attempt == attempt
        time.sleep(0.05)
        assert queue.heartbeat("another-worker") == 0  # someone else's beat does not help
        requeued = queue.requeue_stale(0.01)
        if attempt == 1:
            assert requeued == [job_id]
            assert gen_status(q_store, gen) == "queued"
    job = queue.get(job_id)
    assert job is not None and job.state == "failed"
    assert job.error == CRASHED_MESSAGE.format(n=2)
    assert gen_status(q_store, gen) == "failed"


def test_heartbeat_keeps_a_job(q_store: Store, queue: JobQueue) -> None:
    add(q_store, queue)
    claim = queue.claim_next("w1")
    assert claim is not None
    time.sleep(0.3)
    assert queue.heartbeat("w1") == 1
    assert queue.requeue_stale(0.2) == []


def test_claim_named_job_for_redelivery(q_store: Store, queue: JobQueue) -> None:
    job_id, gen, _ = add(q_store, queue)
    first = queue.claim(job_id, "w1", stale_after=60)
    assert first.status == "claimed" and first.claim is not None
    assert queue.claim(job_id, "w2", stale_after=60).status == "busy"
    time.sleep(0.05)
    takeover = queue.claim(job_id, "w2", stale_after=0.01)  # w1 stopped beating
    assert takeover.status == "claimed" and takeover.claim is not None
    assert takeover.claim.attempt == 2
    assert queue.finish(first.claim, "done") is False
    assert queue.finish(takeover.claim, "done")
    assert queue.claim(job_id, "w3", stale_after=60).status == "final"


def test_redelivery_after_completion_closes_without_running(
    q_store: Store, queue: JobQueue
) -> None:
    from tests.storage.conftest import make_composition

    job_id, gen, _ = add(q_store, queue)
    claim = queue.claim(job_id, "w1", stale_after=60).claim
    assert claim is not None
    q_store.complete(gen, make_composition())  # the worker died right after storing
    result = queue.claim(job_id, "w2", stale_after=0.0)
    assert result.status == "already_done"
    job = queue.get(job_id)
    assert job is not None and job.state == "done"


def test_cancel_queued_and_running(q_store: Store, queue: JobQueue) -> None:
    queued_id, queued_gen, _ = add(q_store, queue, "a")
    running_id, running_gen, _ = add(q_store, queue, "b")
    # claim the second one only
    claim = queue.claim(running_id, "w1", stale_after=60).claim
    assert claim is not None
    assert queue.cancel(queued_id) == "cancelled"
    assert gen_status(q_store, queued_gen) == "cancelled"
    assert queue.cancel(running_id) == "running"
    assert queue.claim_status(claim) == "cancel"
    assert queue.finish(claim, "done")
    job = queue.get(running_id)
    assert job is not None and job.state == "cancelled"
    assert gen_status(q_store, running_gen) == "cancelled"
    assert queue.cancel("nope") is None


def test_release_does_not_count_the_attempt(q_store: Store, queue: JobQueue) -> None:
    job_id, _, _ = add(q_store, queue)
    claim = queue.claim_next("w1")
    assert claim is not None and queue.release(claim)
    job = queue.get(job_id)
    assert job is not None and job.state == "queued" and job.attempts == 0
