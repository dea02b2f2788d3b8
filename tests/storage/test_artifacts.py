"""The content-addressed artifact store: dedup, atomic writes, verified reads, cleanup."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from storage.artifacts import (
    ArtifactMissing,
    ArtifactStore,
    describe_file,
    sha256_hex,
    sniff_image,
)
from tests.storage.conftest import TINY_PNG


def test_put_is_content_addressed_and_deduplicated(tmp_path: Path) -> None:
    store = ArtifactStore(tmp_path / "a")
    first = store.put(b"hello")
    again = store.put(b"hello")
    assert first == again and first.sha256 == sha256_hex(b"hello") and first.size == 5
    path = store.path(first.sha256)
    assert path == tmp_path / "a" / first.sha256[:2] / first.sha256[2:4] / first.sha256
    assert path.read_bytes() == b"hello"
    assert list(store.stored()) == [first.sha256]
    assert list(store.tmp.iterdir()) == []  # nothing left behind


def test_a_damaged_file_is_rewritten_by_put_and_refused_by_read(tmp_path: Path) -> None:
    store = ArtifactStore(tmp_path / "a")
    stored = store.put(b"x" * 100)
    store.path(stored.sha256).write_bytes(b"x" * 50)  # truncated behind our back
    with pytest.raises(ArtifactMissing):
        store.read(stored.sha256)
    store.put(b"x" * 100)
    assert store.read(stored.sha256) == b"x" * 100
    store.path(stored.sha256).write_bytes(b"y" * 100)  # same size, other bytes
    with pytest.raises(ArtifactMissing):
        store.read(stored.sha256)


def test_failed_write_leaves_no_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = ArtifactStore(tmp_path / "a")

    def broken_replace(src: str, dst: str) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(OSError):
        store.put(b"data")
    assert not store.has(sha256_hex(b"data"))
    assert list(store.tmp.iterdir()) == []


def test_remove_tidies_empty_folders(tmp_path: Path) -> None:
    store = ArtifactStore(tmp_path / "a")
    stored = store.put(b"bye")
    assert store.remove(stored.sha256)
    assert not store.remove(stored.sha256)
    assert not store.path(stored.sha256).parent.exists()
    with pytest.raises(ArtifactMissing):
        store.read(stored.sha256)


def test_rel_path_refuses_anything_but_a_digest(tmp_path: Path) -> None:
    store = ArtifactStore(tmp_path / "a")
    for bad in ("../../etc/passwd", "A" * 64, "ab"):
        with pytest.raises(ValueError):
            store.path(bad)


def test_sweep_tmp_removes_only_stale_files(tmp_path: Path) -> None:
    store = ArtifactStore(tmp_path / "a")
    old = store.tmp / "old"
    old.write_bytes(b"1")
    past = time.time() - 7200
    os.utime(old, (past, past))
    (store.tmp / "fresh").write_bytes(b"2")
    assert store.sweep_tmp(older_than_s=3600) == 1
    assert [p.name for p in store.tmp.iterdir()] == ["fresh"]


def test_file_kinds_and_image_sniffing() -> None:
    assert describe_file("piece.mp3") == ("audio", "audio/mpeg")
    assert describe_file("piece.mid") == ("midi", "audio/midi")
    assert describe_file("score.png") == ("score", "image/png")
    assert describe_file("weird.xyz") == ("other", "application/octet-stream")
    assert sniff_image(TINY_PNG) == ("png", "image/png")
    assert sniff_image(b"\xff\xd8\xff\xe0rest") == ("jpg", "image/jpeg")
    assert sniff_image(b"RIFF\x00\x00\x00\x00WEBPVP8 ") == ("webp", "image/webp")
    assert sniff_image(b"not an image") == ("bin", "application/octet-stream")


def test_files_are_described_by_name_then_suffix() -> None:
    assert describe_file("attention.png") == ("attention", "image/png")
    assert describe_file("score.png") == ("score", "image/png")
    assert describe_file("piece.mp3") == ("audio", "audio/mpeg")
    assert describe_file("strange.xyz")[0] == "other"
