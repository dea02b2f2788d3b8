"""The Store facade against a real SQLite file and a real artifact folder."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from engine.errors import Forbidden, InvalidOption, NotFound
from storage.store import Requester, Store
from tests.storage.conftest import TINY_PNG, make_composition

DISCORD = Requester(
    platform="discord", workspace="g1", channel="c1", user_id="alice", user_name="Alice"
)


def test_record_shows_in_history_and_exports_identical_files(store: Store, tmp_path: Path) -> None:
    comp = make_composition()
    gen_id = store.record(comp, Requester(), source_image=TINY_PNG)
    assert re.fullmatch(r"pt-[0-9a-f]{6}", gen_id)

    [view] = store.history(workspace="local")
    assert view.id == gen_id and view.status == "done"
    assert view.caption == comp.perception.caption
    assert view.description == comp.brief.description
    assert view.metrics == comp.metrics
    assert set(view.files) == set(comp.files())
    for name, data in comp.files().items():
        assert view.files[name].read_bytes() == data

    written = store.export_files(gen_id, tmp_path / "out")
    for name, data in comp.files().items():
        assert written[name].read_bytes() == data
    # result.json as `pictune compose` writes it
    assert json.loads(written["result.json"].read_text()) == comp.summary()
    assert store.load_source_image(gen_id) == TINY_PNG


def test_pending_generation_is_not_in_history_and_has_no_files(store: Store) -> None:
    gen_id = store.create_pending(DISCORD, image_sha256="ab" * 32, mode="symbolic", seed=1)
    assert store.history(workspace="g1") == []
    in_progress = store.history(workspace="g1", statuses=("queued", "running"))
    assert [v.id for v in in_progress] == [gen_id]
    view = store.get(gen_id, workspace="g1", user_id="alice")
    assert view.status == "queued" and view.files == {}
    store.mark_running(gen_id)
    assert store.get(gen_id, workspace="g1", user_id="alice").status == "running"
    store.complete(gen_id, make_composition())
    assert [v.id for v in store.history(workspace="g1")] == [gen_id]


def test_fail_keeps_the_user_message_and_stays_out_of_history(store: Store) -> None:
    gen_id = store.create_pending(DISCORD, image_sha256="ab" * 32, mode="audio")
    store.fail(gen_id, "The composer could not write valid music for this image.")
    view = store.get(gen_id, workspace="g1", user_id="alice")
    assert view.status == "failed" and view.error.startswith("The composer")
    assert store.history(workspace="g1") == []
    store.complete(gen_id, make_composition())  # a failed piece may still complete on retry
    assert store.get(gen_id, workspace="g1", user_id="alice").status == "done"


def test_complete_twice_is_harmless(store: Store) -> None:
    gen_id = store.create_pending(DISCORD, image_sha256="ab" * 32, mode="symbolic")
    store.complete(gen_id, make_composition())
    store.complete(gen_id, make_composition(caption="something else"))
    view = store.get(gen_id, workspace="g1", user_id="alice")
    assert view.caption == make_composition().perception.caption


def test_workspaces_never_see_each_other(store: Store) -> None:
    gen_id = store.record(make_composition(), DISCORD)
    slack = Requester(platform="slack", workspace="T1", user_id="alice")
    store.record(make_composition(caption="a red barn"), slack)
    with pytest.raises(NotFound):
        store.get(gen_id, workspace="T1", user_id="alice")
    assert [v.caption for v in store.history(workspace="T1")] == ["a red barn"]
    assert store.search("moon", workspace="T1", user_id="alice") == []
    with pytest.raises(NotFound):
        store.favourite(gen_id, workspace="T1", user_id="alice")


def test_private_pieces_only_for_their_owner(store: Store) -> None:
    private = Requester(platform="discord", workspace="g1", user_id="bob", visibility="private")
    gen_id = store.record(make_composition(caption="a secret garden"), private)
    assert store.get(gen_id, workspace="g1", user_id="bob").visibility == "private"
    with pytest.raises(NotFound):
        store.get(gen_id, workspace="g1", user_id="alice")
    with pytest.raises(NotFound):
        store.get(gen_id, workspace="g1", user_id=None)
    assert store.history(workspace="g1") == []
    assert store.history(workspace="g1", user_id="bob") == []  # asked by nobody in particular
    assert [v.id for v in store.history(workspace="g1", viewer_id="bob")] == [gen_id]
    assert store.search("garden", workspace="g1", user_id="alice") == []
    assert [v.id for v in store.search("garden", workspace="g1", user_id="bob")] == [gen_id]
    with pytest.raises(NotFound):
        store.export_files(gen_id, Path("/nonexistent"), workspace="g1", user_id="alice")


def test_bad_visibility_is_an_input_error(store: Store) -> None:
    with pytest.raises(InvalidOption):
        store.create_pending(
            Requester(visibility="secret"), image_sha256="ab" * 32, mode="symbolic"
        )


def test_history_filters_and_pages(store: Store) -> None:
    ids = []
    for i in range(7):
        user = "alice" if i % 2 == 0 else "bob"
        origin = Requester(platform="discord", workspace="g1", channel=f"c{i % 3}", user_id=user)
        ids.append(store.record(make_composition(seed=i), origin))
    newest_first = list(reversed(ids))
    assert [v.id for v in store.history(workspace="g1", limit=100)] == newest_first
    assert [v.id for v in store.history(workspace="g1", user_id="alice")] == newest_first[::2]
    assert [v.id for v in store.history(workspace="g1", channel="c0")] == [ids[6], ids[3], ids[0]]

    first = store.history(workspace="g1", limit=3)
    second = store.history(workspace="g1", limit=3, before=first[-1].id)
    third = store.history(workspace="g1", limit=3, before=second[-1].id)
    assert [v.id for v in first + second + third] == newest_first
    with pytest.raises(NotFound):
        store.history(workspace="g1", before="pt-000000")


def test_get_accepts_id_spellings_and_rejects_garbage(store: Store) -> None:
    gen_id = store.record(make_composition(), Requester())
    bare = gen_id.removeprefix("pt-")
    for spelling in (gen_id.upper(), f"  {gen_id} ", bare):
        assert store.get(spelling, workspace="local", user_id="local").id == gen_id
    for junk in ("", "pt-", "pt-xyz123", "'; DROP TABLE generations; --", "pt-" + "a" * 40):
        with pytest.raises(NotFound):
            store.get(junk, workspace="local", user_id="local")


def test_message_ids_find_the_generation(store: Store) -> None:
    gen_id = store.record(make_composition(), DISCORD)
    store.set_message_ids(gen_id, {"reply": "111", "files": ["112", "113"]})
    store.set_message_ids(gen_id, {"community": "999"})
    for mid in ("111", "112", "113", "999"):
        found = store.find_by_message("discord", mid)
        assert found is not None and found.id == gen_id
    assert store.find_by_message("slack", "111") is None
    assert store.find_by_message("discord", "404") is None
    view = store.get(gen_id, workspace="g1", user_id="alice")
    assert view.message_ids == {"reply": "111", "files": ["112", "113"], "community": "999"}
    # A message reused for another generation now points there.
    other = store.record(make_composition(seed=2), DISCORD)
    store.set_message_ids(other, {"reply": "111"})
    assert store.find_by_message("discord", "111").id == other


def test_favourites(store: Store) -> None:
    a = store.record(make_composition(seed=1), DISCORD)
    b = store.record(make_composition(seed=2), DISCORD)
    assert store.favourite(a, workspace="g1", user_id="carol") == 1
    assert store.favourite(a, workspace="g1", user_id="carol") == 1  # idempotent
    assert store.favourite(a, workspace="g1", user_id="dave") == 2
    assert store.favourite(b, workspace="g1", user_id="carol") == 1
    assert [v.id for v in store.favourites(workspace="g1", user_id="carol")] == [b, a]
    assert store.get(a, workspace="g1", user_id="x").favourites == 2
    assert store.unfavourite(a, workspace="g1", user_id="carol") == 1
    assert [v.id for v in store.favourites(workspace="g1", user_id="carol")] == [b]
    assert store.favourites(workspace="other", user_id="carol") == []


def test_delete_rules_and_files(store: Store) -> None:
    shared = make_composition(seed=1)
    a = store.record(shared, DISCORD, source_image=TINY_PNG)
    b = store.record(shared, Requester(platform="discord", workspace="g1", user_id="bob"))
    only_a = make_composition(seed=1, caption="only mine")
    c = store.record(only_a, DISCORD)
    files_a = store.get(a, workspace="g1", user_id="alice").files
    files_c = store.get(c, workspace="g1", user_id="alice").files

    with pytest.raises(Forbidden):
        store.delete(a, by_user="bob")
    with pytest.raises(Forbidden):
        store.delete(a, by_user="mod", is_admin=True)  # admin rights need the workspace
    with pytest.raises(NotFound):
        store.delete(a, by_user="mod", is_admin=True, workspace="other-guild")

    store.delete(a, by_user="alice")
    with pytest.raises(NotFound):
        store.get(a, workspace="g1", user_id="alice")
    with pytest.raises(NotFound):
        store.delete(a, by_user="alice")
    with pytest.raises(NotFound):
        store.load_source_image(a)
    assert store.search("moon", workspace="g1", user_id="alice", semantic=False) != []
    # b has the same bytes as a: they all stay (c shares only some of them).
    assert all(p.exists() for p in store.get(b, workspace="g1", user_id="bob").files.values())
    assert all(p.exists() for p in files_a.values())

    store.delete(b, by_user="mod", is_admin=True, workspace="g1")
    store.delete(c, by_user="alice")
    assert not any(p.exists() for p in files_a.values())
    assert not any(p.exists() for p in files_c.values())
    assert store.history(workspace="g1") == []
    assert store.search("moon", workspace="g1", user_id="alice") == []
    assert list(store.artifacts.stored()) == []


def test_lineage(store: Store) -> None:
    root = store.record(make_composition(seed=1), DISCORD)
    child = store.record(make_composition(seed=2), DISCORD, parent_id=root)
    grandchild = store.record(make_composition(seed=3), DISCORD, parent_id=child)
    sibling = store.record(make_composition(seed=4), DISCORD, parent_id=root)
    line = store.lineage(grandchild, workspace="g1", user_id="alice")
    assert line.piece.id == grandchild and line.piece.parent_id == child
    assert [v.id for v in line.ancestors] == [child, root]
    assert line.reruns == []
    assert [v.id for v in store.lineage(root, workspace="g1", user_id="x").reruns] == [
        child,
        sibling,
    ]
    # A parent in another workspace cannot be rerun from here.
    with pytest.raises(NotFound):
        store.create_pending(
            Requester(workspace="elsewhere"),
            image_sha256="ab" * 32,
            mode="symbolic",
            parent_id=root,
        )
    # Deleting a middle piece hides it but keeps the chain.
    store.delete(child, by_user="alice")
    line = store.lineage(grandchild, workspace="g1", user_id="alice")
    assert [v.id for v in line.ancestors] == [root]


def test_rerun_reads_the_stored_source_image(store: Store) -> None:
    first = store.create_pending(DISCORD, mode="symbolic", source_image=TINY_PNG)
    assert store.load_source_image(first) == TINY_PNG
    rerun = store.create_pending(
        DISCORD, mode="symbolic", parent_id=first, source_image=store.load_source_image(first)
    )
    assert store.load_source_image(rerun) == TINY_PNG
    assert len(list(store.artifacts.stored())) == 1  # the same bytes are kept once
    with pytest.raises(ValueError):
        store.create_pending(
            DISCORD, mode="symbolic", image_sha256="00" * 32, source_image=TINY_PNG
        )
    no_source = store.create_pending(DISCORD, mode="symbolic", image_sha256="ab" * 32)
    with pytest.raises(NotFound):
        store.load_source_image(no_source)


def test_workspace_settings(store: Store) -> None:
    view = store.workspaces.settings("discord", "g1")
    assert view.community_channel is None and view.default_mode is None
    store.workspaces.update("discord", "g1", community_channel="c9", default_mode="audio")
    store.workspaces.update("discord", "g1", user_daily_quota=5)
    view = store.workspaces.settings("discord", "g1")
    assert (view.community_channel, view.default_mode, view.user_daily_quota) == ("c9", "audio", 5)
    assert store.workspaces.settings("slack", "g1").community_channel is None
    for bad in ({"default_mode": "jazz"}, {"user_daily_quota": -1}, {"colour": "red"}):
        with pytest.raises(InvalidOption):
            store.workspaces.update("discord", "g1", **bad)
    store.workspaces.update("discord", "g1", community_channel=None)
    assert store.workspaces.settings("discord", "g1").community_channel is None


def test_garbage_collection_removes_orphans_only(store: Store) -> None:
    gen_id = store.record(make_composition(), Requester())
    orphan = store.artifacts.put(b"written, then the process died before committing")
    (store.artifacts.tmp / "half-written").write_bytes(b"x")
    assert store.collect_garbage(min_age_s=3600) == 0  # too young to judge
    assert store.collect_garbage(min_age_s=0) == 2
    assert not store.artifacts.has(orphan.sha256)
    for path in store.get(gen_id, workspace="local", user_id="local").files.values():
        assert path.exists()


def test_summary_tells_what_lies_behind_a_piece(store: Store) -> None:
    comp = make_composition()
    gen_id = store.record(comp, DISCORD)
    summary = store.summary(gen_id.upper(), workspace="g1", user_id="bob")
    assert summary["perception"]["caption"] == comp.perception.caption
    assert summary["brief"]["key"] == "D" and summary["brief"]["mode"] == "minor"
    assert summary["exemplars"] == [
        {k: v for k, v in comp.summary()["exemplars"][0].items() if k != "abc"}
    ]
    assert summary["exemplars"][0]["title"] == "The Moon"
    assert [r["round"] for r in summary["rounds"]] == [0, 1]
    assert all("abc" not in r for r in summary["rounds"])
    assert summary["rounds"][1]["distance"] == pytest.approx(0.1)
    assert summary["metrics"] == comp.metrics and summary["timings"] == comp.timings
    # Scoped like get: another workspace, or someone else's private piece, is not found.
    with pytest.raises(NotFound):
        store.summary(gen_id, workspace="T1", user_id="bob")
    private = Requester(platform="discord", workspace="g1", user_id="bob", visibility="private")
    secret = store.record(make_composition(seed=3), private)
    with pytest.raises(NotFound):
        store.summary(secret, workspace="g1", user_id="alice")


def test_summary_of_a_pending_piece_and_without_result_json(store: Store) -> None:
    pending = store.create_pending(DISCORD, image_sha256="ab" * 32, mode="symbolic")
    summary = store.summary(pending, workspace="g1", user_id="alice")
    assert summary["status"] == "queued" and summary["perception"] == {}
    assert summary["exemplars"] == [] and summary["rounds"] == []

    gen_id = store.record(make_composition(), DISCORD)
    view = store.get(gen_id, workspace="g1", user_id="alice")
    sha = _artifact_hashes(store, gen_id)["result.json"]
    store.artifacts.path(sha).write_bytes(b"damaged")
    # The database still knows the exemplars' ids.
    assert store.summary(gen_id, workspace="g1", user_id="alice")["exemplars"] == [
        {"id": "oneills1850/123"}
    ]
    assert view.done


def _artifact_hashes(store: Store, gen_id: str) -> dict[str, str]:
    from sqlalchemy import select

    from storage.models import Artifact

    with store.db.read() as session:
        rows = session.execute(
            select(Artifact.name, Artifact.sha256).where(Artifact.generation_id == gen_id)
        )
        return {name: sha for name, sha in rows}


def test_count_since_counts_pieces_asked_for(store: Store) -> None:
    from datetime import UTC, datetime, timedelta

    start = datetime.now(UTC) - timedelta(seconds=1)
    bob = Requester(platform="discord", workspace="g1", user_id="bob")
    done = store.record(make_composition(seed=1), DISCORD)
    store.create_pending(DISCORD, image_sha256="ab" * 32, mode="symbolic")  # on its way
    failed = store.create_pending(DISCORD, image_sha256="ab" * 32, mode="symbolic")
    store.fail(failed, "It failed.")
    cancelled = store.create_pending(DISCORD, image_sha256="ab" * 32, mode="symbolic")
    store.cancel(cancelled)
    store.record(make_composition(seed=2), bob)
    store.record(make_composition(seed=3), Requester(platform="slack", workspace="T1"))

    assert store.count_since(start, workspace="g1", user_id="alice") == 2
    assert store.count_since(start, workspace="g1") == 3
    assert store.count_since(start, workspace="g1", platform="slack") == 0
    assert store.count_since(datetime.now(UTC) + timedelta(seconds=5), workspace="g1") == 0
    # Deleting a piece does not give its place back.
    store.delete(done, by_user="alice")
    assert store.count_since(start, workspace="g1", user_id="alice") == 2


def test_the_semantic_search_setting_is_honoured_by_default(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from engine.config import Settings

    off = Settings(data_dir=tmp_path / "off", semantic_search=False)
    with Store.open(off) as store:
        assert store._embedder is None  # no MiniLM loaded, no embeddings stored
    on = Settings(data_dir=tmp_path / "on", semantic_search=True)
    with Store.open(on) as store:
        assert store._embedder is not None
    with Store.open(on, semantic=False) as store:  # a caller may still say no
        assert store._embedder is None
