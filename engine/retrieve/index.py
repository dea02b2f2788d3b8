"""The on-disk retrieval index: every corpus tune with its features, description and vector.

Layout of ``<cache_dir>/index/<corpus>-<embedder>-v<INDEX_VERSION>/``:

- ``info.json``    what was built, from what, when, how long it took
- ``tunes.json``   one record per tune: id, title, collection, key, mode, meter, tempo,
                   description, features, abc
- ``vectors.npy``  (descriptions, dim) float32, one unit vector per *distinct* description
- ``rows.npy``     (tunes,) int32: the row of ``vectors.npy`` that describes each tune

``info.json`` also records each data file's size and SHA-256 (``checksums``), verified on
every load: a damaged file makes the index count as absent, so the next compose, ``pictune
index build`` and ``pictune doctor`` all see the damage (the first two rebuild it). SHA-256 is
hardware-accelerated on current CPUs: ~14 ms for the full ~24 MB library, and the bytes of
``tunes.json`` are read once for both the hash and the parse. An index built before the
checksums existed (same INDEX_VERSION) still loads, with the structural checks only.

A description is embedded as the normalised mean of its sentences' embeddings, and each
distinct sentence is embedded once: about 2,400 sentences cover 13,000 tunes, which is what
keeps a full build near half a minute on two cores. Queries are embedded the same way
(``embed_text``). The build writes into a temporary folder and renames it into place, under
a file lock, so a killed build never leaves half an index and two workers never build twice.
"""

from __future__ import annotations

import dataclasses
import fcntl
import hashlib
import io
import json
import logging
import os
import re
import shutil
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from engine.config import Settings
from engine.errors import ConfigError
from engine.retrieve.corpus import CorpusStats, CorpusTune, iter_corpus
from engine.retrieve.describe import describe_tune
from engine.retrieve.embed import TextEmbedder, load_text_embedder, normalise
from engine.retrieve.features import tune_features

log = logging.getLogger(__name__)

INDEX_VERSION = 2  # 2: Essen titles decoded from CP437 (1 cached them as control characters)
EMBED_CHUNK = 256  # sentences per progress step
DATA_FILES = ("vectors.npy", "rows.npy", "tunes.json")

# progress(done, total, stage): stage is "reading", "describing", "loading model", "embedding"
# or "writing"; total is 0 while unknown.
IndexProgress = Callable[[int, int, str], None]


@dataclass
class IndexInfo:
    path: Path
    corpus: str
    model: str
    tunes: int
    skipped: int
    descriptions: int  # distinct descriptions (rows of vectors.npy)
    sentences: int  # distinct sentences embedded
    built_at: str  # ISO 8601, UTC
    seconds: float  # build time
    size: int  # bytes on disk
    dim: int
    limit: int | None = None  # a partial build for trials and tests
    version: int = INDEX_VERSION
    # {file name: {"size": bytes, "sha256": hex}}; None for an index built before checksums.
    checksums: dict[str, dict[str, Any]] | None = None

    def to_json(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["path"] = str(self.path)
        return d

    @classmethod
    def from_json(cls, d: dict[str, Any], path: Path) -> IndexInfo:
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(**{**{k: v for k, v in d.items() if k in known}, "path": path})


@dataclass
class IndexedTune:
    id: str
    title: str
    collection: str
    key: str
    mode: str
    meter: str
    tempo: int
    description: str
    features: dict[str, Any]
    abc: str


@dataclass
class CorpusIndex:
    info: IndexInfo
    tunes: list[IndexedTune]
    vectors: np.ndarray  # (descriptions, dim) float32, memory-mapped
    rows: np.ndarray  # (tunes,) int32

    def similarities(self, query: np.ndarray) -> np.ndarray:
        """Cosine similarity of a unit query vector to every tune, shape (tunes,)."""
        return (self.vectors @ np.asarray(query, dtype=np.float32))[self.rows]


def corpus_name(corpus: str) -> str:
    """ "music21", or "folder-<hash>" for a folder corpus (its resolved path, hashed)."""
    if corpus == "music21":
        return "music21"
    resolved = str(Path(corpus).expanduser().resolve())
    return "folder-" + hashlib.sha1(resolved.encode()).hexdigest()[:12]


def embedder_key(name: str) -> str:
    """An embedder name made safe for a folder name ("clip:ViT-B-32/openai" -> "clip-ViT-B-32-openai")."""
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "-", name).strip("-")
    if len(safe) > 48:
        safe = safe[:32] + "-" + hashlib.sha1(name.encode()).hexdigest()[:12]
    return safe or "embedder"


def index_dir(settings: Settings, embedder_name: str | None = None) -> Path:
    name = embedder_name or settings.retrieve
    key = f"{corpus_name(settings.corpus)}-{embedder_key(name)}-v{INDEX_VERSION}"
    return settings.cache_dir / "index" / key


def split_sentences(text: str) -> list[str]:
    parts = [s.strip() for s in re.split(r"(?<=[.!?])\s+", text.strip())]
    return [s for s in parts if s] or [text.strip() or "music"]


