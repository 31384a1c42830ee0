"""The reverse-mode engine: graph walks, accumulation, retain_graph, grad mode, scopes, in-place checks,
`mg.grad`, anomaly detection, memory, and user-defined `mg.Function`s.

Gradients are compared with central differences of a NumPy re-implementation, or with a derivative
worked out by hand in the comment next to it.
"""

import gc
import sys
import threading
import weakref

import numpy as np
import pytest
from strategies import numerical_grad

import minigrad as mg


# -- graph shapes: depth, diamonds, reuse ---
def test_a_chain_of_100000_ops_differentiates_without_recursion():
    assert sys.getrecursionlimit() <= 10_000  # so a recursive walk really would fail
    x = mg.tensor(0.5, requires_grad=True)
    y = x
    for _ in range(50_000):
        y = (y * 1.00001) + 0.0  # two ops per step
    y.backward()
    np.testing.assert_allclose(x.grad.item(), 1.00001**50_000, rtol=1e-9)
    del y  # freeing the chain must not recurse either


def test_a_diamond_adds_both_paths():
    rng = np.random.default_rng(0)
    x0 = rng.normal(size=(2, 3))
    x = mg.tensor(x0, requires_grad=True)
    a = x * 2.0
    loss = (mg.exp(a) * mg.tanh(a) + a).sum()  # a reaches the loss three ways
    loss.backward()
    (expected,) = numerical_grad(lambda x: np.sum(np.exp(2 * x) * np.tanh(2 * x) + 2 * x), [x0])
    np.testing.assert_allclose(x.grad.data, expected, rtol=1e-6, atol=1e-8)


class Twice(mg.Function):
    """y = 2 x;  dx = 2 g; each backward call is logged with the gradient it got"""

    calls: list = []

    @staticmethod
    def forward(ctx, x):
        return 2 * x

    @staticmethod
    def backward(ctx, g):
        Twice.calls.append(np.array(g))
        return 2 * g


def test_a_node_with_many_consumers_runs_once_with_every_gradient_in():
    # The walk runs the last-made waiting node first; a node reached by several consumers waits once per
    # consumer but runs once, after all of them: here a feeds c, d (made from c too) and a split whose
    # two outputs are both used.
    Twice.calls = []
    x = mg.tensor([1.0, 3.0], requires_grad=True)
    a = Twice.apply(x)  # a = 2 x
    c = a * 3.0
    d = c * a
    b, e = a.split([1, 1])
    loss = d.sum() + b.sum() * a.sum() + e.sum() * c.sum()  # 3 sum(a^2) + a0 sum(a) + 3 a1 sum(a)
    loss.backward()
    # by hand, a = (2, 6): dloss/da_j = 6 a_j + (j == 0) sum(a) + a0 + 3 ((j == 1) sum(a) + a1)
    np.testing.assert_allclose(Twice.calls, [[40.0, 80.0]])  # one call, every path's gradient summed
    np.testing.assert_allclose(x.grad.data, [80.0, 160.0])
    (numeric,) = numerical_grad(lambda v: 12 * np.sum(v**2) + (4 * v[0] + 12 * v[1]) * v.sum(), [x.data])
    np.testing.assert_allclose(x.grad.data, numeric, rtol=1e-7)


def test_a_graph_built_in_two_threads_walks_back_in_order():
    # Nodes are numbered process-wide, so a node made in one thread from a Tensor made in another is
    # numbered after the node that made its input, and the walk runs it first.
    x = mg.tensor([0.5, -1.0], requires_grad=True)
    made = [x]

    def grow():
        y = made[-1]
        for _ in range(200):
            y = y * 1.01
        made.append(y)

    for _ in range(2):
        thread = threading.Thread(target=grow)
        thread.start()
        thread.join()
    (made[1] + made[2]).sum().backward()  # 1.01^200 x + 1.01^400 x
    np.testing.assert_allclose(x.grad.data, np.full(2, 1.01**200 + 1.01**400), rtol=1e-12)


def test_a_tensor_used_many_times_accumulates_every_use():
    x = mg.tensor([1.0, -2.0, 3.0], requires_grad=True)
    y = x
    for _ in range(20):
        y = y + x  # y = 21 x
    (y * x).sum().backward()  # d/dx 21 x^2 = 42 x
    np.testing.assert_allclose(x.grad.data, 42 * x.data)


