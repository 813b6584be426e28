"""G2P metrics on held-out words: WER (two protocols), PER and BLEU.

* ``wer_sample`` -- the paper's protocol: every (word, pronunciation) sample counts, and the
  word's single prediction is wrong unless it equals *that* sample's pronunciation. A word
  with two pronunciations therefore costs at least one error.
* ``wer`` -- the standard protocol: per word, right if the prediction equals *any* of its
  pronunciations.
* ``per_sample`` / ``per`` -- phone error rate: Levenshtein distance (substitutions,
  insertions, deletions) summed over samples / over words (to the closest pronunciation),
  divided by the summed reference lengths.
* ``bleu_sample`` / ``bleu`` -- sacrebleu's corpus BLEU (4-gram, exponential smoothing,
  ``tokenize='none'``, phones as tokens), scaled to 0..1, with one reference per sample / all
  of a word's pronunciations as references.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from nap.sequences import edit_distance

Pron = Sequence[str]


def _check(refs: Mapping[str, Sequence[Pron]], hyps: Mapping[str, Pron]) -> None:
    if not refs:
        raise ValueError("no reference words to score")
    missing = [w for w in refs if w not in hyps]
    if missing:
        raise ValueError(f"{len(missing)} reference words have no prediction, e.g. {missing[:3]}")


def wer_sample(refs: Mapping[str, Sequence[Pron]], hyps: Mapping[str, Pron]) -> float:
    """Fraction of (word, pronunciation) samples whose word's prediction differs from it."""
    _check(refs, hyps)
    pairs = [(tuple(hyps[w]), tuple(r)) for w, rs in refs.items() for r in rs]
    return sum(h != r for h, r in pairs) / len(pairs)


def wer_any(refs: Mapping[str, Sequence[Pron]], hyps: Mapping[str, Pron]) -> float:
    """Fraction of words whose prediction is none of their pronunciations."""
    _check(refs, hyps)
    return sum(tuple(hyps[w]) not in {tuple(r) for r in rs} for w, rs in refs.items()) / len(refs)


def per_sample(refs: Mapping[str, Sequence[Pron]], hyps: Mapping[str, Pron]) -> float:
    """Edit distance summed over samples / reference phones summed over samples."""
    _check(refs, hyps)
    errors = sum(edit_distance(hyps[w], r) for w, rs in refs.items() for r in rs)
    return errors / sum(len(r) for rs in refs.values() for r in rs)


def per_any(refs: Mapping[str, Sequence[Pron]], hyps: Mapping[str, Pron]) -> float:
    """Per word, the edit distance to the closest pronunciation; summed / summed lengths of those."""
    _check(refs, hyps)
    errors = length = 0
    for w, rs in refs.items():
        dist, n = min((edit_distance(hyps[w], r), len(r)) for r in rs)
        errors += dist
        length += n
    return errors / length


def _bleu(hyps: list[str], refs: list[list[str | None]]) -> tuple[float, str]:
    from sacrebleu.metrics import BLEU

    metric = BLEU(tokenize="none")
    score = metric.corpus_score(hyps, refs)
    return score.score / 100.0, str(metric.get_signature())


def bleu_sample(refs: Mapping[str, Sequence[Pron]], hyps: Mapping[str, Pron]) -> float:
    """Corpus BLEU (0..1) with one hypothesis and its own reference per sample."""
    _check(refs, hyps)
    pairs = [(" ".join(hyps[w]), " ".join(r)) for w, rs in refs.items() for r in rs]
    return _bleu([h for h, _ in pairs], [[r for _, r in pairs]])[0]


def bleu_any(refs: Mapping[str, Sequence[Pron]], hyps: Mapping[str, Pron]) -> float:
    """Corpus BLEU (0..1) with one hypothesis per word and all its pronunciations as references."""
    _check(refs, hyps)
    words = list(refs)
    n = max(len(rs) for rs in refs.values())
    streams: list[list[str | None]] = [
        [" ".join(refs[w][k]) if k < len(refs[w]) else None for w in words] for k in range(n)
    ]
    return _bleu([" ".join(hyps[w]) for w in words], streams)[0]


def bleu_signature() -> str:
    """sacrebleu's signature of the BLEU variant used here."""
    return _bleu(["A"], [["A"]])[1].replace("nrefs:1", "nrefs:1 or var")


def evaluate(refs: Mapping[str, Sequence[Pron]], hyps: Mapping[str, Pron]) -> dict[str, float | int | str]:
    """Every metric of this module for predictions ``hyps`` (word -> phones) of the words in ``refs``."""
    return {
        "words": len(refs),
        "samples": sum(len(rs) for rs in refs.values()),
        "wer": wer_any(refs, hyps),
        "wer_sample": wer_sample(refs, hyps),
        "per": per_any(refs, hyps),
        "per_sample": per_sample(refs, hyps),
        "bleu": bleu_any(refs, hyps),
        "bleu_sample": bleu_sample(refs, hyps),
        "bleu_variant": bleu_signature(),
    }
