"""Share links: an unguessable, revocable link that opens one piece on the web.

A private piece is never listed; its owner may hand out a link to it. The token is 32
random bytes (URL-safe base64, 43 characters); the database keeps only its SHA-256, so a
copy of the database opens nothing. Revoking a link (or deleting the piece) closes it at
once: every request looks the token up again.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update

from engine.errors import NotFound
from storage.db import Database
from storage.history import normalise_id, visible_to
from storage.models import Generation, ShareLink, utcnow

TOKEN_PATTERN = re.compile(r"^[A-Za-z0-9_-]{43}$")


@dataclass(frozen=True)
class Share:
    generation_id: str
    created_by: str
    created_at: datetime
    revoked_at: datetime | None


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class Shares:
    def __init__(self, db: Database) -> None:
        self.db = db

    def create(self, gen_id: str, *, workspace: str, user_id: str) -> str:
        """A new link to a piece ``user_id`` may see in ``workspace`` (a private one only
        by its owner: the chat rule); returns the token, which is not stored."""
        gen_id = normalise_id(gen_id)
        token = secrets.token_urlsafe(32)
        with self.db.write() as session:
            found = session.scalar(
                select(Generation.id).where(
                    Generation.id == gen_id,
                    Generation.status == "done",
                    visible_to(workspace, user_id),
                )
            )
            if found is None:
                raise NotFound(detail=f"share: no piece {gen_id} for {user_id}")
            session.add(
                ShareLink(
                    token_sha256=token_digest(token), generation_id=gen_id, created_by=user_id
                )
            )
        return token

    def revoke(self, token: str, *, user_id: str) -> None:
        """Close a link; only whoever made it may. Unknown or already revoked: NotFound."""
        if not TOKEN_PATTERN.match(token):
            raise NotFound(detail="share: malformed token")
        with self.db.write() as session:
            done = session.execute(
                update(ShareLink)
                .where(
                    ShareLink.token_sha256 == token_digest(token),
                    ShareLink.created_by == user_id,
                    ShareLink.revoked_at.is_(None),
                )
                .values(revoked_at=utcnow())
            )
            if not done.rowcount:
                raise NotFound(detail="share: no such open link")

    def revoke_all(self, gen_id: str, *, user_id: str) -> int:
        """Close every link ``user_id`` made to a piece; returns how many."""
        gen_id = normalise_id(gen_id)
        with self.db.write() as session:
            done = session.execute(
                update(ShareLink)
                .where(
                    ShareLink.generation_id == gen_id,
                    ShareLink.created_by == user_id,
                    ShareLink.revoked_at.is_(None),
                )
                .values(revoked_at=utcnow())
            )
            return int(done.rowcount or 0)

    def resolve(self, token: str) -> str | None:
        """The piece an open link opens: its id, or None (malformed, unknown, revoked, or
        the piece deleted or unfinished)."""
        if not TOKEN_PATTERN.match(token):
            return None
        with self.db.read() as session:
            return session.scalar(
                select(ShareLink.generation_id)
                .join(Generation, Generation.id == ShareLink.generation_id)
                .where(
                    ShareLink.token_sha256 == token_digest(token),
                    ShareLink.revoked_at.is_(None),
                    Generation.deleted.is_(False),
                    Generation.status == "done",
                )
            )
