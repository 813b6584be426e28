"""The artifact store: keys, atomic writes, skipping, resuming, corruption detection."""

from __future__ import annotations

import errno
import json
import os

import pytest

from nap.store import Store, StoreError, atomic_path, stable_hash, verify_manifest, write_json


def test_stable_hash_ignores_key_order():
    assert stable_hash({"a": 1, "b": [1, 2]}) == stable_hash({"b": [1, 2], "a": 1})
    assert stable_hash({"a": 1}) != stable_hash({"a": 2})


def test_build_skips_when_done_and_force_redoes(tmp_path):
    store = Store(tmp_path)
    calls = []

    def compute(work):
        calls.append(work)
        (work / "out.txt").write_text("hello")
        return {"n": 1}

    a = store.build("demo", {"x": 1}, {}, compute)
    b = store.build("demo", {"x": 1}, {}, compute)
    assert a.path == b.path and len(calls) == 1
    assert a.summary["n"] == 1 and "seconds" in a.summary
    assert a.params == {"x": 1}
    assert verify_manifest(a.path) is None
    store.build("demo", {"x": 1}, {}, compute, force=True)
    assert len(calls) == 2
    c = store.build("demo", {"x": 2}, {}, compute)
    assert c.path != a.path and len(calls) == 3
    d = store.build("demo", {"x": 1}, {"up": "abc"}, compute)
    assert d.path != a.path


def test_interrupted_build_leaves_no_artifact_and_resumes(tmp_path):
    store = Store(tmp_path)

    def crash(work):
        (work / "checkpoint").write_text("step 5")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        store.build("train", {}, {}, crash)
    assert store.lookup("train", store.key("train", {}, {})) is None

    seen = {}

    def resume(work):
        seen["checkpoint"] = (work / "checkpoint").read_text()
        (work / "model").write_text("done")
        return {}

    art = store.build("train", {}, {}, resume)
    assert seen["checkpoint"] == "step 5"
    assert (art.path / "model").read_text() == "done"
    assert not art.path.with_name(art.path.name + ".partial").exists()


def test_corrupt_artifact_is_detected_and_recomputed(tmp_path, capsys):
    store = Store(tmp_path)
    n = []

    def compute(work):
        n.append(1)
        (work / "data.bin").write_bytes(b"\x00" * 100)
        return {}

    art = store.build("s", {}, {}, compute)
    (art.path / "data.bin").write_bytes(b"\x01" * 100)  # same size, other content
    assert "checksum" in verify_manifest(art.path)
    again = store.build("s", {}, {}, compute)
    assert len(n) == 2 and verify_manifest(again.path) is None
    assert "corrupt" in capsys.readouterr().out
    assert any(p.name.startswith(art.path.name + ".corrupt-") for p in tmp_path.iterdir())