@pytest.mark.parametrize("shape", [(), (1,), (2, 3)], ids=["0-d", "1", "2x3"])
def test_every_use_counts_whatever_the_shape(shape):
    # 0-d included: there NumPy sums are scalars, which an in-place accumulation must not lose.
    x = mg.tensor(np.full(shape, 2.0), requires_grad=True)
    h = x * 1.0
    uses = [h * k for k in (1.0, 2.0, 3.0, 4.0)] + [x * 5.0, x * 6.0, x * 7.0]
    sum(uses).sum().backward()
    np.testing.assert_array_equal(x.grad.data, np.full(shape, 28.0))
    assert type(x.grad.data) is np.ndarray
    (x * 2.0).sum().backward()  # accumulating into an existing .grad keeps it an array
    np.testing.assert_array_equal(x.grad.data, np.full(shape, 30.0))
    assert type(x.grad.data) is np.ndarray


def test_a_weight_shared_across_50_time_steps():
    rng = np.random.default_rng(1)
    w0, h0 = rng.normal(0, 0.5, (3, 3)), rng.normal(size=3)
    xs = rng.normal(size=(50, 3))

    def unrolled(w):  # NumPy: h_t = tanh(W h_{t-1} + x_t), loss = sum(h_50)
        h = h0
        for x in xs:
            h = np.tanh(w @ h + x)
        return h.sum()

    w = mg.tensor(w0, requires_grad=True)
    h = mg.tensor(h0)
    for x in xs:
        h = mg.tanh(w @ h + x)
    h.sum().backward()
    np.testing.assert_allclose(h.sum().item(), unrolled(w0))
    (expected,) = numerical_grad(unrolled, [w0])
    np.testing.assert_allclose(w.grad.data, expected, rtol=1e-6, atol=1e-9)


def test_backward_with_an_explicit_output_gradient():
    x = mg.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    y = x * x
    y.backward(np.array([[1.0, 0.0], [0.5, -1.0]]))
    np.testing.assert_allclose(x.grad.data, [[2.0, 0.0], [3.0, -8.0]])


# -- retain_graph and what stays inspectable ---
def test_a_second_backward_without_retain_graph_raises():
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    y = (x * x).sum()
    y.backward()
    with pytest.raises(RuntimeError, match=r"^mul: trying to backward .* second time.*retain_graph=True"):
        y.backward()


def test_with_retain_graph_a_second_backward_accumulates():
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    y = (x * x).sum()
    y.backward(retain_graph=True)
    np.testing.assert_allclose(x.grad.data, [2.0, 4.0])
    y.backward()
    np.testing.assert_allclose(x.grad.data, [4.0, 8.0])


def test_the_graph_stays_inspectable_after_backward():
    x = mg.tensor([1.0, 2.0], requires_grad=True, name="x")
    w = mg.tensor([3.0, 4.0], requires_grad=True, name="w")
    with mg.scope("layer"):
        h = mg.tanh(x * w)
    loss = h.sum()
    loss.backward()
    assert loss.op == "sum" and loss.parents == (h,)
    assert h.op == "tanh" and h.scope == "layer"
    (prod,) = h.parents
    assert prod.op == "mul" and prod.parents == (x, w)
    np.testing.assert_allclose(h.data, np.tanh([3.0, 8.0]))
    np.testing.assert_allclose(prod.data, [3.0, 8.0])
    assert loss.item() == pytest.approx(np.tanh(3.0) + np.tanh(8.0))
    assert prod.grad_fn.saved_arrays == ()  # what backward needed is freed; the values above are not


# -- grad mode ---
def test_no_grad_as_context_manager():
    x = mg.tensor([1.0], requires_grad=True)
    with mg.no_grad():
        assert not mg.is_grad_enabled()
        y = x * 2
        with mg.enable_grad():
            z = x * 2
    assert mg.is_grad_enabled()
    assert not y.requires_grad and y.is_leaf
    assert z.requires_grad


def test_no_grad_as_decorator():
    @mg.no_grad()
    def step(x):
        return x * 2, mg.is_grad_enabled()

    y, enabled = step(mg.tensor([1.0], requires_grad=True))
    assert not enabled and not y.requires_grad
    assert mg.is_grad_enabled()


