"""Several recognizers: how far the layer findings depend on the recognizer's seed.

The intervals of chapter 6 resample speakers for one trained network; a second network,
trained from another seed on the same data, can learn other features. ``nap seeds 0 1 2``
trains and profiles one recognizer per ``asr.seed`` (everything the recognizer reads is
shared: corpus, features, G2P; everything after it is its own: alignment, NAPs,
clusterings) and writes the spread across them: per grouping and layer the class AUC and
the probe accuracy of every seed with their mean, standard deviation and range, and per
claim how many recognizers it holds for. Chapter 6 shows it when it exists.

Off by default: each recognizer is a whole training run (~50 min on 2 AVX2 cores at the
default scale). On GPUs, with the paper profile: ``nap seeds 0 1 2 --profile paper``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from nap.params import ParamError
from nap.store import read_json, stable_hash, write_json

FOLDER = "seeds"
#: the chapter that shows the spread (its stamp reads the spread's file: :func:`nap.runner.shown_files`)
CHAPTER = "06"


def seed_study(study: Any, seed: int) -> Any:
    """``study`` with the recognizer trained from ``seed`` (the same profile, changes and store)."""
    from nap.study import Study

    return Study(study.profile_ref, {**study.changes, "asr.seed": seed}, study.store.root)


def spread_path(study: Any) -> Path:
    """Where ``study``'s spread is written: per profile and parameters, whatever ``asr.seed`` is."""
    base = seed_study(study, 0)
    return Path(study.store.root) / FOLDER / f"{stable_hash(base.key('cluster'))}.json"


def _stats(values: dict[int, float | None]) -> dict[str, Any]:
    v = np.array([np.nan if x is None else float(x) for x in values.values()])
    finite = v[np.isfinite(v)]
    nan = float("nan")
    return {
        "seeds": {str(s): x for s, x in values.items()},
        "mean": float(finite.mean()) if finite.size else nan,
        "sd": float(finite.std(ddof=1)) if finite.size > 1 else nan,
        "min": float(finite.min()) if finite.size else nan,
        "max": float(finite.max()) if finite.size else nan,
    }


def spread(summaries: dict[int, dict[str, Any]], claims: dict[int, dict[str, bool | None]]) -> dict[str, Any]:
    """The spread across seeds of the cluster stage's per-layer numbers (``probes_<grouping>`` of
    each seed's summary: ``accuracy``, ``class_auc``) and of the claims' verdicts."""
    seeds = sorted(summaries)
    out: dict[str, Any] = {"seeds": seeds, "layers": {}, "claims": {}}
    groupings = sorted(
        {k[len("probes_") :] for s in summaries.values() for k in s if k.startswith("probes_")}
    )
    for g in groupings:
        per_seed = {s: summaries[s].get(f"probes_{g}", {}) for s in seeds}
        layers = list(dict.fromkeys(lay for s in seeds for lay in per_seed[s]))
        out["layers"][g] = {
            lay: {
                name: _stats({s: (per_seed[s].get(lay) or {}).get(name) for s in seeds})
                for name in ("accuracy", "class_auc")
            }
            for lay in layers
        }
    for key in dict.fromkeys(k for s in seeds for k in claims.get(s, {})):
        verdicts = {str(s): claims.get(s, {}).get(key) for s in seeds}
        out["claims"][key] = {
            "verdicts": verdicts,
            "holds": sum(v is True for v in verdicts.values()),
            "judged": sum(v is not None for v in verdicts.values()),
        }
    return out


def run_seeds(study: Any, seeds: Sequence[int]) -> Path:
    """Build the cluster stage (and what it reads) for each seed; write and return the spread's file."""
    from nap.schedule import build_stages

    if len(set(seeds)) < 2:
        raise ParamError(f"nap seeds needs at least 2 different seeds, got {list(seeds)}")
    summaries, claims = {}, {}
    for seed in seeds:
        print(f"[nap] seeds: recognizer seed {seed}")
        s = seed_study(study, seed)
        build_stages(s, ["cluster"])
        summaries[seed] = s.summary("cluster") or {}
        claims[seed] = summaries[seed].get("claims", {})
    path = spread_path(study)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_json(path, spread(summaries, claims))
    return path


def read_spread(study: Any) -> dict[str, Any] | None:
    """The spread written by :func:`run_seeds` for ``study``'s parameters; None when not run."""
    path = spread_path(study)
    return read_json(path) if path.is_file() else None


def spread_table(doc: dict[str, Any], grouping: str) -> Any:
    """Per layer: the class AUC and probe accuracy across seeds (mean ± sd, range)."""
    from nap.display import table

    def cell(st: dict[str, Any]) -> str:
        if not np.isfinite(st.get("mean", np.nan)):
            return "n/a"
        sd = st.get("sd", np.nan)
        spread_ = f" ± {sd:.3f}" if np.isfinite(sd) else ""
        return f"{st['mean']:.3f}{spread_} [{st['min']:.3f}, {st['max']:.3f}]"

    rows = [
        [lay, cell(rec["class_auc"]), cell(rec["accuracy"])]
        for lay, rec in doc.get("layers", {}).get(grouping, {}).items()
    ]
    seeds = ", ".join(map(str, doc.get("seeds", [])))
    headers = ["layer", "class AUC: mean ± sd [range]", "probe accuracy: mean ± sd [range]"]
    return table(rows, headers, title=f"{grouping}: across recognizer seeds {seeds}")


def claims_table(doc: dict[str, Any]) -> Any:
    """Per claim: for how many of the seeds' recognizers it holds."""
    from nap.display import table

    rows = [
        [
            key,
            f"{rec['holds']} of {rec['judged']}",
            ", ".join(f"{s}: {v}" for s, v in rec["verdicts"].items()),
        ]
        for key, rec in doc.get("claims", {}).items()
    ]
    return table(rows, ["claim", "holds for", "verdict per seed"], title="claims across recognizer seeds")


def report(study: Any) -> list[Any]:
    """What chapter 6 shows: the spread tables when ``nap seeds`` was run for ``study``'s
    parameters, else a note saying how to run it."""
    from nap.display import Markdown

    doc = read_spread(study)
    if doc is None:
        name = spread_path(study).name
        return [Markdown(f"*Not run for these parameters (`seeds/{name}`): one recognizer only.*")]
    return [*(spread_table(doc, g) for g in doc.get("layers", {})), claims_table(doc)]
