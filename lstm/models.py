"""A sequence model for the training tasks: an `LSTM` layer and a linear readout.

    x (B, T, I) --LSTM--> h (B, H) or (B, T, H) --Linear--> y (B, O) or (B, T, O)

A "last" task reads out the final hidden state only; a "sequence" task reads out every step.
"""

from __future__ import annotations

import numpy as np

import minigrad as mg
from lstm.layer import LSTM


class SequenceModel(mg.nn.Module):
    """LSTM layer(s) plus a linear readout.

    Args:
        input_size, hidden_size, output_size: I, H, O.
        num_layers: stacked LSTM layers.
        per_step: read out every step (B, T, O) instead of the last one (B, O).
        forget_bias: added to the forget gate's bias at initialisation (1.0 helps remembering).
        rng: a ``np.random.Generator`` or seed for the initial weights.
    """

    def __init__(self, input_size: int, hidden_size: int, output_size: int, num_layers: int = 1,
                 per_step: bool = False, forget_bias: float = 1.0, rng=None, **lstm_options):
        rng = np.random.default_rng(rng)
        self.lstm = LSTM(input_size, hidden_size, num_layers=num_layers, return_sequences=per_step,
                         return_state=True, forget_bias=forget_bias, rng=rng, **lstm_options)
        self.readout = mg.nn.Linear(hidden_size, output_size, rng=rng)
        self.per_step = per_step

    def forward(self, x, state=None):
        """Returns ``(y, (h_n, c_n))``: the readout and the final state to carry into the next chunk."""
        out, h_n, c_n = self.lstm(x, state=state)
        return self.readout(out), (h_n, c_n)
