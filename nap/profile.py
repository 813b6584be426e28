"""Profiles: named, validated parameter sets for every stage.

A profile is a YAML file with an optional ``base`` (another profile's name or file) and a
``params`` mapping ``stage -> {name: value}``. ``default`` is the parameter classes' own
defaults; ``tiny`` (tests) and ``paper`` (LibriSpeech, the paper's sizes) ship in
``nap/profiles/``. A user's profile is a small YAML file naming a base and its changes::

    base: default
    params:
      asr: {epochs: 3}
      naps: {layers: [layer09, layer10]}

Changes can also be given as a flat mapping of ``stage.name`` (or a bare ``name`` when
only one stage has it, or ``seed`` for every stage's seed), as ``nap run -p`` and the
chapters' ``params`` cell do.
"""

from __future__ import annotations

import difflib
import importlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from nap.params import ParamError, StageParams

PROFILE_DIR = Path(__file__).parent / "profiles"

#: Stages in data-flow order, with the module holding their parameter class.
STAGES: dict[str, tuple[str, str]] = {
    "corpus": ("nap.corpus.params", "CorpusParams"),
    "features": ("nap.features", "FeatureParams"),
    "asr": ("nap.asr.params", "AsrParams"),
    "g2p": ("nap.g2p.params", "G2PParams"),
    "align": ("nap.align.params", "AlignParams"),
    "naps": ("nap.naps.params", "NapParams"),
    "cluster": ("nap.cluster.params", "ClusterParams"),
}


def params_class(stage: str) -> type[StageParams]:
    """The parameter class of ``stage`` (imported lazily)."""
    if stage not in STAGES:
        raise ParamError(f"unknown stage {stage!r}; stages are: {', '.join(STAGES)}")
    module, name = STAGES[stage]
    return getattr(importlib.import_module(module), name)


def available_profiles() -> list[str]:
    return sorted(p.stem for p in PROFILE_DIR.glob("*.yaml"))


def _read_profile_file(ref: str | Path) -> tuple[str, dict[str, Any]]:
    path = Path(ref)
    if path.suffix in (".yaml", ".yml"):
        if not path.is_file():
            raise ParamError(f"profile file {path} does not exist")
        name = path.stem
    else:
        path = PROFILE_DIR / f"{ref}.yaml"
        name = str(ref)
        if not path.is_file():
            raise ParamError(
                f"unknown profile {str(ref)!r}; profiles are: {', '.join(available_profiles())} "
                "(or a path to a .yaml file)"
            )
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise ParamError(f"profile file {path} is not valid YAML: {exc}") from exc
    if not isinstance(data, dict) or not set(data) <= {"base", "params", "description"}:
        raise ParamError(f"profile file {path}: expected keys 'base', 'params', 'description'")
    return name, data


def normalize_changes(changes: dict[str, Any] | None) -> dict[str, dict[str, Any]]:
    """Turn ``{"asr.epochs": 3, "layers": [..], "seed": 1, "g2p": {...}}`` into per-stage dicts."""
    out: dict[str, dict[str, Any]] = {}
    for key, value in (changes or {}).items():
        if not isinstance(key, str):
            raise ParamError(f"parameter names are strings, got {key!r}")
        if key in STAGES and isinstance(value, dict):
            out.setdefault(key, {}).update(value)
        elif "." in key:
            stage, _, name = key.partition(".")
            params_class(stage)  # validates the stage name
            out.setdefault(stage, {})[name] = value
        elif key == "seed":
            for stage in STAGES:
                if "seed" in params_class(stage).fields():
                    out.setdefault(stage, {})["seed"] = value
        else:
            owners = [s for s in STAGES if key in params_class(s).fields()]
            if not owners:
                every = [f"{s}.{n}" for s in STAGES for n in params_class(s).fields()]
                near = difflib.get_close_matches(key, [e.partition(".")[2] for e in every], n=1)
                hint = ""
                if near:
                    hint = f" (did you mean {', '.join(e for e in every if e.endswith('.' + near[0]))}?)"
                raise ParamError(f"unknown parameter {key!r}{hint}; see `nap params` for every parameter")
            if len(owners) > 1:
                raise ParamError(
                    f"parameter {key!r} is ambiguous (stages {', '.join(owners)}); write it as "
                    + " or ".join(f"'{o}.{key}'" for o in owners)
                )
            out.setdefault(owners[0], {})[key] = value
    return out


@dataclass
class Profile:
    """A resolved profile: one validated parameter object per stage."""

    name: str
    stages: dict[str, StageParams] = field(default_factory=dict)
    description: str = ""

    @classmethod
    def load(cls, ref: str | Path = "default", changes: dict[str, Any] | None = None) -> Profile:
        """Resolve ``ref`` (a profile name or YAML path) and apply ``changes``."""
        raw: dict[str, dict[str, Any]] = {}
        chain: list[str] = []
        name, data = _read_profile_file(ref)
        description = data.get("description", "")
        layers = [data]
        while data.get("base"):
            base = data["base"]
            if str(base) in chain:
                raise ParamError(f"profile {ref}: base chain loops through {base!r}")
            chain.append(str(base))
            _, data = _read_profile_file(base)
            layers.append(data)
        for layer in reversed(layers):
            for stage, values in normalize_changes(layer.get("params") or {}).items():
                raw.setdefault(stage, {}).update(values)
        for stage, values in normalize_changes(changes).items():
            raw.setdefault(stage, {}).update(values)
        stages = {s: params_class(s).from_dict(raw.get(s, {})) for s in STAGES}
        return cls(name=name, stages=stages, description=description)

    def __getitem__(self, stage: str) -> StageParams:
        return self.stages[stage]

    def to_dict(self) -> dict[str, dict[str, Any]]:
        return {s: p.to_dict() for s, p in self.stages.items()}
