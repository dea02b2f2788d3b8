"""The rules bridge: Perception (+ hint) -> MusicBrief, deterministically, with a reason for
every choice.

Promised monotone mappings (the evaluation checks their rank correlation; keep them true):

| image feature | musical choice | rule |
|---|---|---|
| brightness ↑ | tempo ↑ | pace = 54 + 70·brightness + 16·edge_density + 60·√motion, clamped to 50..180, placed at the same height inside the style's tempo range (styles.py) |
| brightness ↑ (warmth, saturation a little) | brighter mode | mood score = 0.6·brightness + 0.25·(warmth+1)/2 + 0.15·saturation; ≥0.52 major, ≥0.45 mixolydian, ≥0.36 dorian, ≥0.18 minor, else phrygian |
| warmth ↑ | sharper key; warm instruments | key signature = round(3.5·warmth) fifths, clamped −3 (three flats) .. +4 (four sharps); warmth ≥ 0 picks the genre's warm palette (cello, horn, clarinet, guitar, saxophone) else the cool one (flute, harp, vibraphone, piano, pads) |
| saturation, colourfulness ↑ | louder; more instruments; drums | loudness = 0.45·saturation + 0.45·colourfulness + 0.1·contrast; velocity = 36 + 72·loudness; 1 instrument below 0.2, 2 below 0.4, else 3 (at least the style's ensemble: a rock band is three); drums when loudness + 0.2·edges + √motion ≥ the style's threshold (styles without drums only when asked) |
| edge density, texture ↑ | denser notes | density = 0.12 + 0.6·edge_density + 0.45·texture, clamped 0.05..0.95 |
| light higher in the frame | higher register | register = 58 + 16·(1 − light_y) + 6·(brightness − 0.5), clamped 55..79 |
| symmetry ↑ | steadier meter | symmetry ≥ 0.6: the style's first meter (2/4 when fast and busy, where the style has it); below: 3/4 (6/8 when tempo ≥ 100), where the style has a triple meter |
| motion ↑ | faster | the √motion term of the tempo |

Genre comes from the overall look (motion → electronic, quiet and sparse → ambient, dark and
warm → jazz, dark → cinematic, bright and colourful → pop, warm → folk, else classical); its
style (engine/compose/styles.py) brings the tempo range, meters, instruments, drums and the
accompaniment. A hint (see ``hints.py``) overrides any of these and adds a reason saying what
it changed; funk, blues, lullaby and waltz are styles a hint asks for.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from engine.bridge.hints import Hint, parse_hint
from engine.compose.instruments import PROGRAM_NAMES, instrument
from engine.compose.styles import STYLES, Style
from engine.errors import InvalidOption
from engine.types import MusicBrief, Perception, PieceOptions, Reason

MIN_TEMPO, MAX_TEMPO = 50, 180
OPTIONS_FEATURE = "your options"  # the reason's feature when the person chose outright
OVERRIDDEN = "what it asked for, your options decided instead"
MIN_REGISTER, MAX_REGISTER = 55, 79

# Substitutes for an instrument the hint said not to use.
SUBSTITUTE = {0: 46, 25: 0, 24: 0, 40: 73, 42: 70, 73: 40, 46: 0, 48: 0, 4: 0}

MODE_SHIFT = {"lydian": 1, "major": 0, "mixolydian": -1, "dorian": -2, "minor": -3, "phrygian": -4}
MODE_LADDER = (  # mood score lower bound -> mode, brightest first
    (0.52, "major"),
    (0.45, "mixolydian"),
    (0.36, "dorian"),
    (0.18, "minor"),
    (-1.0, "phrygian"),
)
MODE_WORDS = {
    "major": "major: bright and settled",
    "mixolydian": "mixolydian: major, with a softer seventh",
    "dorian": "dorian: minor, with a hopeful sixth",
    "minor": "minor: dark and inward",
    "phrygian": "phrygian: the darkest mode",
    "lydian": "lydian: bright and floating",
}
DYNAMICS = ((44, "pp"), (56, "p"), (68, "mp"), (82, "mf"), (96, "f"), (128, "ff"))
DYNAMIC_WORDS = {
    "pp": "very soft",
    "p": "soft",
    "mp": "moderately soft",
    "mf": "moderately loud",
    "f": "loud",
    "ff": "very loud",
}
VELOCITY_STEP = 14  # one step of dynamics asked for in a hint
NOTE_NAMES = ("C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")


# ---------------------------------------------------------------- small music helpers


def fifths_name(fifths: int) -> str:
    """Name of the note `fifths` steps round the circle from C: 1 -> G, -2 -> Bb, 8 -> G#."""
    letter = "FCGDAEB"[(fifths + 1) % 7]
    accidentals = (fifths + 1) // 7
    return letter + ("#" * accidentals if accidentals > 0 else "b" * -accidentals)


