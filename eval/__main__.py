"""``python -m eval [--quick]``: run the whole evaluation and rewrite docs/evaluation.md.

Every piece is cached (keyed by image, request and the engine's source), so a second run, or a
run after changing only the evaluation, rebuilds the document in seconds; ``--no-cache``
recomposes everything. Seeds are fixed: a rerun gives the same numbers.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import time
from pathlib import Path
from typing import Any

from engine.config import Settings
from eval import ablations, consistency, control, findings, performance, quality, styles
from eval.context import Context
from eval.images import SCENE_KINDS, SKIMAGE_SAMPLES, image_set
from eval.report import Section, table, write_document
from eval.run import Composer, engine_hash, pipeline_matches

ROOT = Path(__file__).resolve().parent.parent


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(prog="python -m eval", description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fewer pieces: under 5 minutes on 2 cores")
    ap.add_argument("--docs", type=Path, default=ROOT / "docs", help="where evaluation.md goes")
    ap.add_argument(
        "--cache-dir", type=Path, default=None, help="per-piece cache (default: the user cache)"
    )
    ap.add_argument("--no-cache", action="store_true", help="recompose every piece")
    ap.add_argument("--duration", type=float, default=20.0, help="seconds per piece")
    return ap.parse_args(argv)


def image_sources(images: list[Any]) -> Section:
    sec = Section("Image set and where each image comes from")
    kinds: dict[str, int] = {}
    for im in images:
        kinds[im.kind] = kinds.get(im.kind, 0) + 1
    sec.add(
        f"{len(images)} images, all made or bundled by `eval/images.py` (nothing is downloaded): "
        f"{kinds.get('photo', 0)} photographs bundled with scikit-image (public domain or CC0, as "
        f"each one's docstring states), {sum(kinds.get(k, 0) for k in SCENE_KINDS)} procedural "
        f"scenes ({', '.join(k.replace('_', ' ') for k in SCENE_KINDS)}) and "
        f"{kinds.get('photo_like', 0)} procedural `photo_like` pictures with random looks. The "
        "control sweeps draw further `photo_like` pictures (tests/images.py).",
        table(
            ["skimage.data function", "what it shows", "licence"],
            [[f"`{n}`", what, lic] for n, (what, lic) in SKIMAGE_SAMPLES.items()],
        ),
        table(
            ["image", "source", "licence"],
            [[im.name, im.source, im.licence] for im in images if im.kind != "photo"],
        ),
    )
    return sec


def _clean(value: Any) -> Any:
    """NaN -> None, tuples -> lists, keys -> str: for results.json."""
    if isinstance(value, float):
        return None if math.isnan(value) or math.isinf(value) else round(value, 6)
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    return value


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    start = time.perf_counter()
    settings = Settings()
    cache_dir = (args.cache_dir or settings.cache_dir / "eval").expanduser()
    docs = args.docs.resolve()
    ctx = Context(
        settings=settings,
        composer=Composer(settings, cache_dir, use_cache=not args.no_cache),
        images=image_set(),
        quick=args.quick,
        docs_dir=docs,
        plot_dir=docs / "eval",
        cache_dir=cache_dir,
        duration=args.duration,
    )
    ctx.log(
        f"eval: {'quick' if args.quick else 'full'} run, {len(ctx.images)} images, cache {cache_dir}"
    )
    corpus = quality.corpus_for(ctx)
    ctx.log(f"eval: corpus sample of {len(corpus)} tunes ready")
    pieces = quality.quality_pieces(ctx)
    sections = [quality.section(ctx, pieces, corpus)]
    style_section = styles.section(ctx)
    performance_section = performance.section(ctx)
    sections.append(control.section(ctx))
    sections.append(ablations.retrieval_section(ctx, corpus))
    sections.append(ablations.refinement_section(ctx, pieces, corpus))
    sections.append(ablations.hint_section(ctx))
    sections.append(consistency.section(ctx, pieces))
    sections.append(findings.section(*sections))
    sections.insert(1, style_section)  # after quality; findings reads the others only
    sections.insert(2, performance_section)  # after the style section
    sections.append(image_sources(ctx.images))
    check_image = ctx.images[0]
    matches = pipeline_matches(settings, ctx.composer, check_image.bytes(), ctx.duration)
    elapsed = time.perf_counter() - start

    command = "python -m eval --quick" if args.quick else "python -m eval"
    intro = [
        "How good is Pictune's music, and does it follow the picture? Every table and plot "
        f"below was produced by `{command}` (`.venv/bin/python -m eval`, add `--quick` for the "
        "short variant), which rewrites this file and `docs/eval/`. Seeds are fixed, so a rerun "
        "gives the same numbers.",
        f"This run: **{'quick' if args.quick else 'full'}**, embedded default pipeline "
        f"(perceive `{settings.perceive}`, bridge `{settings.bridge}`, retrieve "
        f"`{settings.retrieve}`, compose `{settings.compose}`), pieces of {ctx.duration:.0f} s, "
        f"engine source hash `{engine_hash()}`; {ctx.composer.composed} pieces composed "
        f"({ctx.composer.seconds:.0f} s), the others read from the cache; {elapsed:.0f} s in all "
        f"on {os.cpu_count()} CPU cores ({platform.machine()}, Python {platform.python_version()}).",
        "Pieces are composed by `eval/run.py`, which runs the pipeline's stages up to the ABC "
        "and skips audio and the score picture. Check: the full `Pipeline.run` gives the same "
        f"ABC for `{check_image.name}`: **{'yes' if matches else 'NO'}**.",
    ]
    path = write_document(docs / "evaluation.md", "Pictune evaluation", intro, sections)
    results = {s.title: s.data for s in sections if s.data}
    results["run"] = {
        "quick": args.quick,
        "seconds": elapsed,
        "composed": ctx.composer.composed,
        "pipeline_matches": matches,
        "engine_hash": engine_hash(),
    }
    (ctx.plot_dir / "results.json").write_text(
        json.dumps(_clean(results), indent=1, sort_keys=True)
    )
    ctx.log(f"eval: wrote {path} in {elapsed:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
