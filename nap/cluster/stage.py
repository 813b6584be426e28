"""The cluster stage: every layer's NAPs clustered and scored, linear probes per layer.

``build_clusters(work, p, napset)`` writes into ``work`` (the format, readable without
``nap``):

``clusters.npz``
    for grouping ``g`` and layer ``l``: ``g.l.distances`` (G, G) pairwise NAP distances,
    ``g.l.linkage`` scipy's (G-1, 4) linkage matrix, ``g.l.order`` the dendrogram's leaf
    order, ``g.l.clusters`` a flat cluster id per group (1.. in dendrogram order). Rows
    follow ``clusters.json``'s ``names``; a layer without a clustering has empty arrays.
``clusters.json``
    ``{"groupings", "layers", "kinds": {g: "phoneme" | "grapheme"}, "classes": {g: {name:
    class or null}}, "partners": {g: {phoneme: its most frequent grapheme}}, "results": {g:
    {l: {names, threshold, percentile, method, metric, n_clusters, excluded: {name: why},
    message, scores}}}}``; ``scores`` holds ``classes`` and ``vowels`` (each ``{n,
    n_classes, ari, ari_k, auc, p, silhouette}``, see :mod:`nap.cluster.scores`),
    ``vowel_purity``, ``separation`` and, for phoneme groupings, ``shared_grapheme``.
    Undefined numbers are ``null``.
``probes.json``
    ``{g: {l: {accuracy, balanced_accuracy, chance, n_train, n_test, n_classes,
    converged, message, ci_low, ci_high, units, n_units, class_probe}}}`` (see
    :mod:`nap.cluster.probes`); ``ci_low``, ``ci_high``: the accuracy's 95 % interval from
    ``bootstrap`` resamples of the held-out frames' ``units`` (``speaker``, or ``utterance``
    where the ids name no speaker; :mod:`nap.cluster.bootstrap`). ``class_probe`` (groupings
    with classes, ``control_tasks``): ``{accuracy, chance, n_classes, n_train, n_test,
    converged, message, ci_low, ci_high, control, control_chance, control_converged,
    control_message, control_ci_low, control_ci_high, selectivity, selectivity_ci_low,
    selectivity_ci_high, selectivity_over_chance, …_ci_low, …_ci_high}``: a probe of the
    frames' classes, one of the control task, their difference (selectivity), and the
    difference of their gains over chance (the control's classes hold as many types as the
    real ones, not as many frames, so their chance differs) (:mod:`nap.cluster.control`).
    ``probes/<layer>.json`` keep finished layers so an interrupted stage resumes.
``controls.json``
    ``{g: {classes: {type: class or null}, control: {type: control class or null}}}``: the
    control tasks' seeded maps.
``similarity.json``
    ``{layers, n_frames, cka, message}``: ``cka`` the (L, L) linear CKA (unbiased HSIC)
    between the layers' probe features, rows and columns in ``layers`` order
    (:mod:`nap.cluster.cka`); empty, with ``message``, without probe features.
``control/``
    with the untrained-network control (``naps.control``): ``clusters.json``,
    ``clusters.npz``, ``probes.json`` and ``similarity.json`` as above for the untrained
    network's NAP set (its layers and the input window), with the same parameters and seeds;
    its probes have no ``class_probe`` (selectivity is the trained network's).
``claims.json``
    the paper's claims judged on these numbers (:mod:`nap.cluster.claims`), on the
    difference from the control where there is one.
``readings.json``
    with ``readings`` on: ``{own, readings: {r: {claims: {key: {holds, evidence}}, class_auc:
    {g: {l: pair AUC}}, ari_to_own: {g: {l: adjusted Rand index to the own reading's
    clusters}}}}, moved: [claims whose verdict differs between readings]}`` for each reading
    ``r`` of ``naps.normalization`` the NAP set allows (:mod:`nap.cluster.readings`).
``FORMAT.md``
    this description.
"""

from __future__ import annotations

import time
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from nap.cluster.agreement import agreement_intervals
from nap.cluster.bootstrap import mean_intervals, resampling_units, rng_for
from nap.cluster.cka import cka_matrix
from nap.cluster.claims import CONTROL, INPUT, evaluate_claims, figure4_layers, pick_grouping
from nap.cluster.control import class_labels, control_mapping
from nap.cluster.hierarchy import LayerClustering, cluster_naps
from nap.cluster.params import ClusterParams
from nap.cluster.probes import fit_probe, no_probe, split_utterances, too_few_utterances
from nap.cluster.readings import UNPADDED_READING, Reread, moved_claims, reading_record, readings_of
from nap.cluster.scores import class_purity, class_scores, dominant_partner, grapheme_classes, separation
from nap.params import ParamError
from nap.phonetics import PHONE_CLASS
from nap.store import atomic_path, read_json, write_json

