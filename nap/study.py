"""The study: wires the stages together through the artifact store.

``Study(profile, params, artifacts)`` resolves a profile, and each stage's accessor
(``corpus()``, ``features()``, ``asr()``, ``g2p()``, ``alignment()``, ``naps()``,
``clusters()``: the ``accessor`` of its record in :mod:`nap.stages`) returns that stage's
loaded result, building it first if the store has no finished artifact for the stage's
parameters and inputs. A stage's key hashes its parameters, its code version and its
inputs' keys, so changing one stage's parameters (or raising its version) rebuilds it and
everything after it, and nothing before.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from nap.params import ParamError, StageParams
from nap.profile import STAGES, Profile
from nap.stages import REGISTRY
from nap.store import Artifact, Store


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
        """The stage's code version (its registry record's)."""
        return REGISTRY[stage].version

    def inputs(self, stage: str) -> dict[str, str]:
        return {dep: self.key(dep) for dep in REGISTRY[stage].inputs}

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
        deps = self.input_results(stage)
        art = self.store.build(
            stage,
            self.params(stage).key_dict(),
            self.inputs(stage),
            lambda work: self.compute(stage, work, deps),
            version=self.version(stage),
            force=stage in self.force,
        )
        self.force.discard(stage)
        self._artifacts[stage] = art
        return art

    def work_folder(self, stage: str) -> Path:
        """The folder the stage's artifact is built in (:meth:`nap.store.Store.work_folder`)."""
        return self.store.work_folder(stage, self.key(stage))

    def input_results(self, stage: str) -> list[Any]:
        """The results of the stages ``stage`` reads, in its record's order (built first if needed)."""
        return [self.load(dep) for dep in REGISTRY[stage].inputs]

    def compute(self, stage: str, work: Path, inputs: list[Any]) -> dict[str, Any]:
        """Run the stage's build function in ``work`` on its ``inputs``' results; its summary.

        What the store runs inside a build; the helper processes of a torchrun group (which
        share the main process's build) call it on the same work folder.
        """
        build: Callable[..., dict[str, Any]] = REGISTRY[stage].build_function()
        return build(work, self.params(stage), *inputs)

    def join_group(
        self, stage: str, main: bool, share: Callable[[bool], bool]
    ) -> tuple[Path, list[Any]] | None:
        """For one process of a torchrun group building ``stage``: (work folder, inputs' results),
        or None when the stage is already built (and not forced), so there is nothing to do.

        The main process builds the missing inputs, once, and looks for the artifact;
        ``share(flag)`` must return the main process's flag on every process (a broadcast:
        it also keeps the others waiting until the inputs exist); then each loads the inputs.
        The entry points ``python -m nap.asr`` and ``python -m nap.naps`` go through here.
        """
        built = False
        if main:
            self.input_results(stage)
            built = stage not in self.force and self.artifact(stage, build=False) is not None
        if share(built):
            return None
        return self.work_folder(stage), self.input_results(stage)

    def load(self, stage: str) -> Any:
        """The stage's result, loaded (and built first if needed)."""
        if stage not in self._loaded:
            art = self.artifact(stage)
            self._loaded[stage] = REGISTRY[stage].loader_class().open(art.path)
        return self._loaded[stage]

    def summary(self, stage: str, build: bool = False) -> dict[str, Any] | None:
        """The stage's headline numbers, or None when it is not built (and ``build`` is off)."""
        art = self.artifact(stage, build=build)
        return None if art is None else art.summary

    def results(self) -> dict[str, dict[str, Any] | None]:
        """Every stage's headline numbers (None where not built yet)."""
        return {stage: self.summary(stage) for stage in STAGES}

    # -- display ----------------------------------------------------------------------
    def parameter_table(self, stage: str) -> Any:
        """The stage's parameters (value, default, meaning) as a pandas-free HTML table."""
        from nap.display import table

        p = self.params(stage)
        rows = [
            (name, repr(getattr(p, name)), repr(default), doc) for name, _, default, doc in type(p).describe()
        ]
        return table(rows, ["parameter", "value", "default", "meaning"], title=f"{stage} parameters")


def _accessor(stage: str) -> Callable[[Study], Any]:
    """The ``Study`` method that returns ``stage``'s loaded result (built first if needed)."""

    def accessor(self: Study) -> Any:
        return self.load(stage)

    record = REGISTRY[stage]
    accessor.__name__ = record.accessor
    accessor.__qualname__ = f"Study.{record.accessor}"
    accessor.__doc__ = f"The {stage} stage's result ({record.loader}), built first if needed."
    return accessor


# the stages' accessors (study.corpus(), ..., study.alignment(), study.clusters()), one per record
for _stage in REGISTRY.values():
    if hasattr(Study, _stage.accessor):  # a record's accessor would hide a Study method
        raise RuntimeError(f"stage {_stage.name}: accessor {_stage.accessor!r} is already a Study attribute")
    setattr(Study, _stage.accessor, _accessor(_stage.name))
