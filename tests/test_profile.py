"""Profiles and parameter changes: resolution, validation, user profiles."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from nap.params import ParamError, parse_value
from nap.profile import STAGES, Profile, available_profiles, normalize_changes, params_class


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


# -- every stage: seeds, NaN, its own defaults -----------------------------------------------------
@pytest.mark.parametrize("stage", list(STAGES))
def test_every_stage_refuses_negative_seeds_and_non_finite_numbers(stage):
    with pytest.raises(ParamError) as info:
        Profile.load("default", {f"{stage}.seed": -1})
    assert str(info.value) == f"parameter '{stage}.seed' must be >= 0 (and below 2**32), got -1"
    cls = params_class(stage)
    floats = [name for name, tp, _, _ in cls.describe() if tp == "float"]  # align has none
    for name in floats:
        for bad in (float("nan"), float("inf")):
            with pytest.raises(ParamError) as info:
                Profile.load("default", {f"{stage}.{name}": bad})
            assert str(info.value) == f"parameter '{stage}.{name}' must be a finite number, got {bad}"


@pytest.mark.parametrize("stage", list(STAGES))
def test_every_stage_accepts_its_own_defaults(stage):
    cls = params_class(stage)
    assert cls.from_dict(cls().to_dict()) == cls()


@pytest.mark.parametrize(
    "name, text, message",
    [
        ("features.log_floor", ".inf", "parameter 'features.log_floor' must be a finite number, got inf"),
        ("corpus.minutes", ".nan", "parameter 'corpus.minutes' must be a finite number, got nan"),
        ("corpus.minutes", "-.5", "corpus.minutes must be positive, got -0.5"),
        (
            "features.hop_ms",
            "0.01",
            "parameter 'features.hop_ms' = 0.01 gives an STFT hop of 0 samples at 16 kHz; it must be at "
            "least 1 sample (1/16 ms)",
        ),
        ("asr.seed", "-1", "parameter 'asr.seed' must be >= 0 (and below 2**32), got -1"),
    ],
)
def test_command_line_values_that_are_refused(name, text, message):
    with pytest.raises(ParamError) as info:
        Profile.load("default", {name: parse_value(text)})
    assert str(info.value) == message


def test_smallest_stft_hop_and_exponent_notation():
    assert Profile.load("default", {"features.hop_ms": parse_value("5e-2")})["features"].hop == 1
    profile = Profile.load("default", {"asr.lr": parse_value("1e-3"), "g2p.lr": parse_value("4E-3")})
    assert profile["asr"].lr == 0.001 and profile["g2p"].lr == 0.004


def test_cuda_reads_without_a_gpu_and_a_misspelt_device_is_named(monkeypatch):
    """The GPU is looked for when the stage runs (tests/test_devices.py), not when parameters are read."""
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert Profile.load("default", {"asr.device": "cuda"})["asr"].device == "cuda"
    assert Profile.load("default", {"asr.device": "cpu"})["asr"].device == "cpu"
    with pytest.raises(ParamError) as info:
        Profile.load("default", {"asr.device": "gpu"})
    assert str(info.value) == "parameter 'asr.device' must be auto, cpu, cuda or cuda:N, got 'gpu'"


# -- profile files ---------------------------------------------------------------------------------
def test_profile_file_numbers_as_written(tmp_path):
    f = tmp_path / "mine.yaml"
    f.write_text("base: tiny\nparams:\n  asr: {lr: 1e-3, dropout: .5, weight_decay: 1E-4}\n  g2p.lr: 4e-3\n")
    profile = Profile.load(f)
    asr = profile["asr"]
    assert (asr.lr, asr.dropout, asr.weight_decay, profile["g2p"].lr) == (0.001, 0.5, 0.0001, 0.004)


def test_relative_base_is_next_to_the_profile(tmp_path, monkeypatch):
    folder = tmp_path / "profiles"
    (folder / "shared").mkdir(parents=True)
    (folder / "shared" / "base.yaml").write_text("base: tiny\nparams: {asr: {seed: 7}}\n")
    (folder / "mid.yaml").write_text("base: shared/base.yaml\nparams: {g2p: {seed: 8}}\n")
    (folder / "mine.yaml").write_text("base: mid.yaml\nparams: {naps: {seed: 9}}\n")
    # a decoy where a base relative to the current folder would be found
    (tmp_path / "mid.yaml").write_text("base: default\nparams: {g2p: {seed: 1}}\n")
    monkeypatch.chdir(tmp_path)
    profile = Profile.load("profiles/mine.yaml")
    assert (profile["asr"].seed, profile["g2p"].seed, profile["naps"].seed) == (7, 8, 9)
    assert profile["corpus"] == Profile.load("tiny")["corpus"]

    monkeypatch.chdir(folder / "shared")  # and from anywhere else
    assert Profile.load(folder / "mine.yaml").to_dict() == profile.to_dict()

    (folder / "a.yaml").write_text("base: shared/../b.yaml\n")
    (folder / "b.yaml").write_text("base: a.yaml\n")
    with pytest.raises(ParamError, match="base chain loops through"):
        Profile.load(folder / "a.yaml")

    (folder / "lost.yaml").write_text("base: nowhere.yaml\n")
    with pytest.raises(ParamError) as info:
        Profile.load(folder / "lost.yaml")
    assert str(info.value) == f"profile file {folder / 'nowhere.yaml'} does not exist"


@pytest.mark.parametrize(
    "text, problem",
    [
        ("params: [1, 2]\n", "'params' must be a mapping of stages (or stage.name) to values, got [1, 2]"),
        ("base: 3\n", "'base' must be a profile name or a .yaml file, got 3"),
        ("base: [tiny]\n", "'base' must be a profile name or a .yaml file, got ['tiny']"),
        ("base: ''\n", "'base' must be a profile name or a .yaml file, got ''"),
        ("description: 3\n", "'description' must be text, got 3"),
        (
            "params: {asr: 3}\n",
            "the changes of stage 'asr' must be a mapping of its parameters to values, got 3",
        ),
        ("params: {layers: [layer09]}\n", "parameter 'layers' is ambiguous (stages naps, cluster); write it"),
    ],
)
def test_malformed_profile_names_the_file(tmp_path, text, problem):
    f = tmp_path / "mine.yaml"
    f.write_text(text)
    with pytest.raises(ParamError) as info:
        Profile.load(f)
    assert str(info.value).startswith(f"profile file {f}: {problem}")


def test_empty_base_and_empty_stage_change_nothing(tmp_path):
    assert normalize_changes({"asr": None, "naps.layers": ["layer09"]}) == {
        "asr": {},
        "naps": {"layers": ["layer09"]},
    }
    f = tmp_path / "mine.yaml"
    f.write_text("base:\nparams:\n  asr:\n  g2p: {seed: 2}\n")
    profile = Profile.load(f)
    assert profile["asr"] == Profile.load("default")["asr"] and profile["g2p"].seed == 2


def test_profile_not_utf8(tmp_path):
    f = tmp_path / "mine.yaml"
    f.write_bytes(b"description: caf\xe9\nbase: tiny\n")
    with pytest.raises(ParamError) as info:
        Profile.load(f)
    assert str(info.value) == f"profile file {f} is not UTF-8 text (byte 0xe9 on line 1); save it as UTF-8"


# -- the README's examples ------------------------------------------------------------------------
def _readme_commands() -> list[list[str]]:
    """Every ``nap``/``torchrun`` command line in the README's bash blocks that changes a parameter."""
    text = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    blocks = re.findall(r"```bash\n(.*?)```", text, re.S)
    lines = [ln.split(" #")[0] for block in blocks for ln in block.splitlines()]
    return [shlex.split(ln) for ln in lines if " -p " in ln]


def test_readme_parameter_examples_resolve():
    commands = _readme_commands()
    assert any("naps.layers" in words for words in commands)
    for words in commands:
        changes = {words[i + 1]: parse_value(words[i + 2]) for i, w in enumerate(words) if w == "-p"}
        ref = words[words.index("--profile") + 1] if "--profile" in words else "default"
        Profile.load(ref, changes)  # raises on an unknown or ambiguous name


def test_a_name_two_stages_share_needs_its_stage():
    with pytest.raises(ParamError) as info:
        Profile.load("default", {"layers": parse_value("[layer09, layer10]")})
    assert str(info.value) == (
        "parameter 'layers' is ambiguous (stages naps, cluster); "
        "write it as 'naps.layers' or 'cluster.layers'"
    )
    profile = Profile.load("default", {"naps.layers": parse_value("[layer09, layer10]")})
    assert profile["naps"].layers == ["layer09", "layer10"] and profile["cluster"].layers is None
