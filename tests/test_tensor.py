"""`mg.Tensor` itself: what the constructor makes of its data, the attributes and methods it offers."""

import threading

import numpy as np
import pytest

import minigrad as mg


# -- construction and dtypes ---
# Booleans are refused (tests/test_errors_table.py): a mask is converted explicitly, with .astype(float).
@pytest.mark.parametrize("data", [3, [1, 2, 3], np.arange(4), np.array([1, 2], np.int8)],
                         ids=["int", "int-list", "int64-array", "int8-array"])
def test_integers_become_float64(data):
    t = mg.tensor(data)
    assert t.dtype == np.float64
    np.testing.assert_array_equal(t.data, np.asarray(data, dtype=np.float64))


@pytest.mark.parametrize("data", [2.5, [0.5, 1.5], np.float64(2.0), np.ones(3)])
def test_python_and_float64_data_is_float64(data):
    assert mg.tensor(data).dtype == np.float64


def test_float32_stays_float32():
    assert mg.tensor(np.ones((2, 2), np.float32)).dtype == np.float32
    assert mg.tensor(np.float32(1.5)).dtype == np.float32


def test_set_default_dtype_changes_what_numbers_become():
    mg.set_default_dtype(np.float32)
    assert mg.get_default_dtype() == np.float32
    assert mg.tensor([1, 2]).dtype == np.float32
    assert mg.tensor(1.5).dtype == np.float32  # Python floats are numbers like integers
    assert mg.tensor([[0.5, 1.5]]).dtype == np.float32
    assert mg.tensor(np.ones(2)).dtype == np.float64  # an explicit float64 array keeps its dtype
    assert mg.tensor(np.float64(1.0)).dtype == np.float64
    assert mg.tensor(1.5, dtype=np.float64).dtype == np.float64


def test_default_dtype_is_per_thread():
    mg.set_default_dtype(np.float32)
    seen = {}
    worker = threading.Thread(target=lambda: seen.update(dtype=mg.tensor([1]).dtype))
    worker.start()
    worker.join()
    assert seen["dtype"] == np.float64
    assert mg.tensor([1]).dtype == np.float32


def test_set_default_dtype_rejects_non_floating_dtypes():
    with pytest.raises(TypeError, match="set_default_dtype: expected a floating dtype, got int32"):
        mg.set_default_dtype(np.int32)


def test_data_is_copied():
    a = np.array([1.0, 2.0])
    t = mg.tensor(a)
    a[0] = 100.0
    assert t.data[0] == 1.0
    u = mg.tensor(t)
    t.data[1] = -1.0
    assert u.data[1] == 2.0


def test_tensor_and_Tensor_are_the_same():
    t = mg.Tensor([1.0], requires_grad=True, name="w")
    u = mg.tensor([1.0], requires_grad=True, name="w")
    assert type(t) is type(u) is mg.Tensor
    assert (t.requires_grad, t.name) == (u.requires_grad, u.name) == (True, "w")


# -- attributes ---
def test_array_attributes():
    t = mg.tensor(np.arange(6.0).reshape(2, 3))
    assert isinstance(t.data, np.ndarray)
    assert (t.shape, t.ndim, t.size, t.dtype) == ((2, 3), 2, 6, np.float64)
    assert t.T.shape == (3, 2)
    np.testing.assert_array_equal(t.T.data, t.data.T)
    assert len(t) == 2


@pytest.mark.parametrize("make", [lambda: mg.tensor([1.0], requires_grad=True),
                                  lambda: mg.tensor([1.0], requires_grad=True) * 2,  # an op output
                                  lambda: mg.nn.Parameter(np.ones(2)),
                                  lambda: mg.tensor([1.0]).detach()],
                         ids=["leaf", "op-output", "parameter", "detached"])
