"""Hypothesis strategies shared by the test files (shapes, broadcastable shape pairs, float arrays), and
the central-difference gradient that every gradient test compares against.

Shapes are small on purpose (at most 4 per axis, 3 axes by default): the finite-difference checks
evaluate the function twice per input element, and small shapes already reach every case that matters
(0-d, size-1 axes that broadcast, leading axes that broadcast).

    from strategies import broadcastable_shapes, float_arrays, numerical_grad

    @given(data=st.data())
    def test_something(data):
        a_shape, b_shape = data.draw(broadcastable_shapes())
        a = data.draw(float_arrays(a_shape, low=0.5, high=2.0))
"""

from __future__ import annotations

import math

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from minigrad.numeric import central_differences


def shapes(min_dims: int = 0, max_dims: int = 3, min_side: int = 1, max_side: int = 4):
    """Array shapes (tuples of ints); ``min_dims=0`` includes the 0-d shape ``()``."""
    return hnp.array_shapes(min_dims=min_dims, max_dims=max_dims, min_side=min_side, max_side=max_side)


def broadcastable_shapes(num_shapes: int = 2, min_dims: int = 0, max_dims: int = 3, max_side: int = 4):
    """Tuples of ``num_shapes`` shapes that broadcast together under NumPy's rules.

    Sides of 1 and missing leading axes are drawn often, so gradients must be summed back both over
    size-1 axes and over leading axes.
    """
    def pairs(low):
        return hnp.mutually_broadcastable_shapes(
            num_shapes=num_shapes, min_dims=low, max_dims=max_dims, min_side=1, max_side=max_side
        ).map(lambda result: result.input_shapes)

    # Alone, min_dims=0 makes a 0-d shape in most examples; half of them keep at least one axis.
    return pairs(min_dims) | pairs(max(min_dims, 1))


@st.composite
def float_arrays(draw, shape, low: float = -2.0, high: float = 2.0, *, dtype=np.float64,
                 min_abs: float = 0.0, distinct: bool = False) -> np.ndarray:
    """Arrays of ``shape`` with every element in ``[low, high]``.

    Args:
        min_abs: keep every element at least this far from 0 (for relu's kink, or a divisor); with
            ``min_abs > 0`` the elements come from ``[-high, -min_abs]`` and ``[min_abs, high]``.
        distinct: elements pairwise at least ``0.2 * (high - low) / size`` apart, so that a maximum has
            no ties, even after a finite-difference step.
    """
    shape = tuple(shape)
    if distinct:
        # One element per equal-width bucket, buckets in a drawn order: no two elements are close.
        n = math.prod(shape)
        order = np.array(draw(st.permutations(range(n))), dtype=np.float64)
        jitter = draw(hnp.arrays(np.float64, n, elements=st.floats(0.1, 0.9)))
        width = (high - low) / max(n, 1)
        return (low + (order + jitter) * width).reshape(shape).astype(dtype)
    if min_abs > 0:
        magnitude = st.floats(min_abs, high, allow_subnormal=False)
        elements = st.tuples(magnitude, st.booleans()).map(lambda m_neg: -m_neg[0] if m_neg[1] else m_neg[0])
    else:
        elements = st.floats(low, high, allow_nan=False, allow_infinity=False, allow_subnormal=False)
    return draw(hnp.arrays(np.float64, shape, elements=elements)).astype(dtype)


@st.composite
def split_sizes(draw, length: int, max_pieces: int = 4) -> list[int]:
    """Sizes of 1 to ``max_pieces`` pieces (possibly empty ones) that add up to ``length``."""
    cuts = draw(st.lists(st.integers(0, length), min_size=0, max_size=max_pieces - 1))
    bounds = [0, *sorted(cuts), length]
    return [b - a for a, b in zip(bounds[:-1], bounds[1:])]


@st.composite
def reshape_targets(draw, shape) -> tuple:
    """A shape with as many elements as ``shape``: its sides' prime factors regrouped in a drawn order."""
    factors = [p for side in shape for p in _prime_factors(side)]
    factors = draw(st.permutations(factors)) if factors else []
    ndim = draw(st.integers(0 if not factors else 1, max(len(factors), 1) + 1))
    groups = [1] * ndim
    for f in factors:
        groups[draw(st.integers(0, ndim - 1))] *= f
    return tuple(groups)


def _prime_factors(n: int) -> list[int]:
    out, p = [], 2
    while n > 1:
        while n % p == 0:
            out.append(p)
            n //= p
        p += 1
    return out


def numerical_grad(f, arrays, eps: float = 1e-6) -> list[np.ndarray]:
    """Central differences (`minigrad.numeric.central_differences`) of the scalar ``f(*arrays)`` with
    respect to each array, in float64.

    ``(f(x + eps e_i) - f(x - eps e_i)) / step`` for every element i of every array, the step being the one
    taken after rounding (about 2 eps): truncation error of order ``eps**2`` times the third derivative,
    rounding error of order ``1e-16 * |f| / eps``.
    ``f`` must not keep or modify the arrays it is given (they are perturbed in place, then restored).
    """
    arrays = [np.array(a, dtype=np.float64) for a in arrays]  # private copies
    return [central_differences(lambda: float(f(*arrays)), a, eps) for a in arrays]


def numerical_grad_of(f, x: np.ndarray, eps: float = 1e-6) -> np.ndarray:
    """Central differences of the scalar ``f()`` with respect to the float64 array ``x`` that ``f`` reads:
    each element of ``x`` is perturbed in place, then restored (for closures over ``x``)."""
    return central_differences(f, x, eps)
