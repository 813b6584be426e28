"""The attention encoder-decoder after Toshniwal & Livescu (2016), as the paper used it.

Encoder: letter embeddings -> 2-layer bidirectional LSTM. Decoder: 2-layer LSTM over the
previous phone and the previous attentional vector (input feeding), global attention over
all encoder states with Luong's bilinear ("general") score, output from
``tanh(W [context; h])``. A batch holds words of one length, so neither the encoder nor the
attention needs padding or masks (:func:`nap.g2p.data.batches` groups samples by length).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import Tensor, nn

#: Decoder state: h (layers, B, H), c (layers, B, H) and the attentional vector (B, H).
State = tuple[Tensor, Tensor, Tensor]


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
        self.letter_embedding = nn.Embedding(cfg.n_letters, cfg.embedding, padding_idx=0)
        self.encoder = nn.LSTM(
            cfg.embedding,
            cfg.encoder_hidden,
            num_layers=cfg.layers,
            bidirectional=True,
            batch_first=True,
            dropout=cfg.dropout if cfg.layers > 1 else 0.0,
        )
        self.bridge = nn.Linear(enc_out, hid)
        self.phone_embedding = nn.Embedding(cfg.n_phones, cfg.embedding, padding_idx=0)
        self.cells = nn.ModuleList(
            [nn.LSTMCell(cfg.embedding + hid if i == 0 else hid, hid) for i in range(cfg.layers)]
        )
        self.keys = nn.Linear(enc_out, hid, bias=False)
        self.combine = nn.Linear(enc_out + hid, hid)
        self.output = nn.Linear(hid, cfg.n_phones)
        self.drop = nn.Dropout(cfg.dropout)

    def encode(self, letters: Tensor) -> tuple[Tensor, Tensor, State]:
        """Encoder states (B, L, 2He), attention keys (B, L, H) and the decoder's first state."""
        enc, _ = self.encoder(self.drop(self.letter_embedding(letters)))
        keys = self.keys(enc)
        h0 = torch.tanh(self.bridge(enc.mean(dim=1)))
        n = len(self.cells)
        h = h0.unsqueeze(0).expand(n, -1, -1)
        return enc, keys, (h, torch.zeros_like(h), torch.zeros_like(h0))

    def step(self, prev: Tensor, state: State, enc: Tensor, keys: Tensor) -> tuple[Tensor, State, Tensor]:
        """Feed the previous phones (B,); returns logits (B, n_phones), the new state, attention (B, L)."""
        hs, cs, feed = state
        x = torch.cat([self.phone_embedding(prev), feed], dim=1)
        new_h, new_c = [], []
        for i, cell in enumerate(self.cells):
            h, c = cell(x if i == 0 else self.drop(x), (hs[i], cs[i]))
            new_h.append(h)
            new_c.append(c)
            x = h
        attn = torch.softmax(torch.bmm(keys, x.unsqueeze(2)).squeeze(2), dim=1)
        context = torch.bmm(attn.unsqueeze(1), enc).squeeze(1)
        feed = torch.tanh(self.combine(torch.cat([context, x], dim=1)))
        return self.output(self.drop(feed)), (torch.stack(new_h), torch.stack(new_c), feed), attn

    @staticmethod
    def select(state: State, index: Tensor) -> State:
        """The state of the batch rows ``index`` (beam search reorders hypotheses)."""
        h, c, feed = state
        return h[:, index], c[:, index], feed[index]

    def forward(self, letters: Tensor, target: Tensor) -> tuple[Tensor, Tensor]:
        """Teacher-forced logits (B, T, n_phones) and attention (B, T, L) for ``target`` (B, T).

        ``target`` ends with </s> (then 0-padding); the decoder reads <s> and ``target[:, :-1]``.
        """
        enc, keys, state = self.encode(letters)
        bos = torch.ones((letters.shape[0], 1), dtype=torch.long)
        inputs = torch.cat([bos, target[:, :-1]], dim=1)
        logits, attns = [], []
        for t in range(inputs.shape[1]):
            out, state, attn = self.step(inputs[:, t], state, enc, keys)
            logits.append(out)
            attns.append(attn)
        return torch.stack(logits, dim=1), torch.stack(attns, dim=1)