ARRAYS = ("distances", "linkage", "order", "clusters")


def phone_classes(names: list[str]) -> dict[str, str | None]:
    """The phonetic class of each ARPAbet name (table in :mod:`nap.phonetics`); None for others (``sil``)."""
    return {n: PHONE_CLASS.get(n.upper().rstrip("012")) for n in names}


def group_classes(grouping: str, names: list[str]) -> tuple[str, dict[str, str | None]]:
    """("phoneme", phonetic classes) or ("grapheme", vowel/consonant letters) for a grouping.

    A grouping named ``phoneme…`` or ``grapheme…`` is what its name says; any other is a
    phoneme grouping when at least five of its names are two-letter ARPAbet phones (every
    vowel is), since single letters such as ``d`` or ``s`` are phones too.
    """
    if grouping.startswith("phoneme"):
        return "phoneme", phone_classes(names)
    if grouping.startswith("grapheme"):
        return "grapheme", grapheme_classes(names)
    two_letter = sum(len(n.rstrip("012")) == 2 and n.upper().rstrip("012") in PHONE_CLASS for n in names)
    return ("phoneme", phone_classes(names)) if two_letter >= 5 else ("grapheme", grapheme_classes(names))


def vowel_labels(classes: dict[str, str | None]) -> dict[str, str | None]:
    """vowel / consonant from a class table (None stays None)."""
    return {k: None if c is None else ("vowel" if c == "vowel" else "consonant") for k, c in classes.items()}


def _selected(wanted: list[str] | None, available: list[str], what: str) -> list[str]:
    if wanted is None:
        return list(available)
    missing = [w for w in wanted if w not in available]
    if missing:
        raise ParamError(f"parameter 'cluster.{what}': {missing} not in the NAP set (it has {available})")
    return list(wanted)


def score_layer(
    result: LayerClustering,
    classes: dict[str, str | None],
    partner: dict[str, str | None] | None,
    permutations: int,
    rng: np.random.Generator,
) -> dict[str, Any]:
    """Every score of one clustering (see :mod:`nap.cluster.scores`)."""
    vowels = vowel_labels(classes)
    scores: dict[str, Any] = {
        "classes": class_scores(result, classes, permutations, rng),
        "vowels": class_scores(result, vowels, permutations, rng),
        "vowel_purity": class_purity(result, vowels, "vowel"),
        "separation": separation(result),
    }
    if partner is not None:
        scores["shared_grapheme"] = class_scores(result, partner, permutations, rng)
    return scores


def _partners(napset: Any, groupings: list[str], kinds: dict[str, str], layers: list[str]) -> dict[str, Any]:
    """For each phoneme grouping, its groups' most frequent grapheme (from the probe sample)."""
    if "grapheme" not in napset.groupings or not layers:
        return {}
    try:
        _, labels, _, _ = napset.probe_features(layers[0])
    except (KeyError, FileNotFoundError, AttributeError):
        return {}
    out = {}
    for g in groupings:
        if kinds[g] == "phoneme" and g in labels and "grapheme" in labels:
            out[g] = dominant_partner(
                np.asarray(labels[g]),
                np.asarray(labels["grapheme"]),
                napset.groups(g),
                napset.groups("grapheme"),
            )
    return out


