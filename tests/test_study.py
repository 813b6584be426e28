"""The tiny study end to end: every stage builds, reruns skip, changes redo only what follows."""

from __future__ import annotations

from nap.profile import STAGES
from nap.stages import downstream
from nap.study import Study


def test_keys_change_for_the_stage_and_what_follows_only(tmp_path):
    base = Study("tiny", artifacts=tmp_path)
    for stage in STAGES:
        changed = Study("tiny", {f"{stage}.seed": 12345}, artifacts=tmp_path)
        differ = {s for s in STAGES if changed.key(s) != base.key(s)}
        assert differ == set(downstream([stage])), stage


def test_machine_settings_are_not_part_of_the_key(tmp_path):
    base = Study("tiny", artifacts=tmp_path)
    threads = Study(
        "tiny",
        {"asr.threads": 1, "g2p.threads": 2, "align.threads": 1, "asr.device": "cpu"},
        artifacts=tmp_path,
    )
    assert all(threads.key(s) == base.key(s) for s in STAGES)
    assert Study("tiny", {"asr.epochs": 5}, artifacts=tmp_path).key("asr") != base.key("asr")


def test_tiny_study_builds_every_stage_and_a_rerun_skips(tiny_study):
    tiny_study.clusters()
    results = tiny_study.results()
    assert all(results[s] is not None for s in STAGES), results
    # the tiny recognizer must write letters, or every later stage runs on empty groups
    assert tiny_study.summary("asr")["test_sentences_greedy_cer"] < 0.95
    again = Study("tiny", artifacts=tiny_study.store.root)
    for stage in STAGES:
        art = again.artifact(stage, build=False)
        assert art is not None and art.path == tiny_study.artifact(stage).path
