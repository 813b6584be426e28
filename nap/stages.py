"""The stage registry: one record per stage, the one place that says what a stage is.

A record names the stage's parameter class, build function and loader (as ``module:name``
strings, imported on first use, so that this module and what derives from it, such as
``nap params`` and ``nap results``, never import torch or scikit-learn), the stages it
reads, its code version, the ``Study`` method that returns its result, the chapters
that show it and, where a torchrun group may share its build, the function each process
runs (:mod:`nap.distributed`). Everything else is derived from :data:`REGISTRY`: the
profile's stages (:data:`nap.profile.STAGES`), the artifact keys and ``Study``'s accessors
(:mod:`nap.study`), the schedule (:mod:`nap.schedule`) and which chapters a stage's change
makes stale (:mod:`nap.runner`). Adding a stage is adding a record here plus its package.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any


def resolve(ref: str) -> Any:
    """The object a ``module:name`` reference names (importing the module)."""
    module, _, name = ref.partition(":")
    return getattr(importlib.import_module(module), name)


@dataclass(frozen=True)
class Stage:
    """One stage of the study."""

    #: the stage's name: its profile section, its parameters' prefix and its artifacts' folder prefix
    name: str
    #: ``module:Class`` of its :class:`nap.params.StageParams`
    params: str
    #: ``module:function`` building it: ``build(work, params, *results of its inputs) -> summary``
    build: str
    #: ``module:Class`` whose ``open(artifact folder)`` loads the result
    loader: str
    #: the stages whose results it reads, in data-flow order (their keys are part of its key)
    inputs: tuple[str, ...]
    #: code version, part of the artifact key: bump it when a change of code changes what the
    #: stage produces for the same parameters, so that older artifacts are rebuilt
    version: int
    #: the ``Study`` method returning the loaded result
    accessor: str
    #: the chapters (``chapters/<name>.ipynb``) that show its results, besides the introduction
    chapters: tuple[str, ...]
    #: reads nothing the acoustic chain makes: built in a background process beside it
    side_by_side: bool = False
    #: ``module:function`` building it in one process of a torchrun group, ``run(study, args)``
    #: (:mod:`nap.distributed`); its module's ``add_arguments(parser)`` adds the stage's options
    torchrun: str | None = None

    def params_class(self) -> Any:
        return resolve(self.params)

    def build_function(self) -> Any:
        return resolve(self.build)

    def loader_class(self) -> Any:
        return resolve(self.loader)

    def torchrun_function(self) -> Any:
        return resolve(self.torchrun or "")


#: The stages, in data-flow order (a stage's inputs come before it).
REGISTRY: dict[str, Stage] = {
    s.name: s
    for s in (
        Stage(
            name="corpus",
            params="nap.corpus.params:CorpusParams",
            build="nap.corpus:build_corpus",
            loader="nap.corpus:Corpus",
            inputs=(),
            version=2,  # 2: lm_text.txt
            accessor="corpus",
            chapters=("01_data",),
        ),
        Stage(
            name="features",
            params="nap.features:FeatureParams",
            build="nap.features:build_features",
            loader="nap.features:Features",
            inputs=("corpus",),
            version=1,
            accessor="features",
            chapters=("01_data",),
        ),
        Stage(
            name="asr",
            params="nap.asr.params:AsrParams",
            build="nap.asr:build_asr",
            loader="nap.asr:Recognizer",
            inputs=("corpus", "features"),
            version=1,
            accessor="asr",
            chapters=("02_asr",),
            torchrun="nap.asr.torchrun:run",
        ),
        Stage(
            name="g2p",
            params="nap.g2p.params:G2PParams",
            build="nap.g2p:build_g2p",
            loader="nap.g2p:G2P",
            inputs=(),
            # 2: decoder without input feeding; 3: ensembles; 4: right-to-left members
            version=4,
            accessor="g2p",
            chapters=("03_g2p",),
            side_by_side=True,  # reads only CMUDict
        ),
        Stage(
            name="align",
            params="nap.align.params:AlignParams",
            build="nap.align:build_alignment",
            loader="nap.align:FrameLabels",
            inputs=("corpus", "features", "asr", "g2p"),
            version=4,  # 4: emission delays per letter and phoneme
            accessor="alignment",
            chapters=("04_alignment",),
        ),
        Stage(
            name="naps",
            params="nap.naps.params:NapParams",
            build="nap.naps:build_naps",
            loader="nap.naps:NapSet",
            inputs=("corpus", "features", "asr", "align"),
            version=3,  # 2: whole.npz (whole_data), unpadded/; 3: folds.npz (speaker folds)
            accessor="naps",
            chapters=("05_naps",),
            torchrun="nap.naps.torchrun:run",
        ),
        Stage(
            name="cluster",
            params="nap.cluster.params:ClusterParams",
            build="nap.cluster:build_clusters",
            loader="nap.cluster:Clustering",
            inputs=("naps",),
            version=3,  # 2: readings.json, untrained network without class probes; 3: probes on 1 thread
            accessor="clusters",
            chapters=("06_clustering", "07_explorer"),
        ),
        Stage(
            name="real_speech",
            params="nap.real_speech.params:RealSpeechParams",
            build="nap.real_speech:build_real_speech",
            loader="nap.real_speech:RealSpeech",
            # the corpus for the aligner's calibration, the features for their parameters, the
            # cluster stage for its clustering and probe settings
            inputs=("corpus", "features", "asr", "g2p", "align", "naps", "cluster"),
            version=1,
            accessor="real_speech",
            chapters=("08_real_speech",),
        ),
    )
}

#: The introduction chapter's number: it shows every stage.
INTRODUCTION = "00"


def upstream(stages: Iterable[str]) -> list[str]:
    """``stages`` and every stage they read (directly or not), in data-flow order."""
    wanted: set[str] = set()

    def add(stage: str) -> None:
        if stage not in wanted:
            wanted.add(stage)
            for dep in REGISTRY[stage].inputs:
                add(dep)

    for stage in stages:
        add(stage)
    return [s for s in REGISTRY if s in wanted]


def downstream(stages: Iterable[str]) -> list[str]:
    """``stages`` and every stage that reads one of them (directly or not), in data-flow order."""
    changed = set(stages)
    return [s for s in REGISTRY if changed & set(upstream([s]))]


def chapter_stages() -> dict[str, tuple[str, ...]]:
    """The stages each chapter shows, by chapter number (``"00"``, the introduction, shows all)."""
    shown: dict[str, tuple[str, ...]] = {INTRODUCTION: tuple(REGISTRY)}
    for stage in REGISTRY.values():
        for chapter in stage.chapters:
            shown[chapter[:2]] = (*shown.get(chapter[:2], ()), stage.name)
    return dict(sorted(shown.items()))
