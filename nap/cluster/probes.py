"""Linear probes: how well a layer's activations predict a frame's grapheme or phoneme.

After Alain & Bengio (2016), the probe the paper names as future work. For each layer, the
NAP stage samples output frames and gives each a feature vector: the activations of the
frame's input window, averaged over positions (one value per channel). A multinomial
logistic regression (scikit-learn, L-BFGS, features standardised on the training frames)
learns the frame's label on the frames of some utterances and is tested on the frames of
the others (``test_fraction`` of the utterances, chosen by the seed), so no utterance is
seen on both sides. Frames without a label (-1) take no part; test frames of a class the
probe never saw in training count as errors. ``chance`` is the accuracy of always
answering the most frequent training class.
"""

from __future__ import annotations

import math
import warnings
from typing import Any, NamedTuple

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import balanced_accuracy_score
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits


def too_few_utterances(utt_index: np.ndarray) -> str | None:
    """Why frames of these utterances cannot be split into training and test utterances; None if they can.

    With no labelled frame at all (a recognizer that writes no letter) the NAP stage's probe
    sample is empty; with one utterance, nothing is left to test on.
    """
    n = len(np.unique(utt_index))
    return None if n >= 2 else f"probes need frames of at least 2 utterances to hold some out, got {n}"


def no_probe(why: str, n_train: int = 0, n_test: int = 0, n_classes: int = 0) -> dict[str, Any]:
    """The record of a probe that could not be trained: no accuracy (NaN), and why."""
    return {
        "n_train": n_train,
        "n_test": n_test,
        "accuracy": float("nan"),
        "balanced_accuracy": float("nan"),
        "chance": float("nan"),
        "n_classes": n_classes,
        "converged": False,
        "message": why,
    }


def split_utterances(utt_index: np.ndarray, test_fraction: float, seed: int) -> np.ndarray:
    """Boolean mask of test frames: all frames of a seeded ``test_fraction`` of the utterances."""
    why = too_few_utterances(utt_index)
    if why:
        raise ValueError(why)
    utts = np.unique(utt_index)
    rng = np.random.default_rng(seed)
    n_test = min(max(1, math.ceil(test_fraction * len(utts))), len(utts) - 1)
    test_utts = rng.permutation(utts)[:n_test]
    return np.isin(utt_index, test_utts)


def train_probe(
    x: np.ndarray,
    y: np.ndarray,
    test: np.ndarray,
    *,
    c: float = 1.0,
    max_iter: int = 300,
    max_train: int = 12000,
    seed: int = 0,
    threads: int = 1,
) -> dict[str, Any]:
    """Fit one probe on the frames outside ``test`` and score it on ``test``; see module docstring."""
    kw = {"c": c, "max_iter": max_iter, "max_train": max_train, "seed": seed, "threads": threads}
    return fit_probe(x, y, test, **kw).record


class ProbeAnswers(NamedTuple):
    """A probe's record, the labelled test frames (indices), its answer for each and the chance answer."""

    record: dict[str, Any]
    test: np.ndarray
    predicted: np.ndarray
    majority: int  # the most frequent training class, which ``chance`` always answers (-1: no probe)


def fit_probe(
    x: np.ndarray,
    y: np.ndarray,
    test: np.ndarray,
    *,
    c: float = 1.0,
    max_iter: int = 300,
    max_train: int = 12000,
    seed: int = 0,
    threads: int = 1,
) -> ProbeAnswers:
    """:func:`train_probe`'s record with the test frames' indices and the probe's answers for them.

    ``threads`` limits BLAS: one thread fits these small problems fastest (AVX2 EPYC, 12,000
    frames × 192–768 features: 0.7–2.5 s with one thread, 1.8–6.8 s with two), and the sums'
    order, hence the result, does not depend on the machine's cores.

    The answers let intervals be computed by resampling the held-out frames' speakers
    (:mod:`nap.cluster.bootstrap`) without training again; a probe that could not be
    trained answers nothing (empty arrays).
    """
    x = np.asarray(x, dtype=np.float32)
    y = np.asarray(y)
    labelled = y >= 0
    train_idx = np.flatnonzero(labelled & ~test)
    test_idx = np.flatnonzero(labelled & test)
    out: dict[str, Any] = {"n_train": int(len(train_idx)), "n_test": int(len(test_idx))}
    classes = np.unique(y[train_idx])
    if len(classes) < 2 or len(test_idx) == 0:
        why = "fewer than 2 classes in the training frames" if len(classes) < 2 else "no labelled test frames"
        empty = np.zeros(0, dtype=np.int64)
        return ProbeAnswers(no_probe(why, out["n_train"], out["n_test"], int(len(classes))), empty, empty, -1)
    rng = np.random.default_rng(seed)
    if len(train_idx) > max_train:
        train_idx = np.sort(rng.choice(train_idx, size=max_train, replace=False))
    scaler = StandardScaler().fit(x[train_idx])
    model = LogisticRegression(C=c, max_iter=max_iter)
    with threadpool_limits(limits=threads), warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(scaler.transform(x[train_idx]), y[train_idx])
        pred = model.predict(scaler.transform(x[test_idx]))
        warnings.simplefilter("ignore", UserWarning)  # a class predicted but absent from the test frames
        truth = y[test_idx]
        balanced = float(balanced_accuracy_score(truth, pred))
    values, counts = np.unique(y[train_idx], return_counts=True)
    majority = values[counts.argmax()]
    record = {
        **out,
        "n_train": int(len(train_idx)),
        "accuracy": float(np.mean(pred == truth)),
        "balanced_accuracy": balanced,
        "chance": float(np.mean(truth == majority)),
        "n_classes": int(len(classes)),
        "converged": bool(np.all(model.n_iter_ < max_iter)),
        "message": None,
    }
    return ProbeAnswers(record, test_idx, np.asarray(pred), int(majority))
