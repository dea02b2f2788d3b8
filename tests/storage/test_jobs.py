"""The durable queue: limits, claiming, guards, crash recovery, and races between threads.

Every test runs twice: on a real SQLite file (writers serialised by BEGIN IMMEDIATE) and on
a real PostgreSQL server (``tests/servers.py``), where the queue relies on row locks,
``FOR UPDATE SKIP LOCKED`` and an advisory lock instead. The concurrent tests start their
threads on a barrier so that the races those locks prevent would actually happen.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Callable
from typing import TypeVar

import pytest

from engine.errors import Busy, LimitReached
from storage.jobs import CRASHED_MESSAGE, JobQueue, Limits
from storage.store import Requester, Store
from tests.storage.conftest import TINY_PNG

NO_LIMITS = Limits(0, 0, 0)
T = TypeVar("T")


@pytest.fixture
def queue(any_store: Store) -> JobQueue:
    return JobQueue(any_store.db)


def pending(store: Store, user: str = "u1", ws: str = "g1") -> str:
    """A generation waiting for its job, as the service creates it before enqueueing."""
    return store.create_pending(
        Requester("discord", ws, user), mode="symbolic", source_image=TINY_PNG + user.encode()
    )


def enqueue(
    queue: JobQueue,
    gen: str,
    user: str = "u1",
    ws: str = "g1",
    limits: Limits = NO_LIMITS,
    max_attempts: int = 3,
) -> tuple[str, int]:
    job, pos = queue.enqueue(
        generation_id=gen,
        payload={"hint": None},
        platform="discord",
        workspace=ws,
        user_id=user,
        limits=limits,
        max_attempts=max_attempts,
    )
    return job.id, pos


def add(
    store: Store,
    queue: JobQueue,
    user: str = "u1",
    ws: str = "g1",
    limits: Limits = NO_LIMITS,
    max_attempts: int = 3,
) -> tuple[str, str, int]:
    gen = pending(store, user, ws)
    job_id, pos = enqueue(queue, gen, user, ws, limits, max_attempts)
    return job_id, gen, pos


def run_together(n: int, fn: Callable[[int], T], timeout: float = 60) -> list[T | BaseException]:
    """Call ``fn(0) .. fn(n-1)`` on n threads released at the same moment; results (or the
    exception each raised) in order."""
    barrier = threading.Barrier(n)
    out: list[T | BaseException] = [RuntimeError("thread did not finish")] * n

    def body(i: int) -> None:
        barrier.wait(timeout)
        try:
            out[i] = fn(i)
        except BaseException as exc:  # noqa: BLE001 - handed back to the test
            out[i] = exc

    threads = [threading.Thread(target=body, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout)
    return out


def gen_status(store: Store, gen: str, ws: str = "g1") -> str:
    return store.get(gen, workspace=ws, user_id=None).status


def test_positions_and_fifo_claims(any_store: Store, queue: JobQueue) -> None:
    ids = [add(any_store, queue, user=f"u{i}") for i in range(3)]
    assert [pos for _, _, pos in ids] == [0, 1, 2]
    claim = queue.claim_next("w")
    assert claim is not None and claim.job_id == ids[0][0] and claim.attempt == 1
    assert gen_status(any_store, ids[0][1]) == "running"
    assert queue.position(ids[2][0]) == 1
    assert queue.counts()["running"] == 1 and queue.counts()["queued"] == 2


def test_limits_per_user_workspace_and_queue(any_store: Store, queue: JobQueue) -> None:
    limits = Limits(user_active=2, workspace_active=3, queue_cap=4)
    add(any_store, queue, "a", limits=limits)
    add(any_store, queue, "a", limits=limits)
    with pytest.raises(LimitReached) as exc:
        add(any_store, queue, "a", limits=limits)
    assert "2 pieces" in exc.value.user_message
    add(any_store, queue, "b", limits=limits)  # someone else is not held back
    with pytest.raises(LimitReached) as exc:
        add(any_store, queue, "c", limits=limits)  # the workspace is full
    assert "here already" in exc.value.user_message
    add(any_store, queue, "d", ws="g2", limits=limits)
    with pytest.raises(Busy):
        add(any_store, queue, "e", ws="g3", limits=limits)  # 4 queued in all


def test_concurrent_claims_never_share_a_job(any_store: Store, queue: JobQueue) -> None:
    for i in range(20):
        add(any_store, queue, user=f"u{i}")
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


def test_finish_is_guarded_by_the_claim(any_store: Store, queue: JobQueue) -> None:
    job_id, gen, _ = add(any_store, queue)
    claim = queue.claim_next("w1")
    assert claim is not None
    assert queue.fail_now(job_id, "Composing took too long")  # e.g. a timeout elsewhere
    assert gen_status(any_store, gen) == "failed"
    assert queue.finish(claim, "done") is False  # the late worker cannot overwrite it
    assert queue.claim_status(claim) == "lost"
    job = queue.get(job_id)
    assert job is not None and job.state == "failed" and job.error == "Composing took too long"


def test_failure_marks_the_generation_with_the_user_reason(
    any_store: Store, queue: JobQueue
) -> None:
    job_id, gen, _ = add(any_store, queue)
    claim = queue.claim_next("w1")
    assert claim is not None
    assert queue.finish(claim, "failed", error="That image looks broken.", error_detail="trace")
    view = any_store.get(gen, workspace="g1", user_id=None)
    assert view.status == "failed" and view.error == "That image looks broken."
    assert queue.finish(claim, "failed") is False  # only once


def test_stale_jobs_requeue_then_fail_after_max_attempts(any_store: Store, queue: JobQueue) -> None:
    job_id, gen, _ = add(any_store, queue, max_attempts=2)
    for attempt in (1, 2):
        claim = queue.claim_next("dead-worker")
        assert claim is not None and claim.attempt == attempt
        time.sleep(0.05)
        assert queue.heartbeat("another-worker") == 0  # someone else's beat does not help
        requeued = queue.requeue_stale(0.01)
        if attempt == 1:
            assert requeued == [job_id]
            assert gen_status(any_store, gen) == "queued"
    job = queue.get(job_id)
    assert job is not None and job.state == "failed"
    assert job.error == CRASHED_MESSAGE.format(n=2)
    assert gen_status(any_store, gen) == "failed"


def test_heartbeat_keeps_a_job(any_store: Store, queue: JobQueue) -> None:
    add(any_store, queue)
    claim = queue.claim_next("w1")
    assert claim is not None
    time.sleep(0.3)
    assert queue.heartbeat("w1") == 1
    assert queue.requeue_stale(0.2) == []


def test_claim_named_job_for_redelivery(any_store: Store, queue: JobQueue) -> None:
    job_id, gen, _ = add(any_store, queue)
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
    any_store: Store, queue: JobQueue
) -> None:
    from tests.storage.conftest import make_composition

    job_id, gen, _ = add(any_store, queue)
    claim = queue.claim(job_id, "w1", stale_after=60).claim
    assert claim is not None
    any_store.complete(gen, make_composition())  # the worker died right after storing
    result = queue.claim(job_id, "w2", stale_after=0.0)
    assert result.status == "already_done"
    job = queue.get(job_id)
    assert job is not None and job.state == "done"


def test_cancel_queued_and_running(any_store: Store, queue: JobQueue) -> None:
    queued_id, queued_gen, _ = add(any_store, queue, "a")
    running_id, running_gen, _ = add(any_store, queue, "b")
    # claim the second one only
    claim = queue.claim(running_id, "w1", stale_after=60).claim
    assert claim is not None
    assert queue.cancel(queued_id) == "cancelled"
    assert gen_status(any_store, queued_gen) == "cancelled"
    assert queue.cancel(running_id) == "running"
    assert queue.claim_status(claim) == "cancel"
    assert queue.finish(claim, "done")
    job = queue.get(running_id)
    assert job is not None and job.state == "cancelled"
    assert gen_status(any_store, running_gen) == "cancelled"
    assert queue.cancel("nope") is None


def test_a_persons_unfinished_jobs_and_the_job_of_a_generation(
    any_store: Store, queue: JobQueue
) -> None:
    first, first_gen, _ = add(any_store, queue, "u1")
    second, second_gen, _ = add(any_store, queue, "u1")
    done, done_gen, _ = add(any_store, queue, "u1")
    add(any_store, queue, "u2")
    add(any_store, queue, "u1", ws="g2")  # the same user id in another workspace
    claim = queue.claim(second, "w1", stale_after=60).claim
    assert claim is not None
    finished = queue.claim(done, "w1", stale_after=60).claim
    assert finished is not None and queue.finish(finished, "failed", error="no")

    mine = queue.active_for(platform="discord", workspace="g1", user_id="u1")
    assert [(j.id, j.state) for j in mine] == [(first, "queued"), (second, "running")]
    assert [j.generation_id for j in mine] == [first_gen, second_gen]
    assert queue.active_for(platform="slack", workspace="g1", user_id="u1") == []
    assert [
        j.user_id for j in queue.active_for(platform="discord", workspace="g2", user_id="u1")
    ] == ["u1"]

    assert queue.cancel(first) == "cancelled"
    mine = queue.active_for(platform="discord", workspace="g1", user_id="u1")
    assert [j.id for j in mine] == [second]

    job = queue.for_generation(first_gen)
    assert job is not None and job.id == first and job.state == "cancelled"
    job = queue.for_generation(done_gen)
    assert job is not None and job.id == done and job.state == "failed"
    assert queue.for_generation(pending(any_store, "u3")) is None  # not queued yet
    assert queue.for_generation("pt-none") is None


def test_release_does_not_count_the_attempt(any_store: Store, queue: JobQueue) -> None:
    job_id, _, _ = add(any_store, queue)
    claim = queue.claim_next("w1")
    assert claim is not None and queue.release(claim)
    job = queue.get(job_id)
    assert job is not None and job.state == "queued" and job.attempts == 0


# ---------------------------------------------------------------------- races between threads


def test_producers_and_consumers_at_once_share_no_job(any_store: Store, queue: JobQueue) -> None:
    """4 threads enqueue while 4 others claim and finish: every job is claimed exactly once
    and ends done, by the worker holding it."""
    n_producers, per_producer, n_consumers = 4, 8, 4
    total = n_producers * per_producer
    gens = [
        [pending(any_store, f"p{p}u{i}") for i in range(per_producer)] for p in range(n_producers)
    ]
    enqueued: list[str] = []
    claimed: list[tuple[str, str]] = []
    lock = threading.Lock()

    def produce(p: int) -> None:
        for i, gen in enumerate(gens[p]):
            job_id, _ = enqueue(queue, gen, user=f"p{p}u{i}")
            with lock:
                enqueued.append(job_id)

    def consume(c: int) -> None:
        name = f"w{c}"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            claim = queue.claim_next(name)
            if claim is None:
                with lock:
                    if len(claimed) >= total:
                        return
                time.sleep(0.005)
                continue
            assert claim.worker == name and claim.attempt == 1
            with lock:
                claimed.append((claim.job_id, name))
            assert queue.finish(claim, "done")

    results = run_together(
        n_producers + n_consumers,
        lambda i: produce(i) if i < n_producers else consume(i - n_producers),
    )
    assert [r for r in results if r is not None] == []
    ids = [job_id for job_id, _ in claimed]
    assert len(ids) == total and sorted(set(ids)) == sorted(enqueued)
    assert queue.counts() == {"queued": 0, "running": 0, "done": total, "failed": 0, "cancelled": 0}
    for job_id, name in claimed:
        job = queue.get(job_id)
        assert job is not None and job.attempts == 1 and job.worker == name


def test_concurrent_submits_cannot_slip_under_a_limit(any_store: Store, queue: JobQueue) -> None:
    """Eight submits from one user at the same moment: exactly the limit get in; then eight
    users at once against the global cap: exactly the free places get in."""
    limits = Limits(user_active=3, workspace_active=0, queue_cap=0)
    gens = [pending(any_store, "same") for _ in range(8)]
    results = run_together(8, lambda i: enqueue(queue, gens[i], user="same", limits=limits))
    refused = [r for r in results if isinstance(r, BaseException)]
    assert len(results) - len(refused) == 3, results
    assert all(isinstance(r, LimitReached) for r in refused), refused
    assert queue.active_count(user_id="same") == 3

    capped = Limits(user_active=0, workspace_active=0, queue_cap=5)  # 3 queued already
    gens = [pending(any_store, f"c{i}", ws=f"ws{i}") for i in range(8)]
    results = run_together(
        8, lambda i: enqueue(queue, gens[i], user=f"c{i}", ws=f"ws{i}", limits=capped)
    )
    refused = [r for r in results if isinstance(r, BaseException)]
    assert len(results) - len(refused) == 2, results
    assert all(isinstance(r, Busy) for r in refused), refused
    assert queue.counts()["queued"] == 5


def test_one_named_job_claimed_by_many_at_once(any_store: Store, queue: JobQueue) -> None:
    """A job delivered to six workers at once runs on one; when that one stops beating,
    six takeovers at once again give it to exactly one, with the next attempt number."""
    job_id, _, _ = add(any_store, queue)
    first = run_together(6, lambda i: queue.claim(job_id, f"a{i}", stale_after=60))
    assert sorted(r.status for r in first) == ["busy"] * 5 + ["claimed"], first
    [holder] = [r.claim for r in first if r.status == "claimed"]
    assert holder is not None and holder.attempt == 1

    time.sleep(0.1)  # the holder's heartbeat goes stale
    second = run_together(6, lambda i: queue.claim(job_id, f"b{i}", stale_after=0.05))
    assert sorted(r.status for r in second) == ["busy"] * 5 + ["claimed"], second
    [taker] = [r.claim for r in second if r.status == "claimed"]
    assert taker is not None and taker.attempt == 2
    job = queue.get(job_id)
    assert job is not None and job.worker == taker.worker and job.attempts == 2


def test_janitors_at_once_requeue_each_stale_job_once(any_store: Store, queue: JobQueue) -> None:
    ids = [add(any_store, queue, user=f"u{i}")[0] for i in range(10)]
    claims = [queue.claim_next("dead") for _ in ids]
    assert all(c is not None for c in claims)
    time.sleep(0.1)
    results = run_together(4, lambda _: queue.requeue_stale(0.05))
    lists = [r for r in results if isinstance(r, list)]
    assert len(lists) == 4, results
    requeued = [job_id for found in lists for job_id in found]
    assert sorted(requeued) == sorted(ids)  # each once, none missed
    for job_id in ids:
        job = queue.get(job_id)
        assert job is not None and job.state == "queued" and job.attempts == 1


def test_only_the_claim_holder_finishes(any_store: Store, queue: JobQueue) -> None:
    job_id, gen, _ = add(any_store, queue)
    claim = queue.claim_next("w1")
    assert claim is not None
    impostor = dataclasses.replace(claim, worker="w2")
    assert queue.finish(impostor, "failed", error="not mine") is False
    assert queue.set_progress(impostor, {"stage": "compose"}) is False
    assert queue.finish(dataclasses.replace(claim, attempt=2), "done") is False
    assert queue.requeue(impostor) is None
    assert queue.get(job_id).state == "running"  # type: ignore[union-attr]

    # The same worker name, a later attempt: the old claim is dead.
    time.sleep(0.05)
    assert queue.requeue_stale(0.01) == [job_id]
    again = queue.claim_next("w1")
    assert again is not None and again.job_id == job_id and again.attempt == 2
    assert queue.claim_status(claim) == "lost"
    assert queue.finish(claim, "failed", error="stale") is False
    assert queue.set_progress(again, {"stage": "compose"})
    assert queue.finish(again, "done", result={"timings": {"compose": 1.0}})
    job = queue.get(job_id)
    assert job is not None and job.state == "done" and job.error is None
    assert job.result == {"progress": {"stage": "compose"}, "timings": {"compose": 1.0}}
    assert gen_status(any_store, gen) in ("queued", "running")  # done is Store.complete's call
