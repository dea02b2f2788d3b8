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
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from engine.config import Settings
from engine.logging import job_context
from service.api import JobEvent
from service.base import QueueService
from service.progress import LocalHub, final_event
from service.worker_runtime import Outcome, WorkerRuntime, child_main
from storage.jobs import TIMEOUT_MESSAGE, Claim, worker_name
from storage.store import Store

log = logging.getLogger(__name__)

WARM_TIMEOUT = 900.0  # loading models (and building an index) may take minutes the first time
RESTART_BACKOFF = (0.5, 1, 2, 5, 10, 30)
STOP_GRACE = 5.0


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
                asyncio.create_task(self._slot(executor), name=f"pictune-slot-{index}")
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
        }
        out["ok"] = bool(out["ok"]) and (ready > 0 or not self._executors)
        return out

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

    async def _slot(self, executor: ProcessExecutor | ThreadExecutor) -> None:
        await executor.start()
        while not self._stopping:
            await executor.ensure_ready()  # a process lost to the last job comes back first
            if self._stopping:
                return
            self._wake.clear()
            try:
                claim = await self.db(self.jobs.claim_next, self.worker_id)
            except Exception:
                log.warning("could not claim a job", exc_info=True)
                claim = None
            if claim is None:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self.poll)
                continue
            self._wake.set()  # there may be more: let the other slots look too
            with job_context(claim.job_id):
                await self._run(executor, claim)

    async def _run(self, executor: ProcessExecutor | ThreadExecutor, claim: Claim) -> None:
        timeout = float(self.settings.job_timeout)
        try:
            outcome = await executor.run(claim, timeout)
        except TimeoutError:
            log.warning("job ran past %.0f s; stopped", timeout)
            await self.db(self.jobs.fail_now, claim.job_id, TIMEOUT_MESSAGE, detail="timeout")
            await self._publish_final(claim.job_id)
            return
        if outcome is None:  # the worker died under this job
            state = await self.db(self.jobs.requeue, claim, reason="worker process died")
            log.warning("worker died during the job (attempt %d); now %s", claim.attempt, state)
            if state == "failed":
                await self._publish_final(claim.job_id)
            else:
                self._wake.set()

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
