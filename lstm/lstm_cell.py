"""The LSTM cell, one time step, written with minigrad's primitive ops so every gate can be drawn.

Shapes: B batch, I input size, H hidden size. One step of the standard cell (Gers et al. 2000),
written batch-first: each row of x is one batch entry, so the papers' column-vector W x is x @ W here:

    i = sigmoid(x @ W_i + h_prev @ U_i + b_i)      input gate        (B, H)
    f = sigmoid(x @ W_f + h_prev @ U_f + b_f)      forget gate       (B, H)
    g = tanh(x @ W_g + h_prev @ U_g + b_g)         cell candidate    (B, H)
    o = sigmoid(x @ W_o + h_prev @ U_o + b_o)      output gate       (B, H)
    c = f * c_prev + i * g                         cell state        (B, H)
    h = o * tanh(c)                                hidden state      (B, H)

W_* (I, H) are the H-row blocks of weight_ih (4H, I) transposed, U_* (H, H) those of weight_hh
(4H, H), in the gate order i, f, g, o (PyTorch's layout), and b_* (H,) the blocks of bias_ih + bias_hh.
Each of the six lines runs inside its own `mg.scope` (input_gate, forget_gate, cell_candidate,
output_gate, cell_state, hidden_state), so a drawing of the forget gate shows
(x @ W_f + b_f) + h @ U_f -> sigmoid. A cell called on one x computes x @ W + b inside each gate
(`input_terms`); `lstm.LSTM` computes it for all steps before its time loop (`lstm.projection`) and each
step's gates start from their piece (`step_from_inputs`).

The variants (`variant=`) are drawn with the same scopes; see `LSTMCell`.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

import minigrad as mg
from lstm.fused import lstm_step as fused_step
from lstm.projection import GateInputs
from minigrad import Tensor, sigmoid, tanh
from minigrad.nn import Module, Parameter

VARIANTS = ("standard", "vanilla1997", "peephole", "coupled", "no_input_gate", "no_forget_gate",
            "no_output_gate", "no_input_activation", "no_output_activation")
PEEPHOLES = ("weight_ci", "weight_cf", "weight_co")
# The gates each variant has (the rows of the others are unused), and the scope each is drawn in.
GATES = {"standard": "ifgo", "vanilla1997": "igo", "peephole": "ifgo", "coupled": "fgo",
         "no_input_gate": "fgo", "no_forget_gate": "igo", "no_output_gate": "ifg",
         "no_input_activation": "ifgo", "no_output_activation": "ifgo"}  # fmt: skip
# The scope of each line of a step, made once: entering a scope again costs less than making a new one,
# and a step enters six.
input_gate, forget_gate, cell_candidate, output_gate, cell_state, hidden_state = (
    mg.scope(part) for part in ("input_gate", "forget_gate", "cell_candidate", "output_gate", "cell_state",
                                "hidden_state"))  # fmt: skip
GATE_SCOPES = {"i": input_gate, "f": forget_gate, "g": cell_candidate, "o": output_gate}


class LSTMStep(NamedTuple):
    """Everything one step computes, each (B, H): the new state h, c and the gate values.

    A gate the cell does not have is None (``f`` of the vanilla1997 cell, the gate an ablation
    removes). A fused step (``fused=True``) is one op: its gates are not values of the graph, and
    i, f, g, o are None.
    """

    h: Tensor
    c: Tensor
    i: Tensor
    f: Tensor | None
    g: Tensor
    o: Tensor


class GateWeights(NamedTuple):
    """One gate's weights, ready for a step: pre-activation = x @ W + h @ U + b.

    W (I, H) and U (H, H) are the gate's row blocks of weight_ih and weight_hh, transposed (so
    x @ W is the batch-first form of W_gate x); b (H,) is the gate's block of bias_ih + bias_hh.
    """

    W: Tensor
    U: Tensor
    b: Tensor


class LSTMWeights(NamedTuple):
    """The four gates' `GateWeights`, in PyTorch's gate order."""

    i: GateWeights
    f: GateWeights
    g: GateWeights
    o: GateWeights


def _uniform(rng: np.random.Generator, k: float, shape: tuple, dtype) -> Parameter:
    return Parameter(rng.uniform(-k, k, size=shape).astype(dtype))


def as_tensor(value, dtype: np.dtype, who: str, name: str) -> Tensor:
    """A Tensor of ``dtype`` from a Tensor (checked, not converted: that would cut its graph) or an
    array-like (converted)."""
    if isinstance(value, Tensor):
        if value.dtype != dtype:
            raise TypeError(
                f"{who}: {name} has dtype {value.dtype} but the parameters are {dtype}; "
                "convert one of them explicitly"
            )
        return value
    return Tensor(np.asarray(value), dtype=dtype)


def check_sizes(who: str, input_size, hidden_size, dtype) -> np.dtype:
    """Raise unless both sizes are positive integers and dtype a floating dtype; return the dtype."""
    for name, size in (("input_size", input_size), ("hidden_size", hidden_size)):
        if not isinstance(size, (int, np.integer)) or isinstance(size, bool) or size < 1:
            raise ValueError(f"{who}: {name} must be a positive integer, got {size!r}")
    dtype = np.dtype(dtype)
    if dtype.kind != "f":
        raise TypeError(f"{who}: dtype must be a floating dtype, got {dtype}")
    return dtype


def check_shape(t: Tensor, expected: tuple, layout: tuple, who: str, name: str) -> None:
    """Raise ValueError naming ``who`` and ``name`` unless t has the ``expected`` shape, a tuple
    with None where any size will do; ``layout`` names the axes, e.g. ("batch", "input_size")."""
    if len(t.shape) != len(expected) or any(
        e is not None and e != n for e, n in zip(expected, t.shape)
    ):
        sizes = ", ".join(a if e is None else str(e) for a, e in zip(layout, expected))
        raise ValueError(
            f"{who}: {name} has shape {t.shape} but expected ({', '.join(layout)}) = ({sizes})"
        )


class LSTMCell(Module):
    """One LSTM step from minigrad's primitive ops. ``h, c = cell(x, (h_prev, c_prev))``.

    Args:
        input_size: I, the size of x.
        hidden_size: H, the size of h and c.
        bias: with False there are no bias Parameters and the bias terms are a constant zero, so the
            graph keeps the same shape.
        forget_bias: added to the forget gate's block of ``bias_ih`` at init (Keras'
            ``unit_forget_bias``; Gers et al. 2000 recommend a positive value such as 1 so the cell
            starts by remembering).
        rng: a ``np.random.Generator`` or a seed. Parameters are drawn uniform in
            (-1/sqrt(H), 1/sqrt(H)) as in PyTorch, in the order weight_ih, weight_hh, bias_ih,
            bias_hh (then the peephole weights), so with the same seed they equal
            ``lstm.reference.init_params``.
        variant: which cell (all use the 4H layout, so their Parameters have PyTorch's shapes):

            - ``"standard"``: the equations in the module docstring.
            - ``"vanilla1997"``: Hochreiter & Schmidhuber's original cell, without a forget gate:
              ``c = c_prev + i * g`` with ``g = 4 sigmoid(a_g) - 2`` in (-2, 2) and
              ``h = o * (2 sigmoid(c) - 1)`` in (-1, 1). The f rows of the weights are unused
              (their gradient is zero). ``truncated_gradient=True`` is the paper's truncated
              backprop: h_prev enters the gates through a stop-gradient (``detach``), so errors
              flow back in time only along the cell state (the paper's rule: errors arriving at a gate's
              or a cell's net input are not propagated further back in time, though they change its
              incoming weights). ``cells_per_block=S`` groups the H cells into H/S memory blocks
              sharing one input and one output gate: the gates use only the first H/S rows of their
              blocks of the weights (the other rows are unused, their gradient zero), and each block's
              gate value multiplies all S of its cells.
            - ``"peephole"``: Gers & Schmidhuber 2000: i and f also see c_prev, o sees the new c,
              through diagonal weights ``weight_ci``, ``weight_cf``, ``weight_co`` (H,):
              ``i = sigmoid(... + weight_ci * c_prev)``, ``f = sigmoid(... + weight_cf * c_prev)``,
              ``o = sigmoid(... + weight_co * c)``.
            - ``"coupled"``: one gate decides both: ``i = 1 - f``. The i rows of the weights are
              unused (their gradient is zero).
            - The ablations of Greff et al. 2017 ("LSTM: A Search Space Odyssey"), each the standard cell
              with one part removed: ``"no_input_gate"`` (i = 1), ``"no_forget_gate"`` (f = 1),
              ``"no_output_gate"`` (o = 1), ``"no_input_activation"`` (g without tanh),
              ``"no_output_activation"`` (h = o * c). A removed gate's rows of the weights are unused.
        dtype: the floating dtype of the Parameters; inputs given as arrays are converted to it.
        cells_per_block: S, memory cells per block sharing gates (vanilla1997 only; divides H).
        gate_bias: the papers' blockwise gate biases, e.g. ``{"i": [-3.0, -6.0]}``: gate ("i", "f",
            "o") -> one initial bias per block (per cell when S = 1), written to that gate's rows of
            ``bias_ih`` (and zero to ``bias_hh``'s).
        fused: run each step as ONE op whose forward and backward are the hand-derived
            `lstm.reference` step (`lstm.fused.LSTMStepFunction`): the same numbers, faster, drawn as one
            node. The attribute ``fused`` can be switched at any time (e.g. off to draw the gates).
            Standard variant only.

    Shapes: x (B, I); h_prev, c_prev, h, c (B, H); weight_ih (4H, I), weight_hh (4H, H), bias_ih,
    bias_hh (4H,), gate blocks in the order i, f, g, o.
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        bias: bool = True,
        forget_bias: float = 0.0,
        rng: np.random.Generator | int | None = None,
        variant: str = "standard",
        dtype=np.float64,
        truncated_gradient: bool = False,
        fused: bool = False,
        cells_per_block: int = 1,
        gate_bias: dict | None = None,
    ):
        dtype = check_sizes("LSTMCell", input_size, hidden_size, dtype)
        _check_options("LSTMCell", variant, truncated_gradient, bias, forget_bias, fused)
        check_blocks("LSTMCell", variant, hidden_size, cells_per_block, gate_bias, bias)
        rng = np.random.default_rng(rng)
        H, k = hidden_size, 1 / np.sqrt(hidden_size)
        params = {
            "weight_ih": _uniform(rng, k, (4 * H, input_size), dtype),
            "weight_hh": _uniform(rng, k, (4 * H, H), dtype),
        }
        if bias:
            params["bias_ih"] = _uniform(rng, k, (4 * H,), dtype)
            params["bias_hh"] = _uniform(rng, k, (4 * H,), dtype)
            params["bias_ih"].data[H : 2 * H] += dtype.type(forget_bias)
            for gate, values in (gate_bias or {}).items():
                rows = slice("ifgo".index(gate) * H, "ifgo".index(gate) * H + len(values))
                params["bias_ih"].data[rows] = values
                params["bias_hh"].data[rows] = 0.0
        if variant == "peephole":
            params.update({name: _uniform(rng, k, (H,), dtype) for name in PEEPHOLES})
        self._setup(params, variant, truncated_gradient, cells_per_block)
        self.fused = fused

    @classmethod
    def from_parameters(
        cls, params: dict, variant: str = "standard", truncated_gradient: bool = False, fused: bool = False,
        cells_per_block: int = 1,
    ) -> LSTMCell:
        """A cell that uses these very Tensors (not copies), so training one trains the other.

        ``params`` maps weight_ih, weight_hh, and optionally bias_ih and bias_hh (both or neither),
        and for the peephole variant weight_ci, weight_cf, weight_co, to Tensors of the shapes in
        the class docstring: Parameters, as `lstm.LSTM.cell` hands out its layers, or any Tensors,
        which makes the cell a function of them (e.g. for ``mg.gradcheck``). Only Parameters are
        listed by ``named_parameters()``. ``fused`` and ``cells_per_block`` as for the constructor.
        """
        _check_options("LSTMCell", variant, truncated_gradient, True, 0.0, fused)
        names = ["weight_ih", "weight_hh"]
        if "bias_ih" in params or "bias_hh" in params:
            names += ["bias_ih", "bias_hh"]
        if variant == "peephole":
            names += list(PEEPHOLES)
        missing = [n for n in names if n not in params]
        if missing:
            raise ValueError(f"LSTMCell.from_parameters: missing {', '.join(missing)}")
        extra = [n for n in params if n not in names]
        if extra:
            raise ValueError(
                f"LSTMCell.from_parameters: unexpected {', '.join(extra)} for variant {variant!r}"
            )
        cell = cls.__new__(cls)
        cell._setup({n: params[n] for n in names}, variant, truncated_gradient, cells_per_block)
        cell.fused = fused
        return cell

    def _setup(self, params: dict, variant: str, truncated_gradient: bool, cells_per_block: int = 1) -> None:
        for name, p in params.items():
            if not isinstance(p, Tensor):
                raise TypeError(f"LSTMCell: {name} must be a Tensor, got {type(p).__name__}")
        w_ih, w_hh = params["weight_ih"], params["weight_hh"]
        H = w_hh.shape[-1]
        expected = {"weight_ih": (4 * H, w_ih.shape[-1]), "weight_hh": (4 * H, H),
                    "bias_ih": (4 * H,), "bias_hh": (4 * H,),
                    **dict.fromkeys(PEEPHOLES, (H,))}  # fmt: skip
        for name, p in params.items():
            if p.shape != expected[name] or p.dtype != w_hh.dtype:
                raise ValueError(
                    f"LSTMCell: {name} has shape {p.shape} and dtype {p.dtype} but expected "
                    f"{expected[name]} and {w_hh.dtype} (hidden size {H} from weight_hh)"
                )
        self.input_size, self.hidden_size = w_ih.shape[1], H
        check_blocks("LSTMCell", variant, H, cells_per_block, None, True)
        self.cells_per_block = cells_per_block
        # (H/S, H): block k's gate value to its S cells; a constant, not a Parameter (made only for blocks:
        # an (H, H) identity would be made at every forward of a layer)
        S = cells_per_block
        self._blocks = None
        if S > 1:
            self._blocks = Tensor(np.kron(np.eye(H // S), np.ones((1, S))).astype(w_hh.dtype), name="blocks")
        self.variant, self.truncated_gradient = variant, truncated_gradient
        self.dtype = w_hh.dtype
        for name, p in params.items():  # registered in this order: PyTorch's, then peepholes
            setattr(self, name, p)
        self.bias = "bias_ih" in params

    def gate_weights(self, inputs: bool = True) -> LSTMWeights:
        """Each gate's (W, U, b), cut from the Parameters once per sequence in the scope ``weights``.

        A step then needs no slicing: per gate it is matmul, matmul, add, add, activation. Each
        W (I, H) is the gate's block of weight_ih transposed, U (H, H) that of weight_hh, b (H,) the
        gate's block of bias_ih + bias_hh; they are named W_f, U_f, b_f (and so on) for drawings.
        With ``inputs=False`` only the U are cut (W and b are None): a layer's input projection reads
        weight_ih and the biases whole (`lstm.projection`).
        """
        H, n = self.hidden_size, self.hidden_size // self.cells_per_block
        with mg.scope("weights"):
            # Transposed views, no copies: (I, H) blocks stored row-major would make the forward's
            # products faster but the backward's slower by as much (measured), so keep it simple.
            U = [u.T for u in self.weight_hh.split(4)]  # four (H, H)
            W, b = [None] * 4, [None] * 4
            if inputs:
                W = [w.T for w in self.weight_ih.split(4)]  # four (I, H)
                if self.bias:
                    b = list((self.bias_ih + self.bias_hh).split(4))  # four (H,)
                else:
                    b = [Tensor(np.zeros(H, self.dtype)) for _ in range(4)]
            if self.cells_per_block > 1:  # one input and one output gate per block
                for k in (0, 3):
                    U[k] = U[k][:, :n]
                    if inputs:
                        W[k], b[k] = W[k][:, :n], b[k][:n]
        for gate, *blocks in zip("ifgo", W, U, b):
            for letter, t in zip("WUb", blocks):
                if t is not None:
                    t.name = f"{letter}_{gate}"
        return LSTMWeights(*(GateWeights(W[k], U[k], b[k]) for k in range(4)))

    def gate_widths(self) -> tuple[int, int, int, int]:
        """The columns each gate's pre-activation has: H, or H/S for a memory block's i and o."""
        H, n = self.hidden_size, self.hidden_size // self.cells_per_block
        return (n, H, H, n)

    def forward(self, x, state=None) -> tuple[Tensor, Tensor]:
        """``h, c = cell(x, state)``: x (B, I), state (h_prev, c_prev) each (B, H) or None for
        zeros; Tensors or arrays. Returns h, c (B, H)."""
        step = self.step(x, state)
        return step.h, step.c

    def step(self, x, state=None, weights: LSTMWeights | None = None) -> LSTMStep:
        """Like calling the cell, but returns `LSTMStep` (h, c, i, f, g, o) so every gate's value
        can be inspected. ``weights`` is this cell's `gate_weights()`, if already cut."""
        x, h, c = self.check_inputs(x, state)
        if weights is None and not self.fused:
            weights = self.gate_weights()
        return self.step_unchecked(x, h, c, weights)

    def check_inputs(self, x, state) -> tuple[Tensor, Tensor, Tensor]:
        """x, h_prev, c_prev as Tensors of the cell's dtype and shapes; zeros for a None state."""
        who = f"LSTMCell({self.input_size}, {self.hidden_size})"
        x = as_tensor(x, self.dtype, who, "x")
        check_shape(x, (None, self.input_size), ("batch", "input_size"), who, "x")
        shape = (x.shape[0], self.hidden_size)
        if state is None:
            zeros = Tensor(np.zeros(shape, self.dtype))
            return x, zeros, zeros
        if not isinstance(state, (tuple, list)) or len(state) != 2:
            raise TypeError(f"{who}: state must be a pair (h, c) or None, got {type(state).__name__}")
        h, c = (as_tensor(s, self.dtype, who, name) for s, name in zip(state, ("h", "c")))
        check_shape(h, shape, ("batch", "hidden_size"), who, "state h")
        check_shape(c, shape, ("batch", "hidden_size"), who, "state c")
        return x, h, c

    def step_unchecked(self, x: Tensor, h: Tensor, c: Tensor, weights: LSTMWeights | None) -> LSTMStep:
        """One step on Tensors already checked. ``weights`` is unused (may be None) when the cell is
        fused."""
        if self.fused:
            _check_options("LSTMCell", self.variant, False, True, 0.0, True)  # fused may be set late
            b_ih, b_hh = (self.bias_ih, self.bias_hh) if self.bias else (None, None)
            h, c = fused_step(x, h, c, self.weight_ih, self.weight_hh, b_ih, b_hh)
            return LSTMStep(h, c, None, None, None, None)
        return self.step_from_inputs(self.input_terms(x, weights), h, c, weights)

    def input_terms(self, x: Tensor, weights: LSTMWeights) -> GateInputs:
        """Each gate's share of one step's x: x @ W + b, in the gate's scope (None for a gate the cell
        does not have). A layer computes these for all steps at once (`lstm.projection`)."""
        terms = []
        for gate, (W, _, b) in zip("ifgo", weights):
            if gate in GATES[self.variant]:
                with GATE_SCOPES[gate]:
                    terms.append(x @ W + b)
            else:
                terms.append(None)
        return GateInputs(*terms)

    def step_from_inputs(self, xw: GateInputs, h: Tensor, c: Tensor, weights: LSTMWeights) -> LSTMStep:
        """One step from each gate's x @ W + b (`GateInputs`): the layer's path, whose input projection
        is hoisted over the whole sequence. Only the U of ``weights`` are read."""
        if self.truncated_gradient:
            h = h.detach()
        return _STEPS[self.variant](self, xw, h, c, [w.U for w in weights])

    # One method per variant, each line one equation of the class docstring.
    def _standard(self, xw, h, c, U) -> LSTMStep:
        Ui, Uf, Ug, Uo = U
        with input_gate:
            i = sigmoid(xw.i + h @ Ui)
        with forget_gate:
            f = sigmoid(xw.f + h @ Uf)
        with cell_candidate:
            g = tanh(xw.g + h @ Ug)
        with output_gate:
            o = sigmoid(xw.o + h @ Uo)
        with cell_state:
            c = f * c + i * g
        with hidden_state:
            h = o * tanh(c)
        return LSTMStep(h, c, i, f, g, o)

    def _vanilla1997(self, xw, h, c, U) -> LSTMStep:
        Ui, _, Ug, Uo = U  # no forget gate: f rows unused
        blocks = self.cells_per_block > 1
        with input_gate:
            i = sigmoid(xw.i + h @ Ui)
            i = i @ self._blocks if blocks else i  # each block's gate to its cells
        with cell_candidate:
            g = 4 * sigmoid(xw.g + h @ Ug) - 2
        with output_gate:
            o = sigmoid(xw.o + h @ Uo)
            o = o @ self._blocks if blocks else o
        with cell_state:
            c = c + i * g
        with hidden_state:
            h = o * (2 * sigmoid(c) - 1)
        return LSTMStep(h, c, i, None, g, o)

    def _peephole(self, xw, h, c, U) -> LSTMStep:
        Ui, Uf, Ug, Uo = U
        with input_gate:
            i = sigmoid(xw.i + h @ Ui + self.weight_ci * c)
        with forget_gate:
            f = sigmoid(xw.f + h @ Uf + self.weight_cf * c)
        with cell_candidate:
            g = tanh(xw.g + h @ Ug)
        with cell_state:
            c = f * c + i * g
        with output_gate:  # after the cell state: o peeks at the new c
            o = sigmoid(xw.o + h @ Uo + self.weight_co * c)
        with hidden_state:
            h = o * tanh(c)
        return LSTMStep(h, c, i, f, g, o)

    def _coupled(self, xw, h, c, U) -> LSTMStep:
        _, Uf, Ug, Uo = U  # i rows unused
        with forget_gate:
            f = sigmoid(xw.f + h @ Uf)
        with input_gate:
            i = 1 - f
        with cell_candidate:
            g = tanh(xw.g + h @ Ug)
        with output_gate:
            o = sigmoid(xw.o + h @ Uo)
        with cell_state:
            c = f * c + i * g
        with hidden_state:
            h = o * tanh(c)
        return LSTMStep(h, c, i, f, g, o)

    # The ablations: the standard cell with one part removed (Greff et al. 2017).
    def _no_input_gate(self, xw, h, c, U) -> LSTMStep:
        _, Uf, Ug, Uo = U  # i rows unused
        with forget_gate:
            f = sigmoid(xw.f + h @ Uf)
        with cell_candidate:
            g = tanh(xw.g + h @ Ug)
        with output_gate:
            o = sigmoid(xw.o + h @ Uo)
        with cell_state:
            c = f * c + g
        with hidden_state:
            h = o * tanh(c)
        return LSTMStep(h, c, None, f, g, o)

    def _no_forget_gate(self, xw, h, c, U) -> LSTMStep:
        Ui, _, Ug, Uo = U  # f rows unused
        with input_gate:
            i = sigmoid(xw.i + h @ Ui)
        with cell_candidate:
            g = tanh(xw.g + h @ Ug)
        with output_gate:
            o = sigmoid(xw.o + h @ Uo)
        with cell_state:
            c = c + i * g
        with hidden_state:
            h = o * tanh(c)
        return LSTMStep(h, c, i, None, g, o)

    def _no_output_gate(self, xw, h, c, U) -> LSTMStep:
        Ui, Uf, Ug, _ = U  # o rows unused
        with input_gate:
            i = sigmoid(xw.i + h @ Ui)
        with forget_gate:
            f = sigmoid(xw.f + h @ Uf)
        with cell_candidate:
            g = tanh(xw.g + h @ Ug)
        with cell_state:
            c = f * c + i * g
        with hidden_state:
            h = tanh(c)
        return LSTMStep(h, c, i, f, g, None)

    def _no_input_activation(self, xw, h, c, U) -> LSTMStep:
        Ui, Uf, Ug, Uo = U
        with input_gate:
            i = sigmoid(xw.i + h @ Ui)
        with forget_gate:
            f = sigmoid(xw.f + h @ Uf)
        with cell_candidate:
            g = xw.g + h @ Ug
        with output_gate:
            o = sigmoid(xw.o + h @ Uo)
        with cell_state:
            c = f * c + i * g
        with hidden_state:
            h = o * tanh(c)
        return LSTMStep(h, c, i, f, g, o)

    def _no_output_activation(self, xw, h, c, U) -> LSTMStep:
        Ui, Uf, Ug, Uo = U
        with input_gate:
            i = sigmoid(xw.i + h @ Ui)
        with forget_gate:
            f = sigmoid(xw.f + h @ Uf)
        with cell_candidate:
            g = tanh(xw.g + h @ Ug)
        with output_gate:
            o = sigmoid(xw.o + h @ Uo)
        with cell_state:
            c = f * c + i * g
        with hidden_state:
            h = o * c
        return LSTMStep(h, c, i, f, g, o)

    def __repr__(self) -> str:
        return (
            f"LSTMCell({self.input_size}, {self.hidden_size}, bias={self.bias}, "
            f"variant={self.variant!r}, dtype={self.dtype})"
        )


_STEPS = {
    "standard": LSTMCell._standard,
    "vanilla1997": LSTMCell._vanilla1997,
    "peephole": LSTMCell._peephole,
    "coupled": LSTMCell._coupled,
    "no_input_gate": LSTMCell._no_input_gate,
    "no_forget_gate": LSTMCell._no_forget_gate,
    "no_output_gate": LSTMCell._no_output_gate,
    "no_input_activation": LSTMCell._no_input_activation,
    "no_output_activation": LSTMCell._no_output_activation,
}


def check_blocks(who: str, variant: str, hidden_size: int, cells_per_block, gate_bias, bias: bool) -> None:
    """Raise unless ``cells_per_block`` divides the hidden size (and is 1 but for vanilla1997) and
    ``gate_bias`` gives one value per block for gates the variant has."""
    S = cells_per_block
    if not isinstance(S, (int, np.integer)) or isinstance(S, bool) or S < 1 or hidden_size % S:
        raise ValueError(
            f"{who}: cells_per_block must be a positive integer dividing hidden_size {hidden_size}, got {S!r}"
        )
    if S > 1 and variant != "vanilla1997":
        raise ValueError(f"{who}: cells_per_block={S} needs variant='vanilla1997' (the 1997 memory blocks)")
    for gate, values in (gate_bias or {}).items():
        if gate not in ("i", "f", "o") or (gate == "f" and variant == "vanilla1997") or not bias:
            raise ValueError(f"{who}: gate_bias[{gate!r}] cannot be set: the gates are 'i', 'f', 'o', "
                             "the vanilla1997 cell has no 'f', and bias=False has no biases")
        if len(values) != hidden_size // S:
            raise ValueError(f"{who}: gate_bias[{gate!r}] needs one value per block ({hidden_size // S}), "
                             f"got {len(values)}")


def _check_options(who: str, variant, truncated_gradient: bool, bias: bool, forget_bias,
                   fused: bool = False) -> None:
    if variant not in VARIANTS:
        raise ValueError(f"{who}: variant must be one of {', '.join(VARIANTS)}; got {variant!r}")
    if fused and variant != "standard":
        raise ValueError(
            f"{who}: fused=True runs the hand-derived step of lstm.reference, which is the standard "
            f"cell; variant {variant!r} needs fused=False"
        )
    if truncated_gradient and variant != "vanilla1997":
        raise ValueError(
            f"{who}: truncated_gradient is the 1997 cell's training rule; it needs "
            f"variant='vanilla1997', got {variant!r}"
        )
    if forget_bias and (not bias or variant in ("vanilla1997", "no_forget_gate")):
        why = "bias=False" if not bias else f"the {variant} cell has no forget gate"
        raise ValueError(f"{who}: forget_bias={forget_bias} cannot be used: {why}")
