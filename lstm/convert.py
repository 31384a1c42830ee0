"""Convert LSTM weights between the canonical layout (PyTorch's, see lstm.reference) and the
layouts people actually have. Pure NumPy.

    layout     input weights   recurrent weights   biases              gate order
    canonical  weight_ih (4H,I) weight_hh (4H,H)   bias_ih, bias_hh    i f g o
    Keras      kernel (I,4H)   recurrent (H,4H)    bias (4H,)          i f c o  (c is our g)
    cs231n     Wx (I,4H)       Wh (H,4H)           b (4H,)             i f o g
    PyTorch    weight_ih_l{k}  weight_hh_l{k}      bias_ih_l{k}, ...   i f g o

Layouts with a single bias take the sum of the two canonical ones; converting back puts it in
bias_ih and zeros in bias_hh, which gives the same LSTM. Every permutation of gate blocks goes
through reorder_gates. Every function returns new arrays, and keeps the dtype it was given.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .reference import GATE_ORDER, PARAM_NAMES, check_params

KERAS_ORDER = "ifgo"  # Keras names them i, f, c, o: its c is our g, in the same place.
CS231N_ORDER = "ifog"


def reorder_gates(array, src_order: Sequence[str], dst_order: Sequence[str], axis: int = 0):
    """Split array into len(src_order) equal blocks along axis, named by src_order, and return
    them concatenated in dst_order (a new array). Orders are strings like "ifgo" or sequences of
    names; each must name the same gates, once each."""
    array = np.asarray(array)
    src, dst = list(src_order), list(dst_order)
    if len(set(src)) != len(src) or sorted(src) != sorted(dst):
        raise ValueError(
            f"reorder_gates: src_order {src_order!r} and dst_order {dst_order!r} must name the "
            "same gates, each once"
        )
    if not -array.ndim <= axis < array.ndim:
        raise ValueError(f"reorder_gates: axis {axis} is out of range for shape {array.shape}")
    if array.shape[axis] % len(src) != 0:
        raise ValueError(
            f"reorder_gates: array has shape {array.shape}, whose axis {axis} (size "
            f"{array.shape[axis]}) does not split into {len(src)} gate blocks"
        )
    blocks = dict(zip(src, np.split(array, len(src), axis=axis), strict=True))
    return np.concatenate([blocks[name] for name in dst], axis=axis)


def _from_one_bias_layout(caller, w_x, w_h, b, order, names):
    """Canonical params from x-weights (I, 4H), h-weights (H, 4H) and one bias (4H,) whose gate
    blocks are in order; names are the layout's own names for the three, used in errors."""
    w_x, w_h, b = np.asarray(w_x), np.asarray(w_h), np.asarray(b)
    name_x, name_h, name_b = names
    # The hidden size is read off the recurrent weights' rows; every other shape follows from it.
    H = w_h.shape[0] if w_h.ndim == 2 else 0
    if H < 1 or w_h.shape != (H, 4 * H):
        raise ValueError(
            f"{caller}: {name_h} has shape {w_h.shape} but expected (hidden_size, 4*hidden_size)"
        )
    if w_x.ndim != 2 or w_x.shape[1] != 4 * H:
        raise ValueError(
            f"{caller}: {name_x} has shape {w_x.shape} but expected (input_size, 4*hidden_size) "
            f"= (input_size, {4 * H}), since {name_h} has hidden size {H}"
        )
    if b.shape != (4 * H,):
        raise ValueError(
            f"{caller}: {name_b} has shape {b.shape} but expected ({4 * H},), "
            f"since {name_h} has hidden size {H}"
        )

    def canonical(a, axis):
        return reorder_gates(a, order, GATE_ORDER, axis=axis)

    params = {
        "weight_ih": np.ascontiguousarray(canonical(w_x, 1).T),
        "weight_hh": np.ascontiguousarray(canonical(w_h, 1).T),
        "bias_ih": canonical(b, 0),
        "bias_hh": np.zeros_like(b),
    }
    check_params(params, caller)  # one floating dtype for all
    return params


