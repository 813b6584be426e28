"""The G2P stage: build (split, train, evaluate) and the loaded model :class:`G2P`.

Files of a finished G2P artifact (all readable without ``nap``):

* ``train.tsv``, ``dev.tsv``, ``test.tsv`` -- the split, ``word<TAB>PH ON ES`` per sample;
* ``config.json`` -- network sizes, letters, phones, the beam width and each member's direction;
* ``model.pt`` -- the weights with the best dev WER (a ``state_dict``) of member 0;
* ``history.json`` -- its learning curve (train/dev loss and greedy dev WER per evaluation);
* ``member-1/``, ... -- ``model.pt`` and ``history.json`` of the other members of the ensemble;
* ``test_predictions.tsv`` -- the beam-search prediction for every held-out word;
* ``metrics.json`` -- the held-out metrics (see :mod:`nap.g2p.metrics`).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from nap.errors import NapError
from nap.g2p.assign import Assignment, assign_letters
from nap.g2p.beam import Decoded, decode_words, device_of, force_decode
from nap.g2p.data import (
    GRAPHEMES,
    PHONES,
    Lexicon,
    Split,
    Vocab,
    load_cmudict,
    read_lexicon,
    samples,
    split_words,
    write_lexicon,
)
from nap.g2p.metrics import evaluate, wer_any, wer_sample
from nap.g2p.model import Ensemble, G2PNet, Net, NetConfig, TwoWay, combine
from nap.g2p.params import G2PParams
from nap.g2p.train import (
    HISTORY,
    MODEL,
    Progress,
    load_weights,
    net_config,
    reversed_pronunciations,
    train,
)
from nap.hardware import machine_record, module_on, resolve_device
from nap.procs import pool
from nap.store import read_json, write_json

CONFIG = "config.json"
METRICS = "metrics.json"
PREDICTIONS = "test_predictions.tsv"


class G2PInputError(NapError, ValueError):
    """A word the G2P cannot take: empty, or with characters outside the ASR alphabet."""


#: Words longer than this are cut into near-equal pieces of at most this many letters, each
#: converted on its own (CMUDict's longest word has 28 letters; longer ASR output is
#: usually several words run together).
MAX_LETTERS = 32
#: Longer input is refused: it is no word.
HARD_LIMIT = 1000


def normalize_word(word: str) -> str:
    """``word`` in lower case, or :class:`G2PInputError` if it is empty or not of a-z and '."""
    if not isinstance(word, str):
        raise G2PInputError(f"a word must be a string, got {type(word).__name__} {word!r}")
    w = word.lower()
    if not w:
        raise G2PInputError("empty word: the G2P needs at least one letter")
    bad = sorted(set(w) - set(GRAPHEMES))
    if bad:
        raise G2PInputError(f"word {word!r} has characters outside the ASR alphabet (a-z and '): {bad}")
    if len(w) > HARD_LIMIT:
        raise G2PInputError(f"word of {len(w)} letters is longer than the limit of {HARD_LIMIT}")
    return w


def normalize_phones(word: str, phones: Sequence[str]) -> list[str]:
    """Upper-case phones with stress digits removed; :class:`G2PInputError` for unknown ones."""
    if isinstance(phones, str):
        phones = phones.split()
    out = [str(p).upper().rstrip("012") for p in phones]
    if not out:
        raise G2PInputError(f"empty pronunciation for {word!r}")
    bad = sorted(set(out) - set(PHONES))
    if bad:
        raise G2PInputError(f"pronunciation of {word!r} has phones outside the 39 ARPAbet phones: {bad}")
    return out


