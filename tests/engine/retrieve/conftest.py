"""Small ABC corpora for the retrieval tests, written into temporary folders."""

from __future__ import annotations

from pathlib import Path

import pytest

# Tunes of every mode family and meter the re-ranking cares about, plus one broken tune.
TUNES = {
    "minor_waltzes.abc": """% a file header comment
X:1
T:Dark Waltz
M:3/4
L:1/4
Q:1/4=90
K:Am
A2 B | c2 B | A2 E | A3 | c2 d | e2 d | c B A | A3 |]

X:2
T:Sad Air
M:3/4
L:1/4
Q:1/4=72
K:Dm
D2 F | A2 G | F E D | D3 | F2 A | d2 c | A G E | D3 |]

X:3
T:Broken Tune Without Key
M:3/4
L:1/4
A2 B | c2 B |
""",
    "jigs.abc": """X:1
T:Bright Jig
M:6/8
L:1/8
Q:3/8=120
K:D
|:DFA dAF|GBd gdB|AFA dAF|EFE E3:|
|:fef gfe|dcd BAF|GBd AFD|EFE D3:|

X:2
T:Morning Jig
R:jig
M:6/8
L:1/8
K:G
GAB dBG|ABA AGE|GAB dBG|AGF G3|]
""",
    "reels.abc": """X:7
T:Quick Reel
R:reel
M:4/4
L:1/8
K:Ador
EAAB c2BA|GEDE G2AB|cBAB cdec|dBGB A4|]

X:8
T:March In G
M:2/4
L:1/8
Q:1/4=110
K:G
G>A B>c|d2 B2|c>B A>G|F2 D2|G>A B>c|d2 g2|f>e d>c|B2 G2|]
""",
}


def write_corpus(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in TUNES.items():
        (folder / name).write_text(text)
    return folder


@pytest.fixture
def abc_folder(tmp_path: Path) -> Path:
    """A folder corpus of 6 good tunes and 1 broken one."""
    return write_corpus(tmp_path / "corpus")
