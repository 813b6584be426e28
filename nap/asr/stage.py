"""The ``asr`` stage: train Wav2Letter on the corpus's features, evaluate, write the artifact.

Files of the finished artifact: ``model.pt`` (state dict), ``config.json`` (architecture,
vocabulary, decoding), ``training.json`` (training record and learning curves),
``evaluation.json`` (CER/WER and every transcript of the test splits), ``lexicon.txt``
(when decoding with a lexicon), ``lm_texts.txt`` (the sentences the beam search's symbol
n-gram is counted from, when it has one: see ``asr.lm_text``).
"""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from nap.asr.data import Examples, prepare
from nap.asr.decode import greedy, write_lexicon
from nap.asr.evaluate import NO_HELD_OUT, score
from nap.asr.model import Architecture, Wav2Letter
from nap.asr.params import AsrParams
from nap.asr.recognizer import CONFIG, Recognizer
from nap.asr.train import TrainingError, train
from nap.asr.vocab import Vocab
from nap.hardware import machine_record, resolve_threads
from nap.store import Store, atomic_path, read_json, write_json

EVALUATION = "evaluation.json"
LEXICON = "lexicon.txt"
LM_TEXTS = "lm_texts.txt"
TEST_SPLITS = ("test_sentences", "test_voices")


def _pairs(corpus: Any, split: str) -> list[tuple[str, str]]:
    splits = corpus.splits
    if split not in splits:
        raise KeyError(
            f"corpus {getattr(corpus, 'path', '')} has no split {split!r} (it has {sorted(splits)})"
        )
    return [(u.id, u.text.lower()) for u in splits[split]]


def architecture(p: AsrParams, n_mels: int) -> Architecture:
    return Architecture(
        n_mels=n_mels,
        classes=len(Vocab(p.repetitions)),
        channels=p.channels,
        hidden=p.hidden,
        k7_layers=p.k7_layers,
        norm=p.norm,
        dropout=p.dropout,
    )


def prepare_all(
    p: AsrParams, corpus: Any, features: Any, curves: bool = True
) -> tuple[Architecture, Examples, dict[str, tuple[Examples, list[int]]]]:
    """Architecture, checked training utterances, and the held-out subsets for the learning curves."""
    train_pairs = _pairs(corpus, "train")
    if not train_pairs:
        raise TrainingError(f"corpus {getattr(corpus, 'path', '')}: the train split is empty")
    n_mels = int(features.get(train_pairs[0][0]).shape[1])
    arch = architecture(p, n_mels)
    model = Wav2Letter(arch)
    vocab = Vocab(p.repetitions)
    hop = float(getattr(features, "hop_s", 0.01))
    pad = model.context_pad if p.pad else 0
    train_set = prepare(
        train_pairs, features.get, vocab, model.output_frames, int(p.max_seconds / hop), pad=pad
    )
    train_set.feature_params = getattr(features, "params", None)
    eval_sets: dict[str, tuple[Examples, list[int]]] = {}
    if curves and p.eval_utterances:
        for split in TEST_SPLITS:
            ex = prepare(_pairs(corpus, split), features.get, vocab, model.output_frames, pad=pad)
            if not ex.items:  # no held-out utterances: no curve (rather than a perfect one)
                continue
            rng = np.random.default_rng([p.seed, 5])
            n = min(p.eval_utterances, len(ex.items))
            eval_sets[split] = (ex, sorted(rng.choice(len(ex.items), n, replace=False).tolist()))
    return arch, train_set, eval_sets


def lm_texts(p: AsrParams, corpus: Any, train_set: Examples) -> list[str]:
    """The n-gram's sentences (``asr.lm_text``): the corpus's text-only sentences or the
    training transcripts; held-out sentences are never among them."""
    if p.lm_text == "corpus" and hasattr(corpus, "lm_texts"):
        vocab = Vocab(p.repetitions)
        return [t for t in corpus.lm_texts() if not vocab.oov(t)]
    return [e.text for e in train_set.items]


def reuse_training(work: Path) -> Path | None:
    """Copy the network of a finished ``asr`` artifact trained like the one ``work`` builds
    (the store's kin of ``work`` but for the decoding parameters, :meth:`AsrParams.decoding_params`);
    returns its folder, or None.

    So a new LM weight or beam size re-decodes and re-evaluates in a minute instead of
    retraining. Only artifacts whose files match their checksums are used, and nothing is
    copied once ``work`` holds a finished training.
    """
    from nap.asr.train import MODEL, TRAINING

    if (work / TRAINING).is_file():
        return None
    other = Store(work.parent).kin(work, AsrParams.decoding_params())
    if other is None:
        return None
    for name in (MODEL, TRAINING):  # training.json last: with both present the network is trained
        with atomic_path(work / name) as tmp:
            tmp.write_bytes((other / name).read_bytes())
    return other.path


