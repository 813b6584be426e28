"""Chapter 6: hierarchical clustering of every layer's NAPs, and per-layer specificity scores.

``build_clusters(work, p, napset)`` clusters the NAPs of every layer and grouping (paper
§3.3: Euclidean distance, complete linkage, cut at the 80th percentile), scores how far
the clusters follow phonetic classes, trains linear probes per layer, and judges the
paper's claims on those numbers; ``Clustering.open(path)`` reads the results back and
draws the paper's figures.
"""

from typing import TYPE_CHECKING

from nap.cluster.params import ClusterParams
from nap.lazy import exports

if TYPE_CHECKING:
    from nap.cluster.arrays import ArrayNapSet
    from nap.cluster.claims import Claim, evaluate_claims, figure4_layers
    from nap.cluster.hierarchy import LayerClustering, cluster_naps
    from nap.cluster.results import Clustering
    from nap.cluster.stage import build_clusters

# scikit-learn is imported on first use of these (nap.lazy): `nap params` and `nap results` stay fast
__getattr__ = exports(
    __name__,
    {
        "nap.cluster.arrays": ["ArrayNapSet"],
        "nap.cluster.claims": ["Claim", "evaluate_claims", "figure4_layers"],
        "nap.cluster.hierarchy": ["LayerClustering", "cluster_naps"],
        "nap.cluster.results": ["Clustering"],
        "nap.cluster.stage": ["build_clusters"],
    },
)

__all__ = [
    "ArrayNapSet",
    "Claim",
    "Clustering",
    "ClusterParams",
    "LayerClustering",
    "build_clusters",
    "cluster_naps",
    "evaluate_claims",
    "figure4_layers",
]
