"""Which pipeline a worker runs: the engine's, unless a service test names a stand-in."""

from __future__ import annotations

import pytest

from engine.config import Settings
from engine.errors import ConfigError
from engine.pipeline import Pipeline
from service.worker_runtime import TEST_PIPELINE_ENV, load_pipeline
from tests.service.conftest import FAKE_PIPELINE
from tests.service.fakes import FakePipeline


def test_production_settings_carry_no_test_hook(settings: Settings) -> None:
    assert "pipeline" not in Settings.model_fields


def test_a_worker_runs_the_engines_pipeline(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(TEST_PIPELINE_ENV, raising=False)
    pipeline = load_pipeline(settings)
    assert type(pipeline) is Pipeline and pipeline.settings is settings  # type: ignore[attr-defined]


def test_a_service_test_names_its_stand_in(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(TEST_PIPELINE_ENV, FAKE_PIPELINE)
    assert isinstance(load_pipeline(settings), FakePipeline)
    monkeypatch.setenv(TEST_PIPELINE_ENV, "tests.service.fakes:NoSuchPipeline")
    with pytest.raises(ConfigError) as caught:
        load_pipeline(settings)
    assert TEST_PIPELINE_ENV in str(caught.value.detail)
