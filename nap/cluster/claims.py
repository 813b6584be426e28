"""The paper's claims about its clusterings, judged on this study's numbers.

Each claim of paper §3.3 is turned into a test on the scores of :mod:`nap.cluster.scores`
and the probes of :mod:`nap.cluster.probes`; :func:`evaluate_claims` returns, per claim,
whether it holds here (None where the numbers needed are missing) and the evidence as a
sentence with the numbers, which the chapter prints. Nothing here is typed by hand: the
text changes with the corpus, the model and the parameters.

"Significant" means a permutation p-value below ``alpha``. The layers of the paper's
Figure 4 are chosen by :func:`figure4_layers`: the two hidden layers (neither the first
nor the output layer) whose phoneme NAPs agree best with the phonetic classes (pair AUC).
The input window (layer ``input`` of the NAP stage) is a baseline, never one of the
network's layers here.

With the untrained-network control (``naps.control``: the same architecture before
training), the claims about what the network *learned* are judged on the difference from
it: the emergence of phonemes and graphemes on the probe accuracy's gain over the
untrained network's at the same layer (not over chance), and the clustering claims
(phonetic classes, vowels, vowel letters, phonemes sharing a grapheme) need, besides
significance, a pair AUC above the untrained network's at the same layer (with the
speaker-fold interval of :mod:`nap.cluster.agreement`, the interval's lower end above it). Random
convolutions of a spectrogram already separate phones, so structure the untrained network
shows too is not evidence of learning. Two claims stay absolute, with the control's numbers
beside them: the first layer's lack of structure (a statement about the trained layer, which
the control cannot make true or false) and the output layer's grapheme probe (what the
network is trained to do). The choice of the Figure-4 layers stays the paper's (the trained
AUC).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

Scores = dict[str, dict[str, dict[str, Any]]]


@dataclass(frozen=True)
class Claim:
    """One claim of the paper: what it says, how it is tested, and the verdict here."""

    key: str
    claim: str
    test: str
    holds: bool | None
    evidence: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def verdict(self) -> str:
        return {True: "holds", False: "does not hold", None: "undetermined"}[self.holds]


def _num(x: Any) -> float:
    return float("nan") if x is None else float(x)


def _fmt(x: Any, digits: int = 2) -> str:
    v = _num(x)
    return "n/a" if math.isnan(v) else f"{v:.{digits}f}"


def _p(x: Any) -> str:
    if x is None:
        return "p n/a"
    return "p < 0.001" if float(x) < 0.001 else f"p = {float(x):.3f}"


def _sig(score: dict[str, Any], alpha: float) -> bool | None:
    if score.get("p") is None:
        return None
    return bool(score["p"] < alpha)


#: The NAP stage's name for the input window itself (a baseline, not a layer of the network).
INPUT = "input"

#: The untrained-network control's folder inside the naps and the cluster artifacts alike.
CONTROL = "control"


def network_layers(layers: list[str]) -> list[str]:
    """The layers of the network, without the input window."""
    return [lay for lay in layers if lay != INPUT]


def hidden_layers(layers: list[str]) -> list[str]:
    """The layers that are neither the first nor the output layer (all, when fewer than 4)."""
    layers = network_layers(layers)
    return list(layers[1:-1]) if len(layers) >= 4 else list(layers)


def pick_grouping(kinds: dict[str, str], kind: str, preferred: str) -> str | None:
    """``preferred`` if it is of ``kind``, else the first grouping of that kind, else None."""
    if kinds.get(preferred) == kind:
        return preferred
    return next((g for g, k in kinds.items() if k == kind), None)


def figure4_layers(scores: Scores, layers: list[str], phoneme_grouping: str, n: int = 2) -> list[str]:
    """The ``n`` hidden layers whose phoneme NAPs agree best with phonetic classes, in layer order."""
    per = scores.get(phoneme_grouping)
    if not per:
        return []
    cand = [lay for lay in hidden_layers(layers) if lay in per]

    def key(lay: str) -> float:
        v = _num(per[lay]["classes"]["auc"])
        return -math.inf if math.isnan(v) else v

    best = sorted(cand, key=key, reverse=True)[:n]
    return [lay for lay in layers if lay in best]


def emergence_layer(
    per_layer: dict[str, dict[str, Any]],
    layers: list[str],
    level: float,
    baseline: dict[str, dict[str, Any]] | None = None,
) -> str | None:
    """First layer whose probe gain reaches ``level`` × the best gain of all layers.

    The gain is over chance, or over ``baseline``'s accuracy at the same layer (the untrained
    network's probes) where given.
    """

    def base(lay: str) -> float:
        if baseline is None:
            return _num(per_layer[lay]["chance"])
        return _num((baseline.get(lay) or {}).get("accuracy"))

    gains = {lay: _num(per_layer[lay]["accuracy"]) - base(lay) for lay in layers if lay in per_layer}
    gains = {k: v for k, v in gains.items() if not math.isnan(v)}
    if not gains or max(gains.values()) <= 0:
        return None
    top = max(gains.values())
    return next(lay for lay in layers if lay in gains and gains[lay] >= level * top)


def _phonemes_before_graphemes(
    probes: Scores,
    layers: list[str],
    ph: str | None,
    gr: str | None,
    level: float,
    control: Scores | None = None,
) -> Claim:
    claim = "Phonemes are encoded in earlier layers than graphemes."
    over = "the untrained network's accuracy at the same layer" if control else "chance"
    test = (
        f"linear probes: the first layer whose accuracy gain over {over} reaches {level:.0%} of the "
        "grouping's best gain comes earlier for phonemes than for graphemes"
    )
    if not ph or not gr or not probes.get(ph) or not probes.get(gr):
        return Claim("phonemes_before_graphemes", claim, test, None, "no probe results for both groupings")
    if control is not None and (not control.get(ph) or not control.get(gr)):
        return Claim("phonemes_before_graphemes", claim, test, None, "no untrained-network probes to compare")
    base_ph = control.get(ph) if control is not None else None
    base_gr = control.get(gr) if control is not None else None
    e_ph = emergence_layer(probes[ph], layers, level, base_ph)
    e_gr = emergence_layer(probes[gr], layers, level, base_gr)
    if e_ph is None or e_gr is None:
        return Claim("phonemes_before_graphemes", claim, test, None, "a probe never rose above chance")
    holds = layers.index(e_ph) < layers.index(e_gr)
    ev = (
        f"phonemes ({ph}) emerge at {e_ph} (accuracy {_fmt(probes[ph][e_ph]['accuracy'])}, chance "
        f"{_fmt(probes[ph][e_ph]['chance'])}), graphemes at {e_gr} (accuracy "
        f"{_fmt(probes[gr][e_gr]['accuracy'])}, chance {_fmt(probes[gr][e_gr]['chance'])}); at {e_ph} the "
        f"grapheme probe reaches {_fmt(probes[gr].get(e_ph, {}).get('accuracy'))}"
    )
    if base_ph is not None and base_gr is not None:
        ev += (
            f"; untrained network: phonemes {_fmt((base_ph.get(e_ph) or {}).get('accuracy'))} at {e_ph}, "
            f"graphemes {_fmt((base_gr.get(e_gr) or {}).get('accuracy'))} at {e_gr}"
        )
    return Claim("phonemes_before_graphemes", claim, test, holds, ev)


def _above_control(
    score: dict[str, Any], control: dict[str, dict[str, Any]] | None, lay: str, which: str
) -> tuple[bool | None, str]:
    """Is the pair AUC above the untrained network's at the same layer? (None: no control number),
    and the evidence's words for it. With a speaker-fold interval on the AUC
    (:mod:`nap.cluster.agreement`), its lower end must lie above the untrained network's AUC."""
    low = _num(score.get("auc_ci_low"))
    words = "" if math.isnan(low) else f" [{_fmt(low)}, {_fmt(score.get('auc_ci_high'))}]"
    if control is None:
        return True, words
    c = ((control.get(lay) or {}).get(which) or {}).get("auc")
    if c is None or math.isnan(_num(c)) or math.isnan(_num(score.get("auc"))):
        return None, f"{words}, untrained AUC n/a"
    above = (low if not math.isnan(low) else _num(score["auc"])) > _num(c)
    return above, f"{words}, untrained AUC {_fmt(c)}"