def test_a_misspelt_attribute_raises_instead_of_being_set(make):
    # `t.gard = None` meant to zero the gradient: setting it silently would leave .grad as it was
    t = make()
    for attr in ("gard", "requires_gradient", "nmae"):
        with pytest.raises(AttributeError, match=f"'{type(t).__name__}' object has no attribute '{attr}'"):
            setattr(t, attr, None)
    t.grad, t.name, t.requires_grad = None, "w", True  # the real attributes are still writable
    assert (t.grad, t.name, t.requires_grad) == (None, "w", True)


def test_a_leaf_has_no_graph():
    x = mg.tensor([1.0, 2.0], requires_grad=True, name="x")
    assert x.is_leaf
    assert x.grad is None and x.grad_fn is None and x.op is None and x.scope is None
    assert x.parents == ()
    assert x.name == "x"
    assert mg.tensor([1.0]).requires_grad is False


def test_an_op_output_knows_its_op_parents_and_scope():
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    w = mg.tensor([3.0, 4.0])
    with mg.scope("layer"):
        y = x * w
    assert not y.is_leaf
    assert y.op == "mul"
    assert y.parents == (x, w)  # in argument order
    assert y.scope == "layer"
    assert isinstance(y.grad_fn, mg.Function)
    assert y.requires_grad


# -- methods ---
def test_numpy_item_and_array_protocol():
    t = mg.tensor([[1.0, 2.0], [3.0, 4.0]])
    assert t.numpy() is t.data
    assert mg.tensor([[7.0]]).item() == 7.0
    assert isinstance(mg.tensor(2.0).item(), float)
    np.testing.assert_array_equal(np.asarray(t), t.data)
    assert np.asarray(t, dtype=np.float32).dtype == np.float32
    np.testing.assert_allclose(t, [[1.0, 2.0], [3.0, 4.0]])  # np.testing takes a Tensor directly
    with pytest.raises(ValueError, match=r"item: only a one-element tensor .* shape is \(2, 2\)"):
        t.item()


def test_detach_shares_data_and_cuts_the_graph():
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    y = x * 2
    d = y.detach()
    assert d.is_leaf and not d.requires_grad
    assert d.data is y.data
    (d * x).sum().backward()
    np.testing.assert_array_equal(x.grad.data, y.data)  # d is a constant: no path through y


def test_retain_grad_keeps_an_intermediate_gradient():
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    h = (x * 3).retain_grad()
    (h * h).sum().backward()
    np.testing.assert_array_equal(h.grad.data, 2 * h.data)
    np.testing.assert_array_equal(x.grad.data, 18 * x.data)
    other = x * 4
    (other * 2).sum().backward()
    assert other.grad is None  # only tensors that asked keep their gradient


def test_backward_accumulates_into_grad():
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    (x * x).sum().backward()
    first = x.grad
    (x * 3).sum().backward()
    np.testing.assert_array_equal(x.grad.data, [5.0, 7.0])
    np.testing.assert_array_equal(first.data, [2.0, 4.0])  # the earlier grad Tensor is not mutated
    assert isinstance(x.grad, mg.Tensor) and not x.grad.requires_grad


def test_repr_is_short_and_informative():
    assert repr(mg.tensor([1.0, 2.0])) == "Tensor([1., 2.])"
    w = mg.tensor([1.0], requires_grad=True, name="w")
    assert repr(w) == "Tensor([1.], name='w', requires_grad=True)"
    with mg.scope("enc"):
        y = mg.tensor(np.ones(2, np.float32), requires_grad=True) * 2
    assert repr(y) == "Tensor([2., 2.], op='mul in enc', dtype=float32)"
    big = repr(mg.tensor(np.zeros((100, 100))))
    assert "..." in big and len(big) < 400


def test_comparisons_give_boolean_arrays_and_equality_is_identity():
    t = mg.tensor([1.0, 2.0, 3.0])
    np.testing.assert_array_equal(t > 1.5, [False, True, True])
    np.testing.assert_array_equal(t <= 2, [True, True, False])
    assert t == t and t != mg.tensor([1.0, 2.0, 3.0])
    assert len({t, t}) == 1  # hashable by identity, so tensors can be dict keys