def build_asr(work: Path, p: AsrParams, corpus: Any, features: Any) -> dict[str, Any]:
    """Train (or resume) in ``work``, evaluate on the test splits, return the headline numbers.

    A network trained with the same parameters but the decoding ones is reused
    (:func:`reuse_training`).
    """
    work = Path(work)
    arch, train_set, eval_sets = prepare_all(p, corpus, features)
    reused = reuse_training(work)
    if reused is not None:
        print(f"[nap] asr: only decoding parameters differ from {reused.name}: its network is reused")
    record = train(work, p, arch, train_set, eval_sets)
    vocab = Vocab(p.repetitions)
    lexicon, lm = None, None
    if p.lexicon:
        words = {w for e in train_set.items for w in e.text.split()}
        write_lexicon(work / LEXICON, vocab, words)
        lexicon = LEXICON
    if p.lm_order:
        with atomic_path(work / LM_TEXTS) as tmp:
            tmp.write_text("".join(t + "\n" for t in lm_texts(p, corpus, train_set)), encoding="utf-8")
        lm = {"file": LM_TEXTS, "order": p.lm_order, "weight": p.lm_weight, "bonus": p.lm_bonus}
    write_json(
        work / CONFIG,
        {
            "architecture": replace(
                arch, norm="none", dropout=0.0
            ).to_dict(),  # the saved network has the norms folded in
            "vocab": vocab.to_dict(),
            "input": {"pad": Wav2Letter(arch).context_pad if p.pad else 0},
            "decoding": {
                "beam_size": p.beam_size,
                "beam_threshold": p.beam_threshold,
                "beam_size_token": p.beam_size_token or None,
                "lexicon": lexicon,
                "lm": lm,
            },
        },
    )
    rec = Recognizer.open(work)
    evaluation = (
        evaluate(rec, corpus, features, p)
        if not (work / EVALUATION).is_file()
        else read_json(work / EVALUATION)
    )
    write_json(work / EVALUATION, evaluation)
    summary: dict[str, Any] = {
        "layers": len(rec.layer_names),
        "receptive_field": rec.receptive_field,
        "stride": rec.stride,
        "parameters": sum(q.numel() for q in rec.model.parameters()),
        "train_utterances": record["train_utterances"],
        "train_audio_minutes": round(record["train_audio_seconds"] / 60, 2),
        "skipped": record["skipped"],
        "steps": record["steps"],
        "epochs": record["epochs"],
        "train_minutes": round(record["train_seconds"] / 60, 2),
        "final_loss": round(record["final_loss"], 4),
        "precision": record.get("precision", p.precision),
        "precision_reason": record.get("precision_reason", ""),
        "threads": record.get("threads"),
        **machine_record(),
        "bad_steps": record["history"]["bad_steps"],
    }
    if reused is not None:
        summary["network_from"] = reused.name
    for split, res in evaluation["splits"].items():
        for dec in ("greedy", "beam"):
            for rate in ("cer", "wer"):  # None: the split has no utterances, so no score
                value = res[dec][rate]
                summary[f"{split}_{dec}_{rate}"] = None if value is None else round(value, 4)
    summary["cer"] = summary.get("test_sentences_beam_cer")
    summary["wer"] = summary.get("test_sentences_beam_wer")
    unscored = [split for split, res in evaluation["splits"].items() if not res["utterances"]]
    if unscored:  # why the error rates above are None (nap results shows it beside them)
        summary["not_scored"] = f"{', '.join(unscored)}: {NO_HELD_OUT}"
    return summary


def evaluate(rec: Recognizer, corpus: Any, features: Any, p: AsrParams) -> dict[str, Any]:
    """Greedy and beam-search CER/WER on both test splits, with every transcript."""
    torch.set_num_threads(resolve_threads(p.threads))
    decoders = {"greedy": lambda lg: greedy(rec.vocab, lg), "beam": rec.beam_decoder}
    out: dict[str, Any] = {"splits": {}}
    for split in TEST_SPLITS:
        ex = prepare(_pairs(corpus, split), features.get, rec.vocab, rec.model.output_frames, pad=rec.pad)
        t0 = time.perf_counter()
        res = score(rec.model, rec.vocab, ex, decoders=decoders)
        res["skipped"] = dict(ex.skipped)
        res["seconds"] = round(time.perf_counter() - t0, 1)
        out["splits"][split] = res
    return out
