"""Profiles and parameter changes: resolution, validation, user profiles."""

from __future__ import annotations

import pytest

from nap.params import ParamError
from nap.profile import STAGES, Profile, available_profiles, normalize_changes


def test_shipped_profiles_resolve():
    assert {"tiny", "default", "paper"} <= set(available_profiles())
    for name in ("tiny", "default", "paper"):
        profile = Profile.load(name)
        assert set(profile.stages) == set(STAGES)


def test_every_stage_has_a_seed_and_documented_parameters():
    profile = Profile.load("default")
    for stage, params in profile.stages.items():
        assert "seed" in type(params).fields(), stage
        for name, _, _, doc in type(params).describe():
            assert doc, f"{stage}.{name} has no description"


def test_changes_by_dotted_short_and_seed_names():
    profile = Profile.load("default", {"asr.seed": 7, "seed": 3})
    assert all(p.seed == 3 for p in profile.stages.values())
    assert normalize_changes({"asr": {"seed": 1}}) == {"asr": {"seed": 1}}


@pytest.mark.parametrize(
    "ref, changes, message",
    [
        ("nosuch", None, "unknown profile 'nosuch'"),
        ("default", {"nosuch_parameter": 1}, "unknown parameter 'nosuch_parameter'"),
        ("default", {"asr.nosuch": 1}, "asr.nosuch"),
        ("default", {"nostage.x": 1}, "unknown stage 'nostage'"),
        ("default", {"asr.seed": "one"}, "asr.seed"),
        ("missing.yaml", None, "profile file missing.yaml does not exist"),
    ],
)
def test_bad_profiles_and_parameters_name_the_culprit(ref, changes, message):
    with pytest.raises(ParamError, match=message):
        Profile.load(ref, changes)


def test_user_profile_file(tmp_path):
    f = tmp_path / "mine.yaml"
    f.write_text("base: tiny\nparams:\n  asr: {seed: 5}\n")
    profile = Profile.load(f)
    assert profile.name == "mine" and profile["asr"].seed == 5
    tiny = Profile.load("tiny")
    assert profile["corpus"] == tiny["corpus"]

    bad = tmp_path / "bad.yaml"
    bad.write_text("base: tiny\nparams: {asr: {seed: [1]}}\n")
    with pytest.raises(ParamError, match="asr.seed"):
        Profile.load(bad)

    loop = tmp_path / "loop.yaml"
    loop.write_text(f"base: {loop}\n")
    with pytest.raises(ParamError, match="loops"):
        Profile.load(loop)
