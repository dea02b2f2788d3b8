"""The history facade: everything the bots, the CLI and the workers ask of storage.

A generation goes ``queued`` (create_pending) -> ``running`` (mark_running) -> ``done``
(complete) or ``failed`` (fail) / ``cancelled`` (cancel). ``complete`` first writes every
file into the content-addressed store, then, in one write transaction, checks they are all
in place, adds their rows and flips the status: a generation is never visible with files
missing, and a process killed at any moment leaves either the old state or the new one.

Schema: an embedded SQLite database is migrated on open; another database must be migrated
with ``pictune db upgrade`` (see storage/migrate.py).
"""

from __future__ import annotations

import json
import logging
import secrets
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from engine.config import Settings
from engine.errors import Forbidden, InvalidOption, NotFound, StorageFault
from engine.types import Composition
from storage import migrate
from storage.artifacts import (
    ArtifactMissing,
    ArtifactStore,
    StoredFile,
    describe_file,
    sha256_hex,
    sniff_image,
)
from storage.db import Database, classify, typed_faults
from storage.deliveries import CLAIM_LIMIT, WINDOW, Deliveries, Undelivered
from storage.history import (
    clamp_limit,
    favourite_counts,
    history_stmt,
    load,
    normalise_id,
    page,
    to_view,
    to_views,
    visible_to,
)
from storage.installations import InstallationRecord, Installations
from storage.models import (
    GENERATION_STATUSES,
    VISIBILITIES,
    Artifact,
    Favourite,
    Generation,
    Job,
    MessageLink,
    WorkspaceSettings,
    utcnow,
)
from storage.search import (
    SEMANTIC_POOL,
    LazyEmbedder,
    TextEmbedder,
    embedding_text,
    index_generation,
    rank_by_similarity,
    text_matches,
    to_blob,
    unindex_generation,
)
from storage.views import (
    WORKSPACE_SETTING_FIELDS,
    GenerationView,
    Lineage,
    Requester,
    WorkspaceSettingsView,
)

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

SUMMARY_NAME = "result.json"  # as `pictune compose` writes it beside the files
MAX_HINT_CHARS = 2000
MAX_LINEAGE_DEPTH = 100
ID_ATTEMPTS = 8
# A piece still queued or running this long after it was asked for, with no live job, was
# left by a process that died (a killed `pictune compose` of an older version, a service
# killed between two writes): the start-up sweep ends it. Longer than any job may run.
ABANDONED_AFTER_S = 6 * 3600.0
ABANDONED_MESSAGE = "This piece was interrupted before it finished: please ask for it again."
T = TypeVar("T")
# What counts against a daily quota: pieces asked for and not failed or cancelled.
QUOTA_STATUSES: tuple[str, ...] = ("queued", "running", "done")


def summary_bytes(composition: Composition) -> bytes:
    """The summary file, byte for byte as `pictune compose` writes result.json."""
    return json.dumps(composition.summary(), indent=2, ensure_ascii=False).encode()


