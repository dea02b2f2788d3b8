"""The embedded backend: the bot's own process runs the jobs, the database keeps them.

``settings.concurrency`` slots each claim the next queued job and run it, either in a worker
process of their own (``worker_mode=process``, the default: the pipeline is loaded once per
process, a job that crashes or hangs kills only that process, which is started again) or on
a thread (``worker_mode=thread``: one pipeline shared by all slots, lighter, but a hung job
keeps its thread).

Nothing is lost across a crash of the whole service: the jobs are rows, the slots' claims
are kept alive by a heartbeat, and at start (and every heartbeat) running jobs whose
heartbeat went stale are queued again; a job that took its worker down ``max_attempts``
times fails with a clear message instead of taking the next one down too.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
import multiprocessing
import os
import shutil
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from engine.config import Settings
from engine.logging import job_context
from service.api import JobEvent
from service.base import QueueService
from service.progress import LocalHub, final_event
from service.worker_runtime import Outcome, WorkerRuntime, child_main, fault_name, user_reason
from storage.jobs import TIMEOUT_MESSAGE, Claim, worker_name
from storage.store import Store

log = logging.getLogger(__name__)

WARM_TIMEOUT = 900.0  # loading models (and building an index) may take minutes the first time
RESTART_BACKOFF = (0.5, 1, 2, 5, 10, 30)
STOP_GRACE = 5.0
SLOT_BACKOFF = 1.0  # after a slot's round failed outside any job: do not spin
MIN_FREE_BYTES = 16 * 2**20  # less free space than this under the data dir: /healthz says so


class LocalJobService(QueueService):
    def __init__(
        self,
        settings: Settings,
        store: Store,
        *,
        runtime: WorkerRuntime | None = None,
    ) -> None:
        super().__init__(settings, store, LocalHub())
        if settings.worker_mode not in ("process", "thread"):
            raise ValueError(f"worker_mode must be process or thread, not {settings.worker_mode!r}")
        self.worker_id = worker_name("local")
        # Thread mode shares one runtime (one pipeline) across slots, on the service's Store.
        self._runtime = runtime
        self._wake = asyncio.Event()
        self._slots: list[asyncio.Task[None]] = []
        self._executors: list[ProcessExecutor | ThreadExecutor] = []
        self._heart: asyncio.Task[None] | None = None
        # Python 3.11's asyncio.wait_for swallows a cancellation that arrives as the awaited
        # thing completes (a job's outcome landing as the service stops), and the slot would
        # then run on, unstoppable: slots also check this flag.
        self._stopping = False
        # Why each slot cannot make progress now (its last job failed on storage, or it
        # cannot claim): /healthz reports these. Cleared by the next job done, or by the
        # janitor once the storage works again.
        self._stalled: dict[int, str] = {}
        # Jobs whose failure could not be written (the database full, read-only, away):
        # kept here and written by the janitor once it can, so none stays running for ever.
        self._unsettled: dict[str, tuple[Claim, str, str]] = {}

    def _own_worker(self) -> str | None:
        return self.worker_id

    # ------------------------------------------------------------------ lifecycle

    async def _start_backend(self) -> None:
        self._wake = asyncio.Event()
        self._stopping = False
        # A restart: jobs the previous process held go back to the queue once stale.
        requeued = await self.db(
            self.jobs.requeue_stale, self.stale_after, exclude_worker=self.worker_id
        )
        if requeued:
            log.warning("picked up %d job(s) left running by a previous process", len(requeued))
        self._heart = asyncio.create_task(self._heartbeat_loop(), name="pictune-heartbeat")
        n = max(1, int(self.settings.concurrency))
        if self.settings.worker_mode == "thread" and self._runtime is None:
            self._runtime = WorkerRuntime(self.settings, store=self.store)
        pool = ThreadPoolExecutor(max_workers=n + 2, thread_name_prefix="pictune-job")
        for index in range(n):
            executor: ProcessExecutor | ThreadExecutor
            if self.settings.worker_mode == "process":
                executor = ProcessExecutor(self.settings, self.hub, index)
            else:
                assert self._runtime is not None
                executor = ThreadExecutor(self._runtime, self.hub, pool)
            self._executors.append(executor)
            self._slots.append(
                asyncio.create_task(self._slot(executor, index), name=f"pictune-slot-{index}")
            )

    async def _stop_backend(self) -> None:
        self._stopping = True
        self._wake.set()
        for task in self._slots:
            task.cancel()
        for task in self._slots:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        for executor in self._executors:
            claim = executor.current
            if claim is not None:
                await self.db(self.jobs.release, claim)
            await executor.close()
        if self._heart is not None:
            self._heart.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._heart
        self._slots.clear()
        self._executors.clear()

    async def _dispatch(self, job_ids: list[str]) -> None:
        self._wake.set()

    async def health(self) -> dict[str, Any]:
        out = await super().health()
        ready = sum(1 for e in self._executors if e.ready)
        self.metrics.workers.set(ready)
        out["workers"] = {
            "ready": ready,
            "total": len(self._executors),
            "mode": self.settings.worker_mode,
            "stalled": {str(i): why for i, why in sorted(self._stalled.items())},
            "unrecorded_jobs": sorted(self._unsettled),
        }
        out["storage"] = self._disk_state()
        healthy = not self._stalled and not self._unsettled and out["storage"] == "ok"
        out["ok"] = bool(out["ok"]) and (ready > 0 or not self._executors) and healthy
        return out

    def _disk_state(self) -> str:
        try:
            free = shutil.disk_usage(self.settings.data_dir).free
        except OSError:
            return "unreadable"
        return "ok" if free >= MIN_FREE_BYTES else f"full ({free} bytes free)"

    async def _tend(self) -> None:
        await self._settle_pending()
        await super()._tend()
        if self._stalled and not self._unsettled and await self.db(self._storage_works):
            log.warning("storage works again; workers resume: %s", self._stalled)
            self._stalled.clear()

    def _storage_works(self) -> bool:
        """Can a job be stored now? A write transaction, and a file through the artifact
        store (removed again) — the same calls that failed the job."""
        try:
            with self.store.db.write():
                pass
            stored = self.store.artifacts.put(os.urandom(4096))
            self.store.artifacts.remove(stored.sha256)
            return True
        except Exception:
            return False

    async def _settle(self, claim: Claim, reason: str, detail: str) -> None:
        """Fail ``claim``'s job with ``reason``; when that cannot be written, keep it for
        the janitor (and /healthz) instead of leaving it running for ever."""
        try:
            await self.db(self.jobs.finish, claim, "failed", error=reason, error_detail=detail)
        except Exception as exc:
            log.error("could not record job %s as failed; will retry", claim.job_id)
            self._unsettled[claim.job_id] = (claim, reason, detail)
            self._stalled.setdefault(-1, fault_name(exc) or type(exc).__name__)
            return
        self._unsettled.pop(claim.job_id, None)
        await self._publish_final(claim.job_id)

    async def _settle_pending(self) -> None:
        for claim, reason, detail in list(self._unsettled.values()):
            await self._settle(claim, reason, detail)
        if not self._unsettled:
            self._stalled.pop(-1, None)

    # ------------------------------------------------------------------ the work

    async def _heartbeat_loop(self) -> None:
        while True:
            try:
                await self.db(self.jobs.heartbeat, self.worker_id)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.warning("heartbeat failed", exc_info=True)
            await asyncio.sleep(self.settings.job_heartbeat)

    async def _slot(self, executor: ProcessExecutor | ThreadExecutor, index: int) -> None:
        await executor.start()
        while not self._stopping:
            try:
                await self._round(executor, index)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # a bug or a storage fault outside any job: live on
                log.error("worker slot %d failed a round; it goes on", index, exc_info=True)
                self._stalled[index] = fault_name(exc) or type(exc).__name__
                await asyncio.sleep(SLOT_BACKOFF)

    async def _round(self, executor: ProcessExecutor | ThreadExecutor, index: int) -> None:
        """Claim the next job and run it; wait a little when there is none."""
        await executor.ensure_ready()  # a process lost to the last job comes back first
        if self._stopping:
            return
        self._wake.clear()
        try:
            claim = await self.db(self.jobs.claim_next, self.worker_id)
        except Exception as exc:
            log.warning("could not claim a job", exc_info=True)
            self._stalled[index] = fault_name(exc) or type(exc).__name__
            claim = None
        if claim is None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.poll)
            return
        self._wake.set()  # there may be more: let the other slots look too
        with job_context(claim.job_id):
            try:
                outcome = await self._run(executor, claim)
            except Exception as exc:  # the executor itself broke under this job
                log.error("job %s broke its worker slot", claim.job_id, exc_info=True)
                self._stalled[index] = fault_name(exc) or type(exc).__name__
                await self._settle(claim, user_reason(exc), f"{type(exc).__name__}: {exc}")
                return
        if outcome is not None and not outcome.recorded:
            await self._settle(claim, outcome.error or user_reason(Exception()), "unrecorded")
        if outcome is not None and outcome.fault:
            self._stalled[index] = outcome.fault
        elif outcome is not None and outcome.state == "done":
            self._stalled.pop(index, None)

    async def _run(
        self, executor: ProcessExecutor | ThreadExecutor, claim: Claim
    ) -> Outcome | None:
        """Run one claimed job; the outcome when the worker gave one."""
        timeout = float(self.settings.job_timeout)
        started = time.monotonic()
        try:
            outcome = await executor.run(claim, timeout)
        except TimeoutError:
            log.warning("job ran past %.0f s; stopped", time.monotonic() - started)
            await self.db(self.jobs.fail_now, claim.job_id, TIMEOUT_MESSAGE, detail="timeout")
            await self._publish_final(claim.job_id)
            return None
        if outcome is None:  # the worker died under this job
            state = await self.db(self.jobs.requeue, claim, reason="worker process died")
            log.warning("worker died during the job (attempt %d); now %s", claim.attempt, state)
            if state == "failed":
                await self._publish_final(claim.job_id)
            else:
                self._wake.set()
        return outcome

    async def _publish_final(self, job_id: str) -> None:
        job = await self.db(self.jobs.get, job_id)
        if job is not None and job.final:
            self.hub.publish(final_event(job))


class ThreadExecutor:
    """Runs jobs on a thread with the shared runtime. A timed-out job keeps its thread until
    it ends by itself; its result is then dropped (its claim was taken away)."""

    def __init__(self, runtime: WorkerRuntime, hub: LocalHub, pool: ThreadPoolExecutor) -> None:
        self.runtime = runtime
        self.hub = hub
        self.pool = pool
        self.current: Claim | None = None
        self.ready = False

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(self.pool, self.runtime.warm)
        self.ready = True

    async def ensure_ready(self) -> None:
        pass

    async def run(self, claim: Claim, timeout: float) -> Outcome | None:
        loop = asyncio.get_running_loop()
        ctx = contextvars.copy_context()
        self.current = claim
        try:
            future = loop.run_in_executor(
                self.pool, ctx.run, self.runtime.execute, claim, self.hub.publish
            )
            return await asyncio.wait_for(asyncio.shield(future), timeout)
        finally:
            self.current = None

    async def close(self) -> None:
        self.pool.shutdown(wait=False)


class ProcessExecutor:
    """One worker process: started (and its models loaded) once, restarted when it dies or a
    job hangs. Progress and outcomes come back over a pipe."""

    def __init__(self, settings: Settings, hub: LocalHub, index: int) -> None:
        self.settings = settings
        self.hub = hub
        self.index = index
        self.current: Claim | None = None
        self.ready = False
        self._proc: Any = None
        self._conn: Any = None
        self._inbox: asyncio.Queue[tuple[str, Any] | None] = asyncio.Queue()
        self._restarts = 0

    async def start(self) -> None:
        while True:
            if await self._spawn():
                return
            delay = RESTART_BACKOFF[min(self._restarts, len(RESTART_BACKOFF) - 1)]
            self._restarts += 1
            log.error("worker process %d did not start; retrying in %.1f s", self.index, delay)
            await asyncio.sleep(delay)

    async def _spawn(self) -> bool:
        loop = asyncio.get_running_loop()
        ctx = multiprocessing.get_context("spawn")  # no fork of a threaded event loop
        parent_conn, child_conn = ctx.Pipe(duplex=True)
        proc = ctx.Process(
            target=child_main,
            args=(self.settings, child_conn),
            name=f"pictune-worker-{self.index}",
            daemon=True,
        )
        await loop.run_in_executor(None, proc.start)
        child_conn.close()
        self._proc, self._conn = proc, parent_conn
        self._inbox = asyncio.Queue()
        inbox = self._inbox

        def readable() -> None:
            try:
                inbox.put_nowait(parent_conn.recv())
            except (EOFError, OSError):
                loop.remove_reader(parent_conn.fileno())
                inbox.put_nowait(None)

        loop.add_reader(parent_conn.fileno(), readable)
        try:
            message = await asyncio.wait_for(inbox.get(), WARM_TIMEOUT)
        except TimeoutError:
            message = None
        if message is None or message[0] != "ready":
            await self._kill()
            return False
        self.ready = True
        log.info("worker process %d ready (pid %s)", self.index, proc.pid)
        return True

    async def ensure_ready(self) -> None:
        if self._proc is None or not self._proc.is_alive():
            await self._restart()

    async def run(self, claim: Claim, timeout: float) -> Outcome | None:
        await self.ensure_ready()
        self.current = claim
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        try:
            try:
                self._conn.send(("run", claim.to_dict()))
            except (OSError, ValueError):
                await self._kill()
                return None
            while True:
                remaining = deadline - loop.time()
                if remaining <= 0:
                    raise TimeoutError
                try:
                    message = await asyncio.wait_for(self._inbox.get(), remaining)
                except TimeoutError:
                    await self._kill()  # the hung job goes with its process
                    raise
                if message is None:
                    await self._kill()
                    return None
                kind, body = message
                if kind == "progress":
                    self.hub.publish(JobEvent(**body))
                elif kind == "outcome":
                    return Outcome(**body)
        finally:
            self.current = None

    async def _restart(self) -> None:
        await self._kill()
        self._restarts += 1
        await self.start()

    async def _kill(self) -> None:
        self.ready = False
        loop = asyncio.get_running_loop()
        if self._conn is not None:
            with contextlib.suppress(Exception):
                loop.remove_reader(self._conn.fileno())
            with contextlib.suppress(Exception):
                self._conn.close()
        if self._proc is not None:
            proc = self._proc
            if proc.is_alive():
                proc.kill()
            await loop.run_in_executor(None, proc.join, 5)
        self._proc = self._conn = None

    async def close(self) -> None:
        if self._conn is not None and self._proc is not None and self._proc.is_alive():
            with contextlib.suppress(Exception):
                self._conn.send(("stop", None))
            loop = asyncio.get_running_loop()
            await loop.run_in_executor(None, self._proc.join, STOP_GRACE)
        await self._kill()
