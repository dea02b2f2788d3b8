"""Data passed between the stages of the engine.

Every stage takes and returns these plain dataclasses, so a stage can be swapped for
another implementation (or run in another process) without the others noticing.
All of them round-trip through ``to_dict`` / ``from_dict`` so they can be stored as JSON.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

Mode = Literal["symbolic", "audio", "hybrid"]
MODES: tuple[str, ...] = ("symbolic", "audio", "hybrid")


def to_dict(obj: Any) -> Any:
    """Dataclass (nested) -> JSON-ready dict. Bytes are left out: they travel as files."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        out = {}
        for f in dataclasses.fields(obj):
            value = getattr(obj, f.name)
            if isinstance(value, (bytes, bytearray)):
                continue
            out[f.name] = to_dict(value)
        return out
    if isinstance(obj, (list, tuple)):
        return [to_dict(v) for v in obj]
    if isinstance(obj, dict):
        return {str(k): to_dict(v) for k, v in obj.items()}
    return obj


@dataclass
class ImageInfo:
    """What intake learned about an upload before and while decoding it."""

    width: int
    height: int
    format: str  # PNG, JPEG, WEBP, GIF, TIFF, BMP
    mode: str  # the original PIL mode, before conversion to RGB
    n_bytes: int
    sha256: str
    frames: int = 1
    motion: float = 0.0  # mean absolute frame difference of an animation, 0..1


@dataclass
class NamedColour:
    name: str  # "deep blue", "warm orange"
    rgb: tuple[int, int, int]
    share: float  # fraction of the image, 0..1


@dataclass
class Perception:
    """What was seen. All scalar features are normalised to 0..1 unless noted."""

    brightness: float
    contrast: float
    saturation: float
    colourfulness: float
    warmth: float  # -1 (cold blue) .. +1 (warm red/orange)
    hue_spread: float
    edge_density: float
    texture: float
    symmetry: float
    light_centre: tuple[float, float]  # (x, y), 0..1 from top-left
    detail_centre: tuple[float, float]
    dominant_colours: list[NamedColour]
    caption: str
    aspect: float = 1.0  # width / height
    motion: float = 0.0
    backend: str = "analytic"
    neural_caption: str | None = None  # set when a captioning model ran

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Perception:
        d = dict(d)
        d["dominant_colours"] = [
            NamedColour(c["name"], tuple(c["rgb"]), c["share"])
            for c in d.get("dominant_colours", [])
        ]
        d["light_centre"] = tuple(d["light_centre"])
        d["detail_centre"] = tuple(d["detail_centre"])
        return cls(**d)


@dataclass
class Reason:
    """One line of "feature -> choice" that the motivation explains."""

    feature: str  # "brightness 0.22 (dark)"
    choice: str  # "minor mode, slow tempo"


@dataclass(frozen=True)
class PieceOptions:
    """What a person chose outright (``/compose`` options, the Remix form): each field set
    overrides the picture's choice and the hint's, and the motivation says so. Read and
    checked by engine/bridge/options.py; empty fields mean "as the picture says"."""

    style: str | None = None  # a style of engine/compose/styles.py: "jazz", "lullaby"
    tempo: int | None = None  # beats per minute
    key: str | None = None  # tonic in ABC spelling: "D", "F#", "Bb"
    mode: str | None = None  # "major", "minor", "dorian", ...
    instruments: tuple[int, ...] = ()  # General MIDI programs, melody first (up to 3)

    @property
    def empty(self) -> bool:
        return not (self.style or self.tempo or self.key or self.mode or self.instruments)

    @classmethod
    def from_dict(cls, d: dict[str, Any] | None) -> PieceOptions | None:
        if not d:
            return None
        return cls(
            style=d.get("style"),
            tempo=d.get("tempo"),
            key=d.get("key"),
            mode=d.get("mode"),
            instruments=tuple(int(x) for x in d.get("instruments") or ()),
        )


@dataclass
class MusicBrief:
    """The musical plan for a piece: what the bridge decided, what the composer follows."""

    key: str  # tonic in ABC spelling: "C", "F#", "Bb"
    mode: str  # "major", "minor", "dorian", "mixolydian", "lydian", "phrygian"
    tempo: int  # beats per minute (quarter notes)
    meter: str  # "4/4", "3/4", "6/8", "2/4"
    melody_program: int  # General MIDI program 0..127
    harmony_program: int
    bass_program: int
    drums: bool
    register: int  # melody's central MIDI pitch, e.g. 67
    density: float  # 0 (sparse, long notes) .. 1 (busy, short notes)
    dynamics: str  # "pp", "p", "mp", "mf", "f", "ff"
    velocity: int  # 1..127, matching dynamics
    accompaniment: str  # "block", "arpeggio", "alberti", "waltz", "march", "drone"
    genre: str
    moods: list[str]
    instruments: list[str]  # human names, in order melody, harmony, bass
    description: str  # MidiCaps-style sentence(s)
    prompt: str  # MusicGen-style text prompt
    reasons: list[Reason]
    duration: float  # seconds requested
    hint: str | None = None
    backend: str = "rules"
    options: PieceOptions | None = None  # what the person chose outright, applied last
    # An extension: the lengths in seconds of the pieces it continues, oldest first; the
    # last one's form is kept as its opening (compose/form.py).
    continues: list[float] = field(default_factory=list)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> MusicBrief:
        d = dict(d)
        d["reasons"] = [Reason(**r) for r in d.get("reasons", [])]
        d["options"] = PieceOptions.from_dict(d.get("options"))
        return cls(**d)


