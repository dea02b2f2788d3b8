"""Image -> music control: sweep one look of a picture with everything else fixed, and see what
the music does.

Pictures come from ``tests/images.photo_like`` (brightness, warmth, saturation, texture, light
position and symmetry can be dialled). For every sweep, several seeds (different pictures of the
same looks) at each level. What is read from each piece: the brief (tempo, mode, key, register,
density, dynamics, instruments, drums, meter) and the ABC itself (melody's mean pitch and notes
per second), so a promise that the bridge keeps but the composer loses shows up too.

Each promised mapping (engine/bridge/rules.py's table) gets Spearman's rank correlation
between the dialled knob and the musical outcome, with the sign the design promises.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from engine.bridge.rules import MODE_SHIFT
from engine.bridge.rules import key_signature as fifths_of
from engine.compose.styles import STYLES
from eval import stats
from eval.context import Context
from eval.plots import figure, save
from eval.report import Section, table


def warm_share(genre: str, programs: list[int]) -> float:
    """Share of the piece's programs that only its style's warm palette has (a program in
    both palettes counts as neither): palettes are per style, so warmth is judged there."""
    style = STYLES.get(genre)
    if style is None:
        return float("nan")
    warm, cool = ({*vars(p).values()} for p in style.palettes)
    return float(np.mean([p in warm - cool for p in programs]))


BASE_LOOKS: dict[str, Any] = {"brightness": 0.5, "warmth": 0.0, "saturation": 0.5, "texture": 0.2}


@dataclass(frozen=True)
class Sweep:
    knob: str  # photo_like keyword
    label: str
    levels: tuple[float, ...]
    perceived: str  # the Perception field that should follow the knob
    # A hint that holds the style: drums are a style's choice (classical has none), so their
    # promise is checked inside a style that has them.
    hint: str | None = None


@dataclass(frozen=True)
class Promise:
    knob: str
    outcome: str  # key in outcomes()
    sign: int  # +1: rises with the knob, -1: falls
    rule: str  # the mapping in words


def sweeps(quick: bool) -> list[Sweep]:
    n = 5 if quick else 9

    def lin(lo: float, hi: float) -> tuple[float, ...]:
        return tuple(round(float(x), 3) for x in np.linspace(lo, hi, n))

    return [
        Sweep("brightness", "brightness", lin(0.1, 0.9), "brightness"),
        Sweep("warmth", "warmth", lin(-1.0, 1.0), "warmth"),
        Sweep("saturation", "saturation (in folk)", lin(0.05, 1.0), "saturation", hint="folk"),
        Sweep("texture", "texture", lin(0.0, 0.8), "texture"),
        Sweep("light_y", "light position (0 top .. 1 bottom)", lin(0.1, 0.9), "light_y"),
        Sweep("symmetric", "symmetry (mirrored or not)", (0.0, 1.0), "symmetry"),
    ]


PROMISES: tuple[Promise, ...] = (
    Promise("brightness", "tempo", +1, "brightness ↑ → tempo ↑"),
    Promise("brightness", "mode_brightness", +1, "brightness ↑ → brighter mode (phrygian … major)"),
    Promise("brightness", "abc_tempo", +1, "brightness ↑ → tempo ↑ (Q: of the ABC)"),
    Promise("warmth", "key_fifths", +1, "warmth ↑ → sharper key signature"),
    Promise(
        "warmth", "warm_instruments", +1, "warmth ↑ → warm instruments (cello, horn, clarinet …)"
    ),
    Promise("warmth", "mode_brightness", +1, "warmth ↑ → brighter mode (a little)"),
    Promise("saturation", "velocity", +1, "saturation ↑ → louder"),
    Promise("saturation", "n_instruments", +1, "saturation ↑ → more instruments"),
    Promise("saturation", "drums", +1, "saturation ↑ → drums more often (in a style with drums)"),
    Promise("texture", "density", +1, "texture ↑ → denser notes (brief)"),
    Promise("texture", "notes_per_second", +1, "texture ↑ → more melody notes per second (ABC)"),
    Promise("light_y", "register", -1, "light higher in the frame → higher register (brief)"),
    Promise("light_y", "mean_pitch", -1, "light higher in the frame → higher melody (ABC)"),
    Promise("symmetric", "steady_meter", +1, "symmetry ↑ → steady meter (4/4, 2/4)"),
)

# What each sweep plot shows: (outcome, axis label).
PANELS: tuple[tuple[str, str], ...] = (
    ("tempo", "tempo (bpm)"),
    ("mode_brightness", "mode (−4 phrygian … 0 major)"),
    ("register", "register (MIDI), brief"),
    ("mean_pitch", "melody mean pitch (ABC)"),
    ("density", "density, brief"),
    ("notes_per_second", "melody notes/s (ABC)"),
    ("n_instruments", "instruments"),
    ("warm_instruments", "share of warm instruments"),
    ("velocity", "velocity"),
)


def outcomes(piece: dict[str, Any]) -> dict[str, float]:
    """The musical choices and measurements of one piece, as numbers."""
    b, m = piece["brief"], piece.get("melody", {})
    programs = [b["melody_program"], b["harmony_program"], b["bass_program"]]
    return {
        "tempo": float(b["tempo"]),
        "abc_tempo": float(m.get("tempo", np.nan)),
        "mode_brightness": float(MODE_SHIFT.get(b["mode"], np.nan)),
        "key_fifths": float(fifths_of(b["key"], b["mode"])),
        "register": float(b["register"]),
        "mean_pitch": float(m.get("mean_pitch", np.nan)),
        "density": float(b["density"]),
        "notes_per_second": float(m.get("notes_per_second", np.nan)),
        "velocity": float(b["velocity"]),
        "n_instruments": float(len(set(programs))),
        "warm_instruments": warm_share(str(b.get("genre", "")), programs),
        "drums": float(b["drums"]),
        "steady_meter": float(b["meter"] in ("4/4", "2/4")),
    }


def perceived(piece: dict[str, Any], field: str) -> float:
    p = piece["perception"]
    return float(p["light_centre"][1]) if field == "light_y" else float(p[field])


def run_sweep(ctx: Context, sweep: Sweep, seeds: int) -> list[dict[str, Any]]:
    from tests.images import photo_like

    rows = []
    for level in sweep.levels:
        for seed in range(seeds):
            looks = dict(BASE_LOOKS)
            looks[sweep.knob] = bool(level) if sweep.knob == "symmetric" else level
            image = photo_like(seed, **looks)
            piece = ctx.composer.piece(
                f"sweep/{sweep.knob}/{level}/{seed}", image, duration=ctx.duration, hint=sweep.hint
            )
            if not piece.get("ok"):
                continue
            rows.append(
                {
                    "level": level,
                    "seed": seed,
                    "perceived": perceived(piece, sweep.perceived),
                    **outcomes(piece),
                }
            )
    return rows


def verdict(rho: float, p: float | None, sign: int) -> str:
    if np.isnan(rho):
        return "no change"
    if rho * sign <= 0:
        return "**no** (opposite)"
    if p is not None and p < 0.05:
        return "yes"
    return "weak (not significant)"


def plot_sweep(sweep: Sweep, rows: list[dict[str, Any]], path: Path) -> Path:
    fig, axes = figure(3, 3, 2.8, 2.2)
    levels = np.array([r["level"] for r in rows])
    for ax, (key, label) in zip(axes.flat, PANELS, strict=True):
        values = np.array([r[key] for r in rows], dtype=float)
        ax.scatter(levels, values, s=8, alpha=0.4, color="tab:blue")
        means = [np.nanmean(values[levels == lv]) for lv in sweep.levels]
        ax.plot(sweep.levels, means, color="tab:red")
        ax.set_title(label, fontsize=8)
        ax.tick_params(labelsize=7)
        ax.set_xlabel(sweep.knob, fontsize=7)
    fig.suptitle(f"Sweep: {sweep.label} (everything else fixed)", fontsize=10)
    return save(fig, path)


def section(ctx: Context) -> Section:
    sec = Section("Image → music control")
    seeds = 2 if ctx.quick else 6
    all_rows: dict[str, list[dict[str, Any]]] = {}
    plots = []
    for sweep in sweeps(ctx.quick):
        rows = run_sweep(ctx, sweep, seeds)
        all_rows[sweep.knob] = rows
        plots.append(plot_sweep(sweep, rows, ctx.plot_path(f"sweep_{sweep.knob}.png")))
        ctx.log(f"control: sweep {sweep.knob} done ({len(rows)} pieces)")

    sec.add(
        f"Procedural pictures (`tests/images.photo_like`, base looks {BASE_LOOKS}) with one look "
        f"dialled at a time, {seeds} different pictures per level; every piece composed with "
        "the default settings. ρ is Spearman's rank correlation between the dialled knob and "
        "the outcome over all pieces of the sweep; *holds* asks for the promised sign with "
        "p < 0.05.",
    )
    perception_rows = []
    for sweep in sweeps(ctx.quick):
        rows = all_rows[sweep.knob]
        rho, p = stats.spearman([r["level"] for r in rows], [r["perceived"] for r in rows])
        perception_rows.append([sweep.knob, sweep.perceived, rho, p])
    promise_rows, data = [], []
    for pr in PROMISES:
        rows = all_rows[pr.knob]
        pairs = [(r["level"], r[pr.outcome]) for r in rows if not np.isnan(r[pr.outcome])]
        rho, p = stats.spearman([a for a, _ in pairs], [b for _, b in pairs])
        v = verdict(rho, p, pr.sign)
        lo = np.mean([b for a, b in pairs if a == min(a for a, _ in pairs)])
        hi = np.mean([b for a, b in pairs if a == max(a for a, _ in pairs)])
        promise_rows.append([pr.rule, "+" if pr.sign > 0 else "−", rho, p, lo, hi, v])
        data.append(
            {
                "rule": pr.rule,
                "knob": pr.knob,
                "outcome": pr.outcome,
                "sign": pr.sign,
                "rho": rho,
                "p": p,
                "low": lo,
                "high": hi,
                "verdict": v,
            }
        )
    sec.add(
        "First, does perception follow the dial? (ρ between the knob and the perceived feature)",
        table(["knob", "perceived feature", "ρ", "p"], perception_rows, digits=3),
        "The promised mappings:",
        table(
            ["mapping", "sign", "ρ", "p", "mean at lowest level", "mean at highest level", "holds"],
            promise_rows,
            digits=3,
        ),
    )
    failed = [d["rule"] for d in data if not d["verdict"].startswith("yes")]
    if failed:
        sec.add(
            "**Not holding (or not significantly):** " + "; ".join(failed) + ". See *Findings*."
        )
    else:
        sec.add("Every promised mapping holds with the promised sign.")
    for sweep, plot in zip(sweeps(ctx.quick), plots, strict=True):
        sec.add(ctx.md_image(plot, f"sweep over {sweep.label}"))
    sec.data = {
        "promises": data,
        "perception": [
            dict(zip(["knob", "feature", "rho", "p"], r, strict=True)) for r in perception_rows
        ],
    }
    return sec
