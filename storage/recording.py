"""Recording a piece: the writing half of the Store.

A generation goes ``queued`` (create_pending) -> ``running`` (mark_running) -> ``done``
(complete, or record for a piece composed in this process) or ``failed`` (fail) /
``cancelled`` (cancel). ``complete`` first writes every file into the content-addressed
store, then, in one write transaction, checks they are all in place, adds their rows and flips
the status: a generation is never visible with files missing, and a process killed at any
moment leaves either the old state or the new one. ``sweep_abandoned`` ends what a dead
process left on its way.
"""

from __future__ import annotations

import json
import logging
import secrets
from collections.abc import Callable, Mapping
from datetime import timedelta
from typing import Any, TypeVar

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from engine.errors import InvalidOption, NotFound, StorageFault
from engine.types import Composition
from storage.artifacts import ArtifactStore, StoredFile, describe_file, sha256_hex, sniff_image
from storage.db import Database, classify
from storage.history import normalise_id, visible_to
from storage.models import GENERATION_STATUSES, VISIBILITIES, Artifact, Generation, Job, utcnow
from storage.search import LazyEmbedder, TextEmbedder, embed_one, embedding_text, index_generation
from storage.views import Requester

log = logging.getLogger("storage.store")

SUMMARY_NAME = "result.json"  # as `pictune compose` writes it beside the files
MAX_HINT_CHARS = 2000
ID_ATTEMPTS = 8
# A piece still queued or running this long after it was asked for, with no live job, was
# left by a process that died (a killed `pictune compose` of an older version, a service
# killed between two writes): the start-up sweep ends it. Longer than any job may run.
ABANDONED_AFTER_S = 6 * 3600.0
ABANDONED_MESSAGE = "This piece was interrupted before it finished: please ask for it again."
T = TypeVar("T")


def summary_bytes(composition: Composition) -> bytes:
    """The summary file, byte for byte as `pictune compose` writes result.json."""
    return json.dumps(composition.summary(), indent=2, ensure_ascii=False).encode()


