"""⏩ Extend end to end, with the real pipeline behind the job service: the longer piece's
opening bars are the earlier piece's, in every voice, and it is a child in the lineage;
✏️ Remix with a new hint and options changes the brief and keeps the picture."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.compose.form import plan_sections
from engine.compose.rhythm import Meter
from engine.compose.styles import STYLES
from engine.config import Settings
from engine.pipeline import brief_for_notes
from engine.types import MusicBrief, PieceOptions
from service import load_job_service
from service.library import Library
from service.requests import Requests
from storage.store import Store
from storage.views import Requester
from tests.engine.compose.test_extend import voice_bars
from tests.images import rgb_png
from tests.service.test_real_pipeline import real_settings

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]
WHO = Requester("discord", "G1", "U1", channel="C1")


async def test_extend_and_remix_through_the_real_pipeline(
    settings: Settings, tmp_path: Path
) -> None:
    settings = real_settings(settings, tmp_path, refine_rounds=2, duration=20.0)
    store = Store.open(settings, semantic=False)
    service = load_job_service(settings, store)
    await service.start()
    requests = Requests(Library(settings, store), service)
    try:
        parent = await requests.compose(WHO, rgb_png(), hint="calm piano", duration=20)
        child = await requests.extend(WHO, parent.id)
        remix = await requests.remix(
            WHO, parent.id, hint="as a lullaby", options=PieceOptions(tempo=66, mode="minor")
        )
    finally:
        await service.stop()

    # Extend: longer, a child, the same opening in every voice, then a new ending.
    assert child.parent_id == parent.id and child.brief["duration"] == 40
    assert child.audio_seconds and parent.audio_seconds
    assert child.audio_seconds > parent.audio_seconds + 8  # whole phrases, so about 20 s more
    old = voice_bars(parent.files["piece.abc"].read_text())
    new = voice_bars(child.files["piece.abc"].read_text())
    brief = brief_for_notes(MusicBrief.from_dict(parent.brief))
    sections, _ = plan_sections(
        brief.duration, brief.tempo, Meter.parse(brief.meter).quarters, STYLES[brief.genre]
    )
    kept = sections[-1].start  # the bars before the earlier piece's last phrase
    assert kept >= 4
    for voice in old:
        assert new[voice][:kept] == old[voice][:kept], voice
    assert len(new["1"]) > len(old["1"])
    assert "it continues" in (child.motivation or "")
    # Extending again goes on from the extension.
    lineage = store.lineage(parent.id, workspace="G1", user_id="U1")
    assert {v.id for v in lineage.reruns} == {child.id, remix.id}

    # Remix: the same picture, the new wishes in the brief and said in the motivation.
    assert store.load_source_image(remix.id) == store.load_source_image(parent.id)
    assert remix.hint == "as a lullaby"
    assert (remix.brief["genre"], remix.brief["tempo"], remix.brief["mode"]) == (
        "lullaby",
        66,
        "minor",
    )
    assert parent.brief["genre"] != "lullaby"
    assert "You chose 66 bpm, minor" in (remix.motivation or "")
    store.close()