def run_clustering(napset: Any, p: ClusterParams) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """Cluster and score every selected grouping and layer: (JSON document, npz arrays)."""
    groupings = _selected(p.groupings, list(napset.groupings), "groupings")
    layers = _selected(p.layers, list(napset.layers), "layers")
    kinds, classes = {}, {}
    for g in groupings:
        kinds[g], classes[g] = group_classes(g, napset.groups(g))
    partners = _partners(napset, groupings, kinds, layers)
    doc: dict[str, Any] = {
        "groupings": groupings,
        "layers": layers,
        "kinds": kinds,
        "classes": classes,
        "partners": partners,
        "results": {},
    }
    arrays: dict[str, np.ndarray] = {}
    for g in groupings:
        names, counts = napset.groups(g), napset.counts(g)
        doc["results"][g] = {}
        for layer in layers:
            res = cluster_naps(
                napset.nap(g, layer),
                names,
                grouping=g,
                layer=layer,
                counts=counts,
                percentile=p.percentile,
                method=p.linkage,
                metric=p.metric,
            )
            meta = res.meta()
            rng = np.random.default_rng([p.seed, zlib.crc32(f"{g}/{layer}".encode())])  # per clustering
            meta["scores"] = score_layer(res, classes[g], partners.get(g), p.permutations, rng)
            doc["results"][g][layer] = meta
            for a in ARRAYS:
                arrays[f"{g}.{layer}.{a}"] = np.asarray(getattr(res, a))
    return doc, arrays


def probe_units(napset: Any, utt: np.ndarray) -> tuple[np.ndarray, str]:
    """The probe frames' units of resampling: speakers from the utterance ids, else utterances."""
    try:
        ids = napset.probe_utterances
    except (AttributeError, FileNotFoundError, KeyError):
        ids = None
    return resampling_units(utt, ids)


def with_interval(
    record: dict[str, Any], correct: np.ndarray, units: np.ndarray, kind: str, p: ClusterParams, tag: str
) -> dict[str, Any]:
    """``record`` with its accuracy's interval (``ci_low``, ``ci_high``), ``units`` and ``n_units``."""
    ((lo, hi),) = mean_intervals(correct[None, :], units, p.bootstrap, rng_for(p.seed, tag))
    return {**record, "ci_low": lo, "ci_high": hi, "units": kind, "n_units": int(len(np.unique(units)))}


def class_probe(
    x: np.ndarray,
    task: np.ndarray,
    control: np.ndarray,
    test: np.ndarray,
    units: np.ndarray,
    p: ClusterParams,
    tag: str,
) -> dict[str, Any]:
    """The class probe, its control probe and the selectivity, each with its speaker-bootstrap interval.

    Both probes answer for the same test frames (a type has a control class exactly when it has
    a class), so the selectivity's interval resamples the pairs.
    """
    kw: dict[str, Any] = {"c": p.probe_C, "max_iter": p.probe_max_iter, "max_train": p.probe_max_train}
    real, idx, pred, majority = fit_probe(x, task, test, seed=p.seed, **kw)
    ctl, idx_c, pred_c, majority_c = fit_probe(x, control, test, seed=p.seed, **kw)
    out = {
        **{k: real[k] for k in ("accuracy", "chance", "n_classes", "n_train", "n_test", "converged")},
        "message": real["message"],
        "control": ctl["accuracy"],
        "control_chance": ctl["chance"],
        "control_converged": ctl["converged"],
        "control_message": ctl["message"],
        "selectivity": real["accuracy"] - ctl["accuracy"],
        "selectivity_over_chance": (real["accuracy"] - real["chance"]) - (ctl["accuracy"] - ctl["chance"]),
    }
    names = ("", "control_", "selectivity_", "selectivity_over_chance_")
    if len(idx) and len(idx_c) and np.array_equal(idx, idx_c):
        hit, hit_c = (pred == task[idx]).astype(float), (pred_c == control[idx]).astype(float)
        gain = hit - (task[idx] == majority)
        gain_c = hit_c - (control[idx] == majority_c)
        values = np.stack([hit, hit_c, hit - hit_c, gain - gain_c])
        ci = mean_intervals(values, units[idx], p.bootstrap, rng_for(p.seed, tag))
    else:
        ci = [(float("nan"), float("nan"))] * len(names)
    for name, (lo, hi) in zip(names, ci, strict=True):
        out[f"{name}ci_low"], out[f"{name}ci_high"] = lo, hi
    return out


def control_tasks(
    napset: Any, groupings: list[str], classes: dict[str, dict[str, str | None]], seed: int
) -> dict[str, dict[str, Any]]:
    """Per grouping with ≥ 2 classes: its types' classes and their control classes (:mod:`control`)."""
    out = {}
    for g in groupings:
        table = {n: classes.get(g, {}).get(n) for n in napset.groups(g)}
        if len({c for c in table.values() if c is not None}) >= 2:
            out[g] = {"classes": table, "control": control_mapping(table, rng_for(seed, f"control/{g}"))}
    return out


