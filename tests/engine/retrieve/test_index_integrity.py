"""A damaged tune index (data files hurt, info.json intact) is seen, rebuilt and reported."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pytest

from bot.commands import doctor
from bot.commands import index as index_cmd
from engine.config import Settings, get_settings
from engine.retrieve import load_retriever
from engine.retrieve.index import (
    DATA_FILES,
    build_index,
    index_damage,
    index_info,
    load_index,
)
from tests.engine.retrieve.conftest import write_corpus


def folder_settings(tmp_path: Path) -> Settings:
    corpus = write_corpus(tmp_path / "corpus")
    return Settings(_env_file=None, cache_dir=tmp_path / "cache", corpus=str(corpus))


def flip_a_byte(path: Path, at: int = -5) -> None:
    """Damage that keeps the size and, for .npy, the header: only a checksum sees it."""
    data = bytearray(path.read_bytes())
    data[at] ^= 0x55
    path.write_bytes(bytes(data))


def damage(path: Path, how: str) -> None:
    if how == "flip":
        flip_a_byte(path)
    elif how == "truncate":
        path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    elif how == "empty":
        path.write_bytes(b"")
    else:
        path.unlink()


def test_checksums_are_recorded_for_every_data_file(tmp_path: Path) -> None:
    info = build_index(folder_settings(tmp_path))
    assert info.checksums is not None and set(info.checksums) == set(DATA_FILES)
    on_disk = json.loads((info.path / "info.json").read_text())["checksums"]
    assert on_disk == info.checksums
    assert on_disk["vectors.npy"]["size"] == (info.path / "vectors.npy").stat().st_size
    assert index_damage(info) == []


@pytest.mark.parametrize("name", DATA_FILES)
@pytest.mark.parametrize("how", ["flip", "truncate", "empty", "missing"])
def test_damaged_file_is_refused_then_rebuilt_by_build(tmp_path: Path, name: str, how: str) -> None:
    settings = folder_settings(tmp_path)
    good = build_index(settings)
    damage(good.path / name, how)
    assert index_info(settings) is not None  # info.json is intact...
    assert index_damage(good)  # ...but the damage is named
    assert load_index(settings) is None  # and never served
    rebuilt = build_index(settings)  # no --force needed
    assert rebuilt.built_at >= good.built_at and index_damage(rebuilt) == []
    loaded = load_index(settings)
    assert loaded is not None and len(loaded.tunes) == 6


def test_a_flipped_vector_byte_is_caught_only_by_the_checksum(tmp_path: Path) -> None:
    settings = folder_settings(tmp_path)
    info = build_index(settings)
    flip_a_byte(info.path / "vectors.npy")
    vectors = np.load(info.path / "vectors.npy")  # still a well-formed array
    assert vectors.shape == (info.descriptions, info.dim)
    assert "vectors.npy does not match its checksum" in index_damage(info)


def test_compose_load_path_rebuilds_a_damaged_index(tmp_path: Path) -> None:
    settings = folder_settings(tmp_path)
    info = build_index(settings)
    flip_a_byte(info.path / "tunes.json", at=len((info.path / "tunes.json").read_bytes()) // 2)
    retriever = load_retriever(settings)  # what a worker does before its first piece
    assert retriever is not None
    assert index_damage(index_info(settings)) == []


def test_index_built_before_checksums_still_loads(tmp_path: Path) -> None:
    """Same INDEX_VERSION, no checksums in info.json: structural checks only."""
    settings = folder_settings(tmp_path)
    info = build_index(settings)
    raw = json.loads((info.path / "info.json").read_text())
    del raw["checksums"]
    (info.path / "info.json").write_text(json.dumps(raw))
    legacy = index_info(settings)
    assert legacy is not None and legacy.checksums is None
    assert load_index(settings) is not None and index_damage(legacy) == []
    (info.path / "tunes.json").write_text("[")  # structural damage is still seen
    assert load_index(settings) is None and index_damage(legacy)


@pytest.fixture
def cli_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    corpus = write_corpus(tmp_path / "corpus")
    monkeypatch.setenv("PICTUNE_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("PICTUNE_CORPUS", str(corpus))
    monkeypatch.setenv("PICTUNE_DATA_DIR", str(tmp_path / "data"))
    get_settings.cache_clear()
    yield get_settings()
    get_settings.cache_clear()


def test_doctor_and_index_build_name_the_damage(
    cli_settings: Settings, capsys: pytest.CaptureFixture
) -> None:
    info = build_index(cli_settings)
    assert doctor.check_index(cli_settings).status == doctor.OK
    flip_a_byte(info.path / "rows.npy")
    check = doctor.check_index(cli_settings)
    assert check.status == doctor.WARN
    assert "damaged" in check.message and "rows.npy" in check.message
    args = argparse.Namespace(force=False, limit=None, json=True)
    assert index_cmd.run_build(args) == 0
    assert "The index is damaged (rows.npy" in capsys.readouterr().err
    assert doctor.check_index(cli_settings).status == doctor.OK
