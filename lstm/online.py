"""The networks of the LSTM papers in hand-derived NumPy, trained online as they were run.

Hochreiter & Schmidhuber (1997) and Gers, Schmidhuber & Cummins (2000) trained tiny networks on one
sequence, or one endless stream, at a time. Through minigrad's primitive-op graph every op costs a few
µs, so a run of 10^5 sequences of 100 steps would take hours; this module is the same network written
directly in NumPy (its gradients are tested against the graph's in ``tests/test_online.py``).

The network: ``n_in`` inputs; ``n_blocks`` memory blocks of ``cells`` cells each (H = n_blocks * cells)
sharing one input gate, one output gate and, in the forget-gate cell, one forget gate; ``n_out``
sigmoid output units. Every gate and cell input reads z(t) = [x(t), y_c(t-1), r(t-1), 1]: the inputs,
the cells' previous outputs, with ``gate_recurrence`` the gates' previous activations r = [i, f, o]
(the 1997 paper's fully recurrent hidden layer), and a bias. Per step, B sequences at once::

    i = sigmoid(z @ W_i.T)                    (B, n_blocks)  input gates
    f = sigmoid(z @ W_f.T)                    (B, n_blocks)  forget gates (forget=True; else f = 1)
    o = sigmoid(z @ W_o.T)                    (B, n_blocks)  output gates
    g = 4 sigmoid(z @ W_g.T) - 2              (B, H)         cell input, in (-2, 2)
    s = f s_prev + i g                        (B, H)         the gates act on every cell of their block
    y_c = o (2 sigmoid(s) - 1)                (B, H)         cell output, in (-1, 1)
    y = sigmoid([y_c, x (with shortcut), 1] @ W_y.T)   (B, n_out)

``cell_bias=False`` and ``output_bias=False`` hold the bias column of W_g or W_y at zero (the 1997
Reber network biases only its gates; see `lstm.paper1997`).

The loss is E = 1/2 sum (y - target)^2 over the steps that have a target. Gradients:

- ``backward(..., truncated=False)``: backpropagation through time, the exact gradient of E;
- ``truncated=True``: the 1997 rule. Errors reaching a gate's or a cell's net input are not sent back
  further in time (they still change its incoming weights), so an error travels back only along the
  cell states s (the constant error carousel). It is what the graph computes with z's recurrent part
  detached.
- `OnlineTrainer`: the same truncated gradient computed forward in time (the traces ds/dW of the
  papers' RTRL-like scheme), so the weights can change at every step of an endless stream.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

GATES = ("i", "f", "o")


def sigmoid(a: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * a))  # no overflow warning for large |a|


@dataclass(frozen=True)
class Shape:
    """The sizes and connectivity of a network (see the module docstring)."""

    n_in: int
    n_blocks: int
    cells: int
    n_out: int
    forget: bool = False
    gate_recurrence: bool = True
    shortcut: bool = False
    cell_bias: bool = True
    output_bias: bool = True

    @property
    def H(self) -> int:
        return self.n_blocks * self.cells

    @property
    def gates(self) -> tuple[str, ...]:
        return GATES if self.forget else ("i", "o")

    @property
    def Z(self) -> int:
        """Length of z: inputs, cell outputs, gate activations (if recurrent), bias."""
        return self.n_in + self.H + (len(self.gates) * self.n_blocks if self.gate_recurrence else 0) + 1

    @property
    def Zy(self) -> int:
        return self.H + (self.n_in if self.shortcut else 0) + 1

    def weight_shapes(self) -> dict[str, tuple[int, int]]:
        shapes = {f"W_{k}": (self.n_blocks, self.Z) for k in self.gates}
        return shapes | {"W_g": (self.H, self.Z), "W_y": (self.n_out, self.Zy)}

    def absent_biases(self) -> list[str]:
        """The matrices whose last column (the bias) is held at zero: not weights of the network."""
        return [k for k, kept in (("W_g", self.cell_bias), ("W_y", self.output_bias)) if not kept]

    def n_weights(self) -> int:
        """The number of trainable weights (the papers' count)."""
        shapes = self.weight_shapes()
        return sum(a * b for a, b in shapes.values()) - sum(shapes[k][0] for k in self.absent_biases())


def init_weights(shape: Shape, rng: np.random.Generator, scale: float, gate_bias: dict | None = None) -> dict:
    """Weights uniform in [-scale, scale]; ``gate_bias`` maps a gate ("i", "f", "o") to one bias per
    block (the papers' blockwise initialisation), which replaces the random one."""
    weights = {name: rng.uniform(-scale, scale, size) for name, size in shape.weight_shapes().items()}
    for name in shape.absent_biases():
        weights[name][:, -1] = 0.0
    for gate, biases in (gate_bias or {}).items():
        weights[f"W_{gate}"][:, -1] = biases
    return weights


class Network:
    """A `Shape` with its weights: forward over a sequence, backward (truncated or full)."""

    def __init__(self, shape: Shape, weights: dict):
        self.shape, self.weights = shape, weights

    def forward(self, x: np.ndarray, state: tuple | None = None) -> dict:
        """x (B, T, n_in) -> the activations of every step (for `backward`) and ``y`` (B, T, n_out).

        ``state`` is a previous result's ``final`` (s, y_c, r) to continue a stream; None resets it
        to zeros, as at each sequence start of the 1997 protocol."""
        sh, w = self.shape, self.weights
        B, T, _ = x.shape
        nb, S, H = sh.n_blocks, sh.cells, sh.H
        n_g = len(sh.gates) * nb
        n_r = n_g if sh.gate_recurrence else 0
        # back[:, t] is what step t reads back: y_c and (with gate_recurrence) r of step t - 1;
        # states[:, t + 1] is s(t). Both start from ``state`` (zeros: a reset).
        back, states = np.zeros((B, T + 1, H + n_r)), np.zeros((B, T + 1, nb, S))
        if state is not None:
            states[:, 0] = state[0].reshape(B, nb, S)
            back[:, 0, :H], back[:, 0, H:] = state[1], state[2]
        W_z = np.concatenate([w[f"W_{k}"] for k in sh.gates] + [w["W_g"]]).T  # (Z, n_g + H)
        W_rec = W_z[sh.n_in : -1]
        acts = x @ W_z[: sh.n_in] + W_z[-1]  # the inputs' share of every net input, all steps at once
        for t in range(T):
            a = acts[:, t]  # a view: the net inputs become the activations in place
            a += back[:, t] @ W_rec
            a *= 0.5
            np.tanh(a, out=a)
            a += 1.0
            a *= 0.5  # sigmoid(net) = (1 + tanh(net / 2)) / 2, for every gate and cell input
            gates = a[:, :n_g].reshape(B, -1, nb, 1)  # (B, gate, block, 1): one value for a block's cells
            s = gates[:, 0] * (4.0 * a[:, n_g:].reshape(B, nb, S) - 2.0)
            s += gates[:, 1] * states[:, t] if sh.forget else states[:, t]
            states[:, t + 1] = s
            back[:, t + 1, :H] = (gates[:, -1] * np.tanh(0.5 * s)).reshape(B, H)  # o h(s), h = 2 sigmoid - 1
            if n_r:
                back[:, t + 1, H:] = a[:, :n_g]
        s_all = states[:, 1:].reshape(B, T, H)
        y_all = back[:, 1:, :H]
        ones = np.ones((B, T, 1))
        zy = np.concatenate([y_all, x, ones] if sh.shortcut else [y_all, ones], axis=2)
        z = np.concatenate([x, back[:, :-1], ones], axis=2)
        out = {"z": z, "zy": zy, "s_prev": states[:, :-1].reshape(B, T, H), "s": s_all,
               "y": sigmoid(zy @ w["W_y"].T)}
        out["g"] = 4.0 * acts[..., n_g:] - 2.0
        out["hs"] = 2.0 * sigmoid(s_all) - 1.0
        for n, k in enumerate(sh.gates):
            out[k] = acts[..., n * nb : (n + 1) * nb]
        out["final"] = (states[:, -1].reshape(B, H), back[:, -1, :H], back[:, -1, H:])
        return out

    def loss(self, out: dict, target: np.ndarray, mask: np.ndarray) -> float:
        """E = 1/2 sum over masked steps of (y - target)^2; target (B, T, n_out), mask (B, T)."""
        return 0.5 * float(np.sum(mask[..., None] * (out["y"] - target) ** 2))

    def backward(self, out: dict, target: np.ndarray, mask: np.ndarray, truncated: bool) -> dict:
        """dE/dW for every weight: the exact gradient, or with ``truncated`` the 1997 one."""
        sh, w = self.shape, self.weights
        S, H = sh.cells, sh.H
        B, T, _ = out["y"].shape
        y = out["y"]
        dy = mask[..., None] * (y - target) * y * (1.0 - y)
        grads = {"W_y": np.einsum("bto,btk->ok", dy, out["zy"])}
        dy_c = dy @ w["W_y"][:, :H]  # (B, T, H): from the outputs of the same step

        def block_sum(a):
            return a.reshape(*a.shape[:-1], sh.n_blocks, S).sum(axis=-1)

        def cells(a):
            return np.repeat(a, S, axis=-1)

        if truncated:
            # Nothing flows back through z, so every step's local terms are known at once and only
            # the cell states carry errors back in time: ds(t) = local(t) + f(t + 1) ds(t + 1).
            local = dy_c * cells(out["o"]) * (1.0 - out["hs"] ** 2) / 2.0
            if sh.forget:
                ds, F = local.copy(), cells(out["f"])
                for t in reversed(range(T - 1)):
                    ds[:, t] += F[:, t + 1] * ds[:, t + 1]
            else:
                ds = np.cumsum(local[:, ::-1], axis=1)[:, ::-1]
            da = self._net_input_errors(out, dy_c, ds, block_sum, cells)
            for k, d in da.items():
                grads[f"W_{k}"] = np.einsum("btn,btz->nz", d, out["z"])
        else:
            grads |= {f"W_{k}": np.zeros_like(w[f"W_{k}"]) for k in (*sh.gates, "g")}
            W_z = np.concatenate([w[f"W_{k}"] for k in sh.gates] + [w["W_g"]])  # z's consumers
            n_in, n_r = sh.n_in, len(sh.gates) * sh.n_blocks
            dz = np.zeros((B, sh.Z))  # what z(t + 1) sends back to y_c(t) and r(t)
            ds_next = np.zeros((B, H))
            for t in reversed(range(T)):
                step = {k: out[k][:, t] for k in ("o", "i", "f", "g", "hs", "s_prev", "z") if k in out}
                dy_c_t = dy_c[:, t] + dz[:, n_in : n_in + H]
                dr = dz[:, n_in + H : n_in + H + n_r] if sh.gate_recurrence else np.zeros((B, n_r))
                ds = dy_c_t * cells(step["o"]) * (1.0 - step["hs"] ** 2) / 2.0 + ds_next
                da = self._net_input_errors(step, dy_c_t, ds, block_sum, cells)
                for n, k in enumerate(sh.gates):  # the gates' activations also fed z(t + 1)
                    a = step[k]
                    da[k] = da[k] + dr[:, n * sh.n_blocks : (n + 1) * sh.n_blocks] * a * (1.0 - a)
                for k, d in da.items():
                    grads[f"W_{k}"] += d.T @ step["z"]
                ds_next = ds * cells(step["f"]) if sh.forget else ds
                dz = np.concatenate([da[k] for k in sh.gates] + [da["g"]], axis=1) @ W_z
        for name in sh.absent_biases():
            grads[name][:, -1] = 0.0
        return grads

    def _net_input_errors(self, act: dict, dy_c, ds, block_sum, cells) -> dict:
        """dE/d(net input) of every gate and cell input, given dE/dy_c and dE/ds (any leading axes)."""
        o, i, g, hs = act["o"], act["i"], act["g"], act["hs"]
        da = {
            "o": block_sum(dy_c * hs) * o * (1.0 - o),
            "i": block_sum(ds * g) * i * (1.0 - i),
            "g": ds * cells(i) * (4.0 - g**2) / 4.0,
        }
        if self.shape.forget:
            f = act["f"]
            da["f"] = block_sum(ds * act["s_prev"]) * f * (1.0 - f)
        return da


class OnlineTrainer:
    """Online SGD on one sequence or stream (B = 1) with the truncated gradient computed forward in time.

    For every cell j the traces hold ds_j/dW of the weights that reach s_j directly (its cell input's
    row of W_g, and its block's rows of W_i and W_f): with z held constant, as the truncation rule says,
    ds_j(t)/dW = f(t) ds_j(t-1)/dW + (what s_j(t) adds) z(t). At a step with a target the gradient is
    complete from the traces and the current error alone, so the weights change at once (``lr`` > 0);
    with ``lr`` = 0 `step` only returns it (the tests sum it over a sequence and compare it with
    ``Network.backward(..., truncated=True)``). `reset` zeroes the activations and the traces: the
    1997 protocol calls it at each sequence start, a continual stream never.
    """

    def __init__(self, net: Network, lr: float):
        self.net, self.lr = net, lr
        sh = net.shape
        # One matrix for every gate and cell input, rows i, (f,) o, g; the Network's weights become views
        # of it, so one product per step reads them and one subtraction updates them.
        order = [f"W_{k}" for k in sh.gates] + ["W_g"]
        self.W = np.concatenate([net.weights[k] for k in order])
        rows = np.cumsum([0] + [net.weights[k].shape[0] for k in order])
        for k, a, b in zip(order, rows[:-1], rows[1:]):
            net.weights[k] = self.W[a:b]
        self.reset()

    def reset(self) -> None:
        sh = self.net.shape
        n_r = len(sh.gates) * sh.n_blocks if sh.gate_recurrence else 0
        self.s, self.y_c, self.r = np.zeros(sh.H), np.zeros(sh.H), np.zeros(n_r)
        # ds_j/dW for the weights that reach s_j directly: its row of W_g, its block's rows of W_i (and W_f)
        self.traces = np.zeros((len(sh.gates) * sh.H, sh.Z))  # rows: g, i, (f)

    def step(self, x: np.ndarray, target: np.ndarray | None = None) -> tuple[np.ndarray, dict | None]:
        """One step on x (n_in,): returns the outputs y (n_out,) and, given a target (n_out,), the
        gradient of 1/2 |y - target|^2 (already applied if lr > 0)."""
        sh, w = self.net.shape, self.net.weights
        S, H, nb = sh.cells, sh.H, sh.n_blocks
        z = np.concatenate([x, self.y_c, self.r, [1.0]])
        a = sigmoid(self.W @ z)
        n_g = len(sh.gates) * nb
        gates, g = a[:n_g], 4.0 * a[n_g:] - 2.0
        slope = np.repeat(gates * (1.0 - gates), S)  # each gate's derivative, for each of its cells
        I = np.repeat(gates[:nb], S)
        s_prev = self.s
        if sh.forget:
            F = np.repeat(gates[nb : 2 * nb], S)
            self.s = F * s_prev + I * g
            decay = np.tile(F, 3)[:, None]
            adds = np.concatenate([I * (4.0 - g**2) / 4.0, g * slope[:H], s_prev * slope[H : 2 * H]])
        else:
            self.s = s_prev + I * g
            decay = 1.0
            adds = np.concatenate([I * (4.0 - g**2) / 4.0, g * slope[:H]])
        self.traces *= decay
        self.traces += adds[:, None] * z
        hs = 2.0 * sigmoid(self.s) - 1.0
        O = np.repeat(gates[n_g - nb :], S)
        self.y_c = O * hs
        if sh.gate_recurrence:
            self.r = gates
        zy = np.concatenate([self.y_c, x, [1.0]] if sh.shortcut else [self.y_c, [1.0]])
        y = sigmoid(w["W_y"] @ zy)
        if target is None:
            return y, None
        dy = (y - target) * y * (1.0 - y)
        dy_c = w["W_y"][:, :H].T @ dy
        ds = dy_c * O * (1.0 - hs**2) / 2.0
        do = (dy_c * hs * slope[-H:]).reshape(nb, S).sum(axis=1)
        per_cell = np.tile(ds, len(sh.gates))[:, None] * self.traces  # rows g, i, (f)
        blockwise = per_cell[H:].reshape(-1, S, sh.Z).sum(axis=1)  # rows i, (f): summed over each block
        grads = {"W_y": np.outer(dy, zy), "W_o": np.outer(do, z), "W_g": per_cell[:H], "W_i": blockwise[:nb]}
        if sh.forget:
            grads["W_f"] = blockwise[nb:]
        for name in sh.absent_biases():
            grads[name][:, -1] = 0.0
        if self.lr:
            for name, grad in grads.items():
                w[name] -= self.lr * grad
        return y, grads
