"""Layer similarity: linear CKA with the unbiased HSIC estimator.

Centered kernel alignment (Kornblith et al. 2019) compares two representations of the same
n inputs, X (n, p) and Y (n, q), through their linear kernels K = XXᵀ and L = YYᵀ:
``CKA = HSIC(K, L) / sqrt(HSIC(K, K) HSIC(L, L))``. It is 1 for representations that differ
by an orthogonal transform and a scale, and does not depend on the number of channels.
With few inputs per channel the usual (biased) HSIC makes unrelated representations look
similar; the unbiased estimator of Song et al. (2012), used for CKA by Nguyen et al.
(2021), removes that bias:

    HSIC₁(K, L) = [tr(K̃L̃) + 1ᵀK̃1 · 1ᵀL̃1 / ((n−1)(n−2)) − 2/(n−2) · 1ᵀK̃L̃1] / (n(n−3)),

where K̃ and L̃ are K and L with their diagonals set to zero. For linear kernels every term
is computed from X and Y without forming the n × n matrices (tr(K̃L̃) = ‖XᵀY‖²_F − Σᵢ KᵢᵢLᵢᵢ,
K̃1 = X(Xᵀ1) − diag K), so the cost is n·p·q and the memory n·(p + q). HSIC₁ does not change
when a constant is added to X or Y; the features are centred first, for precision.

The inputs here are the NAP stage's probe sample: per sampled frame, each layer's
activations averaged over the frame's window (and the input window's spectrogram, layer
``input``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np


@dataclass
class _Kernel:
    """What HSIC₁ needs of one representation: the centred features and three summaries."""

    x: np.ndarray  # (n, p) centred, kept as float32 (the products are taken in float64)
    diag: np.ndarray  # (n,) Kᵢᵢ
    row_sums: np.ndarray  # (n,) K̃1
    total: float  # 1ᵀK̃1

    @classmethod
    def of(cls, x: np.ndarray) -> _Kernel:
        x = np.asarray(x, dtype=np.float64)
        if x.ndim != 2:
            raise ValueError(f"CKA needs (samples, features) arrays, got shape {x.shape}")
        kept = (x - x.mean(axis=0)).astype(np.float32)
        x = kept.astype(np.float64)  # the summaries of exactly what is kept
        diag = np.einsum("ij,ij->i", x, x)
        row_sums = x @ x.sum(axis=0) - diag
        return cls(kept, diag, row_sums, float(row_sums.sum()))


def _hsic(a: _Kernel, b: _Kernel, xa: np.ndarray | None = None) -> float:
    """HSIC₁ of two kernels; ``xa`` is ``a.x`` in float64 where the caller has it already."""
    n = len(a.diag)
    xa = a.x.astype(np.float64) if xa is None else xa
    cross = xa.T @ b.x.astype(np.float64)
    trace = float(np.sum(cross * cross) - a.diag @ b.diag)
    value = trace + a.total * b.total / ((n - 1) * (n - 2)) - 2.0 / (n - 2) * float(a.row_sums @ b.row_sums)
    return value / (n * (n - 3))


def unbiased_hsic(x: np.ndarray, y: np.ndarray) -> float:
    """HSIC₁ of the linear kernels of ``x`` (n, p) and ``y`` (n, q); n ≥ 4."""
    a, b = _Kernel.of(x), _Kernel.of(y)
    _check(a, b)
    return _hsic(a, b)


def _check(a: _Kernel, b: _Kernel) -> None:
    if len(a.diag) != len(b.diag):
        raise ValueError(f"CKA compares the same samples: {len(a.diag)} rows against {len(b.diag)}")
    if len(a.diag) < 4:
        raise ValueError(f"the unbiased HSIC needs at least 4 samples, got {len(a.diag)}")


def _cka(a: _Kernel, b: _Kernel, self_a: float, self_b: float, xa: np.ndarray | None = None) -> float:
    denom = self_a * self_b
    return float(_hsic(a, b, xa) / np.sqrt(denom)) if denom > 0 else float("nan")


def linear_cka(x: np.ndarray, y: np.ndarray) -> float:
    """Linear CKA of ``x`` (n, p) and ``y`` (n, q) with the unbiased HSIC; NaN for a constant input."""
    a, b = _Kernel.of(x), _Kernel.of(y)
    _check(a, b)
    return _cka(a, b, _hsic(a, a), _hsic(b, b))


def cka_matrix(features: Mapping[str, np.ndarray]) -> np.ndarray:
    """(L, L) linear CKA between every pair of the representations (same rows), in the mapping's order."""
    kernels = [_Kernel.of(x) for x in features.values()]
    if not kernels:
        return np.zeros((0, 0))
    for k in kernels[1:]:
        _check(kernels[0], k)
    _check(kernels[0], kernels[0])
    selfs = [_hsic(k, k) for k in kernels]
    out = np.eye(len(kernels))
    for i, a in enumerate(kernels):
        if not selfs[i] > 0:
            out[i, i] = np.nan
        xa = a.x.astype(np.float64)
        for j in range(i + 1, len(kernels)):
            out[i, j] = out[j, i] = _cka(a, kernels[j], selfs[i], selfs[j], xa)
    return out
