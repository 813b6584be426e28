"""The study: wires the stages together through the artifact store.

``Study(profile, params, artifacts)`` resolves a profile, and each stage method
(``corpus()``, ``features()``, ``asr()``, ``g2p()``, ``alignment()``, ``naps()``,
``clusters()``) returns that stage's loaded result, building it first if the store has
no finished artifact for the stage's parameters and inputs. A stage's key hashes its
parameters, its code version and its inputs' keys, so changing one stage's parameters
rebuilds it and everything after it, and nothing before.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from nap.params import ParamError, StageParams
from nap.profile import STAGES, Profile
from nap.store import Artifact, Store

#: Each stage's inputs (stages it reads), in data-flow order.
DEPENDS: dict[str, tuple[str, ...]] = {
    "corpus": (),
    "features": ("corpus",),
    "asr": ("corpus", "features"),
    "g2p": (),
    "align": ("corpus", "features", "asr", "g2p"),
    "naps": ("corpus", "features", "asr", "align"),
    "cluster": ("naps",),
}

#: Where each stage's build function and loader live: (module, build function, loader).
BUILDERS: dict[str, tuple[str, str, str]] = {
    "corpus": ("nap.corpus", "build_corpus", "Corpus"),
    "features": ("nap.features", "build_features", "Features"),
    "asr": ("nap.asr", "build_asr", "Recognizer"),
    "g2p": ("nap.g2p", "build_g2p", "G2P"),
    "align": ("nap.align", "build_alignment", "FrameLabels"),
    "naps": ("nap.naps", "build_naps", "NapSet"),
    "cluster": ("nap.cluster", "build_clusters", "Clustering"),
}


def project_root(start: Path | None = None) -> Path:
    """The checkout holding ``_config.yml`` and ``nap/`` above ``start``, else ``start``."""
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / "_config.yml").is_file() and (folder / "nap").is_dir():
            return folder
    return here


def artifacts_root(profile_name: str, artifacts: str | os.PathLike | None = None) -> Path:
    """``artifacts`` if given, else ``$NAP_ARTIFACTS/<profile>``, else ``<project>/artifacts/<profile>``.

    A file where the folder (or a folder above it) should be is a ParamError naming it.
    """
    if artifacts:
        root = Path(artifacts).expanduser().resolve()
    else:
        env = os.environ.get("NAP_ARTIFACTS")
        base = Path(env).expanduser() if env else project_root() / "artifacts"
        root = (base / profile_name).resolve()
    for folder in (root, *root.parents):
        if folder.exists():
            if folder == root and not folder.is_dir():
                raise ParamError(f"artifacts folder {root} is a file, not a folder")
            if not folder.is_dir():
                raise ParamError(f"artifacts folder {root} cannot be made: {folder} is a file")
            break
    return root


class Study:
    """One run of the study: a profile, its changes and an artifact store."""

    def __init__(
        self,
        profile: str | os.PathLike = "default",
        params: dict[str, Any] | None = None,
        artifacts: str | os.PathLike | None = None,
        force: bool | Iterable[str] = False,
    ):
        self.profile = Profile.load(profile, params)
        ref = Path(profile)
        self.profile_ref = str(ref.resolve()) if ref.suffix in (".yaml", ".yml") else str(profile)
        self.changes = dict(params or {})
        self.store = Store(artifacts_root(self.profile.name, artifacts))
        if force is True:
            self.force = set(STAGES)
        else:
            self.force = set(force or ())
        self._loaded: dict[str, Any] = {}
        self._artifacts: dict[str, Artifact] = {}

    def __repr__(self) -> str:
        return (
            f"Study(profile={self.profile.name!r}, changes={self.changes!r}, artifacts='{self.store.root}')"
        )

    # -- keys -------------------------------------------------------------------------
    def params(self, stage: str) -> StageParams:
        return self.profile[stage]

    def version(self, stage: str) -> int:
        module = importlib.import_module(BUILDERS[stage][0])
        return int(getattr(module, "VERSION", 1))

    def inputs(self, stage: str) -> dict[str, str]:
        return {dep: self.key(dep) for dep in DEPENDS[stage]}

    def key(self, stage: str) -> str:
        """The stage's artifact key, computed from parameters alone (nothing is built)."""
        return self.store.key(stage, self.params(stage).key_dict(), self.inputs(stage), self.version(stage))

    def artifact(self, stage: str, build: bool = True) -> Artifact | None:
        """The stage's finished artifact (built first when ``build``), else None."""
        if stage in self._artifacts:
            return self._artifacts[stage]
        if not build:
            found = self.store.lookup(stage, self.key(stage))
            if found is not None and stage not in self.force:
                self._artifacts[stage] = found
            return found
        deps = {dep: self.load(dep) for dep in DEPENDS[stage]}
        module, build_name, _ = BUILDERS[stage]
        build_fn: Callable[..., dict[str, Any]] = getattr(importlib.import_module(module), build_name)
        p = self.params(stage)
        art = self.store.build(
            stage,
            p.key_dict(),
            self.inputs(stage),
            lambda work: build_fn(work, p, *deps.values()),
            version=self.version(stage),
            force=stage in self.force,
        )
        self.force.discard(stage)
        self._artifacts[stage] = art
        return art

    def load(self, stage: str) -> Any:
        """The stage's result, loaded (and built first if needed)."""
        if stage not in self._loaded:
            art = self.artifact(stage)
            module, _, loader = BUILDERS[stage]
            cls = getattr(importlib.import_module(module), loader)
            self._loaded[stage] = cls.open(art.path)
        return self._loaded[stage]

    def summary(self, stage: str, build: bool = False) -> dict[str, Any] | None:
        """The stage's headline numbers, or None when it is not built (and ``build`` is off)."""
        art = self.artifact(stage, build=build)
        return None if art is None else art.summary

    def results(self) -> dict[str, dict[str, Any] | None]:
        """Every stage's headline numbers (None where not built yet)."""
        return {stage: self.summary(stage) for stage in STAGES}

    # -- the stages -------------------------------------------------------------------
    def corpus(self) -> Any:
        return self.load("corpus")

    def features(self) -> Any:
        return self.load("features")

    def asr(self) -> Any:
        return self.load("asr")

    def g2p(self) -> Any:
        return self.load("g2p")

    def alignment(self) -> Any:
        return self.load("align")

    def naps(self) -> Any:
        return self.load("naps")

    def clusters(self) -> Any:
        return self.load("cluster")

    # -- display ----------------------------------------------------------------------
    def parameter_table(self, stage: str) -> Any:
        """The stage's parameters (value, default, meaning) as a pandas-free HTML table."""
        from nap.display import table

        p = self.params(stage)
        rows = [
            (name, repr(getattr(p, name)), repr(default), doc) for name, _, default, doc in type(p).describe()
        ]
        return table(rows, ["parameter", "value", "default", "meaning"], title=f"{stage} parameters")
