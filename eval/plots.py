"""Matplotlib, headless, with PNGs that do not change between identical runs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402


def figure(
    rows: int = 1, cols: int = 1, width: float = 4.0, height: float = 3.0
) -> tuple[Any, Any]:
    """A figure of rows x cols panels, each width x height inches; axes always a 2-D array."""
    return plt.subplots(rows, cols, figsize=(width * cols, height * rows), squeeze=False)


def save(fig: Any, path: Path) -> Path:
    """Save without a timestamp or software version (a rerun gives the same bytes)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=90, metadata={"Software": None})
    plt.close(fig)
    return path
