"""Styles: one declarative record per genre, everything a piece of it is made of.

A style says how fast it goes (the picture moves the tempo inside the range), which meters it
takes, its chord progressions (Roman numerals, see chords.py; the first for A sections, the
second for B sections, the rest for further sections), its cadences, how often the chord
changes, how chords are voiced and played (comping figures, patterns.py), what the bass plays
and how low, which drum grooves (two variants: A and B sections) and fills, how much it
swings, its instruments (a warm and a cool palette) and its form (intro, ending).

Adding a style is adding one record here (and its hint word in bridge/hints.py, if it is not
one the bridge chooses from the picture by itself) and its tests.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Palette:
    """General MIDI programs for each role."""

    melody: int
    chords: int
    bass: int
    duo: int  # plays chords and bass (a keyboard, harp or strings): the second of two players
    solo: int  # plays melody, chords and bass alone


@dataclass(frozen=True)
class Cadences:
    """Tokens replacing the last chords of a phrase, by how the phrase ends."""

    half: str = "V!"
    tonic: str = "V! I"
    final: str = "IV V! I"


@dataclass(frozen=True)
class Feel:
    """How a style is played and mixed (render/perform.py, render/mix.py): what the score
    leaves to the players. Velocities are MIDI steps, times milliseconds, sends 0-127."""

    dynamics: int = 10  # the phrase arch swells this far above (and falls below) the level
    accent: float = 1.0  # strength of metric accents: downbeats up, off-beats down
    timing_ms: float = 8.0  # spread of the players' onsets around the beat (Gaussian)
    laid_back_ms: float = 0.0  # the comping sits this far behind the beat
    ritardando: float = 0.1  # the tempo slows by this share into the last beat
    pedal: bool = True  # piano parts hold the sustain pedal, changed with the harmony
    reverb: int = 40  # CC 91 send
    chorus: int = 0  # CC 93 send


@dataclass(frozen=True)
class Style:
    name: str
    tempo: tuple[int, int]  # bpm range
    meters: tuple[str, ...]  # the first for steady (symmetric) pictures
    major: tuple[str, ...]  # progressions in major-like modes (major, lydian, mixolydian)
    minor: tuple[str, ...]  # in minor-like modes (minor, dorian, phrygian)
    comping: tuple[str, ...]  # accompaniment figures: A sections, B sections, further ones
    bass: tuple[str, ...]  # bass figures, likewise
    palettes: tuple[Palette, Palette]  # warm, cool
    cadences: Cadences = Cadences()
    harmonic_rhythm: float = 1.0  # chords per bar (0.5: one every two bars)
    voicing: int = 3  # notes in a comping chord
    # The lowest the bass line's centre goes (MIDI; 0: two octaves under the melody, as low
    # as the bass instrument allows); the chords then sit at least an octave over it.
    bass_floor: int = 0
    rootless: bool = False  # seventh chords voiced without their root (the bass plays it)
    grooves: tuple[str, ...] = ()  # drum grooves: A sections, B sections; () no drums
    fill: str = "snare"
    drum_threshold: float | None = None  # the picture's drive that brings drums; None: asked
    swing: float = 1.0  # long/short eighth ratio in performance; 1 straight, 2 triplet
    min_players: int = 1  # the picture's ensemble is at least this big
    solo: bool = True  # one player may play it, when the hint names one (a band style: False)
    continuous: bool = False  # the progression runs on across phrases in whole choruses (blues)
    inversions: bool = False  # the bass may take the third to move by step
    pushes: bool = False  # the comping anticipates the next bar's chord (arrange._answer)
    intro_bars: int = 1  # bars of accompaniment before the melody enters
    ending: str = "hold"  # "hold": a held final chord; "hits": a short stab and a crash
    words: str = ""  # how the motivation describes the style's playing
    feel: Feel = Feel()
    # The modes the style plays; () any. A picture's other mode becomes the first of these
    # of its kind, major-like or minor-like (mode_for): a minuet or a lullaby is major or
    # minor, not mixolydian; a blues is mixolydian (its chords are dominant sevenths) or
    # dorian. A mode asked for in words is played as asked.
    modes: tuple[str, ...] = ()
    # The blue third: in a mode with a major third, the chance that a melody note on it that
    # falls is sung a semitone flat; over a chord that holds the flat third (a blues' IV7)
    # it always is, since the major third would rub against it. 0: never.
    blue: float = 0.0
    # Chromatic approach notes: the chance that a short note off the beat, stepping to (or
    # repeating) a chord tone on the next beat, is played a semitone from it instead: a
    # jazz player's lead-in, where a folk tune steps or repeats. 0: never.
    approach: float = 0.0
    # Syncopation: the chance that a 4/4 bar rhythm of the melody has its middle beat
    # anticipated, struck an eighth early and held over (4 4 4 4 -> 4 2 6 4). 0: never.
    anticipation: float = 0.0
    # The shortest note the melody plays, in sixteenths: shorter notes borrowed from a
    # folk tune are joined (two sixteenths into an eighth, a dotted pair's short note into
    # its long one). 1: any.
    shortest: int = 1

    @property
    def has_drums(self) -> bool:
        return bool(self.grooves)

    def mode_for(self, mode: str) -> str:
        """The mode this style plays for a picture's ``mode``."""
        if not self.modes or mode in self.modes:
            return mode
        kind = MAJOR_LIKE if mode in MAJOR_LIKE else MINOR_LIKE
        return next((m for m in self.modes if m in kind), self.modes[0])