def name_fifths(name: str) -> int:
    """Inverse of fifths_name: "Bb" -> -2."""
    base = "FCGDAEB".index(name[0].upper()) - 1
    return base + 7 * name.count("#") - 7 * name[1:].count("b")


def key_signature(tonic: str, mode: str) -> int:
    """Sharps (+) or flats (−) in the key signature of tonic + mode."""
    return name_fifths(tonic) + MODE_SHIFT[mode]


def tonic_for(signature: int, mode: str) -> str:
    """The tonic of `mode` whose key signature has `signature` fifths."""
    return fifths_name(signature - MODE_SHIFT[mode])


def respell(tonic: str, mode: str) -> str:
    """An enharmonic spelling with at most 6 accidentals where one exists (G# major -> Ab)."""
    fifths = name_fifths(tonic)
    best = min((fifths, fifths - 12, fifths + 12), key=lambda f: abs(f + MODE_SHIFT[mode]))
    return tonic if abs(key_signature(tonic, mode)) <= 6 else fifths_name(best)


def signature_words(signature: int) -> str:
    if signature == 0:
        return "no sharps or flats"
    count = abs(signature)
    kind = "sharp" if signature > 0 else "flat"
    return f"{count} {kind}{'s' if count > 1 else ''}"


def pitch_name(midi: int) -> str:
    return f"{NOTE_NAMES[midi % 12]}{midi // 12 - 1}"


def dynamics_for(velocity: int) -> str:
    return next(name for bound, name in DYNAMICS if velocity < bound)


def _clamp(x: float, lo: float, hi: float) -> float:
    return min(max(x, lo), hi)


def _join(words: list[str]) -> str:
    if len(words) <= 1:
        return "".join(words)
    return ", ".join(words[:-1]) + " and " + words[-1]


# ---------------------------------------------------------------- the bridge


@dataclass
class _Choices:
    """The brief being assembled, with a reason per decision."""

    reasons: dict[str, Reason] = field(default_factory=dict)
    hint_changes: list[tuple[str, str]] = field(default_factory=list)  # (decision, change)
    option_changes: list[tuple[str, str]] = field(default_factory=list)

    def because(self, decision: str, feature: str, choice: str) -> None:
        self.reasons[decision] = Reason(feature=feature, choice=choice)

    def hinted(self, decision: str, change: str) -> None:
        """The hint decided this: its own reason replaces the image's."""
        self.reasons.pop(decision, None)
        if (decision, change) not in self.hint_changes:
            self.hint_changes.append((decision, change))

    def chose(self, decision: str, change: str) -> None:
        """The person's options decided this, over the image and the hint."""
        self.reasons.pop(decision, None)
        self.hint_changes = [(d, words) for d, words in self.hint_changes if d != decision]
        if (decision, change) not in self.option_changes:
            self.option_changes.append((decision, change))


class RulesBridge:
    """Feature-to-music rules; see the module docstring for the mappings."""

    name = "rules"

    def bridge(
        self,
        perception: Perception,
        hint: str | None,
        duration: float,
        options: PieceOptions | None = None,
    ) -> MusicBrief:
        try:
            duration = float(duration)
        except (TypeError, ValueError) as exc:
            raise InvalidOption("The duration must be a number of seconds.") from exc
        if not math.isfinite(duration) or duration <= 0:
            raise InvalidOption("The duration must be a positive number of seconds.")
        request = parse_hint(hint)
        return build_brief(perception, request, duration, options)


