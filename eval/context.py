"""What every analysis of the evaluation shares: settings, the composer, images, options."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

from engine.config import Settings
from eval.images import EvalImage
from eval.run import Composer


@dataclass
class Context:
    settings: Settings
    composer: Composer
    images: list[EvalImage]  # the whole image set
    quick: bool
    docs_dir: Path  # where evaluation.md goes
    plot_dir: Path  # where its PNG plots go (inside docs_dir)
    cache_dir: Path
    duration: float = 20.0  # seconds per piece
    verbose: bool = True

    def log(self, message: str) -> None:
        if self.verbose:
            print(message, file=sys.stderr, flush=True)

    def plot_path(self, name: str) -> Path:
        self.plot_dir.mkdir(parents=True, exist_ok=True)
        return self.plot_dir / name

    def md_image(self, path: Path, alt: str) -> str:
        return f"![{alt}]({path.relative_to(self.docs_dir).as_posix()})"