MAJOR_LIKE = ("major", "lydian", "mixolydian")  # a major third above the tonic
MINOR_LIKE = ("minor", "dorian", "phrygian")
MAJOR_AND_MINOR = ("major", "minor")

STYLES: dict[str, Style] = {
    s.name: s
    for s in (
        Style(
            name="folk",
            tempo=(84, 132),
            meters=("4/4", "6/8", "3/4", "2/4"),
            major=("I IV I V", "vi IV I V", "I vi IV V", "IV I V I"),
            minor=("i VII i v", "III VII i v", "i iv VII III"),
            comping=("strum", "broken", "eighths"),
            bass=("folk", "root_fifth"),
            grooves=("folk", "folk_b"),
            fill="snare",
            drum_threshold=0.55,
            palettes=(Palette(40, 25, 32, 0, 24), Palette(73, 46, 32, 46, 46)),
            words="strummed chords over a root-and-fifth bass",
            # Phrases that no longer all climb from low to high (markov._CONTOURS) put one
            # folk, one jazz and one pop piece at a bar-to-bar velocity sd of 5.9-6.0: each
            # of the three swells a step more (12 -> 13, 13 -> 14, 13 -> 14).
            feel=Feel(dynamics=13, timing_ms=9.0, reverb=45, chorus=10),
        ),
        Style(
            name="classical",
            modes=MAJOR_AND_MINOR,
            tempo=(60, 132),
            meters=("4/4", "3/4", "2/4"),
            major=("I IV V I", "I vi ii V!", "I ii V! I", "vi IV ii V!"),
            minor=("i iv V! i", "i VI iv V!", "i iv VII III"),
            cadences=Cadences(half="V!", tonic="V!7 I", final="ii V!7 I"),
            comping=("broken", "hymn", "alberti"),
            bass=("root_fifth", "whole"),
            voicing=4,
            inversions=True,
            palettes=(Palette(71, 0, 42, 0, 0), Palette(0, 48, 43, 48, 0)),
            words="functional harmony with inversions and cadences, broken chords",
            feel=Feel(dynamics=14, accent=0.8, timing_ms=7.0, ritardando=0.14, reverb=70),
        ),
        Style(
            name="ambient",
            tempo=(52, 76),
            meters=("4/4", "3/4"),
            major=("Iadd9 IVadd9", "vi7 IVmaj7", "Isus2 IVadd9 vi7 Isus2"),
            minor=("isus2 VIadd9", "i7 VImaj7", "iv7 i7"),
            cadences=Cadences(half="IVadd9", tonic="Isus2", final="IVadd9 Iadd9"),
            harmonic_rhythm=0.5,
            voicing=4,
            comping=("pad", "arpeggio", "pad"),
            bass=("whole", "pedal"),
            # The bass a bowed contrabass or a fretless bass under the pad, not the pad again.
            palettes=(Palette(42, 89, 43, 89, 4), Palette(11, 94, 35, 94, 0)),
            intro_bars=2,
            words="slow-moving sus2 and add9 colours over long bass notes, no drums",
            # Ambient moves in swells, not accents: a deeper arch (a 30 s piece is only 8-9
            # slow bars; at 12 one fell to a bar-to-bar velocity sd of 5.8).
            feel=Feel(
                dynamics=14, accent=0.4, timing_ms=10.0, ritardando=0.14, reverb=100, chorus=50
            ),
        ),
        Style(
            name="jazz",
            blue=0.2,
            pushes=True,
            tempo=(100, 168),
            meters=("4/4", "3/4"),
            major=("Imaj7 vi7 ii7 V!7", "ii7 V!7 Imaj7 VI!7", "iii7 VI!7 ii7 V!7"),
            minor=("i7 iv7 ii7 V!7", "ii7 V!7 i7 VI7", "iv7 VII!7 III7 VI7"),
            cadences=Cadences(half="ii7 V!7", tonic="V!7 Imaj7", final="ii7 V!9 I6"),
            voicing=4,
            rootless=True,
            comping=("charleston", "comp"),
            bass=("walk",),
            grooves=("swing", "swing_b"),
            fill="jazz",
            drum_threshold=0.5,
            swing=1.8,
            min_players=2,
            palettes=(Palette(66, 0, 32, 0, 0), Palette(11, 26, 32, 0, 0)),
            words="seventh chords in ii–V–I turns, a walking bass, ride cymbal, swung eighths",
            approach=0.5,
            anticipation=0.5,
            feel=Feel(dynamics=14, accent=1.1, timing_ms=9.0, laid_back_ms=15.0, reverb=40),
        ),
        Style(
            name="pop",
            anticipation=0.4,
            modes=MAJOR_AND_MINOR,
            pushes=True,
            tempo=(90, 124),
            meters=("4/4",),
            major=("I V vi IV", "vi IV I V", "I vi IV V", "IV I V vi"),
            minor=("i VI III VII", "VI VII i i", "i VII VI VII"),
            cadences=Cadences(half="V", tonic="V I", final="IV V I"),
            comping=("strum", "eighths", "block"),
            bass=("pop", "eighths"),
            grooves=("pop", "pop_b"),
            fill="toms",
            drum_threshold=0.45,
            min_players=2,
            # The chords are strummed and pulse: a guitar's, not a pad's (a pad holds them).
            palettes=(Palette(65, 25, 33, 4, 4), Palette(1, 27, 33, 0, 1)),
            words="the I–V–vi–IV family, strummed and pulsing eighths, a backbeat",
            feel=Feel(dynamics=14, timing_ms=7.5, ritardando=0.08, reverb=45, chorus=20),
        ),
        Style(
            name="cinematic",
            solo=False,
            tempo=(64, 100),
            meters=("4/4", "3/4"),
            major=("I bVI bVII I", "vi IV I V", "I iii IV V"),
            minor=("i VI III VII", "i VI VII i", "i iv VI V!"),
            cadences=Cadences(half="bVII", tonic="bVI bVII I", final="bVI bVII I"),
            voicing=4,
            comping=("anthem", "pad", "arpeggio"),
            bass=("heartbeat", "root_fifth"),
            grooves=("epic", "epic_b"),
            fill="timpani",
            drum_threshold=0.6,
            min_players=3,
            palettes=(Palette(60, 48, 43, 48, 0), Palette(40, 49, 43, 49, 0)),
            intro_bars=2,
            ending="hits",
            words="borrowed chords (bVI, bVII), sustained strings and low drums",
            feel=Feel(
                dynamics=16, accent=0.9, timing_ms=7.0, ritardando=0.15, reverb=90, chorus=20
            ),
        ),
        Style(
            name="electronic",
            anticipation=0.3,
            solo=False,
            pushes=True,
            tempo=(118, 128),
            meters=("4/4",),
            major=("vi IV I V", "I V vi IV", "IV V vi vi"),
            minor=("i VI III VII", "i VII VI VII", "VI VII i i"),
            cadences=Cadences(half="VII", tonic="VII i", final="VI VII i"),
            comping=("offbeat", "stabs", "pad"),
            bass=("pulse", "eighths"),
            grooves=("four", "four_b"),
            fill="build",
            drum_threshold=0.0,
            min_players=3,
            # Chords speak at once: the warm pad (89) reached -23 dB of its level in a
            # sixteenth stab and -12 dB in an off-beat eighth; the polysynth -2 and 0 dB.
            # A pad holds its chords whatever the figure (Instrument.sustained), so the cool
            # palette's off-beat chords are a glassy pluck's (crystal, -1 dB in an eighth),
            # not the halo pad's: stabs on a pad were heard as blips of a sound made to hold.
            palettes=(Palette(81, 90, 38, 90, 4), Palette(80, 98, 38, 94, 88)),
            intro_bars=2,
            ending="hits",
            words="four-on-the-floor kick, off-beat chords and a pulsing synth bass",
            feel=Feel(
                dynamics=13, accent=1.2, timing_ms=7.5, ritardando=0.08, reverb=55, chorus=40
            ),
        ),
        Style(
            name="rock",
            anticipation=0.3,
            blue=0.3,
            solo=False,
            pushes=True,
            tempo=(104, 148),
            meters=("4/4",),
            major=("I5 bVII5 IV5 I5", "I5 IV5 V5 IV5", "vi5 IV5 I5 V5"),
            minor=("i5 VI5 VII5 i5", "i5 VII5 VI5 VII5", "i5 iv5 VI5 V5"),
            cadences=Cadences(half="V5", tonic="bVII5 I5", final="IV5 V5 I5"),
            comping=("power", "anthem"),
            bass=("eighths", "drive"),
            grooves=("rock", "rock_b"),
            fill="toms",
            drum_threshold=0.0,
            min_players=3,
            palettes=(Palette(30, 29, 34, 16, 27), Palette(27, 30, 33, 16, 27)),
            ending="hits",
            words="power chords in driving eighths, a backbeat and tom fills",
            feel=Feel(
                dynamics=13, accent=1.3, timing_ms=7.5, ritardando=0.08, reverb=35, chorus=10
            ),
        ),
        Style(
            name="funk",
            anticipation=0.6,
            blue=0.3,
            solo=False,
            pushes=True,
            tempo=(96, 116),
            meters=("4/4",),
            major=("I!9 IV!9", "I!9 I!9 IV!9 V!9", "IV!9 IV!9 I!9 I!9"),
            minor=("i7 IV!9", "i7 i7 iv7 VII!7", "iv7 iv7 i7 i7"),
            cadences=Cadences(half="V!9", tonic="V!9 I!9", final="IV!9 V!9 I!9"),
            voicing=3,
            comping=("stabs", "comp"),
            bass=("funk",),
            grooves=("funk", "funk_b"),
            fill="snare",
            drum_threshold=0.0,
            min_players=3,
            palettes=(Palette(61, 27, 33, 4, 4), Palette(65, 4, 33, 4, 4)),
            ending="hits",
            words="ninth-chord stabs, a syncopated bass line and sixteenth-note hi-hats",
            approach=0.3,
            feel=Feel(dynamics=13, accent=1.4, timing_ms=7.5, ritardando=0.08, reverb=25),
        ),
        Style(
            name="blues",
            blue=0.5,
            approach=0.3,
            anticipation=0.4,
            modes=("mixolydian", "dorian"),
            pushes=True,
            tempo=(80, 120),
            meters=("4/4",),
            # The twelve-bar form, and the eight-bar one for a piece too short for twelve.
            major=(
                "I!7 IV!7 I!7 I!7 IV!7 IV!7 I!7 I!7 V!7 IV!7 I!7 V!7",
                "I!7 V!7 IV!7 IV!7 I!7 V!7 I!7 V!7",
            ),
            minor=(
                "i7 iv7 i7 i7 iv7 iv7 i7 i7 VI!7 V!7 i7 V!7",
                "i7 V!7 iv7 iv7 i7 V!7 i7 V!7",
            ),
            cadences=Cadences(half="V!7", tonic="I!7", final="V!7 I!7"),
            continuous=True,
            voicing=3,
            comping=("charleston", "halves"),
            bass=("boogie", "shuffle"),
            grooves=("shuffle", "shuffle_b"),
            fill="snare",
            drum_threshold=0.3,
            swing=2.0,
            min_players=2,
            palettes=(Palette(27, 0, 32, 0, 0), Palette(22, 16, 33, 16, 0)),
            ending="hits",
            words="the twelve-bar form (eight bars in a short piece) in dominant sevenths, a boogie "
            "bass and a shuffle",
            # More swell than folk's: at 12 a blues melody's bars came out within a bar-to-bar
            # velocity sd of 6.0, hardly phrased; at 13, with anticipated bars, one at 5.7.
            feel=Feel(dynamics=14, accent=1.2, timing_ms=9.0, laid_back_ms=12.0, ritardando=0.12),
        ),
        Style(
            name="lullaby",
            # A cradle song rocks in eighths and quarters: a reel's sixteenth run at 67 bpm
            # ("g/2e/2d/2d/2") is busy where the child should settle.
            shortest=2,
            modes=MAJOR_AND_MINOR,
            tempo=(60, 84),
            meters=("3/4", "6/8"),
            major=("I IV I V", "I vi IV V", "IV I V I"),
            minor=("i iv i V!", "i VI iv V!"),
            comping=("broken", "waltz"),
            bass=("whole", "waltz"),
            # A harp's (or piano's) left hand around C3, a cello in its singing middle: two
            # octaves under the melody the harp's bass sat at G1-D2, a rumble, not a cradle.
            bass_floor=48,
            palettes=(Palette(10, 46, 42, 46, 46), Palette(8, 46, 42, 0, 46)),
            words="rocking broken chords, soft and slow, no drums",
            # A sung lullaby swells and settles with each line: with the background-smoothed
            # melodies (compose/background.py) an 8-bar one phrased at 12 measured a bar-mean
            # velocity sd of 5.5 (target >= 6); 14 puts the five eval lullabies at 6.4-9.3.
            feel=Feel(
                dynamics=14, accent=0.6, timing_ms=9.0, ritardando=0.15, reverb=70, chorus=20
            ),
        ),
        Style(
            name="waltz",
            modes=MAJOR_AND_MINOR,
            tempo=(96, 168),
            meters=("3/4",),
            major=("I I V V", "V V I I", "I IV V I", "IV IV I V"),
            minor=("i i V! V!", "iv iv i V!", "i VI iv V!"),
            comping=("waltz", "waltz_b"),
            bass=("waltz",),
            grooves=("waltz", "waltz_b"),
            fill="snare",
            palettes=(Palette(21, 48, 43, 0, 0), Palette(40, 48, 43, 0, 0)),
            words="oom-pah-pah: the bass on one, chords on two and three",
            # A waltz swells with its phrases (at 12 one fell to a bar-to-bar sd of 5.6).
            feel=Feel(dynamics=14, accent=1.2, timing_ms=7.0, ritardando=0.12, reverb=60),
        ),
    )
}
GENRES: tuple[str, ...] = tuple(STYLES)
PICTURE_GENRES: tuple[str, ...] = (  # the ones the bridge chooses from a picture alone
    "folk",
    "classical",
    "ambient",
    "jazz",
    "pop",
    "cinematic",
    "electronic",
    "rock",
)
MINOR_MODES = frozenset({"minor", "dorian", "phrygian"})


def style_for(genre: str) -> Style:
    """The style of a genre; an unknown genre (a language model's) is played as folk."""
    return STYLES.get(str(genre).strip().lower(), STYLES["folk"])
