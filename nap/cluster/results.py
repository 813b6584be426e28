"""``Clustering``: the cluster stage's results read back, with the chapter's tables and figures."""

from __future__ import annotations

from collections.abc import Sequence
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

import numpy as np
from matplotlib.figure import Figure

from nap.cluster.claims import (
    CONTROL,
    INPUT,
    Claim,
    claims_markdown,
    evaluate_claims,
    figure4_layers,
    network_layers,
    pick_grouping,
)
from nap.cluster.hierarchy import LayerClustering
from nap.cluster.plots import plot_grid, plot_scores, plot_similarity
from nap.display import Markdown, Table, table
from nap.store import StoreError, read_json


def _interval(score: dict[str, Any], name: str) -> str:
    """``[low, high]`` of a score's speaker-fold interval (:mod:`nap.cluster.agreement`); — without."""
    lo, hi = _nan(score.get(f"{name}_ci_low")), _nan(score.get(f"{name}_ci_high"))
    return "—" if not (np.isfinite(lo) and np.isfinite(hi)) else f"[{lo:.2f}, {hi:.2f}]"


def _nan(x: Any) -> float:
    return float("nan") if x is None else float(x)


class Clustering:
    """The stored clusterings, scores, probes and claims of one cluster artifact (see ``stage``)."""

    def __init__(
        self,
        path: Path,
        doc: dict[str, Any],
        arrays: dict[str, np.ndarray],
        probes: dict[str, dict[str, Any]],
        params: dict[str, Any],
    ):
        self.path = path
        self.doc = doc
        self.arrays = arrays
        self.probes = probes
        self.params = params

    @classmethod
    def open(cls, path: str | Path) -> Clustering:
        path = Path(path)
        for name in ("clusters.json", "clusters.npz", "probes.json"):
            if not (path / name).is_file():
                raise StoreError(f"{path} is not a cluster artifact: {name} is missing")
        with np.load(path / "clusters.npz", allow_pickle=False) as npz:
            arrays = {k: npz[k] for k in npz.files}
        params = read_json(path / "params.json")["params"] if (path / "params.json").is_file() else {}
        return cls(path, read_json(path / "clusters.json"), arrays, read_json(path / "probes.json"), params)

    @cached_property
    def control(self) -> Clustering | None:
        """The untrained network's clusterings, scores and probes (``naps.control``), None without."""
        folder = self.path / CONTROL
        if not (folder / "clusters.json").is_file():
            return None
        control = Clustering.open(folder)
        control.params = self.params
        return control

    def _optional(self, name: str) -> dict[str, Any] | None:
        """A file that artifacts of the stage's options have (``controls.json``, ``similarity.json``)."""
        return read_json(self.path / name) if (self.path / name).is_file() else None

    def __repr__(self) -> str:
        return f"Clustering({len(self.groupings)} groupings × {len(self.layers)} layers at '{self.path}')"

    # -- contents -------------------------------------------------------------------------
    @property
    def groupings(self) -> list[str]:
        return list(self.doc["groupings"])

    @property
    def layers(self) -> list[str]:
        return list(self.doc["layers"])

    @property
    def network_layers(self) -> list[str]:
        """The layers without the NAP stage's ``input`` window (the first is layer 1, the last the output)."""
        return network_layers(self.layers)

    @property
    def kinds(self) -> dict[str, str]:
        """Grouping → "phoneme" or "grapheme" (which class table scores it)."""
        return dict(self.doc["kinds"])

    def classes(self, grouping: str) -> dict[str, str | None]:
        return dict(self.doc["classes"][grouping])

    def _check(self, grouping: str, layer: str) -> dict[str, Any]:
        if grouping not in self.doc["results"]:
            raise KeyError(f"no grouping {grouping!r} in {self.path}; it has {self.groupings}")
        if layer not in self.doc["results"][grouping]:
            raise KeyError(f"no layer {layer!r} in {self.path}; it has {self.layers}")
        return self.doc["results"][grouping][layer]

    def result(self, grouping: str, layer: str) -> LayerClustering:
        """One layer's clustering for one grouping."""
        m = self._check(grouping, layer)
        a = {k: self.arrays[f"{grouping}.{layer}.{k}"] for k in ("distances", "linkage", "order", "clusters")}
        return LayerClustering(
            grouping,
            layer,
            list(m["names"]),
            a["distances"],
            a["linkage"],
            a["order"].astype(int),
            a["clusters"].astype(int),
            float("nan") if m["threshold"] is None else float(m["threshold"]),
            float(m["percentile"]),
            m["method"],
            m["metric"],
            dict(m["excluded"]),
            m["message"],
        )

    def scores(self, grouping: str | None = None) -> dict[str, Any]:
        """``{grouping: {layer: scores}}``, or one grouping's ``{layer: scores}``."""
        allg = {g: {lay: r["scores"] for lay, r in per.items()} for g, per in self.doc["results"].items()}
        return allg if grouping is None else allg[grouping]

    # -- judgements -----------------------------------------------------------------------
    @property
    def phoneme_grouping(self) -> str:
        return str(self.params.get("phoneme_grouping", "phoneme"))

    @property
    def alpha(self) -> float:
        return float(self.params.get("alpha", 0.05))

    def figure4_layers(self) -> list[str]:
        """The two hidden layers with the best phonetic-class agreement (paper Figure 4: 9 and 10)."""
        return figure4_layers(self.scores(), self.layers, self.phoneme) if self.phoneme else []

    def claims(self) -> list[Claim]:
        """The paper's claims, judged on the difference from the untrained network where there is one."""
        c = self.control
        return evaluate_claims(
            self.scores(),
            self.probes,
            self.layers,
            self.kinds,
            self.phoneme_grouping,
            self.alpha,
            float(self.params.get("emergence", 0.5)),
            c.scores() if c is not None else None,
            c.probes if c is not None else None,
        )

    def summary_text(self) -> Markdown:
        """One paragraph for the introduction, computed from this artifact: how many of the paper's
        claims hold, which do not, the best probe of each kind with its interval against the
        untrained network's, and which verdicts move with the paper's ambiguous choices."""
        claims = self.claims()
        verdicts = {
            v: [c for c in claims if c.verdict == v] for v in ("holds", "does not hold", "undetermined")
        }
        parts = [
            f"Of the paper's {len(claims)} claims tested here, {len(verdicts['holds'])} hold, "
            f"{len(verdicts['does not hold'])} do not and {len(verdicts['undetermined'])} cannot be decided"
        ]
        if verdicts["does not hold"]:
            parts[-1] += (
                " (not holding: " + "; ".join(c.claim.rstrip(".") for c in verdicts["does not hold"]) + ")"
            )
        parts[-1] += "."
        c = self.control
        for g in (self.phoneme, self.grapheme):
            per = self.probes.get(g or "", {})
            accs = {lay: _nan(r.get("accuracy")) for lay, r in per.items() if lay in self.network_layers}
            accs = {lay: a for lay, a in accs.items() if np.isfinite(a)}
            if not accs:
                continue
            best = max(accs, key=accs.__getitem__)
            r = per[best]
            text = f"A linear probe reads the {g} of a frame best from {best}: {accs[best]:.3f}"
            if np.isfinite(_nan(r.get("ci_low"))):
                text += f" (95 % interval over speakers {_nan(r['ci_low']):.3f}–{_nan(r['ci_high']):.3f})"
            base = (c.probes.get(g or "", {}).get(best) if c is not None else None) or {}
            if np.isfinite(_nan(base.get("accuracy"))):
                text += f", against {_nan(base['accuracy']):.3f} for the untrained network"
            parts.append(text + f", chance {_nan(r.get('chance')):.3f}.")
        moved = self.readings.get("moved")
        if moved is not None:
            readings = ", ".join(self.readings.get("readings", {}))
            if moved:
                parts.append(
                    f"Verdicts that change with the paper's ambiguous choices ({readings}): "
                    + ", ".join(f"`{k}`" for k in moved)
                    + "; the others stand under every reading (chapter 6)."
                )
            else:
                parts.append(
                    f"No verdict changes with the paper's ambiguous choices ({readings}; chapter 6)."
                )
        return Markdown(" ".join(parts))

    def claims_text(self) -> Markdown:
        """The claims with verdicts and numbers, as Markdown for the chapter."""
        return Markdown(claims_markdown(self.claims()))

    # -- tables and figures ---------------------------------------------------------------
    def figure(
        self,
        layers: Sequence[str],
        groupings: Sequence[str] | None = None,
        scale: Literal["figure", "row", "panel"] = "figure",
    ) -> Figure:
        """Paper-style panels: one row per layer, one column per grouping (default: grapheme, phoneme)."""
        groupings = list(groupings or self.default_groupings())
        return plot_grid([[self.result(g, lay) for g in groupings] for lay in layers], scale=scale)

    @property
    def grapheme(self) -> str | None:
        """The grapheme grouping the claims and figures use."""
        return pick_grouping(self.kinds, "grapheme", "grapheme")

    @property
    def phoneme(self) -> str | None:
        """The phoneme grouping the claims and figures use (``phoneme_grouping``, else the first)."""
        return pick_grouping(self.kinds, "phoneme", self.phoneme_grouping)

    def default_groupings(self) -> list[str]:
        """The grapheme grouping and the phoneme grouping the claims use, as in the paper."""
        return [g for g in (self.grapheme, self.phoneme) if g]

    def score_figure(self) -> Figure:
        """Probe accuracy and class agreement across layers, graphemes and phonemes side by side."""
        c = self.control
        return plot_scores(
            self.scores(),
            self.probes,
            self.layers,
            self.kinds,
            self.alpha,
            highlight=self.figure4_layers(),
            control_scores=c.scores() if c is not None else None,
            control_probes=c.probes if c is not None else None,
        )

    def score_table(self, grouping: str) -> Table:
        """Per layer: clusters, class agreement (AUC with its speaker-fold interval, p, ARI), vowel
        separation and probe accuracy;
        with the untrained-network control, its class (or vowel) AUC and probe accuracy beside them,
        and its input-window row."""
        c = self.control
        c_scores = c.scores().get(grouping, {}) if c is not None else {}
        c_probes = c.probes.get(grouping, {}) if c is not None else {}
        layers = list(self.layers)
        if c is not None and INPUT in c.layers and INPUT not in layers:
            layers = [INPUT, *layers]
        rows = []
        for lay in layers:
            s = self.scores(grouping).get(lay) or c_scores.get(lay, {})
            pr = self.probes.get(grouping, {}).get(lay) or c_probes.get(lay, {})
            cls, vow = s.get("classes", {}), s.get("vowels", {})
            row = [
                lay,
                s.get("separation", {}).get("n_clusters", 0),
                cls.get("auc", float("nan")),
                _interval(cls, "auc"),
                cls.get("p"),
                cls.get("ari", float("nan")),
                vow.get("auc", float("nan")),
                vow.get("p"),
                pr.get("accuracy", float("nan")),
                pr.get("chance", float("nan")),
            ]
            if c is not None:
                cs = c_scores.get(lay, {})
                which = "classes" if "classes" in cs else "vowels"
                row += [_nan((cs.get(which) or {}).get("auc")), _nan(c_probes.get(lay, {}).get("accuracy"))]
            rows.append(row)
        headers = [
            "layer",
            "clusters",
            "class AUC",
            "95 % interval",
            "p",
            "class ARI",
            "vowel AUC",
            "p",
            "probe acc.",
            "chance",
        ]
        if c is not None:
            kind = "class" if self.kinds.get(grouping) == "phoneme" else "vowel"
            headers += [f"untrained {kind} AUC", "untrained probe acc."]
        return table(rows, headers, title=f"{grouping}: scores per layer")

    def probe_table(self) -> Table:
        """Per layer and probed grouping: accuracy, balanced accuracy, chance, train/test frames,
        and why a probe has no accuracy."""
        rows = []
        for g, per in self.probes.items():
            for lay in self.layers:
                r = per.get(lay)
                if r:
                    rows.append(
                        [
                            g,
                            lay,
                            r.get("accuracy"),
                            r.get("balanced_accuracy"),
                            r.get("chance"),
                            r.get("n_classes"),
                            r.get("n_train"),
                            r.get("n_test"),
                            "yes" if r.get("converged") else "no",
                            r.get("message") or "",
                        ]
                    )
        headers = [
            "grouping",
            "layer",
            "accuracy",
            "balanced acc.",
            "chance",
            "classes",
            "train frames",
            "test frames",
            "converged",
            "no accuracy because",
        ]
        return table(rows, headers, title="linear probes (held-out utterances)")

    def interval_table(self) -> Table:
        """Per probed grouping and layer: the probe's accuracy with its 95 % interval, and the class
        probe against its control task (selectivity, also over chance), each with its interval."""

        def ci(r: dict[str, Any], value: str, prefix: str = "") -> str:
            """``value`` of record ``r`` with the interval ``<prefix>ci_low`` … ``<prefix>ci_high``."""
            v, a, b = (_nan(r.get(k)) for k in (value, f"{prefix}ci_low", f"{prefix}ci_high"))
            if np.isnan(v):
                return "n/a" if r else "—"
            return f"{v:.3f}" if np.isnan(a) else f"{v:.3f} [{a:.3f}, {b:.3f}]"

        rows = []
        for g, per in self.probes.items():
            for lay in (lay for lay in self.layers if per.get(lay)):
                r = per[lay]
                cp = r.get("class_probe") or {}
                rows.append(
                    [
                        g,
                        lay,
                        ci(r, "accuracy"),
                        ci(cp, "accuracy"),
                        ci(cp, "control", "control_"),
                        ci(cp, "selectivity", "selectivity_"),
                        ci(cp, "selectivity_over_chance", "selectivity_over_chance_"),
                        f"{r['n_units']} {r['units']}s" if r.get("units") else "",
                    ]
                )
        headers = [
            "grouping",
            "layer",
            "probe accuracy [95 %]",
            "class probe",
            "control task",
            "selectivity",
            "selectivity over chance",
            "resampled",
        ]
        return table(rows, headers, title="probes with 95 % intervals (bootstrap over held-out speakers)")

    @property
    def controls(self) -> dict[str, Any]:
        """Per grouping with classes: ``{classes: {type: class}, control: {type: control class}}``."""
        return self._optional("controls.json") or {}

    def control_table(self) -> Table:
        """Each grouping's types with their class and their class in the control task."""
        rows = []
        for g, maps in self.controls.items():
            for kind in sorted({c for c in maps["classes"].values() if c}):
                real = [t for t, c in maps["classes"].items() if c == kind]
                ctl = [t for t, c in maps["control"].items() if c == kind]
                rows.append([g, kind, " ".join(real), " ".join(ctl)])
        return table(rows, ["grouping", "class", "its types", "its types in the control task"],
                     title="control tasks: the same class sizes, random types")  # fmt: skip

    @property
    def readings(self) -> dict[str, Any]:
        """``readings.json``: clusters, scores and claims under each reading of the normalization."""
        return self._optional("readings.json") or {}

    def readings_table(self) -> Table:
        """Each claim's verdict under each reading of Figure 1D's normalization (the study's own
        marked), and whether it moves."""
        doc = self.readings
        names = list(doc.get("readings", {}))
        verdict = {True: "holds", False: "does not hold", None: "undetermined"}
        keys = list(next(iter(doc["readings"].values()))["claims"]) if names else []
        rows = [
            [key, *(verdict[doc["readings"][r]["claims"][key]["holds"]] for r in names),
             "moves" if key in doc.get("moved", []) else ""]
            for key in keys
        ]  # fmt: skip
        heads = [f"{r} (this study)" if r == doc.get("own") else r for r in names]
        return table(rows, ["claim", *heads, ""], title="the claims under each reading of the normalization")

    def readings_layer_table(self, grouping: str | None = None) -> Table:
        """Per layer of ``grouping`` (default: the phoneme grouping): the class agreement (pair
        AUC) under each reading, and the adjusted Rand index of each reading's clusters to the
        study's own."""
        doc = self.readings
        g = grouping or self.phoneme
        names = list(doc.get("readings", {}))
        rows = []
        for lay in self.layers:
            recs = [doc["readings"][r] for r in names]
            aucs = [rec["class_auc"].get(g, {}).get(lay) for rec in recs]
            aris = [rec["ari_to_own"].get(g, {}).get(lay) for r, rec in zip(names, recs, strict=True)
                    if r != doc.get("own")]  # fmt: skip
            rows.append([lay, *aucs, *aris])
        others = [r for r in names if r != doc.get("own")]
        heads = ["layer", *(f"AUC {r}" for r in names), *(f"ARI {r} vs {doc.get('own')}" for r in others)]
        return table(rows, heads, title=f"{g}: class agreement and cluster changes under each reading")

    def similarity(self) -> tuple[list[str], np.ndarray]:
        """The layers and their (L, L) linear CKA matrix (empty without ``similarity.json``)."""
        doc = self._optional("similarity.json") or {}
        return list(doc.get("layers", [])), np.asarray(doc.get("cka") or np.zeros((0, 0)), dtype=float)

    def similarity_figure(self) -> Figure:
        """The layers' linear CKA matrix (unbiased HSIC) on the probe sample, with the input window."""
        doc = self._optional("similarity.json")
        if doc is None:
            return plot_similarity(np.zeros((0, 0)), [], message="no layer similarity in this artifact")
        layers, matrix = self.similarity()
        network = "untrained network: " if self.path.name == CONTROL else ""
        return plot_similarity(matrix, layers, int(doc.get("n_frames", 0)), doc.get("message"), network)

    def messages(self) -> list[str]:
        """Every clustering that could not be made, with its reason."""
        return [r["message"] for per in self.doc["results"].values() for r in per.values() if r["message"]]