def test_atomic_write_keeps_old_file_on_error(tmp_path):
    target = tmp_path / "x.json"
    write_json(target, {"v": 1})
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_text("half")
            raise RuntimeError("boom")
    assert json.loads(target.read_text()) == {"v": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["x.json"]


def test_disk_full_is_a_clear_error_and_writes_nothing(tmp_path, monkeypatch):
    target = tmp_path / "big.json"
    real_fsync = os.fsync

    def full(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", full)
    with pytest.raises(StoreError, match="disk full while writing .*big.json"):
        write_json(target, {"v": 1})
    monkeypatch.setattr(os, "fsync", real_fsync)
    assert list(tmp_path.iterdir()) == []


def test_a_failed_build_that_wrote_nothing_leaves_no_partial_folder(tmp_path):
    from nap.params import ParamError

    store = Store(tmp_path)

    def bad_parameter(work):
        raise ParamError("parameter 'demo.x' must be positive")

    with pytest.raises(ParamError):
        store.build("demo", {"x": -1}, {}, bad_parameter)
    assert [p.name for p in tmp_path.iterdir()] == [".locks"]

    def fails_after_a_checkpoint(work):
        (work / "checkpoint.pt").write_text("step 3")
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        store.build("demo", {"x": 2}, {}, fails_after_a_checkpoint)
    partial = tmp_path / f"demo-{store.key('demo', {'x': 2}, {})}.partial"
    assert (partial / "checkpoint.pt").read_text() == "step 3"  # kept: the next run resumes from it


def test_inspect_reports_a_corrupt_artifact_without_moving_it(tmp_path):
    store = Store(tmp_path)
    art = store.build("s", {}, {}, lambda work: (work / "a.txt").write_text("1") and {})
    (art.path / "a.txt").write_text("2")
    before = sorted(p.name for p in tmp_path.iterdir())
    found, problem = store.inspect("s", art.key)
    assert found is None and problem == "a.txt does not match its checksum"
    assert sorted(p.name for p in tmp_path.iterdir()) == before
    assert store.inspect("s", "0" * 12) == (None, None)


def _finished(store: Store, stage: str, params: dict) -> str:
    return store.build(stage, params, {}, lambda work: (work / "x.txt").write_text(str(params)) and {}).key


def test_leftovers_are_stale_partials_corrupt_folders_and_artifacts_of_other_parameters(tmp_path):
    from nap.store import file_lock

    store = Store(tmp_path)
    current, other = _finished(store, "demo", {"a": 1}), _finished(store, "demo", {"a": 2})
    elsewhere = _finished(store, "other", {"a": 3})  # a stage not asked about: never listed
    (tmp_path / f"demo-{current}.partial").mkdir()  # the current parameters' work: resumable, kept
    (tmp_path / "demo-aaaaaaaaaaaa.partial").mkdir()
    (tmp_path / "demo-bbbbbbbbbbbb.partial").mkdir()
    (tmp_path / "demo-cccccccccccc.corrupt-1700000000").mkdir()
    (tmp_path / "logs").mkdir()
    with file_lock(store.lock_path("demo-bbbbbbbbbbbb"), "building"):  # a running build holds it
        found = store.leftovers({"demo": current})
    assert sorted((f.path.name, f.kind) for f in found) == sorted(
        [
            ("demo-aaaaaaaaaaaa.partial", "partial"),
            (f"demo-{other}", "unused"),
            ("demo-cccccccccccc.corrupt-1700000000", "corrupt"),
        ]
    )
    with file_lock(store.lock_path(f"demo-{other}"), "building"):
        assert not store.remove(next(f for f in found if f.kind == "unused"))  # in use: kept
    assert all(store.remove(f) for f in found)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [".locks", "logs", f"demo-{current}", f"demo-{current}.partial", "demo-bbbbbbbbbbbb.partial"]
        + [f"other-{elsewhere}"]
    )


def test_weights_loader_refuses_a_pickle_and_names_the_file(tmp_path):
    import pickle

    import torch

    from nap.store import load_weights_file

    torch.save({"w": torch.ones(2)}, tmp_path / "good.pt")
    assert torch.equal(load_weights_file(tmp_path / "good.pt")["w"], torch.ones(2))
    (tmp_path / "objects.pt").write_bytes(pickle.dumps({"x": Store(tmp_path)}))
    with pytest.raises(StoreError) as info:
        load_weights_file(tmp_path / "objects.pt")
    assert str(info.value).startswith(f"{tmp_path / 'objects.pt'} is not a nap weights file: it holds Python")
    assert "weights_only" not in str(info.value)
    (tmp_path / "empty.pt").write_bytes(b"")
    with pytest.raises(StoreError, match=r"empty.pt is not a nap weights file: torch cannot read it"):
        load_weights_file(tmp_path / "empty.pt")


def test_the_work_folder_is_where_a_build_works_and_is_named_after_its_key(tmp_path):
    store = Store(tmp_path)
    seen = []
    art = store.build("demo", {"x": 1}, {"up": "k0"}, lambda work: seen.append(work) or {})
    assert seen == [store.work_folder("demo", art.key)]
    assert store.work_folder("demo", art.key) == tmp_path / f"demo-{art.key}.partial"
    assert not store.work_folder("demo", art.key).exists()  # renamed into place when complete


def test_kin_is_a_finished_artifact_differing_only_in_the_given_parameters(tmp_path):
    store = Store(tmp_path)
    inputs = {"up": "k0"}

    def finished(params: dict, inputs: dict = inputs, version: int = 1):
        return store.build(
            "demo", params, inputs, lambda work: (work / "w.txt").write_text("w") and {}, version=version
        )

    base = finished({"lr": 1, "beam": 5})
    other_lr = finished({"lr": 2, "beam": 5})
    finished({"lr": 1, "beam": 5}, {"up": "k1"})  # other inputs
    finished({"lr": 1, "beam": 5}, version=2)  # other code version
    seen = {}

    def look(params: dict, differing=("beam",)):
        def compute(work):
            seen["kin"] = store.kin(work, differing)
            raise RuntimeError("only looking")

        with pytest.raises(RuntimeError, match="only looking"):
            store.build("demo", params, inputs, compute)
        return seen["kin"]

    assert look({"lr": 1, "beam": 9}).path == base.path
    assert look({"lr": 2, "beam": 1}).path == other_lr.path
    assert look({"lr": 3, "beam": 5}) is None  # a parameter that is not among the differing ones
    assert look({"lr": 1, "beam": 9}, differing=()) is None
    (base / "w.txt").write_text("changed")  # files no longer matching their manifest: never kin
    assert look({"lr": 1, "beam": 9}) is None
    assert store.kin(tmp_path / "demo-000000000000.partial", ("beam",)) is None  # no params.json