def build_brief(
    p: Perception, hint: Hint, duration: float, options: PieceOptions | None = None
) -> MusicBrief:
    """The brief: the picture's choices, then the hint's, then the person's options."""
    c = _Choices()
    chosen = options or PieceOptions()
    b, w, s = p.brightness, p.warmth, p.saturation
    motion = _clamp(p.motion, 0.0, 1.0)
    loudness = 0.45 * s + 0.45 * p.colourfulness + 0.1 * p.contrast
    mood_score = 0.6 * b + 0.25 * (w + 1) / 2 + 0.15 * s

    # Genre
    genre = _genre(p, loudness)
    c.because("genre", _genre_feature(p, loudness), f"{genre}")
    if hint.genre or hint.implied_genre:
        genre = hint.genre or hint.implied_genre or genre
        c.hinted("genre", genre)
    if chosen.style:
        genre = chosen.style
        c.chose("genre", f"{genre} style")

    # Mode
    image_mode = mode = next(m for bound, m in MODE_LADDER if mood_score >= bound)
    kept = STYLES[genre].mode_for(mode)
    folded = f"; {genre} keeps to {' and '.join(STYLES[genre].modes)}, so not {mode}"
    folded = folded if kept != mode else ""
    image_mode = mode = kept
    c.because(
        "mode",
        f"brightness {b:.2f} ({_brightness_word(b)}), warmth {w:+.2f}, saturation {s:.2f}"
        f" → mood score {mood_score:.2f}",
        MODE_WORDS[mode] + folded,
    )
    asked_mode = hint.mode or hint.implied_mode
    if asked_mode:
        mode = asked_mode
        c.hinted("mode", f"{mode} mode")
    if chosen.mode:
        mode = chosen.mode

    # Key: warmth turns the circle of fifths toward the sharp side.
    signature = int(_clamp(round(3.5 * w), -3, 4))
    tonic = tonic_for(signature, image_mode)
    c.because(
        "key",
        f"warmth {w:+.2f} ({_warmth_word(w)})",
        f"{tonic} {image_mode}, {signature_words(signature)} (warmer colours, sharper keys)",
    )
    if hint.key and not chosen.key:
        tonic = respell(hint.key, mode)
        c.hinted("key", f"key of {tonic} {mode}")
    elif mode != image_mode and not chosen.key:
        tonic = respell(tonic, mode)  # the parallel key: same tonic, the mode asked for
        c.hinted("key", f"key of {tonic} {mode}")
    if chosen.key:
        tonic = respell(chosen.key, mode)
    if chosen.key or chosen.mode:
        c.chose("key", f"{tonic} {mode}")
        c.chose("mode", f"{tonic} {mode}")

    style = STYLES[genre]

    # Tempo: the picture's pace, at the same height inside the style's range.
    pace = _clamp(54 + 70 * b + 16 * p.edge_density + 60 * math.sqrt(motion), MIN_TEMPO, MAX_TEMPO)
    low, high = style.tempo
    tempo = int(round(low + (high - low) * (pace - MIN_TEMPO) / (MAX_TEMPO - MIN_TEMPO)))
    motion_part = f", motion {motion:.2f}" if motion > 0 else ""
    c.because(
        "tempo",
        f"brightness {b:.2f}, edges {p.edge_density:.2f}{motion_part}",
        f"{tempo} bpm ({_tempo_word(tempo)}, within {genre}'s {low}–{high})",
    )
    if hint.tempo is not None:
        tempo = hint.tempo
        c.hinted("tempo", f"{tempo} bpm")
    elif hint.tempo_factor != 1.0:
        tempo = int(round(_clamp(tempo * hint.tempo_factor, MIN_TEMPO, MAX_TEMPO)))
        word = "faster" if hint.tempo_factor > 1 else "slower"
        c.hinted("tempo", f"{word} ({tempo} bpm)")
    if chosen.tempo:
        tempo = chosen.tempo
        c.chose("tempo", f"{tempo} bpm")

    # Density
    density = round(_clamp(0.12 + 0.6 * p.edge_density + 0.45 * p.texture, 0.05, 0.95), 3)
    c.because(
        "density",
        f"edges {p.edge_density:.2f}, texture {p.texture:.2f}",
        f"density {density:.2f} ({_density_word(density)})",
    )
    if hint.density:
        density = round(_clamp(density + hint.density, 0.05, 0.95), 3)
        c.hinted("density", f"{'busier' if hint.density > 0 else 'sparser'} notes")

    # Meter: symmetric pictures get an even pulse, where the style has a choice.
    meter, why = _meter(style, p.symmetry, tempo, density)
    c.because(
        "meter", f"symmetry {p.symmetry:.2f} ({_symmetry_word(p.symmetry)})", f"{meter}: {why}"
    )
    if hint.meter:
        meter = hint.meter
        c.hinted("meter", meter)

    # Dynamics
    velocity = int(round(_clamp(36 + 72 * loudness, 20, 120)))
    c.because(
        "dynamics",
        f"saturation {s:.2f}, colourfulness {p.colourfulness:.2f}",
        f"{dynamics_for(velocity)} (velocity {velocity})",
    )
    if hint.loudness:
        velocity = int(_clamp(velocity + VELOCITY_STEP * hint.loudness, 20, 120))
        c.hinted("dynamics", "louder" if hint.loudness > 0 else "softer")
    dynamics = dynamics_for(velocity)

    # Instruments
    warm = w >= 0
    palette = style.palettes[0 if warm else 1]
    size = max(1 if loudness < 0.2 else 2 if loudness < 0.4 else 3, style.min_players)
    if size == 1:
        melody = harmony = bass = palette.solo
    elif size == 2:  # the second player's left hand is the bass
        melody, harmony, bass = palette.melody, palette.duo, palette.duo
    else:
        melody, harmony, bass = palette.melody, palette.chords, palette.bass
    c.because(
        "instruments",
        f"warmth {w:+.2f} ({'warm' if warm else 'cool'} sounds), loudness {loudness:.2f}"
        f" ({['a soloist', 'a duo', 'a trio'][size - 1]})",
        _join(_distinct([PROGRAM_NAMES[x] for x in (melody, harmony, bass)])),
    )
    # "sad piano": one instrument named, that can play alone, in a style one may play: a
    # solo piece on it (and no drums, unless they are asked for too).
    solo = (
        len(hint.instruments) == 1
        and hint.bass is None
        and instrument(hint.instruments[0]).alone
        and style.solo
        and not chosen.instruments
    )
    if solo:
        melody = harmony = bass = hint.instruments[0]
        c.hinted("instruments", f"{PROGRAM_NAMES[melody]} alone")
    elif hint.instruments:
        melody = hint.instruments[0]
        if len(hint.instruments) > 1:
            harmony = hint.instruments[1]
        if len(hint.instruments) > 2:
            bass = hint.instruments[2]
        for program in hint.instruments[:3]:
            c.hinted("instruments", PROGRAM_NAMES.get(program, f"program {program}"))
    if hint.bass is not None:
        bass = hint.bass
        c.hinted("instruments", PROGRAM_NAMES.get(bass, f"program {bass}"))
    if hint.avoid:
        melody, harmony, bass = (_avoid(x, hint.avoid) for x in (melody, harmony, bass))
        for program in hint.avoid:
            c.hinted("instruments", f"no {PROGRAM_NAMES.get(program, f'program {program}')}")
    if chosen.instruments:
        players = list(chosen.instruments) + [harmony, bass][len(chosen.instruments) - 1 :]
        melody, harmony, bass = players[:3]
        names = [PROGRAM_NAMES.get(x, f"program {x}") for x in chosen.instruments]
        c.chose("instruments", _join(names))

    # Drums
    drive = loudness + 0.2 * p.edge_density + math.sqrt(motion)
    drums = style.drum_threshold is not None and drive >= style.drum_threshold
    c.because(
        "drums",
        f"loudness {loudness:.2f}, edges {p.edge_density:.2f}{motion_part}",
        "drums" if drums else "no drums",
    )
    asked_drums = hint.drums if hint.drums is not None else hint.implied_drums
    if solo and hint.drums is None:
        asked_drums = False  # a solo player has no drummer beside them
    if asked_drums is not None and asked_drums != drums:
        drums = asked_drums
        c.hinted("drums", "drums" if drums else "no drums")

    # Register: light high in the frame lifts the melody.
    light_y = _clamp(p.light_centre[1], 0.0, 1.0)
    register = int(
        round(_clamp(58 + 16 * (1 - light_y) + 6 * (b - 0.5), MIN_REGISTER, MAX_REGISTER))
    )
    # A music box or a celesta plays it an octave up (Instrument.lift): say where it sounds.
    lifted = instrument(melody)
    c.because(
        "register",
        f"light centre {round(100 * light_y)}% down the frame",
        f"melody around {pitch_name(register + lifted.lift)} ({_register_word(register)}"
        + (f", an octave up on the {lifted.name})" if lifted.lift else ")"),
    )
    if hint.register:
        register = int(_clamp(register + hint.register, MIN_REGISTER, MAX_REGISTER))
        c.hinted("register", "higher melody" if hint.register > 0 else "lower melody")

    # Accompaniment
    accompaniment = style.comping[0]
    c.because("accompaniment", f"{genre}", f"{style.words}")
    if hint.accompaniment:
        accompaniment = hint.accompaniment
        c.hinted("accompaniment", f"{accompaniment} accompaniment")

    # Moods
    arousal = 0.5 * (tempo - MIN_TEMPO) / (MAX_TEMPO - MIN_TEMPO) + 0.3 * loudness + 0.2 * density
    # A mode asked for in the hint decides which side of the valence line the moods fall.
    valence = mood_score
    if mode != image_mode:
        valence = max(valence, 0.5) if MODE_SHIFT[mode] >= -1 else min(valence, 0.4)
    pair, colour = _moods(p, valence, arousal)
    moods = pair + colour
    c.because("moods", f"mood score {valence:.2f}, energy {arousal:.2f}", ", ".join(moods))
    if hint.moods:
        moods = (hint.moods + [m for m in colour if m not in hint.moods])[:4]
        c.hinted("moods", " and ".join(hint.moods) + " mood")

    instruments = _distinct([PROGRAM_NAMES.get(x, f"program {x}") for x in (melody, harmony, bass)])
    if drums:
        instruments.append("drums")

    reasons = list(c.reasons.values())
    if hint.text:
        if c.hint_changes:
            words = ", ".join(change for _, change in c.hint_changes)
            reasons.append(Reason(feature=f"hint '{hint.text}'", choice=words))
        elif c.option_changes and not hint.empty:
            reasons.append(Reason(feature=f"hint '{hint.text}'", choice=OVERRIDDEN))
        else:
            reasons.append(
                Reason(
                    feature=f"hint '{hint.text}'",
                    choice="no musical words I know; followed the picture",
                )
            )
        for note in hint.notes:
            reasons.append(Reason(feature=f"hint '{hint.text}'", choice=note))
    if c.option_changes:
        words = ", ".join(_distinct([change for _, change in c.option_changes]))
        reasons.append(Reason(feature=OPTIONS_FEATURE, choice=words))

    scene = scene_phrase(p)
    description = _description(
        genre, moods, tonic, mode, meter, tempo, instruments, register, density, dynamics, scene
    )
    prompt = _prompt(
        genre, moods, instruments, tempo, tonic, mode, density, dynamics, hint.text, scene
    )
    return MusicBrief(
        key=tonic,
        mode=mode,
        tempo=tempo,
        meter=meter,
        melody_program=melody,
        harmony_program=harmony,
        bass_program=bass,
        drums=drums,
        register=register,
        density=density,
        dynamics=dynamics,
        velocity=velocity,
        accompaniment=accompaniment,
        genre=genre,
        moods=moods,
        instruments=instruments,
        description=description,
        prompt=prompt,
        reasons=reasons,
        duration=duration,
        hint=hint.text or None,
        backend="rules",
        options=options if options is not None and not options.empty else None,
    )


