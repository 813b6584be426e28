"""Profiles: named, validated parameter sets for every stage.

A profile is a YAML file with an optional ``base`` (another profile's name, or a file; a
relative file is found next to the profile naming it) and a ``params`` mapping
``stage -> {name: value}``. ``default`` is the parameter classes' own defaults; ``tiny``
(tests) and ``paper`` (LibriSpeech, the paper's sizes) ship in ``nap/profiles/``. A user's
profile is a small YAML file naming a base and its changes::

    base: default
    params:
      asr: {epochs: 3}
      naps: {layers: [layer09, layer10]}

Changes can also be given as a flat mapping of ``stage.name`` (or a bare ``name`` when
only one stage has it, or ``seed`` for every stage's seed), as ``nap run -p`` and the
chapters' ``params`` cell do. Every such YAML is read with :class:`nap.params.ParamLoader`,
so ``1e-3`` is a float.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nap.params import ParamError, StageParams, read_yaml
from nap.stages import REGISTRY

PROFILE_DIR = Path(__file__).parent / "profiles"

#: Stages in data-flow order (their records are in :mod:`nap.stages`).
STAGES: tuple[str, ...] = tuple(REGISTRY)


def params_class(stage: str) -> type[StageParams]:
    """The parameter class of ``stage`` (imported lazily)."""
    if stage not in REGISTRY:
        raise ParamError(f"unknown stage {stage!r}; stages are: {', '.join(STAGES)}")
    return REGISTRY[stage].params_class()


def available_profiles() -> list[str]:
    return sorted(p.stem for p in PROFILE_DIR.glob("*.yaml"))


def _profile_path(ref: Any, named_in: Path | None = None) -> tuple[str, Path]:
    """(name, file) of a profile reference: a shipped profile's name or a ``.yaml`` file. A
    relative file named in a profile's ``base`` is relative to that profile's folder."""
    where = f"profile file {named_in}: 'base'" if named_in else "profile"
    if not isinstance(ref, (str, Path)) or not str(ref):
        raise ParamError(f"{where} must be a profile name or a .yaml file, got {ref!r}")
    path = Path(ref).expanduser()
    if path.suffix in (".yaml", ".yml"):
        if named_in is not None and not path.is_absolute():
            path = named_in.parent / path
        return path.stem, path
    path = PROFILE_DIR / f"{ref}.yaml"
    if not path.is_file():
        raise ParamError(
            f"unknown profile {str(ref)!r}; profiles are: {', '.join(available_profiles())} "
            "(or a path to a .yaml file)"
        )
    return str(ref), path


def _read_profile_file(path: Path) -> dict[str, Any]:
    """The profile file's mapping, its keys and their kinds checked."""
    data = read_yaml(path, "profile file") or {}
    if not isinstance(data, dict) or not set(data) <= {"base", "params", "description"}:
        raise ParamError(f"profile file {path}: expected keys 'base', 'params', 'description'")
    if not isinstance(data.get("params") or {}, dict):
        raise ParamError(
            f"profile file {path}: 'params' must be a mapping of stages (or stage.name) to values, "
            f"got {data['params']!r}"
        )
    if not isinstance(data.get("description", ""), str):
        raise ParamError(f"profile file {path}: 'description' must be text, got {data['description']!r}")
    return data


def normalize_changes(changes: dict[str, Any] | None) -> dict[str, dict[str, Any]]:
    """Turn ``{"asr.epochs": 3, "layers": [..], "seed": 1, "g2p": {...}}`` into per-stage dicts."""
    out: dict[str, dict[str, Any]] = {}
    for key, value in (changes or {}).items():
        if not isinstance(key, str):
            raise ParamError(f"parameter names are strings, got {key!r}")
        if key in STAGES:
            if not isinstance(value, (dict, type(None))):
                raise ParamError(
                    f"the changes of stage {key!r} must be a mapping of its parameters to values, "
                    f"got {value!r}"
                )
            out.setdefault(key, {}).update(value or {})
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
        """Resolve ``ref`` (a profile name or YAML path) and apply ``changes``. A relative
        ``base`` file is found next to the profile naming it, not in the current folder."""
        raw: dict[str, dict[str, Any]] = {}
        name, path = _profile_path(ref)
        data = _read_profile_file(path)
        description = data.get("description", "")
        layers, chain = [(path, data)], [path.resolve()]
        while data.get("base") is not None:
            _, path = _profile_path(data["base"], named_in=path)
            if path.resolve() in chain:
                raise ParamError(f"profile {ref}: base chain loops through {str(path)!r}")
            chain.append(path.resolve())
            data = _read_profile_file(path)
            layers.append((path, data))
        for path, layer in reversed(layers):
            try:
                changes_of_layer = normalize_changes(layer.get("params") or {})
            except ParamError as exc:
                raise ParamError(f"profile file {path}: {exc}") from exc
            for stage, values in changes_of_layer.items():
                raw.setdefault(stage, {}).update(values)
        for stage, values in normalize_changes(changes).items():
            raw.setdefault(stage, {}).update(values)
        stages = {s: params_class(s).from_dict(raw.get(s, {})) for s in STAGES}
        return cls(name=name, stages=stages, description=description)

    def __getitem__(self, stage: str) -> StageParams:
        return self.stages[stage]

    def to_dict(self) -> dict[str, dict[str, Any]]:
        return {s: p.to_dict() for s, p in self.stages.items()}