class Store:
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
        self._deliveries = Deliveries(db)
        self._installations = Installations(db)

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
        blob, model_name = self._embed_one(
            embedding_text(caption, description, composition.hint, composition.motivation)
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

    def update_workspace_settings(
        self, platform: str, workspace: str, **changes: Any
    ) -> WorkspaceSettingsView:
        """Change some of a workspace's settings (None resets one to the default)."""
        for key, value in changes.items():
            _check_setting(key, value)
        with self.db.write() as session:
            row = session.get(WorkspaceSettings, (platform, workspace))
            if row is None:
                row = WorkspaceSettings(platform=platform, workspace=workspace)
                session.add(row)
            for key, value in changes.items():
                setattr(row, key, value)
            row.updated_at = utcnow()
            session.flush()
            return _settings_view(row)

    # ----------------------------------------------------------------- delivering
    # Who posts a piece's outcome to the person waiting, even after the bot that asked
    # restarted: see storage/deliveries.py.

    def set_progress_message(self, gen_id: str, message_id: str) -> bool:
        """Remember the platform message where the person waits for a piece (unique within
        the platform: Slack ``f"{channel}:{ts}"``); False when it was delivered already."""
        return self._deliveries.set_progress_message(normalise_id(gen_id), message_id)

    def hold_delivery(self, gen_id: str, *, owner: str, lease_seconds: float) -> bool:
        """``owner`` (the bot that submitted the piece) will post its outcome; the lease must
        be renewed while it follows the job. False when someone else holds it."""
        return self._deliveries.hold(normalise_id(gen_id), owner=owner, lease_seconds=lease_seconds)

    def renew_delivery(self, gen_id: str, *, owner: str, lease_seconds: float) -> bool:
        return self._deliveries.renew(
            normalise_id(gen_id), owner=owner, lease_seconds=lease_seconds
        )

    def release_delivery(self, gen_id: str, *, owner: str) -> bool:
        """``owner`` stops without posting: the next claim takes the piece at once."""
        return self._deliveries.release(normalise_id(gen_id), owner=owner)

    def claim_undelivered(
        self,
        platform: str,
        *,
        owner: str,
        lease_seconds: float,
        window: timedelta = WINDOW,
        limit: int = CLAIM_LIMIT,
    ) -> list[Undelivered]:
        """Atomically take, for ``owner`` and ``lease_seconds``, the pieces asked on
        ``platform`` within ``window`` whose outcome nobody posted nor holds: on their way or
        ended (done, failed, cancelled), oldest first. Safe with several bots at once."""
        return self._deliveries.claim_undelivered(
            platform, owner=owner, lease_seconds=lease_seconds, window=window, limit=limit
        )

    def mark_delivered(self, gen_id: str) -> bool:
        """The outcome was posted: the piece is never claimed again. False when it already
        was marked."""
        return self._deliveries.mark_delivered(normalise_id(gen_id))

    # ----------------------------------------------------------------- installations
    # Apps installed into workspaces by OAuth ("Add to Slack") and the states of OAuth
    # flows under way: see storage/installations.py. Tokens are secrets: never log them.

    def save_installation(self, record: InstallationRecord, *, bot_only: bool = False) -> None:
        """Keep ``record`` as its app's installation in its workspace (replacing the one
        there); ``bot_only``: only the bot's fields change."""
        self._installations.save(record, bot_only=bot_only)

    def find_installation(
        self,
        platform: str,
        client_id: str,
        *,
        workspace: str,
        org_id: str | None = "",
        installer_id: str | None = None,
    ) -> InstallationRecord | None:
        """The app's installation in ``workspace`` ("" for org-wide; ``org_id=None``: in
        any org); with ``installer_id``, only when that person installed it."""
        return self._installations.find(
            platform, client_id, workspace=workspace, org_id=org_id, installer_id=installer_id
        )

    def delete_installation(
        self,
        platform: str,
        client_id: str,
        *,
        workspace: str,
        org_id: str = "",
        installer_id: str | None = None,
    ) -> bool:
        """The app was uninstalled from ``workspace`` (with ``installer_id``: that person's
        user token was revoked). The workspace's pieces stay in the history."""
        return self._installations.delete(
            platform, client_id, workspace=workspace, org_id=org_id, installer_id=installer_id
        )

    def delete_installation_bot(
        self, platform: str, client_id: str, *, workspace: str, org_id: str = ""
    ) -> bool:
        """The bot's token in ``workspace`` was revoked."""
        return self._installations.delete_bot(
            platform, client_id, workspace=workspace, org_id=org_id
        )

    def count_installations(self, platform: str, client_id: str | None = None) -> int:
        return self._installations.count(platform, client_id)

    def issue_oauth_state(self, lifetime: timedelta) -> str:
        """A random OAuth ``state``, valid once within ``lifetime``."""
        return self._installations.issue_state(lifetime)

    def consume_oauth_state(self, state: str) -> bool:
        """True once for a state issued by ``issue_oauth_state`` and not expired."""
        return self._installations.consume_state(state)

    # ----------------------------------------------------------------- reading

    def get(self, gen_id: str, *, workspace: str, user_id: str | None) -> GenerationView:
        """One generation as ``user_id`` in ``workspace`` may see it, whatever its status.

        Raises NotFound when absent, deleted, in another workspace, or private and not theirs.
        """
        gen_id = normalise_id(gen_id)
        with self.db.read() as session:
            gen = self._visible_or_raise(session, gen_id, workspace, user_id)
            return to_views(session, [gen], self.artifacts)[0]

    def history(
        self,
        *,
        workspace: str,
        user_id: str | None = None,
        channel: str | None = None,
        limit: int = 10,
        before: str | datetime | None = None,
        viewer_id: str | None = None,
        statuses: Sequence[str] = ("done",),
    ) -> list[GenerationView]:
        """Finished pieces, newest first, in pages of ``limit`` (at most 100).

        ``user_id`` / ``channel`` narrow the list; ``viewer_id`` is who is asking: their
        private pieces are included, nobody else's. ``before``: the last id (or time) of
        the previous page. ``statuses``: e.g. ("queued", "running") for pieces in progress.
        """
        with self.db.read() as session:
            stmt = history_stmt(
                session,
                workspace=workspace,
                viewer_id=viewer_id,
                user_id=user_id,
                channel=channel,
                before=before,
                limit=limit,
                statuses=statuses,
            )
            return to_views(session, load(session, stmt), self.artifacts)

    def search(
        self,
        text: str,
        *,
        workspace: str,
        user_id: str | None,
        limit: int = 10,
        semantic: bool = True,
    ) -> list[GenerationView]:
        """Finished pieces matching ``text``, as ``user_id`` may see them: those with all
        its words first (caption, brief, hint, motivation), then any of them, then (when
        ``semantic``) those whose meaning is close. Each view's ``match`` says which."""
        limit = clamp_limit(limit)
        text = (text or "")[:500]
        found: list[tuple[str, str]] = []  # (id, "text" | "semantic"), best first
        with self.db.read() as session:
            base = [visible_to(workspace, user_id), Generation.status == "done"]
            for any_term in (False, True):
                # Visibility inside the query: another workspace's crowd cannot starve it.
                candidates = text_matches(session, text, any_term=any_term, where=base)
                allowed = self._filter_ids(session, candidates, base)
                seen = {gid for gid, _ in found}
                found += [(gid, "text") for gid in candidates if gid in allowed and gid not in seen]
                if len(found) >= limit:
                    break
            if semantic and len(found) < limit and text.strip():
                query = self._embed_query(text)
                if query is not None:
                    pool = session.execute(
                        select(Generation.id, Generation.embedding)
                        .where(*base, Generation.embedding.is_not(None))
                        .order_by(Generation.created_at.desc())
                        .limit(SEMANTIC_POOL)
                    ).all()
                    seen = {gid for gid, _ in found}
                    ranked = rank_by_similarity(
                        query, [(r[0], r[1]) for r in pool], limit=limit * 2
                    )
                    found += [(gid, "semantic") for gid, _ in ranked if gid not in seen]
            found = found[:limit]
            gens = {
                g.id: g
                for g in load(
                    session, select(Generation).where(Generation.id.in_([i for i, _ in found]))
                )
            }
            counts = favourite_counts(session, gens)
            return [
                to_view(gens[gid], self.artifacts, counts.get(gid, 0), match=how)
                for gid, how in found
                if gid in gens
            ]

    def summary(self, gen_id: str, *, workspace: str, user_id: str | None) -> dict[str, Any]:
        """What lies behind a piece, scoped like ``get``: perception, brief, exemplars (id,
        title, collection, ...; their ABC left out), refinement rounds, metrics, timings,
        backends and notes. Empty values for a piece that is not done. Raises NotFound when
        the asker may not see it."""
        gen_id = normalise_id(gen_id)
        with self.db.read() as session:
            gen = self._visible_or_raise(session, gen_id, workspace, user_id)
            summary_sha = next((a.sha256 for a in gen.artifacts if a.kind == "summary"), None)
            out: dict[str, Any] = {
                "id": gen.id,
                "status": gen.status,
                "perception": dict(gen.perception or {}),
                "brief": dict(gen.brief or {}),
                "exemplars": [{"id": str(e)} for e in gen.exemplar_ids or []],
                "rounds": [dict(r) for r in gen.rounds or []],
                "metrics": dict(gen.metrics or {}),
                "timings": dict(gen.timings or {}),
                "backends": dict(gen.backends or {}),
                "notes": list(gen.notes or []),
            }
        # The database keeps only the exemplars' ids; their titles live in result.json.
        if summary_sha is not None:
            out["exemplars"] = self._stored_exemplars(summary_sha) or out["exemplars"]
        return out

    def count_since(
        self,
        since: datetime,
        *,
        workspace: str | None,
        user_id: str | None = None,
        platform: str | None = None,
        statuses: Sequence[str] = QUOTA_STATUSES,
    ) -> int:
        """How many pieces were asked for in ``workspace`` (every workspace: None; by
        ``user_id``, when given) at or after ``since``, for daily quotas. Pieces on their
        way count, failed and cancelled ones do not; a deleted piece still counts (deleting
        does not give its place back)."""
        with self.db.read() as session:
            stmt = (
                select(func.count())
                .select_from(Generation)
                .where(
                    Generation.created_at >= since,
                    Generation.status.in_(list(statuses)),
                )
            )
            if workspace is not None:
                stmt = stmt.where(Generation.workspace == workspace)
            if user_id is not None:
                stmt = stmt.where(Generation.user_id == user_id)
            if platform is not None:
                stmt = stmt.where(Generation.platform == platform)
            return int(session.scalar(stmt) or 0)

    def find_by_message(self, platform: str, message_id: str) -> GenerationView | None:
        """The generation a platform message shows (for reactions and buttons), if any."""
        with self.db.read() as session:
            gen = session.scalar(
                select(Generation)
                .join(MessageLink, MessageLink.generation_id == Generation.id)
                .where(
                    MessageLink.platform == platform,
                    MessageLink.message_id == str(message_id),
                    Generation.deleted.is_(False),
                )
                .options(selectinload(Generation.artifacts))
            )
            return None if gen is None else to_views(session, [gen], self.artifacts)[0]

    def favourites(
        self, *, workspace: str, user_id: str, limit: int = 10, before: str | datetime | None = None
    ) -> list[GenerationView]:
        """``user_id``'s favourite pieces in ``workspace`` that they can still see, newest first."""
        with self.db.read() as session:
            stmt = select(Generation).join(Favourite, Favourite.generation_id == Generation.id)
            stmt = stmt.where(
                Favourite.user_id == user_id,
                visible_to(workspace, user_id),
                Generation.status == "done",
            )
            stmt = page(stmt, session, before).limit(clamp_limit(limit))
            return to_views(session, load(session, stmt), self.artifacts)

    def lineage(self, gen_id: str, *, workspace: str, user_id: str | None) -> Lineage:
        """The piece, the pieces it was rerun from (nearest first) and its direct reruns;
        pieces the asker may not see are left out."""
        gen_id = normalise_id(gen_id)
        with self.db.read() as session:
            gen = self._visible_or_raise(session, gen_id, workspace, user_id)
            visible = visible_to(workspace, user_id)
            ancestors: list[Generation] = []
            seen = {gen.id}
            parent_id = gen.parent_id
            while parent_id and parent_id not in seen and len(seen) <= MAX_LINEAGE_DEPTH:
                seen.add(parent_id)
                parent = session.get(Generation, parent_id)
                if parent is None:
                    break
                if session.scalar(select(Generation.id).where(Generation.id == parent_id, visible)):
                    ancestors.append(parent)
                parent_id = parent.parent_id
            reruns = load(
                session,
                select(Generation)
                .where(Generation.parent_id == gen.id, visible)
                .order_by(Generation.created_at, Generation.id),
            )
            return Lineage(
                piece=to_views(session, [gen], self.artifacts)[0],
                ancestors=to_views(session, ancestors, self.artifacts),
                reruns=to_views(session, reruns, self.artifacts),
            )

    def export_files(
        self,
        gen_id: str,
        out_dir: Path,
        *,
        workspace: str = "local",
        user_id: str | None = "local",
        include_summary: bool = True,
        include_source: bool = False,
    ) -> dict[str, Path]:
        """Write a finished piece's files into ``out_dir``, byte-identical to what was
        composed (each is checked against its hash); returns name -> written path."""
        gen_id = normalise_id(gen_id)
        with self.db.read() as session:
            gen = self._visible_or_raise(session, gen_id, workspace, user_id)
            if gen.status != "done":
                raise NotFound(f"{gen_id} has no files: it is {gen.status}.")
            wanted = [
                (a.name, a.sha256)
                for a in sorted(gen.artifacts, key=lambda a: a.id)
                if a.kind not in ("summary", "source")
                or (a.kind == "summary" and include_summary)
                or (a.kind == "source" and include_source)
            ]
        out_dir = Path(out_dir)
        out_dir.mkdir(parents=True, exist_ok=True)
        written: dict[str, Path] = {}
        for stored_name, sha in wanted:
            name = Path(stored_name).name  # never a path from the database
            if not name or name in (".", ".."):
                continue
            target = out_dir / name
            target.write_bytes(self.artifacts.read(sha))
            written[name] = target
        return written

    def load_source_image(self, gen_id: str) -> bytes:
        """The uploaded image of a generation (for reruns). Not scoped: callers already hold
        a generation they may see. Raises NotFound when it was not kept or was deleted."""
        gen_id = normalise_id(gen_id)
        with self.db.read() as session:
            artifact = session.scalar(
                select(Artifact)
                .join(Generation, Generation.id == Artifact.generation_id)
                .where(
                    Artifact.generation_id == gen_id,
                    Artifact.kind == "source",
                    Generation.deleted.is_(False),
                )
            )
            if artifact is None:
                raise NotFound(
                    "The original picture of that piece was not kept: send it again.",
                    detail=f"no source image for {gen_id}",
                )
            sha = artifact.sha256
        try:
            return self.artifacts.read(sha)
        except ArtifactMissing as exc:
            raise NotFound(
                "The original picture of that piece is no longer available: send it again.",
                detail=str(exc),
            ) from exc

    def workspace_settings(self, platform: str, workspace: str) -> WorkspaceSettingsView:
        with self.db.read() as session:
            row = session.get(WorkspaceSettings, (platform, workspace))
            if row is None:
                return WorkspaceSettingsView(platform=platform, workspace=workspace)
            return _settings_view(row)

    def count(self, *, workspace: str | None = None, status: str | None = None) -> int:
        """How many generations (not deleted) there are; for `pictune db info` and tests."""
        with self.db.read() as session:
            stmt = select(func.count()).select_from(Generation).where(Generation.deleted.is_(False))
            if workspace is not None:
                stmt = stmt.where(Generation.workspace == workspace)
            if status is not None:
                stmt = stmt.where(Generation.status == status)
            return int(session.scalar(stmt) or 0)

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
            model = self._embedder_model()
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

    def _visible_or_raise(
        self, session: Session, gen_id: str, workspace: str, user_id: str | None
    ) -> Generation:
        gen = session.scalar(
            select(Generation)
            .where(Generation.id == gen_id, visible_to(workspace, user_id))
            .options(selectinload(Generation.artifacts))
        )
        if gen is None:
            raise NotFound(detail=f"{gen_id} not visible in {workspace!r} to {user_id!r}")
        return gen

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

    @staticmethod
    def _filter_ids(session: Session, ids: list[str], conditions: list[Any]) -> set[str]:
        if not ids:
            return set()
        return set(
            session.scalars(select(Generation.id).where(Generation.id.in_(ids), *conditions))
        )

    def _stored_exemplars(self, sha256: str) -> list[dict[str, Any]]:
        """The exemplars recorded in a piece's result.json, without their ABC; [] when the
        file is missing or unreadable."""
        try:
            stored = json.loads(self.artifacts.read(sha256))
            exemplars = stored.get("exemplars") or []
            return [{k: v for k, v in e.items() if k != "abc"} for e in exemplars]
        except (ArtifactMissing, ValueError, AttributeError, TypeError):
            log.warning("unreadable summary %s", sha256, exc_info=True)
            return []

    def _embedder_model(self) -> TextEmbedder | None:
        if isinstance(self._embedder, LazyEmbedder):
            return self._embedder.get()
        return self._embedder

    def _embed_one(self, text: str) -> tuple[bytes | None, str | None]:
        model = self._embedder_model()
        if model is None or not text.strip():
            return None, None
        try:
            vector = model.embed([text])[0]
        except Exception:
            log.warning("embedding failed; the piece is stored without one", exc_info=True)
            return None, None
        return to_blob(vector), model.name

    def _embed_query(self, text: str) -> np.ndarray | None:
        model = self._embedder_model()
        if model is None:
            return None
        try:
            return model.embed([text])[0]
        except Exception:
            log.warning("embedding a query failed; text search only", exc_info=True)
            return None


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


def _check_setting(key: str, value: Any) -> None:
    from engine.types import MODES

    if key not in WORKSPACE_SETTING_FIELDS:
        raise InvalidOption(f"There is no workspace setting called {key!r}.")
    if value is None:
        return
    if key == "community_channel" and not (isinstance(value, str) and 0 < len(value) <= 64):
        raise InvalidOption("The community channel must be a channel.")
    if key == "default_mode" and value not in MODES:
        raise InvalidOption(f"The mode must be one of {', '.join(MODES)}.")
    if key == "default_visibility" and value not in VISIBILITIES:
        raise InvalidOption("Visibility must be public or private.")
    if key in ("user_daily_quota", "workspace_daily_quota", "user_active_limit") and (
        isinstance(value, bool) or not isinstance(value, int) or value < 0
    ):
        raise InvalidOption("A quota must be a whole number, 0 or more.")
    if key == "max_duration" and (
        isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value <= 3600
    ):
        raise InvalidOption("The longest duration must be between 1 and 3600 seconds.")


def _settings_view(row: WorkspaceSettings) -> WorkspaceSettingsView:
    return WorkspaceSettingsView(
        platform=row.platform,
        workspace=row.workspace,
        community_channel=row.community_channel,
        default_mode=row.default_mode,
        default_visibility=row.default_visibility,
        user_daily_quota=row.user_daily_quota,
        workspace_daily_quota=row.workspace_daily_quota,
        user_active_limit=row.user_active_limit,
        max_duration=row.max_duration,
        updated_at=row.updated_at,
    )