# ---------------------------------------------------------------- decisions


def _genre(p: Perception, loudness: float) -> str:
    texture = 0.5 * (p.edge_density + p.texture)
    if p.motion >= 0.08:
        return "electronic"
    if loudness < 0.25 and texture < 0.3:
        return "ambient"
    if p.brightness < 0.35 and p.warmth > 0.1 and p.saturation >= 0.25:
        return "jazz"
    if p.brightness < 0.35:
        return "cinematic"
    if p.colourfulness >= 0.6 and p.brightness >= 0.5:
        return "pop"
    if p.warmth >= 0.15:
        return "folk"
    return "classical"


def _genre_feature(p: Perception, loudness: float) -> str:
    return f"brightness {p.brightness:.2f}, warmth {p.warmth:+.2f}, loudness {loudness:.2f}" + (
        f", motion {p.motion:.2f}" if p.motion > 0 else ""
    )


def _meter(style: Style, symmetry: float, tempo: int, density: float) -> tuple[str, str]:
    """The meter and why: even for symmetric pictures, lilting for the others, among the
    meters the style has (a rock song stays in 4/4 whatever the picture)."""
    meters = style.meters
    if symmetry >= 0.6:
        if "2/4" in meters and tempo >= 120 and density >= 0.6:
            return "2/4", "an even, steady pulse"
        return meters[0], "an even, steady pulse"
    triple = [m for m in ("6/8", "3/4") if m in meters]
    if tempo < 100:
        triple.sort(key=lambda m: m != "3/4")
    if triple:
        return triple[0], "a lilting, uneven pulse"
    return meters[0], f"{style.name} keeps its {meters[0]}"