def embed_text(embedder: TextEmbedder, text: str) -> np.ndarray:
    """One text -> unit vector, embedded exactly as the index embeds descriptions."""
    vectors = embedder.embed(split_sentences(text))
    return normalise(vectors.mean(axis=0, keepdims=True))[0]


def embed_descriptions(
    embedder: TextEmbedder, descriptions: list[str], progress: IndexProgress | None = None
) -> tuple[np.ndarray, int]:
    """Distinct descriptions -> (their unit vectors, how many distinct sentences were embedded)."""
    split = [split_sentences(d) for d in descriptions]
    sentences = sorted({s for parts in split for s in parts})
    position = {s: i for i, s in enumerate(sentences)}
    chunks: list[np.ndarray] = []
    if progress:
        progress(0, len(sentences), "embedding")
    for start in range(0, len(sentences), EMBED_CHUNK):
        chunk = embedder.embed(sentences[start : start + EMBED_CHUNK])
        if chunk.shape != (min(EMBED_CHUNK, len(sentences) - start), embedder.dim):
            raise ConfigError(detail=f"embedder {embedder.name} returned shape {chunk.shape}")
        chunks.append(chunk)
        if progress:
            progress(min(start + EMBED_CHUNK, len(sentences)), len(sentences), "embedding")
    table = np.concatenate(chunks) if chunks else np.zeros((0, embedder.dim), np.float32)
    out = np.stack([table[[position[s] for s in parts]].mean(axis=0) for parts in split])
    return normalise(out), len(sentences)


def _spread(tunes: list[CorpusTune], limit: int | None) -> list[CorpusTune]:
    """At most ``limit`` tunes spread evenly over the corpus (so a trial build sees every
    collection, not just the first file)."""
    if limit is None or limit >= len(tunes):
        return tunes
    if limit <= 0:
        return []
    step = len(tunes) / limit
    return [tunes[int(i * step)] for i in range(limit)]


@contextmanager
def _build_lock(root: Path, name: str) -> Iterator[None]:
    root.mkdir(parents=True, exist_ok=True)
    with open(root / f".{name}.lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)  # a second builder waits, then finds the index
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _dir_size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.iterdir() if p.is_file())


def build_index(
    settings: Settings,
    progress: IndexProgress | None = None,
    force: bool = False,
    limit: int | None = None,
    embedder: TextEmbedder | None = None,
) -> IndexInfo:
    """Build the index for ``settings.corpus`` unless an equal one (same limit) is there."""
    name = embedder.name if embedder is not None else settings.retrieve
    final = index_dir(settings, name)
    with _build_lock(final.parent, final.name):
        existing = index_info(settings, name)
        if existing is not None and not force and existing.limit == limit:
            damage = index_damage(existing)
            if not damage:
                return existing
            # Without this, a damaged index with an intact info.json was never rebuilt.
            log.warning("rebuilding the damaged index at %s: %s", final, "; ".join(damage))

        # Leftovers of a build that was killed (we hold the lock: nobody else is writing).
        for stale in final.parent.glob(f".tmp-{final.name}-*"):
            shutil.rmtree(stale, ignore_errors=True)
        for stale in final.parent.glob(f".old-{final.name}-*"):
            shutil.rmtree(stale, ignore_errors=True)

        started = time.perf_counter()
        stats = CorpusStats()
        if progress:
            progress(0, 0, "reading")
        try:
            tunes = _spread(list(iter_corpus(settings.corpus, stats)), limit)
        except (FileNotFoundError, NotADirectoryError) as exc:
            raise ConfigError(
                "The music corpus could not be found; check PICTUNE_CORPUS.", detail=str(exc)
            ) from exc
        if not tunes:
            raise ConfigError(
                "The music corpus has no usable ABC tunes; check PICTUNE_CORPUS.",
                detail=f"corpus {settings.corpus!r}: {stats.skipped} skipped, {stats.files} files",
            )

        records: list[dict[str, Any]] = []
        if progress:
            progress(0, len(tunes), "describing")
        for i, tune in enumerate(tunes):
            f = tune_features(tune)
            records.append(
                {
                    "id": tune.id,
                    "title": tune.title,
                    "collection": tune.collection,
                    "key": f.key,
                    "mode": f.mode,
                    "meter": f.meter,
                    "tempo": f.tempo,
                    "description": describe_tune(tune, f),
                    "features": dataclasses.asdict(f),
                    "abc": tune.abc,
                }
            )
            if progress and (i % 500 == 499 or i == len(tunes) - 1):
                progress(i + 1, len(tunes), "describing")

        distinct = sorted({r["description"] for r in records})
        row_of = {d: i for i, d in enumerate(distinct)}
        rows = np.array([row_of[r["description"]] for r in records], dtype=np.int32)
        if embedder is None:
            if progress:
                progress(0, 0, "loading model")
            embedder = load_text_embedder(settings)
        vectors, n_sentences = embed_descriptions(embedder, distinct, progress)

        if progress:
            progress(0, 1, "writing")
        tmp = final.parent / f".tmp-{final.name}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        try:
            tmp.mkdir(parents=True)
            np.save(tmp / "vectors.npy", vectors.astype(np.float32))
            np.save(tmp / "rows.npy", rows)
            with open(tmp / "tunes.json", "w", encoding="utf-8") as fh:
                json.dump(records, fh, ensure_ascii=False, separators=(",", ":"))
            info = IndexInfo(
                path=final,
                corpus=settings.corpus,
                model=embedder.name,
                tunes=len(records),
                skipped=stats.skipped,
                descriptions=len(distinct),
                sentences=n_sentences,
                built_at=datetime.now(UTC).isoformat(timespec="seconds"),
                seconds=round(time.perf_counter() - started, 2),
                size=0,
                dim=int(vectors.shape[1]),
                limit=limit,
            )
            info.checksums = {name: file_checksum((tmp / name).read_bytes()) for name in DATA_FILES}
            info.size = _dir_size(tmp)
            (tmp / "info.json").write_text(json.dumps(info.to_json(), indent=1))
            _replace_dir(tmp, final)
        finally:
            if tmp.exists():
                shutil.rmtree(tmp, ignore_errors=True)
        if progress:
            progress(1, 1, "writing")
        return info


