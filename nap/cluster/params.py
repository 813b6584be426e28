"""Parameters of the cluster stage: hierarchical clustering of NAPs, scores and probes."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Literal

from nap.hardware import resolve_threads
from nap.params import ParamError, StageParams, check_threads, param


@dataclass(frozen=True)
class ClusterParams(StageParams):
    """How the NAPs of every layer are clustered, scored and probed (paper §3.3, beyond it)."""

    stage: ClassVar[str] = "cluster"

    percentile: float = param(
        80.0, "clusters are cut at this percentile of the layer's pairwise NAP distances (paper: 80)"
    )
    linkage: Literal["complete", "average", "single", "ward"] = param(
        "complete", "hierarchical clustering linkage (paper: complete)"
    )
    metric: Literal["euclidean", "cityblock", "cosine", "correlation"] = param(
        "euclidean", "distance between flattened NAPs (paper: euclidean)"
    )
    groupings: list[str] | None = param(None, "groupings to cluster; None = every grouping of the NAP set")
    layers: list[str] | None = param(None, "layers to cluster and probe; None = every layer of the NAP set")
    phoneme_grouping: str = param(
        "phoneme", "the phoneme grouping the paper's claims are judged on (phoneme = the G2P cascade)"
    )
    permutations: int = param(2000, "label permutations behind the p-values of the class-agreement scores")
    alpha: float = param(0.05, "significance level for the claims (permutation p-values)")
    emergence: float = param(
        0.5,
        "a grouping 'emerges' at the first layer whose probe accuracy gain over chance reaches "
        "this share of its best gain over all layers",
    )
    probes: bool = param(True, "train linear probes (logistic regression) per layer")
    probe_groupings: list[str] | None = param(None, "groupings to probe; None = every grouping")
    probe_C: float = param(1.0, "inverse L2 regularisation strength of the logistic-regression probes")
    probe_max_iter: int = param(300, "L-BFGS iterations of each probe")
    probe_test_fraction: float = param(0.25, "share of utterances held out to test the probes")
    probe_max_train: int = param(12000, "at most this many frames (sampled) train one probe")
    bootstrap: int = param(
        1000,
        "speaker resamples (utterances where no speaker is known) behind the 95 % intervals of the "
        "probe accuracies and selectivities; 0 = no intervals",
    )
    agreement_resamples: int = param(
        200,
        "speaker-fold resamples behind the 95 % intervals of the clustering scores (AUC, ARI, "
        "silhouette; needs naps.folds); each reclusters every layer; 0 = no intervals",
    )
    control_tasks: bool = param(
        True,
        "also probe each grouping's classes (phonetic class, vowel letter) and a control task: the same "
        "types given random classes of the same sizes (Hewitt & Liang 2019); selectivity = the difference",
    )
    similarity: bool = param(
        True, "linear CKA (unbiased HSIC) between every pair of layers and the input, on the probe sample"
    )
    readings: bool = param(
        True,
        "recluster and judge the claims again under each reading of Figure 1D's normalization "
        "(naps.normalization: global_mean, mean_of_groups, whole_data) from the stored group means; "
        "readings.json, a table in chapter 6",
    )
    workers: int | Literal["auto"] = param(
        "auto",
        "processes that fit the probes of several layers side by side (auto: the machine's cores); "
        "each fit uses one BLAS thread (AVX2 EPYC, 12,000 frames: one thread 0.7-2.5 s a probe, "
        "two threads 1.8-6.8 s), so results do not depend on it",
        keyed=False,
    )
    seed: int = param(0, "seed of the probe split, the frame sample, the permutations and the resamples")

    @property
    def processes(self) -> int:
        """Worker processes of the probes (auto: this machine's cores)."""
        return resolve_threads(self.workers)

    def check(self) -> None:
        if not 0.0 < self.percentile < 100.0:
            raise ParamError(f"parameter 'cluster.percentile' must lie in (0, 100), got {self.percentile}")
        if self.linkage == "ward" and self.metric != "euclidean":
            raise ParamError("parameter 'cluster.linkage' = 'ward' needs cluster.metric = 'euclidean'")
        if self.permutations < 1:
            raise ParamError(f"parameter 'cluster.permutations' must be ≥ 1, got {self.permutations}")
        if not 0.0 < self.alpha < 1.0:
            raise ParamError(f"parameter 'cluster.alpha' must lie in (0, 1), got {self.alpha}")
        if not 0.0 < self.emergence <= 1.0:
            raise ParamError(f"parameter 'cluster.emergence' must lie in (0, 1], got {self.emergence}")
        if self.probe_C <= 0:
            raise ParamError(f"parameter 'cluster.probe_C' must be > 0, got {self.probe_C}")
        if self.probe_max_iter < 1:
            raise ParamError(f"parameter 'cluster.probe_max_iter' must be ≥ 1, got {self.probe_max_iter}")
        if not 0.0 < self.probe_test_fraction < 1.0:
            raise ParamError(
                f"parameter 'cluster.probe_test_fraction' must lie in (0, 1), got {self.probe_test_fraction}"
            )
        if self.bootstrap < 0:
            raise ParamError(
                f"parameter 'cluster.bootstrap' must be 0 (no intervals) or more, got {self.bootstrap}"
            )
        if self.agreement_resamples < 0:
            raise ParamError(
                f"parameter 'cluster.agreement_resamples' must be 0 (no intervals) or more, got "
                f"{self.agreement_resamples}"
            )
        if self.probe_max_train < 10:
            raise ParamError(f"parameter 'cluster.probe_max_train' must be ≥ 10, got {self.probe_max_train}")
        check_threads(self.workers, "cluster.workers")
        for name in ("groupings", "layers", "probe_groupings"):
            value = getattr(self, name)
            if value is not None and not value:
                raise ParamError(f"parameter 'cluster.{name}' is an empty list; use None for all")