def _moods(p: Perception, valence: float, arousal: float) -> tuple[list[str], list[str]]:
    """Two mood words from valence and arousal, and up to one colouring word."""
    happy, lively = valence >= 0.45, arousal >= 0.45
    if happy and lively:
        moods = ["joyful", "energetic"]
    elif happy:
        moods = ["peaceful", "hopeful"]
    elif lively:
        moods = ["tense", "dramatic"]
    elif p.brightness < 0.2:
        moods = ["mysterious", "brooding"]
    else:
        moods = ["melancholic", "reflective"]
    colour: list[str] = []
    if p.motion > 0.05:
        colour.append("restless")
    elif p.contrast < 0.15 and p.brightness > 0.5:
        colour.append("dreamy")
    elif p.symmetry > 0.85:
        colour.append("stately")
    elif p.warmth > 0.4:
        colour.append("tender")
    elif p.warmth < -0.4:
        colour.append("cool")
    return moods, colour


def _avoid(program: int, avoid: list[int]) -> int:
    while program in avoid:
        replacement = SUBSTITUTE.get(program, 0 if 0 not in avoid else 46)
        if replacement == program:
            break
        program = replacement
    return program


def _distinct(names: list[str]) -> list[str]:
    out: list[str] = []
    for name in names:
        if name not in out:
            out.append(name)
    return out