def _to_one_bias_layout(caller, params, order):
    """(x-weights (I, 4H), h-weights (H, 4H), summed bias (4H,)) with gate blocks in order."""
    check_params(params, caller)

    def reordered(a, axis):
        return reorder_gates(a, GATE_ORDER, order, axis=axis)

    return (
        np.ascontiguousarray(reordered(params["weight_ih"], 0).T),
        np.ascontiguousarray(reordered(params["weight_hh"], 0).T),
        reordered(params["bias_ih"] + params["bias_hh"], 0),
    )


def from_keras(weights) -> dict[str, np.ndarray]:
    """Canonical params from Keras' LSTM get_weights(): [kernel, recurrent_kernel, bias]."""
    weights = list(weights)
    if len(weights) != 3:
        raise ValueError(
            "from_keras: expected 3 arrays [kernel (input_size, 4*hidden_size), recurrent_kernel "
            f"(hidden_size, 4*hidden_size), bias (4*hidden_size,)] but got {len(weights)}"
        )
    names = ("kernel", "recurrent_kernel", "bias")
    return _from_one_bias_layout("from_keras", *weights, KERAS_ORDER, names)


def to_keras(params) -> list[np.ndarray]:
    """[kernel (I, 4H), recurrent_kernel (H, 4H), bias (4H,)] for Keras' set_weights()."""
    return list(_to_one_bias_layout("to_keras", params, KERAS_ORDER))


def from_cs231n(d) -> dict[str, np.ndarray]:
    """Canonical params from the cs231n layout {"Wx": (I, 4H), "Wh": (H, 4H), "b": (4H,)}."""
    names = ("Wx", "Wh", "b")
    missing = [key for key in names if key not in d]
    if missing:
        raise ValueError(f"from_cs231n: missing {', '.join(missing)}; expected keys Wx, Wh, b")
    arrays = (d[key] for key in names)
    return _from_one_bias_layout("from_cs231n", *arrays, CS231N_ORDER, names)


def to_cs231n(params) -> dict[str, np.ndarray]:
    """{"Wx": (I, 4H), "Wh": (H, 4H), "b": (4H,)}, gate order i, f, o, g."""
    w_x, w_h, b = _to_one_bias_layout("to_cs231n", params, CS231N_ORDER)
    return {"Wx": w_x, "Wh": w_h, "b": b}


def _torch_keys(caller: str, layer: int) -> dict[str, str]:
    if not isinstance(layer, (int, np.integer)) or layer < 0:
        raise ValueError(f"{caller}: layer must be a non-negative integer, got {layer!r}")
    return {name: f"{name}_l{layer}" for name in PARAM_NAMES}


def from_torch(state_dict, layer: int = 0) -> dict[str, np.ndarray]:
    """Canonical params from a torch.nn.LSTM state_dict (any values np.asarray accepts, e.g.
    CPU tensors), reading the keys of one layer: weight_ih_l{layer}, ...; other keys ignored."""
    keys = _torch_keys("from_torch", layer)
    missing = [key for key in keys.values() if key not in state_dict]
    if missing:
        raise ValueError(
            f"from_torch: state_dict is missing {', '.join(missing)}; expected keys "
            f"{', '.join(keys.values())}"
        )
    # asarray then copy: np.array(tensor) would pass __array__ a copy keyword torch rejects.
    params = {name: np.asarray(state_dict[key]).copy() for name, key in keys.items()}
    check_params(params, "from_torch")
    return params


def to_torch(params, layer: int = 0) -> dict[str, np.ndarray]:
    """{"weight_ih_l{layer}": ..., ...}: NumPy copies; wrap them with torch.from_numpy to load
    them into a torch.nn.LSTM."""
    keys = _torch_keys("to_torch", layer)
    check_params(params, "to_torch")
    return {key: params[name].copy() for name, key in keys.items()}