class Recording:
    """Asking for, finishing and failing pieces (mixed into ``Store``)."""

    # Given by Store: its database, its files and its text embedder (None: no embeddings).
    db: Database
    artifacts: ArtifactStore
    _embedder: TextEmbedder | LazyEmbedder | None

    def create_pending(
        self,
        origin: Requester,
        *,
        image_sha256: str | None = None,
        mode: str,
        hint: str | None = None,
        seed: int | None = None,
        parent_id: str | None = None,
        params: Mapping[str, Any] | None = None,
        source_image: bytes | None = None,
    ) -> str:
        """A new generation in status "queued"; returns its id (``pt-xxxxxx``).

        ``source_image``: the uploaded bytes, kept as a "source" artifact so that a rerun
        works after the platform's CDN link expired. ``parent_id``: the piece this reruns
        (must be visible to ``origin``'s user in ``origin``'s workspace).
        """
        gen_id, _ = self.create_pending_with(
            origin,
            image_sha256=image_sha256,
            mode=mode,
            hint=hint,
            seed=seed,
            parent_id=parent_id,
            params=params,
            source_image=source_image,
        )
        return gen_id

    def create_pending_with(
        self,
        origin: Requester,
        *,
        then: Callable[[Session, str], T] | None = None,
        status: str = "queued",
        image_sha256: str | None = None,
        mode: str,
        hint: str | None = None,
        seed: int | None = None,
        parent_id: str | None = None,
        params: Mapping[str, Any] | None = None,
        source_image: bytes | None = None,
    ) -> tuple[str, T | None]:
        """``create_pending`` whose transaction also runs ``then(session, gen_id)`` (adding
        the job, completing the piece): both are written or neither. Were they two commits,
        a failure in between would leave a piece queued with no job for ever, blocking its
        reruns and counting against the daily quota. Returns the id and what ``then`` gave."""
        _check_origin(origin)
        if source_image is not None:
            digest = sha256_hex(source_image)
            if image_sha256 is not None and image_sha256 != digest:
                raise ValueError("image_sha256 does not match source_image")
            image_sha256 = digest
        if not image_sha256:
            raise ValueError("give image_sha256 or source_image")
        stored = self._put(source_image) if source_image is not None else None
        hint = hint[:MAX_HINT_CHARS] if hint else None

        for attempt in range(ID_ATTEMPTS):
            gen_id = _new_id(long=attempt >= ID_ATTEMPTS // 2)
            try:
                with self.db.write() as session:
                    if session.get(Generation, gen_id) is not None:
                        continue
                    if parent_id is not None:
                        parent_id = normalise_id(parent_id)
                        visible = visible_to(origin.workspace, origin.user_id)
                        if (
                            session.scalar(
                                select(Generation.id).where(Generation.id == parent_id, visible)
                            )
                            is None
                        ):
                            raise NotFound(detail=f"parent {parent_id} not visible")
                    gen = Generation(
                        id=gen_id,
                        platform=origin.platform,
                        workspace=origin.workspace,
                        channel=origin.channel,
                        user_id=origin.user_id,
                        user_name=(origin.user_name or None) and origin.user_name[:200],
                        visibility=origin.visibility,
                        image_sha256=image_sha256,
                        mode=mode,
                        hint=hint,
                        seed=seed,
                        parent_id=parent_id,
                        params=dict(params or {}),
                        status=status,
                    )
                    session.add(gen)
                    if stored is not None and source_image is not None:
                        self.db.lock_artifacts(session)
                        self._ensure_file(stored.sha256, source_image)
                        ext, mime = sniff_image(source_image)
                        session.add(
                            Artifact(
                                generation_id=gen_id,
                                kind="source",
                                name=f"source.{ext}",
                                path=stored.rel_path,
                                sha256=stored.sha256,
                                size=stored.size,
                                mime=mime,
                            )
                        )
                    result = None
                    if then is not None:
                        session.flush()  # the row exists for whatever ``then`` reads
                        result = then(session, gen_id)
                return gen_id, result
            except IntegrityError:  # the same id chosen at the same moment elsewhere
                continue
        raise RuntimeError("could not allocate a generation id")

    def mark_running(self, gen_id: str) -> None:
        self._set_status(gen_id, "running", allowed_from=("queued", "running"))

    def fail(self, gen_id: str, user_message: str) -> None:
        """Record a failure with the message the user saw (no internals)."""
        self._set_status(
            gen_id, "failed", allowed_from=("queued", "running"), error=user_message[:2000]
        )

    def cancel(self, gen_id: str) -> None:
        self._set_status(gen_id, "cancelled", allowed_from=("queued", "running"))

    def complete(self, gen_id: str, composition: Composition) -> None:
        """Store the finished piece: files first, then one transaction makes it visible.

        Completing a piece that is already done, was deleted or cancelled does nothing.
        """
        gen_id = normalise_id(gen_id)
        finish = self._prepare_done(composition)  # the slow parts, before the write lock
        with self.db.write() as session:
            self.db.lock_artifacts(session)
            finish(session, gen_id)

    def _prepare_done(self, composition: Composition) -> Callable[[Session, str], None]:
        """Write the piece's files and embed its text now; returns what, inside a write
        transaction holding the artifact lock, makes generation ``gen_id`` done."""
        files = dict(composition.files())
        files[SUMMARY_NAME] = summary_bytes(composition)
        stored = {name: self._put(data) for name, data in files.items()}
        caption = composition.perception.caption
        description = composition.brief.description
        blob, model_name = embed_one(
            self._embedder,
            embedding_text(caption, description, composition.hint, composition.motivation),
        )

        def finish(session: Session, gen_id: str) -> None:
            gen = session.get(Generation, gen_id, with_for_update=True)
            if gen is None:
                raise NotFound(detail=f"complete: no generation {gen_id}")
            if gen.deleted or gen.status in ("done", "cancelled"):
                log.info(
                    "not completing %s: status %s, deleted %s", gen_id, gen.status, gen.deleted
                )
                return
            # Under the lock, no delete can remove a shared file between this check and commit.
            for name, data in files.items():
                self._ensure_file(stored[name].sha256, data)
            for name, data in files.items():
                kind, mime = describe_file(name)
                session.add(
                    Artifact(
                        generation_id=gen_id,
                        kind=kind,
                        name=name,
                        path=stored[name].rel_path,
                        sha256=stored[name].sha256,
                        size=len(data),
                        mime=mime,
                    )
                )
            gen.caption = caption
            gen.description = description
            gen.motivation = composition.motivation
            if composition.hint and not gen.hint:
                gen.hint = composition.hint[:MAX_HINT_CHARS]
            gen.seed = composition.seed
            gen.mode = composition.mode
            summary = composition.summary()
            gen.perception = summary["perception"]
            gen.brief = summary["brief"]
            gen.exemplar_ids = [e.id for e in composition.exemplars]
            gen.abc = composition.abc
            gen.metrics = dict(composition.metrics)
            gen.rounds = [{k: v for k, v in r.items() if k != "abc"} for r in summary["rounds"]]
            gen.timings = dict(composition.timings)
            gen.backends = dict(composition.backends)
            gen.notes = list(composition.notes)
            gen.audio_format = composition.audio_format if composition.audio else None
            gen.audio_seconds = composition.audio_seconds
            gen.embedding = blob
            gen.embedding_model = model_name
            gen.status = "done"
            gen.error = None
            gen.completed_at = utcnow()
            index_generation(session, gen)

        return finish

    def record(
        self,
        composition: Composition,
        origin: Requester | None = None,
        parent_id: str | None = None,
        *,
        source_image: bytes | None = None,
        params: Mapping[str, Any] | None = None,
    ) -> str:
        """Create and complete a generation in one transaction (the CLI's path); returns
        its id. Files are written first; a process killed at any moment leaves either no
        generation or a done one (never one queued for ever), plus at worst unreferenced
        files that ``collect_garbage`` removes."""
        finish = self._prepare_done(composition)

        def complete(session: Session, gen_id: str) -> None:
            self.db.lock_artifacts(session)
            finish(session, gen_id)

        gen_id, _ = self.create_pending_with(
            origin or Requester(),
            then=complete,
            status="running",  # flipped to done below, in the same transaction
            image_sha256=None if source_image is not None else composition.image.sha256,
            mode=composition.mode,
            hint=composition.hint,
            seed=composition.seed,
            parent_id=parent_id,
            params=params,
            source_image=source_image,
        )
        return gen_id

    def sweep_abandoned(self, *, older_than_s: float = ABANDONED_AFTER_S) -> list[str]:
        """End pieces left queued or running by a process that died: older than
        ``older_than_s`` and with no queued or running job. Returns their ids. Runs when a
        Store opens; best effort (a read-only or damaged database is reported by whatever
        the caller does next, not here)."""
        cutoff = utcnow() - timedelta(seconds=older_than_s)
        live_job = select(Job.id).where(
            Job.generation_id == Generation.id, Job.state.in_(("queued", "running"))
        )
        stmt = select(Generation.id).where(
            Generation.status.in_(("queued", "running")),
            Generation.created_at < cutoff,
            ~live_job.exists(),
        )
        try:
            with self.db.read() as session:  # a read first: most opens find nothing to do
                if session.scalar(stmt.limit(1)) is None:
                    return []
            with self.db.write() as session:
                ids = list(session.scalars(stmt))
                for gen in session.scalars(select(Generation).where(Generation.id.in_(ids))):
                    gen.status = "failed"
                    gen.error = ABANDONED_MESSAGE
                    gen.completed_at = utcnow()
        except StorageFault:
            log.warning("could not sweep abandoned pieces", exc_info=True)
            return []
        if ids:
            log.warning("ended %d piece(s) abandoned by a dead process: %s", len(ids), ids)
        return ids

    def _put(self, data: bytes) -> StoredFile:
        """``artifacts.put`` with a full or read-only disk raised as its typed error."""
        try:
            return self.artifacts.put(data)
        except OSError as exc:
            fault = classify(exc)
            if fault is None:
                raise
            raise fault from exc

    def _set_status(
        self, gen_id: str, status: str, *, allowed_from: tuple[str, ...], error: str | None = None
    ) -> None:
        assert status in GENERATION_STATUSES
        gen_id = normalise_id(gen_id)
        with self.db.write() as session:
            gen = session.get(Generation, gen_id)
            if gen is None:
                raise NotFound(detail=f"no generation {gen_id}")
            if gen.status not in allowed_from:
                log.info("%s stays %s (asked: %s)", gen_id, gen.status, status)
                return
            gen.status = status
            if error is not None:
                gen.error = error
            if status in ("failed", "cancelled"):
                gen.completed_at = utcnow()

    def _ensure_file(self, sha256: str, data: bytes) -> None:
        if not self.artifacts.has(sha256, len(data)):
            self._put(data)


def _new_id(*, long: bool = False) -> str:
    return "pt-" + secrets.token_hex(5 if long else 3)


def _check_origin(origin: Requester) -> None:
    if origin.visibility not in VISIBILITIES:
        raise InvalidOption("Visibility must be public or private.")
    for name, value, size in (
        ("platform", origin.platform, 32),
        ("workspace", origin.workspace, 64),
        ("user_id", origin.user_id, 64),
    ):
        if not value or len(value) > size:
            raise ValueError(f"origin.{name} must be 1..{size} characters, got {value!r}")
    if origin.channel is not None and len(origin.channel) > 64:
        raise ValueError("origin.channel is longer than 64 characters")
