"""The NumPy MiniLM must give the embeddings sentence-transformers gives."""

from __future__ import annotations

import numpy as np

from engine.retrieve.embed import MiniLMEmbedder, NumpyMiniLMEmbedder

TEXTS = [
    "A slow, melancholic folk piece in D minor and 3/4 at 72 bpm.",
    "A lively Irish jig in G major with a 6/8 time signature, at a Presto tempo of 180 bpm.",
    "ünïcödé — emoji 🎵 and punctuation!?",
    "",
    "word " * 600,  # longer than the model's 256-token window: both truncate
]


def test_numpy_minilm_matches_sentence_transformers() -> None:
    ours = NumpyMiniLMEmbedder().embed(TEXTS)
    reference = MiniLMEmbedder().embed(TEXTS)
    assert ours.shape == reference.shape == (len(TEXTS), 384)
    assert np.abs(ours - reference).max() < 1e-5
    assert np.allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-5)


def test_a_text_embeds_the_same_alone_or_padded_in_a_batch() -> None:
    model = NumpyMiniLMEmbedder()
    alone = model.embed([TEXTS[0]])
    # Many texts: several batches, run on several threads; the short one padded to the longest.
    batch = model.embed([TEXTS[4], TEXTS[0], *TEXTS[1:3]] * 40)
    assert np.abs(batch[1] - alone[0]).max() < 1e-6
    assert np.abs(batch[5] - alone[0]).max() < 1e-6