def _at_layers(
    scores: dict[str, dict[str, Any]],
    fig4: list[str],
    which: str,
    alpha: float,
    purity: bool = False,
    control: dict[str, dict[str, Any]] | None = None,
) -> tuple[bool | None, str]:
    parts, verdicts = [], []
    for lay in fig4:
        s = scores[lay][which]
        sig = _sig(s, alpha)
        ok = sig if not purity or sig is None else (sig and _num(scores[lay]["vowel_purity"]) > 0.5)
        above, words = _above_control(s, control, lay, which)
        verdicts.append(None if ok is None or above is None else ok and above)
        extra = f", vowel purity {_fmt(scores[lay]['vowel_purity'])}" if purity else ""
        parts.append(f"{lay}: AUC {_fmt(s['auc'])} ({_p(s['p'])}){words}, ARI {_fmt(s['ari'])}{extra}")
    if not fig4 or any(v is None for v in verdicts):
        return None, "; ".join(parts) or "no layers to judge"
    return all(verdicts), "; ".join(parts)


def evaluate_claims(
    scores: Scores,
    probes: Scores,
    layers: list[str],
    kinds: dict[str, str],
    phoneme_grouping: str = "phoneme",
    alpha: float = 0.05,
    emergence: float = 0.5,
    control_scores: Scores | None = None,
    control_probes: Scores | None = None,
) -> list[Claim]:
    """Judge the paper's claims on ``scores[g][layer]`` and ``probes[g][layer]``; see the module docstring.

    ``control_scores`` and ``control_probes``: the untrained network's (``naps.control``); where
    given, the claims about learning are judged on the difference from them.
    """
    layers = network_layers(layers)
    ph = pick_grouping(kinds, "phoneme", phoneme_grouping)
    gr = pick_grouping(kinds, "grapheme", "grapheme")
    fig4 = figure4_layers(scores, layers, ph) if ph else []
    first, last = (layers[0], layers[-1]) if layers else (None, None)
    cs = control_scores
    out = [_phonemes_before_graphemes(probes, layers, ph, gr, emergence, control_probes)]

    claim, test = (
        "In the phoneme-encoding layers (paper: 9 and 10), phonemes cluster into mostly "
        "meaningful phonetic groups.",
        f"at the two layers chosen by the scores, phonemes of one phonetic class are closer than "
        f"phonemes of different classes (pair AUC, permutation p < {alpha})",
    )
    ctl_ph = (cs or {}).get(ph, {}) if cs is not None else None
    ctl_gr = (cs or {}).get(gr, {}) if cs is not None else None
    above = " and above the untrained network's AUC at the same layer" if cs is not None else ""
    test += above
    holds, ev = (
        _at_layers(scores[ph], fig4, "classes", alpha, control=ctl_ph)
        if ph
        else (None, "no phoneme grouping")
    )
    out.append(Claim("phonetic_classes", claim, test, holds, ev))

    claim, test = (
        "Vowel phonemes cluster together (Figure 4: the purple and yellow clusters).",
        f"at the chosen layers, vowel–vowel distances are smaller than vowel–consonant ones "
        f"(p < {alpha}) and most vowels sit in vowel-majority clusters",
    )
    test += above
    holds, ev = (
        _at_layers(scores[ph], fig4, "vowels", alpha, purity=True, control=ctl_ph)
        if ph
        else (None, "no phonemes")
    )
    out.append(Claim("vowels_cluster", claim, test, holds, ev))

    claim = "The first layer shows no meaningful clustering for graphemes or phonemes."
    test = (
        f"in the first layer neither the phonetic classes of phonemes nor vowel vs consonant letters "
        f"agree with the NAP distances beyond chance (p ≥ {alpha})"
    )
    parts, sigs = [], []
    for g, which, label in ((ph, "classes", "phonetic classes"), (gr, "vowels", "vowel letters")):
        if g and first in scores.get(g, {}):
            s = scores[g][first][which]
            sigs.append(_sig(s, alpha))
            c = ((cs or {}).get(g, {}).get(first) or {}).get(which) or {}
            words = f", untrained AUC {_fmt(c.get('auc'))} ({_p(c.get('p'))})" if cs is not None else ""
            parts.append(f"{g} {label}: AUC {_fmt(s['auc'])} ({_p(s['p'])}){words}, ARI {_fmt(s['ari'])}")
    holds = None if not sigs or any(v is None for v in sigs) else not any(sigs)
    out.append(Claim("no_structure_first_layer", claim, test, holds, f"{first}: " + "; ".join(parts)))

    claim = "In the output layer every grapheme's NAP is clearly distinct from every other."
    test = (
        "a linear probe recovers the grapheme of ≥ 95 % of the held-out frames from the output layer, "
        "better than from any other layer"
    )
    holds, ev = None, "no grapheme grouping"
    if gr and last in scores.get(gr, {}):
        sep = scores[gr][last]["separation"]
        accs = {lay: _num(r.get("accuracy")) for lay, r in probes.get(gr, {}).items()}
        accs = {k: v for k, v in accs.items() if not math.isnan(v)}
        ev = (
            f"{last}: nearest pair of grapheme NAPs at {_fmt(sep['min_over_median'])} × the median "
            f"distance, {sep['n_clusters']} clusters"
        )
        if last in accs:
            best = max(accs, key=accs.__getitem__)
            holds = accs[last] >= 0.95 and best == last
            ev += f"; probe accuracy {_fmt(accs[last])} (best layer: {best}, {_fmt(accs[best])})"
            if control_probes is not None:
                c_acc = ((control_probes.get(gr) or {}).get(last) or {}).get("accuracy")
                ev += f"; untrained network: {_fmt(c_acc)}"
        else:
            ev += "; no probe for this layer"
    out.append(Claim("graphemes_output", claim, test, holds, ev))

    claim = (
        "In the output layer, phonemes that come with the same grapheme have similar NAPs (e.g. N and NG)."
    )
    test = (
        f"phonemes whose frames mostly carry the same grapheme are closer than other pairs "
        f"(pair AUC, p < {alpha}){above}"
    )
    holds, ev = None, "no phoneme–grapheme association (needs both groupings' frame labels)"
    if ph and last in scores.get(ph, {}) and "shared_grapheme" in scores[ph][last]:
        s = scores[ph][last]["shared_grapheme"]
        above_c, words = _above_control(s, ctl_ph, last, "shared_grapheme")
        sig = _sig(s, alpha)
        holds = None if sig is None or above_c is None else sig and above_c
        ev = f"{last}: AUC {_fmt(s['auc'])} ({_p(s['p'])}){words} over {s['n']} phonemes"
    out.append(Claim("same_grapheme_output", claim, test, holds, ev))

    claim = (
        "In the paper's layer 10 (here: the later chosen layer), vowel letters form a cluster of their own."
    )
    test = (
        f"at the later chosen layer, vowel letters are closer to each other than to consonant letters "
        f"(p < {alpha}){above} and most sit in vowel-majority clusters"
    )
    holds, ev = None, "no grapheme grouping"
    if gr and fig4:
        holds, ev = _at_layers(scores[gr], fig4[-1:], "vowels", alpha, purity=True, control=ctl_gr)
    out.append(Claim("vowel_letters_cluster", claim, test, holds, ev))

    claim = "Phoneme structure appears in the last two hidden layers (the paper's 9 and 10 of 11)."
    test = "the two layers chosen by the phonetic-class scores are the two layers before the output layer"
    hidden = hidden_layers(layers)
    holds = None if len(fig4) < 2 or len(layers) < 4 else fig4 == hidden[-2:]
    ev = f"chosen: {', '.join(fig4) or 'none'}; the two before the output: {', '.join(hidden[-2:])}"
    out.append(Claim("figure4_layers", claim, test, holds, ev))
    return out


def claims_markdown(claims: list[Claim]) -> str:
    """The claims as a Markdown list for the chapter: verdict, claim, evidence, test."""
    lines = []
    for c in claims:
        lines.append(f"- **{c.verdict}** — {c.claim} {c.evidence}. *(Test: {c.test}.)*")
    return "\n".join(lines)