def _replace_dir(new: Path, final: Path) -> None:
    """Move ``new`` to ``final``; an old ``final`` is moved aside first, then deleted."""
    old = None
    if final.exists():
        old = final.with_name(f".old-{final.name}-{uuid.uuid4().hex[:8]}")
        final.rename(old)
    new.rename(final)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def index_info(settings: Settings, embedder_name: str | None = None) -> IndexInfo | None:
    """What the index on disk holds, or None when there is none (or it is unreadable)."""
    path = index_dir(settings, embedder_name)
    try:
        data = json.loads((path / "info.json").read_text())
        info = IndexInfo.from_json(data, path)
    except (OSError, ValueError, TypeError) as exc:
        if path.exists():
            log.warning("ignoring unreadable index info at %s: %s", path, exc)
        return None
    return info if info.version == INDEX_VERSION else None


def file_checksum(data: bytes) -> dict[str, Any]:
    return {"size": len(data), "sha256": hashlib.sha256(data).hexdigest()}


class IndexDamaged(ValueError):
    """A file of the index does not match info.json or cannot be read as what it should be."""


def _read_checked(info: IndexInfo, name: str) -> bytes:
    """A data file's bytes, checked against info.json's size and hash (when it has them)."""
    data = (info.path / name).read_bytes()
    expected = (info.checksums or {}).get(name)
    if info.checksums is not None and expected is None:
        raise IndexDamaged(f"{name} has no checksum in info.json")
    if expected is not None:
        if len(data) != expected.get("size"):
            raise IndexDamaged(
                f"{name} is {len(data)} bytes, info.json says {expected.get('size')}"
            )
        if hashlib.sha256(data).hexdigest() != expected.get("sha256"):
            raise IndexDamaged(f"{name} does not match its checksum")
    return data


def _read_index(info: IndexInfo) -> CorpusIndex:
    """Read and check every file of the index; raises IndexDamaged (or OSError) if one is bad."""
    path = info.path
    _read_checked(info, "vectors.npy")  # hashed, then memory-mapped (the page cache is warm)
    try:
        vectors = np.load(path / "vectors.npy", mmap_mode="r")
        rows = np.load(io.BytesIO(_read_checked(info, "rows.npy")))
        tunes = [IndexedTune(**r) for r in json.loads(_read_checked(info, "tunes.json"))]
    except (ValueError, TypeError) as exc:
        if isinstance(exc, IndexDamaged):
            raise
        raise IndexDamaged(f"unreadable ({type(exc).__name__}: {exc})") from exc
    if (
        vectors.ndim != 2
        or len(rows) != len(tunes)
        or len(tunes) != info.tunes
        or (len(rows) and (rows.min() < 0 or rows.max() >= len(vectors)))
    ):
        raise IndexDamaged("its files disagree with each other (tunes, rows, vectors)")
    return CorpusIndex(info=info, tunes=tunes, vectors=vectors, rows=rows)


def index_damage(info: IndexInfo) -> list[str]:
    """What is wrong with the index ``info`` describes; empty when it loads and checks out."""
    try:
        _read_index(info)
    except (OSError, IndexDamaged) as exc:
        return [str(exc) if isinstance(exc, IndexDamaged) else f"{type(exc).__name__}: {exc}"]
    return []


def load_index(settings: Settings, embedder_name: str | None = None) -> CorpusIndex | None:
    """The index on disk (vectors memory-mapped), or None when missing or damaged (its
    builder then rebuilds it: ``build_index`` checks an existing index the same way)."""
    info = index_info(settings, embedder_name)
    if info is None:
        return None
    try:
        return _read_index(info)
    except (OSError, IndexDamaged) as exc:
        log.warning("ignoring damaged index at %s: %s", info.path, exc)
        return None
