"""Finding pieces again: full-text (SQLite FTS5 or PostgreSQL tsvector) and semantic.

The text index covers caption, brief description, hint and motivation. On SQLite it is the
``generation_fts`` FTS5 table, written by ``index_generation`` in the same transaction that
completes a generation (and emptied by ``unindex_generation`` when it is deleted). On
PostgreSQL a GIN index over ``to_tsvector(search_text)`` serves the same queries.

Semantic search compares the query's MiniLM embedding with the one stored per generation.

Who may see a piece is decided inside each query, before any candidate limit: filtering
after the limit let 500 private pieces of another workspace that share a word push a
workspace's own piece out of its search (``where`` of ``text_matches``; the semantic pool is
selected with the same conditions).
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Sequence
from typing import Any, Protocol

import numpy as np
from sqlalchemy import ColumnElement, Select, and_, column, func, or_, select, table, text
from sqlalchemy.orm import Session

from engine.config import Settings
from storage.models import Generation

log = logging.getLogger(__name__)

MAX_QUERY_TERMS = 16
MAX_CANDIDATES = 500  # text hits considered (visible ones, when ``where`` is given)
SEMANTIC_POOL = 5000  # most recent embedded pieces compared with a query
MIN_SIMILARITY = 0.3  # below this a semantic neighbour is noise, not a match
EMBED_TEXT_CHARS = 2000
TS_CONFIG = "english"

FTS = table("generation_fts", column("gen_id"))


class TextEmbedder(Protocol):
    name: str
    dim: int

    def embed(self, texts: list[str]) -> np.ndarray: ...


class LazyEmbedder:
    """The packaged MiniLM, loaded on first use. If it cannot be loaded, semantic search is
    switched off (with a warning) instead of breaking history and text search."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._model: TextEmbedder | None = None
        self._failed = False
        self._lock = threading.Lock()  # one load, however many threads ask at once
        self.name = "minilm"

    def get(self) -> TextEmbedder | None:
        with self._lock:
            return self._load()

    def _load(self) -> TextEmbedder | None:
        if self._model is None and not self._failed:
            try:
                from engine.retrieve.embed import load_text_embedder

                self._model = load_text_embedder(self._settings)
                self.name = self._model.name
            except Exception:
                log.warning("text embedder unavailable; semantic search is off", exc_info=True)
                self._failed = True
        return self._model


def embedder_model(embedder: TextEmbedder | LazyEmbedder | None) -> TextEmbedder | None:
    """The model behind ``embedder`` (loading a lazy one); None when there is none."""
    if isinstance(embedder, LazyEmbedder):
        return embedder.get()
    return embedder


def embed_one(
    embedder: TextEmbedder | LazyEmbedder | None, text: str
) -> tuple[bytes | None, str | None]:
    """A piece's embedding as stored (blob, model name); (None, None) when there is no
    model, no text, or the model failed (the piece is stored without one)."""
    model = embedder_model(embedder)
    if model is None or not text.strip():
        return None, None
    try:
        vector = model.embed([text])[0]
    except Exception:
        log.warning("embedding failed; the piece is stored without one", exc_info=True)
        return None, None
    return to_blob(vector), model.name


def embed_query(embedder: TextEmbedder | LazyEmbedder | None, text: str) -> np.ndarray | None:
    """A search's embedding; None when there is no model or it failed (text search only)."""
    model = embedder_model(embedder)
    if model is None:
        return None
    try:
        return model.embed([text])[0]
    except Exception:
        log.warning("embedding a query failed; text search only", exc_info=True)
        return None


def query_terms(query: str) -> list[str]:
    """Words of an untrusted query, lower-cased; punctuation and FTS operators dropped."""
    return re.findall(r"\w+", query.lower())[:MAX_QUERY_TERMS]


def fts5_query(terms: list[str], *, any_term: bool = False) -> str:
    """An FTS5 MATCH expression in which every term is a quoted string (never an operator)."""
    quoted = [f'"{t}"' for t in terms]
    return (" OR " if any_term else " ").join(quoted)


def search_text_of(
    caption: str | None, description: str | None, hint: str | None, motivation: str | None
) -> str:
    return "\n".join(part for part in (caption, description, hint, motivation) if part)


