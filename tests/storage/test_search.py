"""Full-text search (FTS5) and semantic search over generations."""

from __future__ import annotations

import numpy as np
import pytest

from engine.config import Settings
from storage.search import fts5_query, query_terms, rank_by_similarity, to_blob
from storage.store import Requester, Store
from tests.storage.conftest import FakeEmbedder, make_composition

G = Requester(platform="discord", workspace="g1", user_id="alice")


@pytest.fixture
def pieces(store: Store) -> dict[str, str]:
    return {
        "sea": store.record(
            make_composition(
                seed=1,
                caption="a stormy grey sea with waves",
                description="A fast minor march for brass.",
                motivation="The crashing waves asked for loud brass.",
            ),
            G,
        ),
        "field": store.record(
            make_composition(
                seed=2,
                caption="a sunny yellow field of flowers",
                description="A bright major waltz for flute.",
                motivation="Warm light became a lilting waltz.",
                hint="happier please",
            ),
            G,
        ),
        "city": store.record(
            make_composition(
                seed=3,
                caption="a city street at night with neon",
                description="A slow dorian groove for electric piano.",
                motivation="Neon glow suggested a cool dorian tune.",
            ),
            G,
        ),
    }


def ids(views) -> list[str]:  # noqa: ANN001
    return [v.id for v in views]


def test_finds_by_a_word_of_caption_brief_hint_or_motivation(
    store: Store, pieces: dict[str, str]
) -> None:
    for word, key in (
        ("stormy", "sea"),
        ("waltz", "field"),
        ("happier", "field"),
        ("neon", "city"),
    ):
        found = store.search(word, workspace="g1", user_id="bob", semantic=False)
        assert ids(found) == [pieces[key]], word
        assert found[0].match == "text"


def test_porter_stemming_and_case(store: Store, pieces: dict[str, str]) -> None:
    assert ids(store.search("WAVE", workspace="g1", user_id="x", semantic=False)) == [pieces["sea"]]
    assert ids(store.search("flower", workspace="g1", user_id="x", semantic=False)) == [
        pieces["field"]
    ]


def test_all_words_rank_before_any_word(store: Store, pieces: dict[str, str]) -> None:
    found = store.search("slow dorian brass", workspace="g1", user_id="x", semantic=False)
    # No piece has all three words; "city" has two, "sea" one.
    assert ids(found)[:2] == [pieces["city"], pieces["sea"]]
    found = store.search("slow dorian", workspace="g1", user_id="x", semantic=False)
    assert ids(found)[0] == pieces["city"]


@pytest.mark.parametrize(
    "query",
    [
        '"',
        'neon"',
        "AND",
        "OR OR",
        "NEAR(neon city)",
        "neon*",
        "col:neon",
        "-neon",
        "^neon",
        "'",
        "()",
        "%_",
    ],
)
def test_query_syntax_from_users_is_never_an_error(
    store: Store, pieces: dict[str, str], query: str
) -> None:
    found = store.search(query, workspace="g1", user_id="x", semantic=False)
    if "neon" in query:
        assert ids(found) == [pieces["city"]]


def test_query_terms_are_quoted() -> None:
    assert query_terms('NEAR("x" y)*') == ["near", "x", "y"]
    assert fts5_query(["near", "x"]) == '"near" "x"'
    assert fts5_query(["a", "b"], any_term=True) == '"a" OR "b"'


def test_semantic_search_finds_what_words_miss(settings: Settings) -> None:
    class Topic(FakeEmbedder):
        """Maps words to topics, so that "ocean" and "sea" are neighbours."""

        TOPICS = {"ocean": "sea", "waves": "sea", "sea": "sea", "meadow": "field", "field": "field"}

        def embed(self, texts: list[str]) -> np.ndarray:
            mapped = [" ".join(self.TOPICS.get(w, w) for w in t.lower().split()) for t in texts]
            return super().embed(mapped)

    store = Store.open(settings, embedder=Topic())
    sea = store.record(make_composition(seed=1, caption="grey sea with waves", motivation="m"), G)
    store.record(make_composition(seed=2, caption="yellow field", motivation="m"), G)
    assert store.search("ocean", workspace="g1", user_id="x", semantic=False) == []
    found = store.search("ocean", workspace="g1", user_id="x")
    assert ids(found)[0] == sea and found[0].match == "semantic"
    assert store.search("ocean", workspace="other", user_id="x") == []
    store.close()


def test_text_hits_come_before_semantic_ones(store: Store, pieces: dict[str, str]) -> None:
    found = store.search("neon", workspace="g1", user_id="x", limit=3)
    assert found[0].id == pieces["city"] and found[0].match == "text"
    assert all(v.match == "semantic" for v in found[1:])


def test_rank_by_similarity_ignores_foreign_vectors() -> None:
    q = np.array([1.0, 0.0, 0.0], dtype=np.float32)
    rows = [
        ("a", to_blob(np.array([0.0, 1.0, 0.0]))),
        ("b", to_blob(np.array([0.8, 0.6, 0.0]))),
        ("c", to_blob(np.array([1.0, 0.0, 0.0, 0.0]))),  # another model's size
    ]
    assert [gid for gid, _ in rank_by_similarity(q, rows, limit=5)] == ["b"]


def test_embedding_is_stored_at_completion(store: Store, embedder: FakeEmbedder) -> None:
    gen_id = store.create_pending(G, image_sha256="ab" * 32, mode="symbolic")
    calls = embedder.calls
    store.complete(gen_id, make_composition())
    assert embedder.calls == calls + 1
    from storage.models import Generation

    with store.db.read() as session:
        gen = session.get(Generation, gen_id)
        vec = np.frombuffer(gen.embedding, dtype="<f4")
        assert vec.shape == (384,) and abs(float(np.linalg.norm(vec)) - 1) < 1e-5
        assert gen.embedding_model == "fake"


def test_without_an_embedder_text_search_still_works(settings: Settings) -> None:
    store = Store.open(settings, semantic=False)
    gen_id = store.record(make_composition(caption="a quiet lake"), G)
    assert ids(store.search("lake", workspace="g1", user_id="x")) == [gen_id]
    store.close()


@pytest.mark.slow
def test_real_minilm_embeddings(settings: Settings) -> None:
    """The packaged MiniLM, loaded through the Store's default path."""
    store = Store.open(settings)  # default: MiniLM on first use
    sea = store.record(
        make_composition(seed=1, caption="huge waves crashing on a rocky coast", motivation="."), G
    )
    store.record(make_composition(seed=2, caption="a plate of spaghetti", motivation="."), G)
    found = store.search("ocean storm", workspace="g1", user_id="x")
    assert found and found[0].id == sea and found[0].match == "semantic"
    store.close()


def test_backfill_embeds_pieces_stored_without_one(settings: Settings) -> None:
    from storage.models import Generation

    with Store.open(settings, semantic=False) as plain:
        gen_id = plain.record(make_composition(caption="zebra crossing", motivation="."), G)
    with Store.open(settings, embedder=FakeEmbedder()) as store:
        with store.db.read() as session:
            assert session.get(Generation, gen_id).embedding is None
        assert store.backfill_embeddings() == 1
        assert store.backfill_embeddings() == 0
        with store.db.read() as session:
            gen = session.get(Generation, gen_id)
            assert gen.embedding is not None and gen.embedding_model == "fake"
