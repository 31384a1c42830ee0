"""`LSTM`: a stack of LSTM cells run over a batch-first sequence, with PyTorch's parameter names.

The forward is a plain loop over layers and time steps, each inside its scope, so a drawing (or an
error message) can name ``lstm/l0/t3/forget_gate``. Backpropagation through time is just
``loss.backward()`` on what it returns.
"""

from __future__ import annotations

import numpy as np

import minigrad as mg
from lstm import fused
from lstm.convert import from_keras, to_keras
from lstm.dropping import drop_unread
from lstm.lstm_cell import (
    GATES,
    PEEPHOLES,
    LSTMCell,
    _check_options,
    as_tensor,
    check_blocks,
    check_shape,
    check_sizes,
)
from lstm.projection import project_inputs
from minigrad import Tensor
from minigrad.nn import Module
from minigrad.state import STATE


class LSTM(Module):
    """A multi-layer LSTM over a batch-first sequence x (B, T, I), like Keras' input layout.

    Args:
        input_size, hidden_size: I and H.
        num_layers: L; layer k > 0 reads the hidden states of layer k - 1.
        return_sequences: False gives the top layer's last hidden state (B, H); True gives its hidden
            state at every step (B, T, H).
        return_state: also return h_n and c_n, the last h and c of every layer, each (L, B, H).
        bias, forget_bias, variant, dtype, truncated_gradient, cells_per_block, gate_bias: as for
            `LSTMCell`, for every layer (the 1997 architecture: ``variant="vanilla1997",
            truncated_gradient=True, cells_per_block=2, gate_bias={"i": [-3.0, -6.0]}``).
        rng: a ``np.random.Generator`` or a seed; layers draw from it in order.
        name: the scope the forward runs in.
        fused: run each layer as ONE op over the whole sequence, forward and backpropagation through
            time hand-derived (`lstm.fused`, `lstm.fused_kernel`): the same numbers, faster, one node
            per layer (scope ``lstm/l0``). The attribute ``fused`` may be switched at any time, e.g. off
            to draw the gates' primitive ops. Standard variant only.
        keep_values: True keeps every value of the primitive-op graph until the graph is freed, so that a
            drawing can show them (``show_data=True``). False drops, as each step is built, the values its
            backward does not read (the gates' pre-activations, h_{t-1} U, f * c_{t-1}, i * g;
            `lstm.dropping`): the same gradients with less memory; drawing those values then raises,
            naming this switch. The attribute may be switched at any time.

    Parameters are attributes with ``torch.nn.LSTM``'s names and shapes: ``weight_ih_l{k}``
    (4H, I for k = 0, else 4H, H), ``weight_hh_l{k}`` (4H, H), ``bias_ih_l{k}``, ``bias_hh_l{k}``
    (4H,), plus ``weight_ci_l{k}``, ``weight_cf_l{k}``, ``weight_co_l{k}`` (H,) for the peephole
    variant. So ``state_dict()`` keys equal PyTorch's and
    ``layer.load_state_dict({k: v.numpy() for k, v in torch_lstm.state_dict().items()})`` works.
    `cell` (k) gives a layer as an `LSTMCell` sharing these Parameters.

    Truncated backpropagation through time: feed the next chunk ``state=(h_n.detach(),
    c_n.detach())``; its backward then stops at the chunk boundary.
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        return_sequences: bool = False,
        return_state: bool = False,
        bias: bool = True,
        forget_bias: float = 0.0,
        rng: np.random.Generator | int | None = None,
        variant: str = "standard",
        dtype=np.float64,
        name: str = "lstm",
        truncated_gradient: bool = False,
        fused: bool = False,
        cells_per_block: int = 1,
        gate_bias: dict | None = None,
        keep_values: bool = True,
    ):
        if not isinstance(num_layers, (int, np.integer)) or isinstance(num_layers, bool) or num_layers < 1:
            raise ValueError(f"LSTM: num_layers must be a positive integer, got {num_layers!r}")
        if not isinstance(name, str) or not name or "/" in name:
            raise ValueError(f"LSTM: name must be a non-empty string without '/', got {name!r}")
        dtype = check_sizes("LSTM", input_size, hidden_size, dtype)
        _check_options("LSTM", variant, truncated_gradient, bias, forget_bias, fused)
        check_blocks("LSTM", variant, hidden_size, cells_per_block, gate_bias, bias)
        self.cells_per_block = cells_per_block
        rng = np.random.default_rng(rng)
        self.input_size, self.hidden_size, self.num_layers = input_size, hidden_size, num_layers
        self.return_sequences, self.return_state = return_sequences, return_state
        self.variant, self.truncated_gradient, self.name = variant, truncated_gradient, name
        self.bias, self.dtype, self.fused, self.keep_values = bias, dtype, fused, keep_values
        for k in range(num_layers):
            cell = LSTMCell(
                input_size if k == 0 else hidden_size, hidden_size, bias, forget_bias, rng, variant,
                dtype, truncated_gradient, cells_per_block=cells_per_block, gate_bias=gate_bias,
            )  # fmt: skip
            for pname, p in cell.named_parameters():
                p.name = f"{pname}_l{k}"  # drawings label parameters with PyTorch's names
                setattr(self, p.name, p)

    def _layer_parameters(self, k: int) -> dict:
        names = ["weight_ih", "weight_hh"] + (["bias_ih", "bias_hh"] if self.bias else [])
        names += list(PEEPHOLES) if self.variant == "peephole" else []
        return {n: getattr(self, f"{n}_l{k}") for n in names}

    def cell(self, k: int = 0) -> LSTMCell:
        """Layer k as an `LSTMCell` that shares this layer's Parameters (not copies), e.g. to
        inspect one step with ``cell.step``."""
        params = self._layer_parameters(self._layer_index(k, "cell"))
        return LSTMCell.from_parameters(params, self.variant, self.truncated_gradient, self.fused,
                                        self.cells_per_block)

    @property
    def cells(self) -> list[LSTMCell]:
        """Every layer as an `LSTMCell` sharing this layer's Parameters."""
        return [self.cell(k) for k in range(self.num_layers)]

    def forward(self, x, state=None, return_gates: bool = False):
        """Run the sequence.

        Args:
            x: (B, T, I), a Tensor or an array (converted to the layer's dtype).
            state: None (zeros) or (h0, c0), each (L, B, H), Tensors or arrays.
            return_gates: also return the gate values of every step, ``gates[k][t]`` an `LSTMStep`
                (h, c, i, f, g, o, each (B, H)) of layer k at step t, e.g. for heat maps. Not with
                ``fused``, whose steps have no gate values in the graph.
        Returns:
            output: (B, H), or (B, T, H) with return_sequences; then h_n, c_n (L, B, H) if
            return_state; then gates if return_gates.
        """
        who = f"LSTM {self.name!r}"
        if return_gates and self.fused:
            raise ValueError(
                f"{who}: return_gates needs the gates of the primitive-op graph, and a fused layer is one "
                "op; set layer.fused = False to get them (same numbers)"
            )
        x = as_tensor(x, self.dtype, who, "x")
        check_shape(x, (None, None, self.input_size), ("batch", "time", "input_size"), who, "x")
        B, T, _ = x.shape
        if T == 0:
            raise ValueError(f"{who}: x has shape {x.shape} but needs at least one time step")
        h0, c0 = self._initial_state(state, B, who)
        with mg.scope(self.name):
            if self.fused:
                out, h_n, c_n = self._fused_forward(x, h0, c0)
            else:
                out, h_n, c_n, gates = self._step_by_step(x, h0, c0)
            result = (out,)
            if self.return_state:
                result += (mg.stack(h_n), mg.stack(c_n))
        if return_gates:
            result += (gates,)
        return result[0] if len(result) == 1 else result

    def _fused_forward(self, x: Tensor, h0: list, c0: list):
        """One `lstm.fused.LSTMLayerFunction` node per layer (scope ``<name>/l{k}``)."""
        h_n, c_n = [], []
        for k in range(self.num_layers):
            with mg.scope(f"l{k}"):
                x, h, c = fused.lstm_layer(x, h0[k], c0[k], *self._layer_parameters(k).values())
            h_n.append(h)
            c_n.append(c)
        return (x if self.return_sequences else h_n[-1]), h_n, c_n

    def _step_by_step(self, x: Tensor, h0: list, c0: list):
        """The primitive-op graph: a scope per layer and time step, each gate inside it. Each layer's
        input projection is one op before its time loop (`lstm.projection`): step t's gates read their
        piece of it, x_t W + b, and add h_{t-1} U. Under `mg.detect_anomaly` every step computes its own
        x_t W + b instead, so that a NaN or an inf is reported in the step where it arose."""
        B, T, _ = x.shape
        hoist = not STATE.anomaly
        gates, h_n, c_n, xs = [], [], [], []
        for k in range(self.num_layers):
            cell = self.cell(k)
            with mg.scope(f"l{k}"):
                weights = cell.gate_weights(inputs=not hoist)  # cut once per sequence, not per step
                if hoist:
                    with mg.scope("weights"):
                        bias = cell.bias_ih + cell.bias_hh if cell.bias else None
                        if bias is not None:
                            bias.name = "b"  # every gate's b, (4H,)
                    with mg.scope("inputs"):  # time major: step t's rows are one block of the product
                        x_tb = self._time_major(x) if k == 0 else mg.concat(xs, axis=0)
                        x_tb.name = "x" if k == 0 else f"h of l{k - 1}"
                        xs = project_inputs(x_tb, cell.weight_ih, bias, T, cell.gate_widths(),
                                            GATES[self.variant])
                elif k == 0:
                    # One split, not x[:, t] per step: each getitem's backward would build a whole
                    # (B, T, I) array of zeros; the split's backward is one concat.
                    with mg.scope("inputs"):
                        xs = self._time_major(x).split(T, axis=0)
                    for t, x_t in enumerate(xs):
                        x_t.name = f"x_{t}"
                step_from = cell.step_from_inputs if hoist else cell.step_unchecked
                h, c = h0[k], c0[k]
                steps = []
                for t in range(T):
                    with mg.scope(f"t{t}"):
                        step = step_from(xs[t], h, c, weights)
                        if not self.keep_values:
                            drop_unread(step, STATE.scope)
                    h, c = step.h, step.c
                    h.name, c.name = f"h_{t}", f"c_{t}"  # x_t, h_{t-1}, c_{t-1} -> h_t, c_t
                    steps.append(step)
            xs = [s.h for s in steps]  # the next layer's inputs
            gates.append(steps)
            h_n.append(h)
            c_n.append(c)
        out = mg.stack(xs, axis=1) if self.return_sequences else xs[-1]
        return out, h_n, c_n, gates

    def _time_major(self, x: Tensor) -> Tensor:
        """x (B, T, I) as (T B, I), step t's inputs in rows t B to (t + 1) B."""
        B, T, _ = x.shape
        return x.transpose(1, 0, 2).reshape(T * B, self.input_size)

    def _initial_state(self, state, B: int, who: str):
        """(h0, c0) as sequences of L Tensors (B, H)."""
        L, H = self.num_layers, self.hidden_size
        if state is None:
            h0 = Tensor(np.zeros((B, H), self.dtype), name="h_init")
            c0 = Tensor(np.zeros((B, H), self.dtype), name="c_init")
            return [h0] * L, [c0] * L
        if not isinstance(state, (tuple, list)) or len(state) != 2:
            raise TypeError(f"{who}: state must be a pair (h0, c0) or None, got {type(state).__name__}")
        result = []
        for s, name in zip(state, ("h0", "c0")):
            s = as_tensor(s, self.dtype, who, f"state {name}")
            check_shape(s, (L, B, H), ("num_layers", "batch", "hidden_size"), who, f"state {name}")
            result.append([s[k] for k in range(L)])
        return result

    def load_keras_weights(self, weights, layer: int = 0) -> None:
        """Load one layer from Keras' ``LSTM.get_weights()``: [kernel (I, 4H), recurrent_kernel
        (H, 4H), bias (4H,)], gate order i, f, c, o. Keras has one bias: it goes to bias_ih and
        bias_hh becomes zero, which is the same LSTM."""
        k = self._keras_layer(layer, "load_keras_weights")
        params = from_keras(weights)
        self.load_state_dict({f"{n}_l{k}": a for n, a in params.items()}, strict=False)

    def keras_weights(self, layer: int = 0) -> list[np.ndarray]:
        """Layer ``layer`` as Keras' ``set_weights()`` wants it: [kernel, recurrent_kernel, bias]
        (bias = bias_ih + bias_hh)."""
        k = self._keras_layer(layer, "keras_weights")
        return to_keras({n: p.data for n, p in self._layer_parameters(k).items()})

    def _keras_layer(self, layer, who: str) -> int:
        if self.variant != "standard" or not self.bias:
            raise ValueError(
                f"LSTM.{who}: Keras' LSTM is the standard cell with a bias; this layer has "
                f"variant={self.variant!r}, bias={self.bias}"
            )
        return self._layer_index(layer, who)

    def _layer_index(self, layer, who: str) -> int:
        if not isinstance(layer, (int, np.integer)) or not 0 <= layer < self.num_layers:
            raise IndexError(f"LSTM.{who}: layer {layer!r} does not exist; num_layers is {self.num_layers}")
        return int(layer)

    def __repr__(self) -> str:
        return (
            f"LSTM({self.input_size}, {self.hidden_size}, num_layers={self.num_layers}, "
            f"return_sequences={self.return_sequences}, return_state={self.return_state}, "
            f"variant={self.variant!r}, name={self.name!r}" + (", fused=True)" if self.fused else ")")
        )