# ---------------------------------------------------------------- words


def _brightness_word(b: float) -> str:
    return "very dark" if b < 0.2 else "dark" if b < 0.38 else "bright" if b > 0.62 else "mid-toned"


def _warmth_word(w: float) -> str:
    return "warm" if w > 0.15 else "cool" if w < -0.15 else "neutral"


def _symmetry_word(sym: float) -> str:
    return "symmetric" if sym >= 0.8 else "fairly balanced" if sym >= 0.6 else "asymmetric"


def _tempo_word(tempo: int) -> str:
    if tempo < 76:
        return "slow"
    if tempo < 108:
        return "moderate"
    return "fast" if tempo < 140 else "very fast"


def _density_word(density: float) -> str:
    return "sparse" if density < 0.3 else "moderately busy" if density < 0.6 else "busy"


def _register_word(register: int) -> str:
    return "low" if register < 62 else "middle" if register < 72 else "high"


def scene_phrase(p: Perception) -> str:
    """What the music evokes, in the picture's own words: "a dark, cool scene of dark grey and
    charcoal, with busy texture". The brief is otherwise written in musical words and the
    caption in visual ones; carrying a phrase across (as Mozart's Touch's bridge does) ties the
    two texts to the same picture. A model's caption, where there is one, leads."""
    looks = []
    if p.brightness < 0.2:
        looks.append("very dark")
    elif p.brightness < 0.38:
        looks.append("dark")
    elif p.brightness > 0.62:
        looks.append("bright")
    if abs(p.warmth) > 0.15:
        looks.append(_warmth_word(p.warmth))
    if p.saturation < 0.06:
        looks.append("colourless")
    elif p.colourfulness > 0.55:
        looks.append("vivid")
    elif p.saturation < 0.15:
        looks.append("muted")
    colours = _distinct([c.name for c in p.dominant_colours[:2] if c.name])
    texture = (
        "busy texture"
        if p.texture > 0.55 or p.edge_density > 0.45
        else "fine detail"
        if p.edge_density > 0.12
        else "smooth shapes"
    )
    seen = _model_caption(p.neural_caption)
    if seen:
        return f"{seen}, {'in ' + _join(colours) if colours else 'with ' + texture}"
    article = "an" if looks and looks[0][0] in "aeiou" else "a"
    scene = f"{article} {', '.join(looks)} scene" if looks else "a softly lit scene"
    return f"{scene}{' of ' + _join(colours) if colours else ''}, with {texture}"


