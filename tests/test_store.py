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
