"""Gradients of gradients: ``mg.grad(..., create_graph=True)`` records the backward pass, which can then be
differentiated again.

- every element-wise op's second derivative against its formula, derived by hand;
- a Hessian-vector product against central differences of a gradient derived by hand;
- full Hessians of small functions through matmul, indexing, split/concat/stack, reductions, reshapes
  and broadcasting, against second-order central differences of a NumPy re-implementation.
"""

import numpy as np
import pytest

import minigrad as mg


def derivatives(f, x0):
    """f'(x) and f''(x) of an element-wise f, by differentiating twice."""
    x = mg.tensor(x0, requires_grad=True)
    (first,) = mg.grad(f(x).sum(), x, create_graph=True)
    if not first.requires_grad:
        # The recorded derivative does not depend on x at all (as for relu): its derivative is 0.
        return first.data, np.zeros_like(x0)
    (second,) = mg.grad(first.sum(), x)
    return first.data, second.data


def sigmoid(x):
    return 1 / (1 + np.exp(-x))


# name: (minigrad f, f', f'', domain)
ELEMENTWISE = {
    "exp": (mg.exp, np.exp, np.exp, (-2, 2)),
    "log": (mg.log, lambda x: 1 / x, lambda x: -1 / x**2, (0.3, 3)),
    "tanh": (mg.tanh, lambda x: 1 - np.tanh(x) ** 2,
             lambda x: -2 * np.tanh(x) * (1 - np.tanh(x) ** 2), (-2, 2)),
    "sigmoid": (mg.sigmoid, lambda x: sigmoid(x) * (1 - sigmoid(x)),
                lambda x: sigmoid(x) * (1 - sigmoid(x)) * (1 - 2 * sigmoid(x)), (-4, 4)),
    "relu": (mg.relu, lambda x: (x > 0) * 1.0, lambda x: 0 * x, (-2, 2)),
    "relu_squared": (lambda x: mg.relu(x) ** 2, lambda x: 2 * np.maximum(x, 0),
                     lambda x: 2.0 * (x > 0), (-2, 2)),
    "pow_3": (lambda x: x**3, lambda x: 3 * x**2, lambda x: 6 * x, (-2, 2)),
    "pow_2": (lambda x: x**2, lambda x: 2 * x, lambda x: 2 + 0 * x, (-2, 2)),
    "pow_1": (lambda x: x**1, lambda x: 1 + 0 * x, lambda x: 0 * x, (-2, 2)),
    "pow_0": (lambda x: x**0, lambda x: 0 * x, lambda x: 0 * x, (-2, 2)),
    "pow_half": (lambda x: x**0.5, lambda x: 0.5 * x**-0.5, lambda x: -0.25 * x**-1.5, (0.3, 3)),
    "pow_-1.5": (lambda x: x**-1.5, lambda x: -1.5 * x**-2.5, lambda x: 3.75 * x**-3.5, (0.3, 3)),
    "pow_tensor_exponent": (lambda x: 1.7**x, lambda x: 1.7**x * np.log(1.7),
                            lambda x: 1.7**x * np.log(1.7) ** 2, (-2, 2)),
    "pow_x_to_x": (lambda x: x**x, lambda x: x**x * (np.log(x) + 1),
                   lambda x: x**x * ((np.log(x) + 1) ** 2 + 1 / x), (0.3, 2)),
    "div_numerator": (lambda x: x / 3.0, lambda x: 1 / 3 + 0 * x, lambda x: 0 * x, (-2, 2)),
    "div_denominator": (lambda x: 2.0 / x, lambda x: -2 / x**2, lambda x: 4 / x**3, (0.3, 3)),
    "div_both": (lambda x: x / (x + 1), lambda x: 1 / (x + 1) ** 2, lambda x: -2 / (x + 1) ** 3, (0, 3)),
}  # fmt: skip