def _model_caption(text: str | None) -> str:
    """A captioning model's words, made safe for a one-line description: printable, one
    line, no trailing full stop, at most 80 characters cut at a word."""
    if not text:
        return ""
    cleaned = " ".join("".join(ch if ch.isprintable() else " " for ch in str(text)).split())
    cleaned = cleaned.rstrip(" .…")
    if len(cleaned) > 80:
        cleaned = cleaned[:80].rsplit(" ", 1)[0]
    first, _, rest = cleaned.partition(" ")
    if first in ("A", "An", "The"):  # "evoking a lighthouse", not "evoking A lighthouse"
        return f"{first.lower()} {rest}".strip()
    return cleaned


def _description(
    genre: str,
    moods: list[str],
    tonic: str,
    mode: str,
    meter: str,
    tempo: int,
    instruments: list[str],
    register: int,
    density: float,
    dynamics: str,
    scene: str = "",
) -> str:
    mood = moods[0] if moods else "gentle"
    evoking = f", evoking {scene}" if scene else ""
    return (
        f"A {_tempo_word(tempo)}, {mood} {genre} piece in {tonic} {mode} and {meter} at {tempo} bpm,"
        f" featuring {_join(instruments)}{evoking}. The melody sits in a"
        f" {_register_word(register)} register; {_density_word(density)} and"
        f" {DYNAMIC_WORDS[dynamics]}."
    )


def _prompt(
    genre: str,
    moods: list[str],
    instruments: list[str],
    tempo: int,
    tonic: str,
    mode: str,
    density: float,
    dynamics: str,
    hint_text: str,
    scene: str = "",
) -> str:
    parts = [
        f"{', '.join(moods[:3])} {genre} music with {_join(instruments)}",
        f"{_tempo_word(tempo)} tempo at {tempo} bpm",
        f"{tonic} {mode}",
        DYNAMIC_WORDS[dynamics],
        _density_word(density),
    ]
    if scene:
        parts.append(f"evoking {scene}")
    if hint_text:
        parts.append(hint_text)
    return ", ".join(parts)
