"""Fixtures for the render tests."""

from __future__ import annotations

import pytest

from tests.engine.render.tunes import DRUM_ABC, TWO_VOICE_ABC


@pytest.fixture
def two_voice_abc() -> str:
    return TWO_VOICE_ABC


@pytest.fixture
def drum_abc() -> str:
    return DRUM_ABC
