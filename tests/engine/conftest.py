"""Fixtures for the engine's tests."""

from __future__ import annotations

# Tiny random models of every neural backend kind, built once per test process.
from tests.engine.neural_models import tiny_models  # noqa: F401