@dataclass
class Exemplar:
    """A corpus tune retrieved as an example for the composer."""

    id: str  # stable id within its corpus, e.g. "oneills1850/123"
    title: str
    collection: str
    description: str
    abc: str
    key: str
    mode: str
    meter: str
    tempo: int
    similarity: float  # embedding similarity to the query
    score: float  # after re-ranking for compatibility

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Exemplar:
        return cls(**d)


@dataclass
class RefineRound:
    """One compose -> measure round of refinement."""

    round: int  # 0 is the first composition
    metrics: dict[str, float]
    targets: dict[str, float]
    distance: float  # weighted distance of metrics to targets (lower is better)
    adjustments: list[str]  # what was changed before this round, in words
    longest_copied_run: int = 0  # notes shared in a row with any exemplar
    abc: str = ""
    knobs: dict[str, float] = field(default_factory=dict)  # the composer's settings this round


@dataclass
class Feedback:
    """What refinement tells the composer before the next round."""

    round: int  # the round about to be composed (1 = first refinement)
    previous_abc: str
    metrics: dict[str, float]  # measured on previous_abc
    targets: dict[str, float]
    # Knob -> value for a statistical composer (e.g. "density": 0.6, "pitch_span": 12).
    adjustments: dict[str, float]
    # The same in words, for a language model ("use fewer distinct pitches").
    advice: list[str]


@dataclass
class Draft:
    """A composer's output for one round."""

    abc: str
    motivation: str | None = None  # a language model's own "creating motivation"
    notes: list[str] = field(default_factory=list)  # repairs, fallbacks, in words
    attention_png: bytes = b""  # where a VLM looked while writing it (engine/attention.py)


@dataclass
class ProgressEvent:
    """A step a user can see: "composing", "refining (round 2 of 3)", "rendering audio"."""

    stage: str  # machine name: perceive, bridge, retrieve, compose, refine, render, audio, done
    message: str  # user-facing words
    step: int | None = None
    total: int | None = None


ProgressFn = Callable[[ProgressEvent], None]


def no_progress(event: ProgressEvent) -> None:
    """The default progress sink: ignore."""


@dataclass
class ComposeRequest:
    image: bytes
    hint: str | None = None
    duration: float = 30.0
    mode: Mode = "symbolic"
    seed: int | None = None  # None: derived from the image hash
    refine_rounds: int | None = None  # None: the configured default
    filename: str | None = None
    # A rerun with refinement starts from an earlier piece: its ABC and metrics feed the next.
    parent_abc: str | None = None
    parent_metrics: dict[str, float] | None = None
    options: PieceOptions | None = None  # style, tempo, key, mode, instruments chosen outright
    # An extension (⏩): the lengths of the pieces it continues, oldest first, and the
    # composer's settings of the round that made the last of them; composed in one round.
    continues: list[float] = field(default_factory=list)
    knobs: dict[str, float] | None = None


@dataclass
class Composition:
    """Everything a finished piece consists of. Bytes are the files the user receives."""

    seed: int
    mode: str
    image: ImageInfo
    perception: Perception
    brief: MusicBrief
    exemplars: list[Exemplar]
    abc: str
    rounds: list[RefineRound]
    best_round: int
    motivation: str  # Markdown
    timings: dict[str, float]  # stage -> seconds
    backends: dict[str, str]  # stage -> backend name
    midi: bytes
    audio: bytes
    audio_format: str  # "mp3", "wav", "ogg"
    audio_seconds: float
    score_png: bytes
    notes: list[str] = field(default_factory=list)  # fallbacks and warnings, in words
    hint: str | None = None
    attention_png: bytes = b""  # PICTUNE_ATTENTION_MAPS: where the composer looked

    @property
    def metrics(self) -> dict[str, float]:
        return self.rounds[self.best_round].metrics if self.rounds else {}

    def files(self) -> dict[str, bytes]:
        """File name -> content, as written by the CLI and sent by the bots."""
        out: dict[str, bytes] = {}
        if self.audio:
            out[f"piece.{self.audio_format}"] = self.audio
        if self.midi:
            out["piece.mid"] = self.midi
        if self.abc:
            out["piece.abc"] = self.abc.encode()
        if self.score_png:
            out["score.png"] = self.score_png
        if self.attention_png:
            out["attention.png"] = self.attention_png
        out["motivation.md"] = self.motivation.encode()
        return out

    def summary(self) -> dict[str, Any]:
        """JSON-ready description of the piece (no file contents)."""
        d = to_dict(self)
        d["metrics"] = self.metrics
        return d
