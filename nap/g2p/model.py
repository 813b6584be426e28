"""The attention encoder-decoder after Toshniwal & Livescu (2016), as the paper used it.

Encoder: letter embeddings -> 2-layer bidirectional LSTM. Decoder: 2-layer LSTM over the
previous phone, global attention over all encoder states with Luong's bilinear ("general")
score, output from ``tanh(W [context; h])`` (Luong et al. 2015, without input feeding). As
the decoder's LSTM does not read the attention, teacher-forced training runs the LSTM over
the whole target in one call and attends for all steps at once (two batched products);
:meth:`G2PNet.step` runs the same weights one phone at a time for beam search. A batch holds
words of one length, so neither the encoder nor the attention needs padding or masks
(:func:`nap.g2p.data.batches` groups samples by length).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch
from torch import Tensor, nn

#: Decoder state: h and c of the LSTM layers, each (layers, B, H).
State = tuple[Tensor, Tensor]


@dataclass(frozen=True)
class NetConfig:
    """Sizes of the network (saved with the weights, so a model reloads without its profile)."""

    n_letters: int
    n_phones: int
    embedding: int = 64
    encoder_hidden: int = 256
    decoder_hidden: int = 256
    layers: int = 2
    dropout: float = 0.3

    def to_dict(self) -> dict[str, int | float]:
        return asdict(self)


class G2PNet(nn.Module):
    """Attention encoder-decoder: letters (B, L) -> phone logits (B, T, n_phones) and attention."""

    def __init__(self, cfg: NetConfig):
        super().__init__()
        self.cfg = cfg
        enc_out = 2 * cfg.encoder_hidden
        hid = cfg.decoder_hidden
        drop = cfg.dropout if cfg.layers > 1 else 0.0
        self.letter_embedding = nn.Embedding(cfg.n_letters, cfg.embedding, padding_idx=0)
        self.encoder = nn.LSTM(
            cfg.embedding, cfg.encoder_hidden, cfg.layers, bidirectional=True, batch_first=True, dropout=drop
        )
        self.bridge = nn.Linear(enc_out, hid)
        self.phone_embedding = nn.Embedding(cfg.n_phones, cfg.embedding, padding_idx=0)
        self.decoder = nn.LSTM(cfg.embedding, hid, cfg.layers, batch_first=True, dropout=drop)
        self.keys = nn.Linear(enc_out, hid, bias=False)
        self.combine = nn.Linear(enc_out + hid, hid)
        self.output = nn.Linear(hid, cfg.n_phones)
        self.drop = nn.Dropout(cfg.dropout)

    def encode(self, letters: Tensor) -> tuple[Tensor, Tensor, State]:
        """Encoder states (B, L, 2He), attention keys (B, L, H) and the decoder's first state."""
        enc, _ = self.encoder(self.drop(self.letter_embedding(letters)))
        keys = self.keys(enc)
        h0 = torch.tanh(self.bridge(enc.mean(dim=1)))
        h = h0.unsqueeze(0).expand(self.cfg.layers, -1, -1).contiguous()
        return enc, keys, (h, torch.zeros_like(h))

    def attend(self, dec: Tensor, enc: Tensor, keys: Tensor) -> tuple[Tensor, Tensor]:
        """Logits (B, T, n_phones) and attention (B, T, L) from decoder outputs ``dec`` (B, T, H)."""
        attn = torch.softmax(torch.bmm(dec, keys.transpose(1, 2)), dim=2)
        context = torch.bmm(attn, enc)
        out = torch.tanh(self.combine(torch.cat([context, dec], dim=2)))
        return self.output(self.drop(out)), attn

    def step(self, prev: Tensor, state: State, enc: Tensor, keys: Tensor) -> tuple[Tensor, State, Tensor]:
        """Feed the previous phones (B,); returns logits (B, n_phones), the new state, attention (B, L)."""
        dec, state = self.decoder(self.drop(self.phone_embedding(prev.unsqueeze(1))), state)
        logits, attn = self.attend(dec, enc, keys)
        return logits.squeeze(1), state, attn.squeeze(1)

    @staticmethod
    def select(state: State, index: Tensor) -> State:
        """The state of the batch rows ``index`` (beam search reorders hypotheses)."""
        h, c = state
        return h[:, index].contiguous(), c[:, index].contiguous()

    def forward(self, letters: Tensor, target: Tensor, rows: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """Teacher-forced logits (B, T, n_phones) and attention (B, T, L) for ``target`` (B, T).

        ``target`` ends with </s> (then 0-padding); the decoder reads <s> and ``target[:, :-1]``.
        With ``rows`` (B,), target row ``b`` belongs to word ``rows[b]`` of ``letters``: each word
        is encoded once for all its candidate pronunciations.
        """
        enc, keys, state = self.encode(letters)
        if rows is not None:
            enc, keys, state = enc[rows], keys[rows], self.select(state, rows)
        bos = torch.ones((target.shape[0], 1), dtype=torch.long, device=letters.device)
        inputs = torch.cat([bos, target[:, :-1]], dim=1)
        dec, _ = self.decoder(self.drop(self.phone_embedding(inputs)), state)
        return self.attend(dec, enc, keys)


class Ensemble(nn.Module):
    """Networks of the same sizes decoding as one: the mean of their phone probabilities.

    Behaves like :class:`G2PNet` for beam search and forced decoding: the encoder states,
    keys and decoder states of the members are concatenated along the feature axis (so the
    search reorders them like one network's), :meth:`step` and :meth:`forward` return the
    log of the members' mean probabilities as logits, and the attention is the members' mean.
    """

    def __init__(self, nets: list[G2PNet]):
        super().__init__()
        if not nets or any(n.cfg != nets[0].cfg for n in nets):
            raise ValueError("an ensemble needs at least one network, all of the same sizes")
        self.nets = nn.ModuleList(nets)
        self.cfg = nets[0].cfg

    def _split(self, x: Tensor) -> tuple[Tensor, ...]:
        return tuple(part.contiguous() for part in x.chunk(len(self.nets), dim=-1))

    def _mean(self, logits: list[Tensor], attn: list[Tensor]) -> tuple[Tensor, Tensor]:
        logp = torch.stack([torch.log_softmax(x.float(), dim=-1) for x in logits])
        return torch.logsumexp(logp, dim=0) - math.log(len(logits)), torch.stack(attn).mean(dim=0)

    def encode(self, letters: Tensor) -> tuple[Tensor, Tensor, State]:
        outs = [n.encode(letters) for n in self.nets]
        cat = lambda xs: torch.cat(xs, dim=-1)  # noqa: E731
        h = cat([o[2][0] for o in outs])
        c = cat([o[2][1] for o in outs])
        return cat([o[0] for o in outs]), cat([o[1] for o in outs]), (h, c)

    select = staticmethod(G2PNet.select)

    def step(self, prev: Tensor, state: State, enc: Tensor, keys: Tensor) -> tuple[Tensor, State, Tensor]:
        parts = zip(self.nets, self._split(enc), self._split(keys), *map(self._split, state), strict=True)
        outs = [n.step(prev, (h, c), e, k) for n, e, k, h, c in parts]
        logp, attn = self._mean([o[0] for o in outs], [o[2] for o in outs])
        h = torch.cat([o[1][0] for o in outs], dim=-1)
        c = torch.cat([o[1][1] for o in outs], dim=-1)
        return logp, (h, c), attn

    def forward(self, letters: Tensor, target: Tensor, rows: Tensor | None = None) -> tuple[Tensor, Tensor]:
        outs = [n(letters, target, rows) for n in self.nets]
        return self._mean([o[0] for o in outs], [o[1] for o in outs])


#: What decodes like one network: a network, or an ensemble of networks of one direction.
Net = G2PNet | Ensemble


class TwoWay(nn.Module):
    """An ensemble of both directions: ``left`` predicts phones first to last, ``right`` last to first.

    Beam search cannot run both directions step by step, so :func:`nap.g2p.beam.beam_search`
    reranks: each side proposes its beam (the right side's hypotheses reversed), and the
    candidate with the highest summed log-probability of both sides wins. Forced decoding
    sums both sides' log-probabilities and averages their attention, the right side's rows
    put back in phone order. Left-to-right and right-to-left networks make different
    mistakes, so they correct each other more than two networks of one direction do.
    """

    def __init__(self, left: Net, right: Net):
        super().__init__()
        if left.cfg != right.cfg:
            raise ValueError("both directions of an ensemble need networks of the same sizes")
        self.left, self.right = left, right
        self.cfg = left.cfg


def combine(nets: list[G2PNet], right_to_left: list[bool]) -> Net | TwoWay:
    """One decoder from trained members: a network, an ensemble, or a :class:`TwoWay` of both directions."""
    if len(nets) != len(right_to_left) or not nets:
        raise ValueError(f"{len(nets)} networks but {len(right_to_left)} directions")
    sides = [[n for n, r in zip(nets, right_to_left, strict=True) if r == side] for side in (False, True)]
    one = lambda group: group[0] if len(group) == 1 else Ensemble(group)  # noqa: E731
    if not sides[1]:
        return one(sides[0])
    if not sides[0]:
        raise ValueError("an ensemble with right-to-left members needs a left-to-right member")
    return TwoWay(one(sides[0]), one(sides[1]))