def probe_layer(
    x: np.ndarray,
    labels: dict[str, np.ndarray],
    utt: np.ndarray,
    units: tuple[np.ndarray, str],
    tasks: dict[str, tuple[np.ndarray, np.ndarray] | None],
    p: ClusterParams,
    layer: str,
) -> dict[str, Any]:
    """One layer's probes: per grouping in ``tasks``, its probe with interval and, where ``tasks``
    gives a (class, control) labelling of the frames, its ``class_probe``.

    A module-level function of arrays, so worker processes can run layers side by side.
    """
    why = too_few_utterances(utt)
    if why:  # e.g. no frame labelled: a message in place of every probe of the layer
        return {g: no_probe(why) for g in tasks}
    test = split_utterances(utt, p.probe_test_fraction, p.seed)
    unit, kind = units
    per: dict[str, Any] = {}
    for g, class_task in tasks.items():
        y = np.asarray(labels[g])
        record, idx, pred, _ = fit_probe(
            x, y, test, c=p.probe_C, max_iter=p.probe_max_iter, max_train=p.probe_max_train, seed=p.seed
        )
        per[g] = with_interval(record, pred == y[idx], unit[idx], kind, p, f"probe/{g}/{layer}")
        if class_task is not None:
            task, control = class_task
            per[g]["class_probe"] = class_probe(x, task, control, test, unit, p, f"class/{g}/{layer}")
    return per


def _call(job: tuple[str, Any, tuple[Any, ...]]) -> tuple[str, Any]:
    layer, fn, args = job
    return layer, json_safe(fn(*args))


def layer_map(jobs: list[tuple[str, Any, tuple[Any, ...]]], processes: int) -> Iterator[tuple[str, Any]]:
    """(layer, ``fn(*args)``) for each job ``(layer, fn, args)`` (``fn`` a module-level function),
    in up to ``processes`` spawned processes, as they end."""
    processes = min(processes, len(jobs))
    if processes <= 1:
        yield from map(_call, jobs)
        return
    from nap.procs import pool

    with pool(processes) as workers:
        yield from workers.imap_unordered(_call, jobs)


def layer_agreement(per_grouping: dict[str, tuple[Any, ...]]) -> dict[str, Any]:
    """One layer's clustering-score intervals per grouping (:func:`agreement_intervals`' arguments)."""
    return {g: agreement_intervals(*args) for g, args in per_grouping.items()}


def run_agreement(napset: Any, doc: dict[str, Any], p: ClusterParams) -> int:
    """Add speaker-fold intervals to every clustering's class and vowel scores in ``doc``
    (:mod:`nap.cluster.agreement`); returns how many clusterings got them (0 without folds)."""
    if p.agreement_resamples <= 0 or not hasattr(napset, "folds"):
        return 0
    cut = {"percentile": p.percentile, "method": p.linkage, "metric": p.metric}
    jobs = []
    for layer in doc["layers"]:
        per: dict[str, tuple[Any, ...]] = {}
        for g in doc["groupings"]:
            folds = napset.folds(g, layer)
            if folds is not None:
                tables = {"classes": doc["classes"][g], "vowels": vowel_labels(doc["classes"][g])}
                args = (napset.groups(g), napset.normalization, tables, cut, p.agreement_resamples)
                per[g] = (folds, *args, p.seed, f"agreement/{g}/{layer}")
        if per:
            jobs.append((layer, layer_agreement, (per,)))
    done = 0
    for layer, per in layer_map(jobs, p.processes):
        for g, tables in per.items():
            for t, rec in tables.items():
                doc["results"][g][layer]["scores"][t].update(rec)
                done += 1
    return done


