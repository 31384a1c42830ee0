"""The simpler recurrent cells, for comparison with the LSTM: Elman's RNN and the GRU.

Both use PyTorch's layout and equations and are built from minigrad's primitive ops like
`lstm.LSTMCell`, one line per equation inside its scope. ``h = cell(x, h_prev)``; x (B, I), h (B, H).
"""

from __future__ import annotations

import numpy as np

import minigrad as mg
from lstm.lstm_cell import as_tensor, check_shape, check_sizes
from minigrad import Tensor, sigmoid, tanh
from minigrad.nn import Module, Parameter


class _RecurrentCell(Module):
    """What the two cells share: sizes, PyTorch's uniform init over ``blocks`` gate blocks, input
    checks."""

    blocks = 1

    def __init__(self, input_size: int, hidden_size: int, bias: bool, rng, dtype):
        dtype = check_sizes(type(self).__name__, input_size, hidden_size, dtype)
        rng = np.random.default_rng(rng)
        H, n, k = hidden_size, self.blocks * hidden_size, 1 / np.sqrt(hidden_size)
        self.input_size, self.hidden_size, self.bias, self.dtype = input_size, hidden_size, bias, dtype
        shapes = {"weight_ih": (n, input_size), "weight_hh": (n, H)}
        if bias:
            shapes.update(bias_ih=(n,), bias_hh=(n,))
        for name, shape in shapes.items():  # PyTorch's order and init
            setattr(self, name, Parameter(rng.uniform(-k, k, size=shape).astype(dtype)))

    def check_inputs(self, x, h) -> tuple[Tensor, Tensor]:
        """x (B, I) and h_prev (B, H) as Tensors of the cell's dtype; zeros for a None h."""
        who = f"{type(self).__name__}({self.input_size}, {self.hidden_size})"
        x = as_tensor(x, self.dtype, who, "x")
        check_shape(x, (None, self.input_size), ("batch", "input_size"), who, "x")
        shape = (x.shape[0], self.hidden_size)
        if h is None:
            return x, Tensor(np.zeros(shape, self.dtype))
        h = as_tensor(h, self.dtype, who, "state h")
        check_shape(h, shape, ("batch", "hidden_size"), who, "state h")
        return x, h

    def _biases(self) -> tuple:
        if self.bias:
            return self.bias_ih, self.bias_hh
        zeros = Tensor(np.zeros(self.blocks * self.hidden_size, self.dtype))
        return zeros, zeros


class RNNCell(_RecurrentCell):
    """Elman's cell: ``h = tanh(x @ W + h_prev @ U + b)`` with W (I, H) = weight_ih (H, I) transposed,
    U (H, H) = weight_hh transposed, b = bias_ih + bias_hh (H,). ``nonlinearity`` is "tanh" or "relu".

    Shapes: x (B, I); h_prev, h (B, H). Parameters are drawn uniform in (-1/sqrt(H), 1/sqrt(H)) from
    ``rng`` (a Generator or a seed) in the order weight_ih, weight_hh, bias_ih, bias_hh.
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        nonlinearity: str = "tanh",
        bias: bool = True,
        rng: np.random.Generator | int | None = None,
        dtype=np.float64,
    ):
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"RNNCell: nonlinearity must be 'tanh' or 'relu', got {nonlinearity!r}")
        super().__init__(input_size, hidden_size, bias, rng, dtype)
        self.nonlinearity = nonlinearity

    def forward(self, x, state=None) -> Tensor:
        """``h = cell(x, h_prev)``: x (B, I), h_prev (B, H) or None for zeros -> h (B, H)."""
        x, h = self.check_inputs(x, state)
        b_ih, b_hh = self._biases()
        with mg.scope("weights"):
            W, U, b = self.weight_ih.T, self.weight_hh.T, b_ih + b_hh
        act = tanh if self.nonlinearity == "tanh" else mg.relu
        with mg.scope("hidden_state"):
            h = act(x @ W + h @ U + b)
        return h


class GRUCell(_RecurrentCell):
    """The gated recurrent unit, PyTorch's equations and layout (blocks r, z, n of 3H rows):

        r = sigmoid(x @ W_r + b_ir + h_prev @ U_r + b_hr)       reset gate     (B, H)
        z = sigmoid(x @ W_z + b_iz + h_prev @ U_z + b_hz)       update gate    (B, H)
        n = tanh(x @ W_n + b_in + r * (h_prev @ U_n + b_hn))    candidate      (B, H)
        h = (1 - z) * n + z * h_prev                            hidden state   (B, H)

    W_* (I, H) are the H-row blocks of weight_ih (3H, I) transposed, U_* (H, H) those of weight_hh
    (3H, H), b_i* blocks of bias_ih (3H,), b_h* of bias_hh (3H,). The reset gate scales the recurrent
    term *after* its matrix product, so b_hn stays inside r * (...) and cannot be merged with b_in.
    Scopes: reset_gate, update_gate, candidate, hidden_state. Init as for `RNNCell`.
    """

    blocks = 3

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        bias: bool = True,
        rng: np.random.Generator | int | None = None,
        dtype=np.float64,
    ):
        super().__init__(input_size, hidden_size, bias, rng, dtype)

    def forward(self, x, state=None) -> Tensor:
        """``h = cell(x, h_prev)``: x (B, I), h_prev (B, H) or None for zeros -> h (B, H)."""
        x, h = self.check_inputs(x, state)
        b_ih, b_hh = self._biases()
        with mg.scope("weights"):
            Wr, Wz, Wn = (w.T for w in self.weight_ih.split(3))
            Ur, Uz, Un = (u.T for u in self.weight_hh.split(3))
            b_ir, b_iz, b_in = b_ih.split(3)
            b_hr, b_hz, b_hn = b_hh.split(3)
        with mg.scope("reset_gate"):
            r = sigmoid(x @ Wr + b_ir + h @ Ur + b_hr)
        with mg.scope("update_gate"):
            z = sigmoid(x @ Wz + b_iz + h @ Uz + b_hz)
        with mg.scope("candidate"):
            n = tanh(x @ Wn + b_in + r * (h @ Un + b_hn))
        with mg.scope("hidden_state"):
            h = (1 - z) * n + z * h
        return h