@pytest.mark.parametrize("shape", [(3, 4), ()], ids=["matrix", "0-d"])
@pytest.mark.parametrize("name", ELEMENTWISE)
def test_second_derivatives_of_elementwise_ops(name, shape):
    f, d1, d2, (low, high) = ELEMENTWISE[name]
    x0 = np.random.default_rng(0).uniform(low, high, size=shape)
    x0[np.abs(x0) < 0.05] = 0.1  # away from relu's kink
    first, second = derivatives(f, x0)
    np.testing.assert_allclose(first, d1(x0), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(second, d2(x0), rtol=1e-10, atol=1e-12)


def test_mixed_second_derivatives_of_div():
    # y = a / b:  d2y/da2 = 0,  d2y/(da db) = -1/b^2,  d2y/db2 = 2a/b^3
    rng = np.random.default_rng(1)
    a0, b0 = rng.normal(size=5), rng.uniform(0.5, 2, size=5)
    a, b = mg.tensor(a0, requires_grad=True), mg.tensor(b0, requires_grad=True)
    ga, gb = mg.grad((a / b).sum(), [a, b], create_graph=True)
    np.testing.assert_allclose(ga.data, 1 / b0)
    np.testing.assert_allclose(gb.data, -a0 / b0**2)
    # ga and gb share recorded ops (gb = -ga * a / b): keep them for the second call
    d_aa, d_ab = mg.grad(ga.sum(), [a, b], retain_graph=True, allow_unused=True)
    d_ba, d_bb = mg.grad(gb.sum(), [a, b])
    assert d_aa is None  # 1/b does not depend on a
    np.testing.assert_allclose(d_ab.data, -1 / b0**2)
    np.testing.assert_allclose(d_ba.data, -1 / b0**2)
    np.testing.assert_allclose(d_bb.data, 2 * a0 / b0**3)


def test_mixed_second_derivatives_of_pow_with_a_tensor_exponent():
    # y = a ** b:  d2y/da2 = b(b-1) a^(b-2),  d2y/(da db) = a^(b-1) (1 + b ln a),  d2y/db2 = a^b ln(a)^2
    rng = np.random.default_rng(2)
    a0, b0 = rng.uniform(0.5, 2, size=4), rng.normal(size=4)
    a, b = mg.tensor(a0, requires_grad=True), mg.tensor(b0, requires_grad=True)
    ga, gb = mg.grad((a**b).sum(), [a, b], create_graph=True)
    d_aa, d_ab = mg.grad(ga.sum(), [a, b], retain_graph=True)
    d_ba, d_bb = mg.grad(gb.sum(), [a, b])
    np.testing.assert_allclose(d_aa.data, b0 * (b0 - 1) * a0 ** (b0 - 2))
    np.testing.assert_allclose(d_ab.data, a0 ** (b0 - 1) * (1 + b0 * np.log(a0)))
    np.testing.assert_allclose(d_ba.data, d_ab.data)
    np.testing.assert_allclose(d_bb.data, a0**b0 * np.log(a0) ** 2)


def test_third_derivative_of_tanh():
    x0 = np.linspace(-1.5, 1.5, 7)
    x = mg.tensor(x0, requires_grad=True)
    (g1,) = mg.grad(mg.tanh(x).sum(), x, create_graph=True)
    (g2,) = mg.grad(g1.sum(), x, create_graph=True)
    (g3,) = mg.grad(g2.sum(), x)
    t = np.tanh(x0)
    np.testing.assert_allclose(g3.data, (1 - t**2) * (6 * t**2 - 2), rtol=1e-10, atol=1e-12)


def test_hessian_vector_product_against_differences_of_the_gradient():
    # f(W) = sum(tanh(W x)^2);  by hand: df/dW = (2 t (1 - t^2)) x^T with t = tanh(W x)
    rng = np.random.default_rng(3)
    w0, x0, v = rng.normal(size=(3, 4)), rng.normal(size=4), rng.normal(size=(3, 4))

    def gradient(w):
        t = np.tanh(w @ x0)
        return np.outer(2 * t * (1 - t**2), x0)

    w = mg.tensor(w0, requires_grad=True)
    (g,) = mg.grad((mg.tanh(w @ mg.tensor(x0)) ** 2).sum(), w, create_graph=True)
    np.testing.assert_allclose(g.data, gradient(w0), rtol=1e-10)
    (hv,) = mg.grad(g, w, grad_outputs=mg.tensor(v))  # H v = d(g . v)/dW
    eps = 1e-6
    expected = (gradient(w0 + eps * v) - gradient(w0 - eps * v)) / (2 * eps)
    np.testing.assert_allclose(hv.data, expected, rtol=1e-6, atol=1e-8)


# -- full Hessians through the structural ops ---
def numerical_hessian(f, x0, h=1e-4):
    """Second-order central differences of the scalar f at x0: an (n, n) array, n = x0.size.

    Error of order h**2 (truncation) plus 1e-16 |f| / h**2 (rounding): about 1e-8 here.
    """
    x0 = np.asarray(x0, dtype=np.float64)
    n = x0.size
    hess = np.zeros((n, n))

    def at(i, si, j, sj):
        x = x0.copy().reshape(-1)
        x[i] += si * h
        x[j] += sj * h
        return f(x.reshape(x0.shape))

    for i in range(n):
        for j in range(i, n):
            hess[i, j] = hess[j, i] = (
                at(i, 1, j, 1) - at(i, 1, j, -1) - at(i, -1, j, 1) + at(i, -1, j, -1)
            ) / (4 * h * h)
    return hess


def engine_hessian(f, x0):
    """The Hessian of the scalar f at x0, one row per backward of the recorded gradient."""
    x = mg.tensor(x0, requires_grad=True)
    (g,) = mg.grad(f(x), x, create_graph=True)
    rows = []
    for i in range(x0.size):
        e_i = np.zeros(x0.size)
        e_i[i] = 1.0
        if not g.requires_grad:
            rows.append(np.zeros(x0.size))
            continue
        (row,) = mg.grad(g, x, grad_outputs=mg.tensor(e_i.reshape(x0.shape)), retain_graph=True,
                         allow_unused=True)
        rows.append(np.zeros(x0.size) if row is None else row.data.reshape(-1))
    return np.array(rows)


RNG = np.random.default_rng(4)
B34, C31, W6 = RNG.normal(size=(3, 4)), RNG.normal(size=(3, 1)), RNG.normal(size=(3, 4))
B_BATCH, A44 = RNG.normal(size=(2, 4, 3)), RNG.normal(size=(4, 4))
IDX = np.array([0, 2, 0, 1, 0])

# name: (minigrad f, NumPy f, shape of x); x is drawn in (0.2, 1.5)
STRUCTURAL = {
    "matmul": (lambda x: mg.tanh(x @ mg.tensor(B34.T)).sum(), lambda x: np.tanh(x @ B34.T).sum(), (2, 4)),
    "matmul_self": (lambda x: ((x @ x.T) ** 2).sum(), lambda x: ((x @ x.T) ** 2).sum(), (2, 3)),
    "matmul_batched_broadcast": (lambda x: mg.tanh(x @ mg.tensor(B_BATCH)).sum(),
                                 lambda x: np.tanh(x @ B_BATCH).sum(), (3, 4)),
    "matmul_1d": (lambda x: mg.tanh(x @ mg.tensor(A44) @ x), lambda x: np.tanh(x @ A44 @ x), (4,)),
    "getitem_slice": (lambda x: (x[1:, ::2] ** 3).sum(), lambda x: (x[1:, ::2] ** 3).sum(), (3, 4)),
    "getitem_repeated": (lambda x: mg.tanh(x[IDX] * 2).sum(), lambda x: np.tanh(x[IDX] * 2).sum(), (3, 2)),
    "split_concat": (lambda x: (mg.concat([p**2 for p in x.split([1, 3], axis=1)][::-1], axis=1)
                                * mg.tensor(W6)).sum() ** 2,
                     lambda x: (np.concatenate([x[:, 1:] ** 2, x[:, :1] ** 2], axis=1) * W6).sum() ** 2,
                     (3, 4)),
    "split_unused_piece": (lambda x: (x.split(2, axis=1)[1] ** 3).sum(), lambda x: (x[:, 2:] ** 3).sum(),
                           (2, 4)),
    "stack": (lambda x: (mg.stack([x, x**2], axis=1) ** 2 * 0.5).sum() ** 2,
              lambda x: (np.stack([x, x**2], axis=1) ** 2 * 0.5).sum() ** 2, (2, 3)),
    "sum": (lambda x: (x.sum(axis=0) ** 3).sum(), lambda x: (x.sum(axis=0) ** 3).sum(), (3, 2)),
    "mean": (lambda x: (x.mean(axis=1, keepdims=True) ** 3 * x).sum(),
             lambda x: (x.mean(axis=1, keepdims=True) ** 3 * x).sum(), (2, 3)),
    "max": (lambda x: (x.max(axis=1) ** 3).sum() * x.max(), lambda x: (x.max(axis=1) ** 3).sum() * x.max(),
            (3, 3)),
    "broadcast_column": (lambda x: ((x * mg.tensor(C31) + x.sum(axis=0)) ** 3).sum(),
                         lambda x: ((x * C31 + x.sum(axis=0)) ** 3).sum(), (3, 2)),
    "broadcast_self": (lambda x: ((x[:, :1] * x) ** 2).sum(), lambda x: ((x[:, :1] * x) ** 2).sum(), (3, 3)),
    "reshape_transpose": (lambda x: mg.tanh(x.reshape(2, 3).T @ x.reshape(2, 3)).sum(),
                          lambda x: np.tanh(x.reshape(2, 3).T @ x.reshape(2, 3)).sum(), (3, 2)),
}  # fmt: skip


@pytest.mark.parametrize("name", STRUCTURAL)
def test_hessians_through_structural_ops(name):
    f, ref, shape = STRUCTURAL[name]
    x0 = np.random.default_rng(5).uniform(0.2, 1.5, size=shape)
    np.testing.assert_allclose(f(mg.tensor(x0)).item(), ref(x0), rtol=1e-12)
    expected = numerical_hessian(ref, x0)
    assert np.abs(expected).max() > 1e-3  # the case really has curvature to check
    np.testing.assert_allclose(engine_hessian(f, x0), expected, rtol=1e-5, atol=1e-5)


def test_the_recorded_backward_is_a_graph_under_backward_scopes():
    x = mg.tensor([0.5, 1.0], requires_grad=True)
    with mg.scope("cell"):
        y = mg.tanh(x * x).sum()
    (g,) = mg.grad(y, x, create_graph=True)
    assert g.requires_grad and not g.is_leaf
    ops, stack, seen = [], [g], set()
    while stack:
        t = stack.pop()
        if t.grad_fn is not None and id(t) not in seen:
            seen.add(id(t))
            ops.append((t.op, t.scope))
            stack.extend(t.parents)
    # Each op of a node's backward carries "<that node's scope>/backward"; x is used twice, and the
    # two gradients reaching it are added where mg.grad was called (no scope).
    assert ("tanh", "cell") in ops and ("mul", "cell") in ops  # the forward it differentiates
    backward_ops = [op for op, scope in ops if scope == "cell/backward"]
    assert sorted(set(backward_ops)) == ["mul", "sub"]  # g * (1 - y*y), then g * x twice
    assert sorted(ops) == sorted([("add", "")] + [(op, "cell/backward") for op in backward_ops]
                                 + [("tanh", "cell"), ("mul", "cell")])


def test_create_graph_backward_accumulates_a_differentiable_grad():
    x = mg.tensor([0.5, 2.0], requires_grad=True)
    (x**3).sum().backward(create_graph=True)
    assert x.grad.requires_grad
    np.testing.assert_allclose(x.grad.data, 3 * x.data**2)
    (second,) = mg.grad(x.grad.sum(), x)
    np.testing.assert_allclose(second.data, 6 * x.data)


def test_a_user_function_written_with_operators_differentiates_twice():
    class Cube(mg.Function):
        """y = x**3;  dx = g * 3 x**2"""

        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x**3

        @staticmethod
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            return g * 3 * x * x

    x0 = np.array([-1.5, 0.5, 2.0])
    first, second = derivatives(Cube.apply, x0)
    np.testing.assert_allclose(first, 3 * x0**2)
    np.testing.assert_allclose(second, 6 * x0)


def test_a_backward_written_with_numpy_functions_fails_clearly_under_create_graph():
    class NumpyTanh(mg.Function):
        @staticmethod
        def forward(ctx, x):
            y = np.tanh(x)
            ctx.save_for_backward(y)
            return y

        @staticmethod
        def backward(ctx, g):
            (y,) = ctx.saved_tensors
            return g * np.subtract(1, np.square(y))  # NumPy functions cannot take Tensors

    x = mg.tensor([0.5, 1.0], requires_grad=True)
    mg.grad(NumpyTanh.apply(x).sum(), x)  # a first derivative is fine: arrays in, arrays out
    with pytest.raises(mg.OpTypeError, match=r"^NumpyTanh.backward failed with create_graph=True .* must use "
                                             r"minigrad ops"):
        mg.grad(NumpyTanh.apply(x).sum(), x, create_graph=True)