def pieces(word: str, size: int = MAX_LETTERS) -> list[str]:
    """``word`` cut into the fewest near-equal pieces of at most ``size`` letters."""
    n = -(-len(word) // size)
    bounds = np.linspace(0, len(word), n + 1).round().astype(int)
    return [word[a:b] for a, b in zip(bounds[:-1], bounds[1:], strict=True)]


def member_dir(work: Path, member: int) -> Path:
    """Folder of an ensemble member's weights and history (member 0: the artifact folder itself)."""
    return Path(work) if member == 0 else Path(work) / f"member-{member}"


class G2P:
    """A trained G2P model: predictions, forced decoding and letter -> phone assignment."""

    def __init__(self, net: Net | TwoWay, beam: int = 5, path: Path | None = None):
        self.net = net.eval()
        self.vocab = Vocab()
        self.beam = beam
        self.path = path
        self._cache: dict[str, Decoded] = {}

    @classmethod
    def open(cls, path: str | Path, device: torch.device | str = "cpu") -> G2P:
        """Load the model of a finished G2P artifact folder, the networks on ``device``."""
        path = Path(path)
        if not (path / CONFIG).is_file():
            raise FileNotFoundError(f"{path / CONFIG} is missing: {path} is not a G2P artifact")
        cfg = read_json(path / CONFIG)
        if cfg["letters"] != list(GRAPHEMES) or cfg["phones"] != list(PHONES):
            raise ValueError(f"{path / CONFIG}: letters or phones differ from this version of nap.g2p")
        members = int(cfg.get("members", 1))
        nets = []
        for m in range(members):
            weights = member_dir(path, m) / MODEL
            if not weights.is_file():
                raise FileNotFoundError(f"{weights} is missing: the G2P artifact {path} is incomplete")
            net = G2PNet(NetConfig(**cfg["net"]))
            net.load_state_dict(load_weights(weights))
            nets.append(net)
        directions = [bool(r) for r in cfg.get("right_to_left", [False] * members)]
        return cls(combine(nets, directions).to(device), beam=int(cfg["beam"]), path=path)

    def on(self, device: torch.device | str) -> G2P:
        """This G2P with its networks on ``device``: itself if they are there, else a copy."""
        net = module_on(self.net, device)
        return self if net is self.net else G2P(net, self.beam, self.path)

    @property
    def members(self) -> int:
        """Networks whose predictions the G2P combines."""
        return _count_networks(self.net)

    # -- prediction -------------------------------------------------------------------
    def _decode(self, words: Sequence[str]) -> list[Decoded]:
        """Beam-search decoding of normalised words (long ones piecewise), cached per word."""
        todo = sorted({p for w in words if w not in self._cache for p in pieces(w)})
        if todo:
            found = dict(zip(todo, decode_words(self.net, self.vocab, todo, self.beam), strict=True))
            for w in {w for w in words if w not in self._cache}:
                parts = [found[p] for p in pieces(w)]
                self._cache[w] = parts[0] if len(parts) == 1 else _join(parts)
        return [self._cache[w] for w in words]

    def predict(self, word: str) -> list[str]:
        """The phones of ``word`` (beam search)."""
        return self.predict_batch([word])[0]

    def predict_batch(self, words: Sequence[str]) -> list[list[str]]:
        """The phones of each word, decoded in batches of equal length."""
        norm = [normalize_word(w) for w in words]
        return [self.vocab.decode_phones(d.codes) for d in self._decode(norm)]

    # -- assignment -------------------------------------------------------------------
    def assign(self, word: str, phones: Sequence[str] | None = None) -> Assignment:
        """Phones of ``word`` (predicted, or ``phones`` force-decoded) and each letter's phone."""
        return self.assign_batch([word], None if phones is None else [phones])[0]

    def assign_batch(
        self, words: Sequence[str], phones: Sequence[Sequence[str]] | None = None
    ) -> list[Assignment]:
        """:meth:`assign` for many words; ``phones`` (one pronunciation per word) forces decoding."""
        norm = [normalize_word(w) for w in words]
        if phones is None:
            decoded = self._decode(norm)
        else:
            if len(phones) != len(words):
                raise G2PInputError(f"{len(words)} words but {len(phones)} pronunciations")
            prons = [normalize_phones(w, p) for w, p in zip(words, phones, strict=True)]
            decoded = self._force(norm, [self.vocab.encode_phones(p) for p in prons])
        return [
            assign_letters(w, self.vocab.decode_phones(d.codes), d.attention.numpy())
            for w, d in zip(norm, decoded, strict=True)
        ]

    def _force(self, words: list[str], codes: list[list[int]]) -> list[Decoded]:
        out: list[Decoded | None] = [None] * len(words)
        by_len: dict[int, list[int]] = {}
        for i, w in enumerate(words):
            by_len.setdefault(len(w), []).append(i)
        for idx in by_len.values():
            for s in range(0, len(idx), 256):
                chunk = idx[s : s + 256]
                letters = torch.tensor(
                    [self.vocab.encode_word(words[i]) for i in chunk],
                    dtype=torch.long,
                    device=device_of(self.net),
                )
                for i, d in zip(
                    chunk, force_decode(self.net, letters, [codes[i] for i in chunk]), strict=True
                ):
                    out[i] = d
        return out  # type: ignore[return-value]

    # -- the artifact's records -------------------------------------------------------
    def _file(self, name: str) -> Path:
        if self.path is None:
            raise ValueError("this G2P was not loaded from an artifact folder")
        return self.path / name

    def lexicon(self, part: str = "test") -> Lexicon:
        """The samples of one part of the split (``train``, ``dev`` or ``test``)."""
        if part not in ("train", "dev", "test"):
            raise ValueError(f"part must be 'train', 'dev' or 'test', got {part!r}")
        return read_lexicon(self._file(f"{part}.tsv"))

    @property
    def history(self) -> list[dict[str, Any]]:
        """The learning curve of member 0: one entry per dev evaluation."""
        return read_json(self._file(HISTORY))

    @property
    def histories(self) -> list[list[dict[str, Any]]]:
        """The learning curve of every member."""
        return [read_json(member_dir(self._file(""), m) / HISTORY) for m in range(self.members)]

    @property
    def metrics(self) -> dict[str, Any]:
        """Held-out metrics of the beam-search predictions."""
        return read_json(self._file(METRICS))

    def test_predictions(self) -> dict[str, list[str]]:
        return {w: list(p[0]) for w, p in read_lexicon(self._file(PREDICTIONS)).items()}


def _count_networks(net: nn.Module) -> int:
    if isinstance(net, TwoWay):
        return _count_networks(net.left) + _count_networks(net.right)
    return len(net.nets) if isinstance(net, Ensemble) else 1


def _join(parts: list[Decoded]) -> Decoded:
    """Concatenate the decodings of a word's pieces; the attention becomes block-diagonal."""
    rows = sum(p.attention.shape[0] for p in parts)
    cols = sum(p.attention.shape[1] for p in parts)
    att = torch.zeros((rows, cols))
    r = c = 0
    for p in parts:
        att[r : r + p.attention.shape[0], c : c + p.attention.shape[1]] = p.attention
        r += p.attention.shape[0]
        c += p.attention.shape[1]
    return Decoded([x for p in parts for x in p.codes], att, sum(p.score for p in parts))


def _subset(lexicon: Lexicon, n: int, seed: int) -> Lexicon:
    words = sorted(lexicon)
    keep = np.random.default_rng([seed, 1]).choice(len(words), size=min(n, len(words)), replace=False)
    return {words[i]: lexicon[words[i]] for i in sorted(keep)}


def _lexicon_and_split(p: G2PParams) -> tuple[Lexicon, Split]:
    full = load_cmudict()
    lexicon = _subset(full, p.max_words, p.seed) if p.max_words else full
    return lexicon, split_words(list(lexicon), p.test_fraction, p.dev_fraction, p.seed)


def _train_member(
    work: Path, p: G2PParams, member: int, lexicon: Lexicon, split: Split, progress_bar: bool
) -> tuple[Progress, dict[str, float]]:
    """Train one member (resuming) and score it alone on the held-out words with beam search.

    A right-to-left member is scored on the reversed pronunciations (the same WER).
    """
    folder = member_dir(work, member)
    folder.mkdir(exist_ok=True)
    prog = train(folder, p, lexicon, split, progress_bar=progress_bar, member=member)
    net = G2PNet(net_config(p, Vocab()))
    net.load_state_dict(load_weights(folder / MODEL))
    if p.right_to_left(member):
        lexicon = reversed_pronunciations(lexicon)
    net = net.to(resolve_device(p.device, "g2p.device"))
    hyps = dict(zip(split.test, G2P(net, p.beam).predict_batch(split.test), strict=True))
    refs = {w: lexicon[w] for w in split.test}
    return prog, {"wer": wer_any(refs, hyps), "wer_sample": wer_sample(refs, hyps)}


def _train_member_in_worker(job: tuple[str, dict[str, Any], int]) -> tuple[Progress, dict[str, float]]:
    work, params, member = job
    p = G2PParams.from_dict(params)
    torch.set_num_threads(p.process_threads)
    lexicon, split = _lexicon_and_split(p)
    return _train_member(Path(work), p, member, lexicon, split, progress_bar=True)


def _train_members(
    work: Path, p: G2PParams, lexicon: Lexicon, split: Split, progress_bar: bool
) -> list[tuple[Progress, dict[str, float]]]:
    """Train every member, ``p.processes`` side by side in spawned processes (or here, for one)."""
    if p.processes == 1:
        return [_train_member(work, p, m, lexicon, split, progress_bar) for m in range(p.members)]
    jobs = [(str(work), p.to_dict(), m) for m in range(p.members)]
    with pool(p.processes) as workers:
        done = list(workers.imap(_train_member_in_worker, jobs))
        workers.close()  # let the workers exit on their own (no leaked semaphores warned about)
        workers.join()
    return done


def build_g2p(work: Path, p: G2PParams, progress_bar: bool = True) -> dict[str, Any]:
    """Split CMUDict, train the G2P (resuming from ``work``), score it on the held-out words."""
    work = Path(work)
    device = resolve_device(p.device, "g2p.device")  # before anything is written: a bad one fails cleanly
    threads = torch.get_num_threads()
    torch.set_num_threads(p.process_threads)
    try:
        lexicon, split = _lexicon_and_split(p)
        for part, words in split.parts().items():
            write_lexicon(work / f"{part}.tsv", samples(lexicon, words))
        vocab = Vocab()
        directions = [p.right_to_left(m) for m in range(p.members)]
        write_json(
            work / CONFIG,
            {
                "net": net_config(p, vocab).to_dict(),
                "members": p.members,
                "right_to_left": directions,
                "letters": list(GRAPHEMES),
                "phones": list(PHONES),
                "beam": p.beam,
            },
        )
        start = time.time()
        trained = _train_members(work, p, lexicon, split, progress_bar)
        train_seconds = time.time() - start
        prog = trained[0][0]
        g2p = G2P.open(work, device)
        torch.set_num_threads(p.process_threads * p.processes)  # the members' processes have ended
        t0 = time.time()
        refs = {w: lexicon[w] for w in split.test}
        hyps = dict(zip(split.test, g2p.predict_batch(split.test), strict=True))
        eval_seconds = time.time() - t0
        greedy = decode_words(g2p.net, vocab, split.test, beam=1)
        greedy_hyps = {w: vocab.decode_phones(d.codes) for w, d in zip(split.test, greedy, strict=True)}
        metrics = evaluate(refs, hyps)
        write_lexicon(work / PREDICTIONS, hyps.items())
        write_json(work / METRICS, metrics)
        for m in range(p.members):  # the optimiser states are not needed any more
            (member_dir(work, m) / "checkpoint.pt").unlink(missing_ok=True)
        return {
            "entries": len(lexicon),
            "samples": sum(len(v) for v in lexicon.values()),
            **{f"{k}_words": len(v) for k, v in split.parts().items()},
            **{f"{k}_samples": len(samples(lexicon, v)) for k, v in split.parts().items()},
            "parameters": sum(x.numel() for x in g2p.net.parameters()),
            "members": p.members,
            "right_to_left": directions,
            "processes": p.processes,
            "epochs_run": prog.history[-1]["epoch"] if prog.history else 0,
            "stopped": prog.stopped,
            "train_seconds": round(train_seconds, 1),
            "train_cpu_seconds": round(sum(t[0].cpu_seconds for t in trained), 1),
            "threads": p.process_threads,
            "precision": prog.precision or "float32",
            "precision_reason": prog.precision_reason,
            "device": str(device),
            **machine_record(),
            "best_dev_wer": [t[0].best_wer for t in trained],
            "member_wer": [t[1]["wer"] for t in trained],
            "member_wer_sample": [t[1]["wer_sample"] for t in trained],
            **{k: v for k, v in metrics.items() if k not in ("words", "samples")},
            "greedy_wer": wer_any(refs, greedy_hyps),
            "greedy_wer_sample": wer_sample(refs, greedy_hyps),
            "beam": p.beam,
            "eval_seconds": round(eval_seconds, 1),
            "build_seconds": round(time.time() - start, 1),
        }
    finally:
        torch.set_num_threads(threads)
