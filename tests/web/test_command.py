"""`pictune web share | unshare` at the terminal, and `pictune web` serving."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from bot.cli import main
from engine.config import Settings, get_settings
from storage.shares import Shares
from storage.store import Store
from storage.views import Requester
from tests.storage.conftest import make_composition

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def data(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.setenv("PICTUNE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("PICTUNE_PUBLIC_URL", "https://pictune.example.org")
    monkeypatch.setenv("PICTUNE_SEMANTIC_SEARCH", "false")
    get_settings.cache_clear()
    yield tmp_path / "data"
    get_settings.cache_clear()


def _piece(data: Path, who: Requester) -> str:
    with Store.open(Settings(_env_file=None, data_dir=data), semantic=False) as store:
        return store.record(make_composition(), who)


def test_share_prints_a_link_and_unshare_closes_it(
    data: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    gid = _piece(data, Requester(visibility="private"))
    assert main(["web", "share", gid]) == 0
    link = capsys.readouterr().out.strip()
    assert link.startswith("https://pictune.example.org/s/")
    with Store.open(Settings(_env_file=None, data_dir=data), semantic=False) as store:
        assert Shares(store.db).resolve(link.rsplit("/", 1)[1]) == gid
        assert main(["web", "unshare", link]) == 0
        assert Shares(store.db).resolve(link.rsplit("/", 1)[1]) is None
    assert main(["web", "unshare", link]) == 2  # closed already
    assert "No open share link" in capsys.readouterr().err
    assert main(["web", "share", gid]) == 0
    assert main(["web", "unshare", gid]) == 0
    assert "closed 1 link" in capsys.readouterr().out


def test_only_your_own_pieces_can_be_shared(data: Path, capsys: pytest.CaptureFixture[str]) -> None:
    theirs = _piece(data, Requester(user_id="someone", visibility="private"))
    assert main(["web", "share", theirs]) == 2
    assert "No finished piece" in capsys.readouterr().err
    assert main(["web", "share", "not-an-id"]) == 2


def test_pictune_web_serves_the_gallery(data: Path) -> None:
    gid = _piece(data, Requester())
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "bot.cli", "web", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                page = httpx.get(f"http://127.0.0.1:{port}/", timeout=2)
                break
            except httpx.TransportError:
                assert proc.poll() is None and time.monotonic() < deadline
                time.sleep(0.2)
        assert page.status_code == 200 and f"/p/{gid}" in page.text
    finally:
        proc.terminate()
        proc.wait(timeout=20)