def run_probes(
    napset: Any,
    p: ClusterParams,
    layers: list[str],
    work: Path,
    controls: dict[str, dict[str, Any]] | None = None,
) -> dict[str, dict[str, Any]]:
    """Probe every layer for every selected grouping; finished layers are kept in ``work/probes``.

    A NAP set without probe features (``naps.probe_frames`` = 0) gives no probes, not an error;
    probe features of fewer than two utterances (no frame labelled) give probes whose
    ``message`` says why they have no accuracy. Each probe gets its speaker-bootstrap interval;
    a grouping in ``controls`` (:func:`control_tasks`) also gets a ``class_probe``. Layers are
    probed side by side in ``cluster.workers`` processes, each fit on one BLAS thread
    (:func:`nap.cluster.probes.fit_probe`), so the result does not depend on the workers.
    """
    groupings = _selected(p.probe_groupings, list(napset.groupings), "probe_groupings")
    controls = controls or {}
    out: dict[str, dict[str, Any]] = {g: {} for g in groupings}
    done: dict[str, dict[str, Any]] = {}
    folder = work / "probes"

    def job(layer: str) -> tuple[str, Any, tuple[Any, ...]]:
        x, labels, utt, _ = napset.probe_features(layer)
        utt = np.asarray(utt)
        tasks: dict[str, tuple[np.ndarray, np.ndarray] | None] = {}
        for g in (g for g in groupings if g in labels):
            y, names = np.asarray(labels[g]), napset.groups(g)
            tasks[g] = None
            if g in controls:
                task, control = (class_labels(y, names, controls[g][k])[0] for k in ("classes", "control"))
                tasks[g] = (task, control)
        return layer, probe_layer, (x, labels, utt, probe_units(napset, utt), tasks, p, layer)

    for layer in layers:
        if (folder / f"{layer}.json").is_file():
            done[layer] = read_json(folder / f"{layer}.json")
    try:
        jobs = [job(layer) for layer in layers if layer not in done]
    except FileNotFoundError as exc:
        print(f"[nap] cluster: no linear probes: {exc}")
        return {}
    for layer, per in layer_map(jobs, p.processes):
        write_json(folder / f"{layer}.json", per)
        done[layer] = per
    for layer in layers:
        for g, r in done[layer].items():
            out[g][layer] = r
    return out


def run_similarity(napset: Any, layers: list[str]) -> dict[str, Any]:
    """Linear CKA between every pair of ``layers`` on the probe sample's frames (:mod:`nap.cluster.cka`).

    Without probe features, or with fewer than 4 frames, ``cka`` is empty and ``message`` says why.
    """
    out: dict[str, Any] = {"layers": list(layers), "n_frames": 0, "cka": [], "message": None}
    try:
        features = {layer: napset.probe_features(layer)[0] for layer in layers}
    except (FileNotFoundError, KeyError) as exc:
        return {**out, "message": f"no probe features to compare layers: {exc}"}
    n = min((len(x) for x in features.values()), default=0)
    if n < 4:
        return {**out, "message": f"layer similarity needs at least 4 probe frames, got {n}"}
    return {**out, "n_frames": n, "cka": cka_matrix(features).tolist()}


def json_safe(obj: Any) -> Any:
    """NaN and infinities become null, so the JSON files are standard JSON."""
    if isinstance(obj, float):
        return obj if np.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [json_safe(v) for v in obj]
    return obj