def index_generation(session: Session, gen: Generation) -> None:
    """Put a generation's words in the text index (call inside its write transaction)."""
    gen.search_text = search_text_of(gen.caption, gen.description, gen.hint, gen.motivation)
    if session.get_bind().dialect.name != "sqlite":
        return  # PostgreSQL indexes search_text itself
    unindex_generation(session, gen.id)
    session.execute(
        text(
            "INSERT INTO generation_fts (gen_id, caption, brief, hint, motivation) "
            "VALUES (:id, :caption, :brief, :hint, :motivation)"
        ),
        {
            "id": gen.id,
            "caption": gen.caption or "",
            "brief": gen.description or "",
            "hint": gen.hint or "",
            "motivation": gen.motivation or "",
        },
    )


def unindex_generation(session: Session, gen_id: str) -> None:
    if session.get_bind().dialect.name == "sqlite":
        session.execute(text("DELETE FROM generation_fts WHERE gen_id = :id"), {"id": gen_id})


def text_matches(
    session: Session,
    query: str,
    *,
    any_term: bool = False,
    where: Sequence[ColumnElement[bool]] = (),
) -> list[str]:
    """Generation ids whose words match ``query``, best first, at most MAX_CANDIDATES. All
    terms must match unless ``any_term``. ``where``: conditions on ``Generation`` (who may
    see it, its status), applied inside the query before the limit; without them the ids
    are not yet filtered for visibility."""
    terms = query_terms(query)
    if not terms:
        return []
    dialect = session.get_bind().dialect.name
    if dialect == "sqlite":
        # Joined to generations so ``where`` is part of the one query; FTS5 still picks the
        # matching rows by the index and ranks them by bm25.
        stmt: Select[Any] = (
            select(FTS.c.gen_id)
            .select_from(FTS.join(Generation, Generation.id == FTS.c.gen_id))
            .where(text("generation_fts MATCH :q"), *where)
            .order_by(text("bm25(generation_fts)"))
            .limit(MAX_CANDIDATES)
        )
        rows = session.execute(stmt, {"q": fts5_query(terms, any_term=any_term)})
        return [r[0] for r in rows]
    if dialect == "postgresql":
        vector = func.to_tsvector(TS_CONFIG, func.coalesce(Generation.search_text, ""))
        # Terms are \w+ words only, so they are safe inside to_tsquery's syntax.
        tsq = func.to_tsquery(TS_CONFIG, (" | " if any_term else " & ").join(terms))
        stmt = (
            select(Generation.id)
            .where(vector.op("@@")(tsq), *where)
            .order_by(func.ts_rank(vector, tsq).desc())
            .limit(MAX_CANDIDATES)
        )
        ids = list(session.scalars(stmt))
        if ids:
            return ids
    # Other databases, or only stop words: a plain substring match.
    conds = [Generation.search_text.ilike(f"%{_escape_like(t)}%", escape="\\") for t in terms]
    match = or_(*conds) if any_term else and_(*conds)
    stmt = select(Generation.id).where(match, *where).order_by(Generation.created_at.desc())
    return list(session.scalars(stmt.limit(MAX_CANDIDATES)))


def semantic_pool(
    session: Session, where: Sequence[ColumnElement[bool]], *, limit: int = SEMANTIC_POOL
) -> list[tuple[str, bytes]]:
    """(id, embedding) of the most recent embedded pieces meeting ``where`` (who may see
    them), filtered inside the query so the pool holds only pieces the asker may see."""
    rows = session.execute(
        select(Generation.id, Generation.embedding)
        .where(*where, Generation.embedding.is_not(None))
        .order_by(Generation.created_at.desc())
        .limit(limit)
    ).all()
    return [(r[0], r[1]) for r in rows]


def _escape_like(term: str) -> str:
    return term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def embedding_text(
    caption: str | None, description: str | None, hint: str | None, motivation: str | None
) -> str:
    return search_text_of(caption, description, hint, motivation)[:EMBED_TEXT_CHARS]


def to_blob(vector: np.ndarray) -> bytes:
    return np.asarray(vector, dtype="<f4").tobytes()


def from_blob(blob: bytes) -> np.ndarray:
    return np.frombuffer(blob, dtype="<f4")


def rank_by_similarity(
    query: np.ndarray, candidates: list[tuple[str, bytes]], *, limit: int
) -> list[tuple[str, float]]:
    """(id, cosine) of the candidates nearest to ``query`` above MIN_SIMILARITY, best first.
    Vectors of another size (a different model) are ignored."""
    q = np.asarray(query, dtype=np.float32).reshape(-1)
    rows = [(gid, from_blob(blob)) for gid, blob in candidates if len(blob) == q.size * 4]
    if not rows:
        return []
    matrix = np.stack([v for _, v in rows])
    sims = matrix @ q
    order = np.argsort(-sims)[:limit]
    return [(rows[i][0], float(sims[i])) for i in order if sims[i] >= MIN_SIMILARITY]
