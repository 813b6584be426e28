"""The stage registry: keys read each stage's version, and what derives from it agrees with it."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from nap.profile import STAGES, Profile, params_class
from nap.runner import CHAPTER_STAGES
from nap.schedule import SIDE_BY_SIDE
from nap.stages import REGISTRY
from nap.stages import upstream as needed
from nap.study import Study

ROOT = Path(__file__).resolve().parents[1]

#: Each stage and the stages whose keys change with it (itself and what reads it, directly or not).
DEPENDANTS = {
    "corpus": {"corpus", "features", "asr", "align", "naps", "cluster", "real_speech"},
    "features": {"features", "asr", "align", "naps", "cluster", "real_speech"},
    "asr": {"asr", "align", "naps", "cluster", "real_speech"},
    "g2p": {"g2p", "align", "naps", "cluster", "real_speech"},
    "align": {"align", "naps", "cluster", "real_speech"},
    "naps": {"naps", "cluster", "real_speech"},
    "cluster": {"cluster", "real_speech"},
    "real_speech": {"real_speech"},
}


@pytest.mark.parametrize("stage", list(DEPENDANTS))
def test_raising_a_stage_version_changes_its_key_and_its_dependants_keys_only(stage, tmp_path, monkeypatch):
    before = Study("default", artifacts=tmp_path)
    old = {s: before.key(s) for s in STAGES}
    raised = dataclasses.replace(REGISTRY[stage], version=REGISTRY[stage].version + 1)
    monkeypatch.setitem(REGISTRY, stage, raised)
    after = Study("default", artifacts=tmp_path)
    assert after.version(stage) == raised.version
    assert {s for s in STAGES if after.key(s) != old[s]} == DEPENDANTS[stage]


def test_the_g2p_key_reads_the_g2p_code_version(tmp_path):
    """The key once read a stale ``nap.g2p.VERSION = 1`` while the stage's code was at version 4."""
    study = Study("default", artifacts=tmp_path)
    assert study.version("g2p") == 4
    assert study.key("g2p") == study.store.key("g2p", study.params("g2p").key_dict(), {}, 4)


def test_the_default_profile_keys_are_pinned(tmp_path, monkeypatch):
    """A changed key makes every user rebuild that stage and what follows: change one deliberately."""
    from nap.corpus import piper

    monkeypatch.setattr(piper, "available", lambda: True)  # else the held-out piper voice is left out
    study = Study("default", artifacts=tmp_path)
    assert {s: study.key(s) for s in STAGES} == {
        "corpus": "440679eb4e74",  # e94a7430c404 before the held-out piper voice
        "features": "7f26d8b403ef",  # 7f18b16af4a6 (from here on: the corpus's key)
        "asr": "6bb326766850",  # 557128086d81
        "g2p": "57892a57e9c1",  # 2d7459aeb881 before the key read the g2p's version 4
        "align": "53a9aa4a2f14",  # c5ba1d4abc29
        "naps": "8ecd9bd86c7e",  # 5199c5d654e3; c07c5238f2cd before folds.npz; 7f276d12297b before whole.npz
        "cluster": "1916fdb9c092",  # 8539a3b5a2fe; 9e5047da6f3e before agreement intervals
        "real_speech": "c881e59bb7dd",  # 0d6133e0691b; 038669fb6831 before naps version 3
    }


def test_the_profile_and_the_schedule_follow_the_registry_order():
    assert STAGES == ("corpus", "features", "asr", "g2p", "align", "naps", "cluster", "real_speech")
    assert STAGES == tuple(REGISTRY)
    assert tuple(Profile.load("default").stages) == STAGES
    for position, (name, record) in enumerate(REGISTRY.items()):
        assert record.name == name
        assert set(record.inputs) <= set(STAGES[:position]), f"{name} reads a stage not before it"
        assert params_class(name).stage == name
        assert needed([name]) == [s for s in STAGES if s == name or s in needed(record.inputs)]
    assert needed(STAGES) == list(STAGES)
    assert SIDE_BY_SIDE == ("g2p",)
    assert all(REGISTRY[s].inputs == () for s in SIDE_BY_SIDE)


def test_the_runner_shows_each_stage_in_its_registered_chapters():
    files = sorted(nb.stem for nb in (ROOT / "chapters").glob("[0-9][0-9]_*.ipynb"))
    assert files == [
        "00_introduction",
        "01_data",
        "02_asr",
        "03_g2p",
        "04_alignment",
        "05_naps",
        "06_clustering",
        "07_explorer",
        "08_real_speech",
    ]
    named = {chapter for record in REGISTRY.values() for chapter in record.chapters}
    assert named | {"00_introduction"} == set(files)  # the introduction shows every stage
    assert CHAPTER_STAGES == {
        "00": STAGES,
        "01": ("corpus", "features"),
        "02": ("asr",),
        "03": ("g2p",),
        "04": ("align",),
        "05": ("naps",),
        "06": ("cluster",),
        "07": ("cluster",),
        "08": ("real_speech",),
    }


def test_each_record_names_its_study_accessor_build_and_loader(tmp_path, monkeypatch):
    accessors = {name: record.accessor for name, record in REGISTRY.items()}
    assert accessors == {
        "corpus": "corpus",
        "features": "features",
        "asr": "asr",
        "g2p": "g2p",
        "align": "alignment",
        "naps": "naps",
        "cluster": "clusters",
        "real_speech": "real_speech",
    }
    study = Study("tiny", artifacts=tmp_path)
    monkeypatch.setattr(study, "load", lambda stage: f"loaded {stage}")
    for name, accessor in accessors.items():
        assert getattr(study, accessor)() == f"loaded {name}"
    for record in REGISTRY.values():  # every reference resolves (this imports torch and sklearn)
        assert callable(record.build_function()), record.build
        assert callable(record.loader_class().open), record.loader


def test_the_torchrun_entry_point_serves_the_stages_whose_record_names_a_function(capsys):
    """``-m nap.distributed STAGE``: the stages with a ``torchrun`` record; each names ``run`` beside
    ``add_arguments``, and the aliases keep their stage's options."""
    import importlib

    from nap import distributed

    assert distributed.stages() == ["asr", "naps"]
    for stage in distributed.stages():
        run = REGISTRY[stage].torchrun_function()
        assert run.__name__ == "run" and callable(importlib.import_module(run.__module__).add_arguments)
    asr = distributed.parser().parse_args(["asr", "--profile", "tiny", "--synthetic", "4", "--work", "w"])
    assert (asr.stage, asr.synthetic, asr.work, asr.force) == ("asr", 4, "w", False)
    naps = importlib.import_module("nap.naps.__main__")  # the alias: no STAGE argument
    with pytest.raises(SystemExit):
        naps.main(["naps"])  # not an option of python -m nap.naps
    assert "unrecognized arguments: naps" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_info:
        distributed.main(["asr", "--profile", "tiny", "--synthetic", "4"])
    assert exit_info.value.code == 2
    assert (
        capsys.readouterr().err.splitlines()[-1]
        == "python -m nap.distributed: error: --synthetic needs --work"
    )