def layer_scores(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """``{grouping: {layer: scores}}`` of a clustering document."""
    return {g: {lay: r["scores"] for lay, r in per.items()} for g, per in doc["results"].items()}


def judge_claims(
    doc: dict[str, Any],
    probes: dict[str, dict[str, Any]],
    p: ClusterParams,
    control_scores: dict[str, dict[str, Any]] | None,
    control_probes: dict[str, dict[str, Any]] | None,
) -> list[Any]:
    """The paper's claims on a clustering document's scores and the probes (:mod:`claims`)."""
    return evaluate_claims(
        layer_scores(doc),
        probes,
        doc["layers"],
        doc["kinds"],
        p.phoneme_grouping,
        p.alpha,
        p.emergence,
        control_scores,
        control_probes,
    )


def control_params(control: Any, p: ClusterParams) -> ClusterParams:
    """``p`` for the control's NAP set: its layers among ``cluster.layers``, and the input window."""
    wanted = None if p.layers is None else [lay for lay in control.layers if lay in p.layers or lay == INPUT]
    return p.replace(layers=wanted) if wanted != p.layers else p


def run_readings(
    napset: Any,
    p: ClusterParams,
    own: tuple[dict[str, Any], dict[str, np.ndarray], list[Any]],
    probes: dict[str, dict[str, Any]],
    control_probes: dict[str, dict[str, Any]] | None,
) -> dict[str, Any]:
    """``readings.json``: clusters, scores and claims under each reading of the normalization and
    on the windows without padding (:mod:`nap.cluster.readings`); ``own`` is the study's
    reading's (document, arrays, claims). The probes depend on neither and are the same for
    every reading. Empty for a NAP set that keeps no group means (e.g.
    :class:`~nap.cluster.arrays.ArrayNapSet`)."""
    own_doc, own_arrays, own_claims = own
    readings = readings_of(napset)
    if not readings:  # a NAP set of arrays only (no stored means): nothing to reread
        return {}
    control = getattr(napset, "control", None) if control_probes is not None else None
    c_readings = readings_of(control) if control is not None else []
    views: dict[str, tuple[Any, Any]] = {
        r: (Reread(napset, r), Reread(control, r) if r in c_readings else None) for r in readings
    }
    inner = getattr(napset, "unpadded", None)
    if inner is not None:  # windows without padding: the own normalization, the same probes
        c_inner = getattr(control, "unpadded", None) if control is not None else None
        c_view = Reread(c_inner, probes_from=control) if c_inner is not None else None
        views[UNPADDED_READING] = (Reread(inner, probes_from=napset), c_view)
    out: dict[str, Any] = {"own": napset.normalization, "readings": {}}
    for reading, (view, c_view) in views.items():
        if reading == napset.normalization:
            doc, arrays, claims = own_doc, own_arrays, own_claims
        else:
            doc, arrays = run_clustering(view, p)
            c_scores = None
            if c_view is not None:
                c_scores = layer_scores(run_clustering(c_view, control_params(control, p))[0])
            claims = judge_claims(doc, probes, p, c_scores, control_probes)
        out["readings"][reading] = reading_record(claims, (doc, arrays), (own_doc, own_arrays))
    out["moved"] = moved_claims(out["readings"])
    return out


def run_control(
    napset: Any, p: ClusterParams, work: Path
) -> tuple[dict[str, Any], dict[str, dict[str, Any]]] | None:
    """The untrained network's clusterings, scores and probes, written into ``work/control``
    (same parameters and seeds); None when the NAP set has no control (``naps.control`` off).

    Its probes get intervals but no class probes and control tasks: selectivity is asked of
    the trained network, and those two probes per layer and grouping took 2/3 of the
    untrained network's probing time (AVX2 EPYC, default scale: ~5 of 8 minutes; its
    probes mostly run to the iteration limit)."""
    control = getattr(napset, "control", None)
    if control is None:
        return None
    folder = Path(work) / CONTROL
    folder.mkdir(exist_ok=True)
    q = control_params(control, p)
    doc, arrays = run_clustering(control, q)
    with atomic_path(folder / "clusters.npz") as tmp:
        with open(tmp, "wb") as fh:
            np.savez_compressed(fh, **arrays)
    write_json(folder / "clusters.json", json_safe(doc))
    probes = run_probes(control, q, doc["layers"], folder) if p.probes else {}
    write_json(folder / "probes.json", json_safe(probes))
    if p.similarity:
        write_json(folder / "similarity.json", json_safe(run_similarity(control, doc["layers"])))
    return doc, probes


def build_clusters(work: Path, p: ClusterParams, napset: Any) -> dict[str, Any]:
    """Write clusters, scores, probes and claims for ``napset`` into ``work``; return headline numbers."""
    work = Path(work)
    start = time.time()
    doc, arrays = run_clustering(napset, p)
    t0 = time.time()
    agreement = run_agreement(napset, doc, p)
    t_agreement = time.time() - t0
    with atomic_path(work / "clusters.npz") as tmp:
        with open(tmp, "wb") as fh:
            np.savez_compressed(fh, **arrays)
    write_json(work / "clusters.json", json_safe(doc))
    with atomic_path(work / "FORMAT.md") as tmp:
        tmp.write_text("# The cluster stage's files\n\n" + (__doc__ or "").split("\n\n", 1)[1])
    t_cluster = time.time() - start - t_agreement
    probes: dict[str, dict[str, Any]] = {}
    controls = control_tasks(napset, doc["groupings"], doc["classes"], p.seed) if p.control_tasks else {}
    if p.probes:
        probes = run_probes(napset, p, doc["layers"], work, controls)
    write_json(work / "probes.json", json_safe(probes))
    write_json(work / "controls.json", controls)
    t_probes = time.time() - start - t_cluster - t_agreement
    if p.similarity:
        write_json(work / "similarity.json", json_safe(run_similarity(napset, doc["layers"])))
    t_similarity = time.time() - start - t_cluster - t_agreement - t_probes
    t0 = time.time()
    control = run_control(napset, p, work)
    t_control = time.time() - t0
    scores = layer_scores(doc)
    c_scores = layer_scores(control[0]) if control else None
    c_probes = control[1] if control else None
    claims = judge_claims(doc, probes, p, c_scores, c_probes)
    write_json(work / "claims.json", json_safe([c.to_dict() for c in claims]))
    t0 = time.time()
    readings: dict[str, Any] = {}
    if p.readings:
        readings = run_readings(napset, p, (doc, arrays, claims), probes, c_probes)
    if readings:
        write_json(work / "readings.json", json_safe(readings))
    t_readings = time.time() - t0
    ph = pick_grouping(doc["kinds"], "phoneme", p.phoneme_grouping)
    fig4 = figure4_layers(scores, doc["layers"], ph) if ph else []
    summary: dict[str, Any] = {
        "groupings": doc["groupings"],
        "layers": len(doc["layers"]),
        "figure4_layers": fig4,
        "cluster_seconds": round(t_cluster, 2),
        "agreement_seconds": round(t_agreement, 2),
        "agreement_intervals": agreement,
        "probe_seconds": round(t_probes, 2),
        "similarity_seconds": round(t_similarity, 2),
        "control_seconds": round(t_control, 2),
        "readings_seconds": round(t_readings, 2),
        "claims": {c.key: c.holds for c in claims},
        # each claim's verdict under each reading of the normalization, and those that move
        "claims_by_reading": {
            r: {k: c["holds"] for k, c in rec["claims"].items()}
            for r, rec in readings.get("readings", {}).items()
        },
        "claims_moved_by_reading": readings.get("moved", []),
        "messages": sum(r["message"] is not None for per in doc["results"].values() for r in per.values()),
        "probe_messages": sum(r.get("message") is not None for per in probes.values() for r in per.values()),
    }
    for g, per in probes.items():
        accs = {
            lay: float(r["accuracy"])
            for lay, r in per.items()
            if r.get("accuracy") is not None and np.isfinite(r["accuracy"])
        }
        if accs:
            best = max(accs, key=accs.__getitem__)
            summary[f"probe_best_{g}"] = {"layer": best, "accuracy": round(accs[best], 4)}
        c_per = (c_probes or {}).get(g, {})
        c_auc = (c_scores or {}).get(g, {})
        layers = {
            lay: per_layer_numbers(
                r, c_per.get(lay) if control else None, scores.get(g, {}).get(lay), c_auc.get(lay)
            )
            for lay, r in per.items()
            if r.get("accuracy") is not None
        }
        if layers:
            summary[f"probes_{g}"] = layers
    return summary


def per_layer_numbers(
    record: dict[str, Any],
    untrained: dict[str, Any] | None = None,
    scores: dict[str, Any] | None = None,
    untrained_scores: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A probe's numbers for ``nap results``: accuracy with its interval, then the class probe's
    accuracy, its control's and the selectivity, each with its interval (``<name>_ci_low``…).

    With the untrained-network control: its probe accuracy and interval (``untrained``,
    ``untrained_ci_low``, ``untrained_ci_high``), and the NAP clustering's class agreement
    (pair AUC, ``class_auc``, with its speaker-fold interval ``class_auc_ci_low``…) beside the
    control's (``untrained_class_auc``)."""
    out = {k: _round(record.get(k)) for k in ("accuracy", "ci_low", "ci_high")}
    if untrained is not None:
        out["untrained"] = _round(untrained.get("accuracy"))
        out["untrained_ci_low"] = _round(untrained.get("ci_low"))
        out["untrained_ci_high"] = _round(untrained.get("ci_high"))
        which = "classes" if "classes" in (scores or {}) else "vowels"
        auc = (scores or {}).get(which) or {}
        out["class_auc"] = _round(auc.get("auc"))
        out["class_auc_ci_low"], out["class_auc_ci_high"] = (
            _round(auc.get("auc_ci_low")),
            _round(auc.get("auc_ci_high")),
        )
        out["untrained_class_auc"] = _round(((untrained_scores or {}).get(which) or {}).get("auc"))
    cp = record.get("class_probe")
    if cp:
        for name, key in (("classes", ""), ("control", "control_"), ("selectivity", "selectivity_")):
            out[name] = _round(cp.get("accuracy" if name == "classes" else name))
            out[f"{name}_ci_low"] = _round(cp.get(f"{key}ci_low"))
            out[f"{name}_ci_high"] = _round(cp.get(f"{key}ci_high"))
    return out


def _round(x: Any) -> float | None:
    return None if x is None or not np.isfinite(x) else round(float(x), 4)