def test_no_grad_is_per_thread():
    entered, checked = threading.Event(), threading.Event()
    seen = {}

    def under_no_grad():
        with mg.no_grad():
            entered.set()
            checked.wait(5)
            seen["inside"] = (mg.tensor([1.0], requires_grad=True) * 2).requires_grad

    def elsewhere():
        entered.wait(5)  # runs while the other thread is inside no_grad
        seen["other"] = (mg.tensor([1.0], requires_grad=True) * 2).requires_grad
        checked.set()

    threads = [threading.Thread(target=under_no_grad), threading.Thread(target=elsewhere)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert seen == {"inside": False, "other": True}


# -- scopes ---
def test_nested_scopes_give_paths_recorded_on_ops():
    x = mg.tensor([1.0], requires_grad=True)
    with mg.scope("a"):
        y = x * 2
        with mg.scope("b"), mg.scope("c") as path:
            z = y + 1
        w = z * 3
    assert path == "a/b/c"
    assert (y.scope, z.scope, w.scope) == ("a", "a/b/c", "a")
    assert z.grad_fn.where == "add in a/b/c"
    assert (x * 1).scope == ""


def test_scope_names_must_be_plain():
    for bad in ["", "a/b", 3]:
        with pytest.raises(ValueError, match="scope: name must be a non-empty string without '/'"):
            mg.scope(bad)


# -- in-place changes ---
def test_changing_a_saved_input_in_place_is_caught():
    x = mg.tensor([1.0, 2.0], requires_grad=True, name="x")
    w = mg.tensor([3.0, 4.0], requires_grad=True)
    y = (x * w).sum()
    x.data += 1
    with pytest.raises(RuntimeError, match=r"^mul: input 0 \('x'\) was modified in place"):
        y.backward()


def test_an_unnamed_input_is_named_by_its_shape():
    x = mg.tensor([[1.0, 2.0]], requires_grad=True)
    y = (mg.tensor([[3.0, 4.0]]) * x).sum()
    x.data *= 2
    with pytest.raises(RuntimeError, match=r"mul: input 1 \(of shape \(1, 2\)\) was modified in place"):
        y.backward()


@pytest.mark.parametrize("op", [mg.exp, mg.tanh, mg.sigmoid])
def test_changing_a_saved_output_in_place_is_caught(op):
    # These ops save their output: changing it would silently change the gradient.
    x = mg.tensor([0.5, 1.0], requires_grad=True)
    y = op(x)
    y.data += 1
    expected = rf"^{op.__name__}: output 0 \(of shape \(2,\)\) was modified in place"
    with pytest.raises(RuntimeError, match=expected):
        y.sum().backward()


def test_replacing_data_after_the_forward_is_not_an_error():
    # A new array: what mul saved is untouched, so the gradient is still that of the recorded forward.
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    w = mg.tensor([3.0, 4.0], requires_grad=True)
    y = (x * w).sum()
    x.data = x.data + 1
    y.backward()
    np.testing.assert_array_equal(w.grad.data, [1.0, 2.0])


# -- errors of backward and grad ---
def test_backward_of_a_non_scalar_needs_a_gradient():
    y = mg.tensor([1.0, 2.0], requires_grad=True) * 2
    with pytest.raises(RuntimeError, match=r"backward: grad can be created implicitly only for a one-element "
                                           r"output, but this tensor has shape \(2,\)"):
        y.backward()


def test_backward_of_a_tensor_that_does_not_require_grad():
    y = mg.tensor([1.0, 2.0]).sum()
    with pytest.raises(RuntimeError, match="backward: this tensor does not require grad"):
        y.backward()


def test_backward_with_a_gradient_of_the_wrong_shape():
    y = mg.tensor([1.0, 2.0], requires_grad=True) * 2
    with pytest.raises(mg.ShapeError, match=r"backward: grad has shape \(3,\) but the output it is for has "
                                            r"shape \(2,\)"):
        y.backward(np.ones(3))


def test_grad_returns_gradients_and_leaves_grad_alone():
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    w = mg.tensor([3.0, -1.0], requires_grad=True)
    h = x * w
    gx, gw, gh = mg.grad((h * h).sum(), [x, w, h])
    np.testing.assert_allclose(gx.data, 2 * h.data * w.data)
    np.testing.assert_allclose(gw.data, 2 * h.data * x.data)
    np.testing.assert_allclose(gh.data, 2 * h.data)  # an intermediate tensor as an input
    assert x.grad is None and w.grad is None


def test_grad_runs_only_the_part_of_the_graph_above_its_inputs():
    calls = []

    class Square(mg.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x * x

        @staticmethod
        def backward(ctx, g):
            calls.append("Square")
            (x,) = ctx.saved_tensors
            return 2 * x * g

    x = mg.tensor([0.5, -1.0], requires_grad=True)
    h = mg.tanh(Square.apply(x))
    loss = (h * h).sum()
    (gh,) = mg.grad(loss, h)
    assert calls == []  # below h: neither run nor freed
    # So the rest of the chain rule can follow, in a second step (as truncated backprop does).
    h.backward(gh)
    assert calls == ["Square"]
    t = np.tanh(x.data**2)
    np.testing.assert_allclose(x.grad.data, 2 * t * (1 - t**2) * 2 * x.data)


def test_grad_of_several_outputs_adds_them():
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    (g,) = mg.grad([(x * x).sum(), (x * 3).sum()], x)
    np.testing.assert_allclose(g.data, 2 * x.data + 3)


def test_grad_with_an_input_not_in_the_graph():
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    unused = mg.tensor([5.0], requires_grad=True, name="b")
    loss = (x * x).sum()
    with pytest.raises(RuntimeError, match=r"grad: input 1 \(shape \(1,\), 'b'\) is not part of the graph"):
        mg.grad(loss, [x, unused], retain_graph=True)
    gx, gb = mg.grad(loss, [x, unused], allow_unused=True)
    np.testing.assert_allclose(gx.data, [2.0, 4.0])
    assert gb is None


def test_grad_with_an_input_that_does_not_require_grad():
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="grad: input 0 is not a Tensor that requires grad"):
        mg.grad((x * 2).sum(), [mg.tensor([1.0])])


# -- anomaly detection ---
def test_detect_anomaly_names_the_op_and_scope_of_a_nan_in_forward():
    x = mg.tensor([-1.0, 2.0], requires_grad=True)
    expected = r"^log in encoder: forward output contains NaN; inputs: float64 \(2,\) min -1 max 2"
    with mg.detect_anomaly(), mg.scope("encoder"), np.errstate(invalid="ignore"), \
            pytest.raises(mg.AnomalyError, match=expected):
        mg.log(x)
    with np.errstate(invalid="ignore"):
        assert np.isnan(mg.log(mg.tensor(-1.0)).item())  # off again after the block


def test_detect_anomaly_names_the_op_and_scope_of_a_nan_in_backward():
    x = mg.tensor([0.0, 1.0], requires_grad=True)
    with mg.scope("root"):
        y = ((x**0.5) * 0.0).sum()  # forward is finite; d sqrt(x)/dx at 0 is inf, times 0 gives NaN
    expected = r"^pow in root: the gradient it returned for input 0 contains NaN"
    with mg.detect_anomaly(), np.errstate(divide="ignore", invalid="ignore"), \
            pytest.raises(mg.AnomalyError, match=expected):
        y.backward()


def test_without_detect_anomaly_nan_flows_silently():
    x = mg.tensor([-1.0, 2.0], requires_grad=True)
    with np.errstate(invalid="ignore"):
        y = mg.log(x)
    assert np.isnan(y.data[0])


# -- memory ---
@pytest.fixture
def no_cycle_collector():
    """Switch the cycle collector off: what is freed then was freed by reference counting alone."""
    gc.disable()
    yield
    gc.enable()


def every_op_graph(x, w):
    """A small graph with every kind of node: multi-output split, concat, getitem, retain_grad, ..."""
    h = mg.tanh(x @ w).retain_grad()
    a, b = h.split([1, 2], axis=1)
    m = mg.concat([mg.sigmoid(a), mg.exp(b), mg.relu(b)], axis=1)
    s = mg.stack([m, m * 2])[:, np.array([0, 0, 1])]
    return (s.max(axis=0) ** 2).mean() + mg.log(h * h + 1).sum() / (w.sum() + 10)


def intermediates(root) -> list:
    """Weak references to every non-leaf tensor and node reachable from root."""
    refs, stack, seen = [], [root], set()
    while stack:
        t = stack.pop()
        if t.grad_fn is not None and id(t) not in seen:
            seen.add(id(t))
            refs += [weakref.ref(t), weakref.ref(t.grad_fn)]
            stack.extend(t.parents)
    return refs


def test_dropping_the_loss_after_backward_frees_the_graph(no_cycle_collector):
    rng = np.random.default_rng(6)
    x = mg.tensor(rng.normal(size=(4, 2)), requires_grad=True)
    w = mg.tensor(rng.normal(size=(2, 3)), requires_grad=True)
    loss = every_op_graph(x, w)
    refs = intermediates(loss)
    assert len(refs) > 30
    loss.backward()
    assert all(r() is not None for r in refs)  # all still reachable from the loss
    del loss
    assert [r() for r in refs if r() is not None] == []
    assert x.grad is not None and w.grad is not None


def test_dropping_the_loss_without_backward_frees_the_graph(no_cycle_collector):
    x = mg.tensor(np.ones((4, 2)), requires_grad=True)
    loss = every_op_graph(x, mg.tensor(np.ones((2, 3)), requires_grad=True))
    refs = intermediates(loss)
    del loss
    assert [r() for r in refs if r() is not None] == []


def test_dropping_the_results_of_grad_frees_the_graph(no_cycle_collector):
    x = mg.tensor(np.ones((4, 2)), requires_grad=True)
    w = mg.tensor(np.ones((2, 3)), requires_grad=True)
    loss = every_op_graph(x, w)
    refs = intermediates(loss)
    grads = mg.grad(loss, [x, w])
    del loss
    assert [r() for r in refs if r() is not None] == []
    assert all(not g.requires_grad for g in grads)


# -- user-defined Functions ---
class Cube(mg.Function):
    """y = s * x**3 for a number s;  dx = g * 3 s x**2"""

    @staticmethod
    def forward(ctx, x, s):
        ctx.save_for_backward(x)
        ctx.s = s
        return s * x**3

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return g * 3 * ctx.s * x**2, None


class WrongCube(Cube):
    """The same forward, and a backward that forgot the factor 3."""

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return g * ctx.s * x**2, None


def cube_grad(function, x0, weights):
    x = mg.tensor(x0, requires_grad=True)
    function.apply(x, 0.5).backward(weights)
    return x.grad.data


def test_a_function_with_a_correct_backward_matches_finite_differences():
    rng = np.random.default_rng(2)
    x0, weights = rng.normal(size=(2, 3)), rng.normal(size=(2, 3))
    y = Cube.apply(mg.tensor(x0, requires_grad=True), 0.5)
    assert y.op == "Cube"
    np.testing.assert_allclose(y.data, 0.5 * x0**3)
    (expected,) = numerical_grad(lambda x: np.sum(0.5 * x**3 * weights), [x0])
    np.testing.assert_allclose(cube_grad(Cube, x0, weights), expected, rtol=1e-6, atol=1e-9)


def test_a_function_with_a_wrong_backward_disagrees_with_finite_differences():
    rng = np.random.default_rng(2)
    x0, weights = rng.normal(size=(2, 3)), rng.normal(size=(2, 3))
    (expected,) = numerical_grad(lambda x: np.sum(0.5 * x**3 * weights), [x0])
    wrong = cube_grad(WrongCube, x0, weights)
    # The discrepancy is the forgotten factor: the wrong gradient is a third of the true one.
    np.testing.assert_allclose(wrong * 3, expected, rtol=1e-6, atol=1e-9)
    assert not np.allclose(wrong, expected, rtol=1e-3)


def test_a_function_sees_which_inputs_need_a_gradient():
    seen = []

    class Scale(mg.Function):
        @staticmethod
        def forward(ctx, a, b, k):
            seen.append(list(ctx.needs_input_grad))  # known in forward already, as in PyTorch
            ctx.save_for_backward(a, b)
            return a * b * k

        @staticmethod
        def backward(ctx, g):
            seen.append(list(ctx.needs_input_grad))
            a, b = ctx.saved_tensors
            return g * b * 2.0, (g * a * 2.0 if ctx.needs_input_grad[1] else None), None

    a = mg.tensor([1.0, 2.0], requires_grad=True)
    b = mg.tensor([3.0, 4.0])
    Scale.apply(a, b, 2.0).sum().backward()
    assert seen == [[True, False, None], [True, False, None]]
    np.testing.assert_allclose(a.grad.data, [6.0, 8.0])
    with mg.no_grad():
        Scale.apply(a, b, 2.0)
    assert seen[-1] == [False, False, None]


def test_a_backward_returning_the_wrong_number_of_gradients():
    class TwoInOneOut(mg.Function):
        @staticmethod
        def forward(ctx, a, b):
            return a * b

        @staticmethod
        def backward(ctx, g):
            return g

    y = TwoInOneOut.apply(mg.tensor([1.0], requires_grad=True), mg.tensor([2.0], requires_grad=True))
    with pytest.raises(mg.OpError, match=r"^TwoInOneOut.backward returned 1 gradient\(s\) but forward took 2 "
                                         r"input\(s\); return one per input"):
        y.sum().backward()


def test_a_backward_returning_a_gradient_of_the_wrong_shape():
    class Double(mg.Function):
        op = "double"

        @staticmethod
        def forward(ctx, x):
            return 2 * x

        @staticmethod
        def backward(ctx, g):
            return np.ones(3)

    with mg.scope("head"):
        y = Double.apply(mg.tensor([1.0, 2.0], requires_grad=True))
    with pytest.raises(mg.ShapeError, match=r"^double in head.backward returned a gradient of shape \(3,\) "
                                            r"for input 0 of shape \(2,\)"):
        y.sum().backward()
