"""Recurrent networks: model=lstm, model=gru, model=rnn (vanilla, tanh or relu).

Tokens are embedded and images read one row per step (dlrun/models/stems.py). A sequence
task gets logits at every step; classification and regression read the last layer's final
hidden state (both directions' when bidirectional). On causal data (next-token
prediction) a bidirectional network would read the tokens it must predict, so it is refused.
"""

from __future__ import annotations

import torch
from torch import nn

from dlrun.models.layers import feature_norm
from dlrun.models.stems import sequence_stem

CELLS = {"lstm": nn.LSTM, "gru": nn.GRU, "rnn": nn.RNN}


class RecurrentNet(nn.Module):
    def __init__(self, cfg, spec):
        super().__init__()
        self.spec, self.directions = spec, 2 if cfg["bidirectional"] else 1
        width = cfg["width"]
        self.stem, _ = sequence_stem(spec, width, images="rows")
        extra = {"nonlinearity": cfg["activation"]} if cfg["name"] == "rnn" else {}
        self.body = CELLS[cfg["name"]](width, width, num_layers=cfg["depth"], batch_first=True,
                                       bidirectional=cfg["bidirectional"],
                                       dropout=cfg["dropout"] if cfg["depth"] > 1 else 0.0, **extra)
        self.norm = feature_norm(cfg["norm"], self.directions * width)
        self.dropout = nn.Dropout(cfg["dropout"])
        self.head = nn.Linear(self.directions * width, spec.output_dim)

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        outputs, state = self.body(self.stem(inputs))  # outputs (N, T, directions*width)
        if self.spec.task == "sequence":
            features = outputs
        else:
            final = state[0] if isinstance(state, tuple) else state  # LSTM state is (h, c); h (layers*dirs, N, width)
            features = final[-self.directions:].transpose(0, 1).flatten(1)  # (N, directions*width)
        return self.head(self.dropout(self.norm(features)))  # (N, T, classes) or (N, outputs)


def build(cfg, spec) -> nn.Module:
    return RecurrentNet(cfg, spec)
