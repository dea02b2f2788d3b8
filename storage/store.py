"""The Store: what the bots, the CLI and the workers open to reach storage.

Its pieces are recorded (storage/recording.py: create_pending -> mark_running -> complete,
fail or cancel) and read (storage/reading.py: get, history, search, lineage, files) through
the Store itself; people's changes to them (message links, delete, favourites) and upkeep
(garbage collection, embeddings) are here. The parts with rules of their own are attributes:
``store.jobs`` (the job queue), ``store.deliveries`` (who posts a piece's outcome),
``store.installations`` (apps installed by OAuth), ``store.workspaces`` (a workspace's settings).

Schema: an embedded SQLite database is migrated on open; another database must be migrated
with ``pictune db upgrade`` (see storage/migrate.py).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import selectinload

from engine.config import Settings
from engine.errors import Forbidden, NotFound
from storage import migrate
from storage.artifacts import ArtifactStore
from storage.community import Community
from storage.db import Database, typed_faults
from storage.deliveries import Deliveries, Undelivered
from storage.history import favourite_counts, normalise_id
from storage.installations import InstallationRecord, Installations
from storage.jobs import JobQueue
from storage.models import Artifact, Favourite, Generation, MessageLink, utcnow
from storage.personal import Personal
from storage.reading import Reading
from storage.recording import Recording
from storage.search import (
    LazyEmbedder,
    TextEmbedder,
    embedder_model,
    embedding_text,
    to_blob,
    unindex_generation,
)
from storage.views import GenerationView, Lineage, Requester, WorkspaceSettingsView
from storage.workspaces import Workspaces

__all__ = [
    "GenerationView",
    "InstallationRecord",
    "Lineage",
    "Requester",
    "Store",
    "Undelivered",
    "WorkspaceSettingsView",
]

log = logging.getLogger(__name__)


class Store(Recording, Reading):
    def __init__(
        self,
        db: Database,
        artifacts: ArtifactStore,
        *,
        embedder: TextEmbedder | LazyEmbedder | None = None,
    ) -> None:
        self.db = db
        self.artifacts = artifacts
        self._embedder = embedder
        # The parts with their own rules, over the same database: callers use them directly.
        self.jobs = JobQueue(db)  # the durable job queue (storage/jobs.py)
        self.deliveries = Deliveries(db)  # who posts a piece's outcome (storage/deliveries.py)
        self.installations = Installations(db)  # apps installed by OAuth, OAuth states
        self.workspaces = Workspaces(db)  # a workspace's own settings (storage/workspaces.py)
        self.personal = Personal(db)  # a person's own defaults (storage/personal.py)
        self.community = Community(db)  # publishing, ⭐ likes, the most liked pieces

    # ----------------------------------------------------------------- lifecycle

    @classmethod
    def open(
        cls,
        settings: Settings,
        *,
        embedder: TextEmbedder | None = None,
        semantic: bool | None = None,
        auto_upgrade: bool | None = None,
    ) -> Store:
        """Open (and create) the history for ``settings``.

        ``embedder``: the sentence embedder for semantic search (default: the packaged
        MiniLM, loaded on first use); ``semantic=False`` turns embeddings off, and by default
        ``PICTUNE_SEMANTIC_SEARCH`` decides (one setting, honoured by every caller).
        ``auto_upgrade``: migrate the schema on open; default True for SQLite only.
        """
        with typed_faults():  # a full or read-only data folder says so, not "bad config"
            settings.data_dir.mkdir(parents=True, exist_ok=True)
        db = Database(settings.resolved_database_url())
        if auto_upgrade is None:
            auto_upgrade = db.dialect == "sqlite"
        try:
            with typed_faults():
                migrate.ensure_current(db, auto_upgrade=auto_upgrade)
                artifacts = ArtifactStore(settings.data_dir / "artifacts")
        except BaseException:
            db.dispose()
            raise
        chosen: TextEmbedder | LazyEmbedder | None = None
        if semantic if semantic is not None else settings.semantic_search:
            chosen = embedder if embedder is not None else LazyEmbedder(settings)
        store = cls(db, artifacts, embedder=chosen)
        store.sweep_abandoned()
        return store

    def close(self) -> None:
        self.db.dispose()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ----------------------------------------------------------------- writing

    def set_message_ids(self, gen_id: str, platform_message_ids: Mapping[str, Any]) -> None:
        """Remember the platform messages showing a generation: role -> id or list of ids
        (e.g. ``{"reply": "1234", "community": "5678"}``). Merged with earlier calls; each
        id then finds the generation through ``find_by_message(platform, id)``."""
        gen_id = normalise_id(gen_id)
        with self.db.write() as session:
            gen = session.get(Generation, gen_id)
            if gen is None:
                raise NotFound(detail=f"set_message_ids: no generation {gen_id}")
            merged = dict(gen.message_ids or {})
            for role, value in platform_message_ids.items():
                ids = [str(v) for v in value] if isinstance(value, (list, tuple)) else [str(value)]
                merged[str(role)] = ids if isinstance(value, (list, tuple)) else ids[0]
                for message_id in ids:
                    session.execute(
                        delete(MessageLink).where(
                            MessageLink.platform == gen.platform,
                            MessageLink.message_id == message_id,
                        )
                    )
                    session.add(
                        MessageLink(
                            platform=gen.platform,
                            message_id=message_id,
                            generation_id=gen_id,
                            role=str(role)[:32],
                        )
                    )
                    session.flush()
            gen.message_ids = merged

    def delete(
        self, gen_id: str, *, by_user: str, is_admin: bool = False, workspace: str | None = None
    ) -> None:
        """Delete a generation: its words are scrubbed, its files removed unless another
        generation uses the same bytes. The owner may always delete; ``is_admin`` counts only
        together with the ``workspace`` the admin manages (it must be the piece's)."""
        gen_id = normalise_id(gen_id)
        with self.db.write() as session:
            gen = session.get(Generation, gen_id, options=[selectinload(Generation.artifacts)])
            if gen is None or gen.deleted or (workspace is not None and gen.workspace != workspace):
                raise NotFound(detail=f"delete: no generation {gen_id}")
            if gen.user_id != by_user:
                if gen.visibility == "private":
                    raise NotFound(detail=f"delete: {gen_id} is private")
                if not (is_admin and workspace is not None):
                    raise Forbidden(detail=f"{by_user} may not delete {gen_id}")
            hashes = {a.sha256 for a in gen.artifacts}
            gen.artifacts.clear()
            gen.deleted = True
            gen.deleted_at = utcnow()
            for field_name in (
                "hint",
                "caption",
                "description",
                "motivation",
                "abc",
                "search_text",
            ):
                setattr(gen, field_name, None)
            gen.perception = None
            gen.brief = None
            gen.embedding = None
            unindex_generation(session, gen_id)
            session.execute(delete(Favourite).where(Favourite.generation_id == gen_id))
        self._remove_unused(hashes)

    def favourite(self, gen_id: str, *, workspace: str, user_id: str) -> int:
        """Mark a visible piece as a favourite of ``user_id``; returns its favourite count."""
        gen_id = normalise_id(gen_id)
        with self.db.write() as session:
            self._visible_or_raise(session, gen_id, workspace, user_id)
            if session.get(Favourite, (gen_id, user_id)) is None:
                session.add(Favourite(generation_id=gen_id, user_id=user_id))
                session.flush()
            return favourite_counts(session, [gen_id]).get(gen_id, 0)

    def unfavourite(self, gen_id: str, *, workspace: str, user_id: str) -> int:
        gen_id = normalise_id(gen_id)
        with self.db.write() as session:
            self._visible_or_raise(session, gen_id, workspace, user_id)
            session.execute(
                delete(Favourite).where(
                    Favourite.generation_id == gen_id, Favourite.user_id == user_id
                )
            )
            return favourite_counts(session, [gen_id]).get(gen_id, 0)

    # ----------------------------------------------------------------- reading

    # ----------------------------------------------------------------- upkeep

    def collect_garbage(self, *, min_age_s: float = 3600.0) -> int:
        """Remove artifact files no row refers to (left by a process killed between writing
        files and committing) and stale temporary files; returns how many files went.
        Files younger than ``min_age_s`` are left alone: their generation may be completing."""
        removed = self.artifacts.sweep_tmp(older_than_s=min_age_s)
        on_disk = set(self.artifacts.stored(older_than_s=min_age_s))
        if not on_disk:
            return removed
        with self.db.write() as session:
            self.db.lock_artifacts(session)
            used = set(session.scalars(select(Artifact.sha256).distinct()))
            for sha in on_disk - used:
                removed += self.artifacts.remove(sha)
        return removed

    def backfill_embeddings(self, *, batch: int = 64) -> int:
        """Embed finished pieces stored without an embedding; returns how many were done."""
        done = 0
        while True:
            with self.db.read() as session:
                rows = session.execute(
                    select(
                        Generation.id,
                        Generation.caption,
                        Generation.description,
                        Generation.hint,
                        Generation.motivation,
                    )
                    .where(
                        Generation.status == "done",
                        Generation.deleted.is_(False),
                        Generation.embedding.is_(None),
                    )
                    .limit(batch)
                ).all()
            if not rows:
                return done
            model = embedder_model(self._embedder)
            if model is None:
                return done
            vectors = model.embed([embedding_text(*r[1:]) for r in rows])
            with self.db.write() as session:
                for row, vector in zip(rows, vectors, strict=True):
                    gen = session.get(Generation, row[0])
                    if gen is not None and not gen.deleted:
                        gen.embedding = to_blob(vector)
                        gen.embedding_model = model.name
            done += len(rows)

    # ----------------------------------------------------------------- internals

    def _remove_unused(self, hashes: set[str]) -> None:
        """Delete the files of ``hashes`` that no artifact row uses any more. Runs under the
        write lock, so a generation completing at the same time either already holds its
        row (the file stays) or re-checks the file afterwards (and writes it again)."""
        if not hashes:
            return
        with self.db.write() as session:
            self.db.lock_artifacts(session)
            used = set(session.scalars(select(Artifact.sha256).where(Artifact.sha256.in_(hashes))))
            for sha in hashes - used:
                self.artifacts.remove(sha)
