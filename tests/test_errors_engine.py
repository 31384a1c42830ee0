"""What the engine says when its input is wrong: each message names the op, the scope and the shapes.

Messages are asserted by their text (``re.escape`` of the expected words), since the text is what a
student reads.
"""

import operator
import re

import numpy as np
import pytest

import minigrad as mg


def ones(*shape, requires_grad=False):
    return mg.tensor(np.ones(shape), requires_grad=requires_grad)


def raises(cls, text: str):
    """pytest.raises for a message that starts with ``text`` (literally, not as a pattern)."""
    return pytest.raises(cls, match="^" + re.escape(text))


# -- shapes ---
def test_matmul_not_aligned_names_scope_and_shapes():
    with mg.scope("lstm"), mg.scope("forget_gate"), raises(
        mg.ShapeError, "matmul in lstm/forget_gate: shapes (3, 4) and (5, 2) are not aligned: 4 (dim 1) != 5 "
        "(dim 0)"
    ):
        ones(3, 4, requires_grad=True) @ ones(5, 2)


def test_matmul_of_vectors_of_different_lengths():
    with raises(mg.ShapeError, "matmul: shapes (3,) and (4,) are not aligned: 3 (dim 0) != 4 (dim 0)"):
        ones(3) @ ones(4)


def test_matmul_batch_dimensions_that_do_not_broadcast():
    expected = r"^matmul: operands could not be broadcast together .* \(inputs: float64 \(2, 3, 4\), " \
               r"float64 \(5, 4, 2\)\)$"
    with pytest.raises(mg.ShapeError, match=expected):
        ones(2, 3, 4) @ ones(5, 4, 2)


def test_matmul_of_a_0d_tensor():
    expected = "matmul: 0-d operands are not allowed (shapes () and (3,)); use * for scalars"
    with raises(mg.ShapeError, expected):
        mg.tensor(2.0) @ ones(3)


@pytest.mark.parametrize("op", ["add", "sub", "mul", "truediv"])
def test_broadcasting_failure_names_op_scope_and_shapes(op):
    a, b = ones(3, 4, requires_grad=True), ones(2, 4)
    name = "div" if op == "truediv" else op
    with mg.scope("decoder"), raises(
        mg.ShapeError, f"{name} in decoder: operands could not be broadcast together with shapes (3,4) (2,4) "
        "(inputs: float64 (3, 4), float64 (2, 4))"
    ):
        getattr(operator, op)(a, b)


def test_broadcasting_failure_with_an_array_operand():
    with raises(mg.ShapeError, "mul: operands could not be broadcast together with shapes (2,) (3,) "
                               "(inputs: float64 (2,), float64 (3,))"):
        np.ones(2) * ones(3)


def test_concat_of_mismatched_shapes():
    with mg.scope("cell"), raises(
        mg.ShapeError, "concat in cell: all the input array dimensions except for the concatenation axis "
        "must match exactly, but along dimension 1, the array at index 0 has size 3 and the array at "
        "index 1 has size 4 (inputs: float64 (2, 3), float64 (2, 4))"
    ):
        mg.concat([ones(2, 3), ones(2, 4)], axis=0)


def test_stack_of_mismatched_shapes():
    with raises(mg.ShapeError, "stack: all tensors must have the same shape, got [(3,), (4,)]"):
        mg.stack([ones(3), ones(4)])


def test_concat_and_stack_of_nothing():
    with raises(mg.ShapeError, "concat: needs at least one tensor"):
        mg.concat([])
    with raises(mg.ShapeError, "stack: needs at least one tensor"):
        mg.stack([])


def test_split_into_unequal_parts():
    with mg.scope("gates"), raises(
        mg.ShapeError, "split in gates: axis 0 of size 5 (shape (5, 2)) cannot be split into 2 equal parts"
    ):
        ones(5, 2).split(2)


def test_split_sizes_that_do_not_add_up():
    with raises(mg.ShapeError, "split: sizes [2, 2] do not add up to the size 5 of axis 0 (shape (5, 2))"):
        ones(5, 2).split([2, 2])
    with raises(mg.ShapeError, "split: sizes [6, -1] do not add up to the size 5 of axis 0 (shape (5, 2))"):
        ones(5, 2).split([6, -1])


def test_reshape_to_a_different_size():
    with mg.scope("head"), raises(
        mg.ShapeError,
        "reshape in head: cannot reshape array of size 12 into shape (5,) (inputs: float64 (3, 4))",
    ):
        ones(3, 4).reshape(5)


def test_broadcast_to_an_incompatible_shape():
    with raises(mg.ShapeError, "broadcast_to: operands could not be broadcast together with remapped shapes"):
        mg.broadcast_to(ones(3), (2, 4))


# -- indices and axes ---
@pytest.mark.parametrize(("index", "text"), [
    (5, "index 5 is out of bounds for axis 0 with size 3"),
    ((slice(None), 9), "index 9 is out of bounds for axis 1 with size 4"),
    (np.array([0, 7]), "index 7 is out of bounds for axis 0 with size 3"),
    ((0, 0, 0), "too many indices for array: array is 2-dimensional, but 3 were indexed"),
])  # fmt: skip
def test_getitem_out_of_range(index, text):
    with mg.scope("embed"), raises(mg.OpIndexError, f"getitem in embed: {text}"):
        ones(3, 4, requires_grad=True)[index]


def test_index_errors_are_index_errors_and_shape_errors_are_value_errors():
    with pytest.raises(IndexError):
        ones(3)[3]
    with pytest.raises(ValueError):
        ones(3).reshape(2)
    for cls in (mg.ShapeError, mg.OpIndexError, mg.OpTypeError, mg.AnomalyError):
        assert issubclass(cls, mg.MinigradError)


@pytest.mark.parametrize("reduce", ["sum", "max"])
def test_reduction_over_a_missing_axis(reduce):
    with raises(mg.OpIndexError, f"{reduce}: axis 2 is out of bounds for array of dimension 2 "
                                 "(inputs: float64 (2, 3))"):
        getattr(ones(2, 3), reduce)(axis=2)


def test_mean_over_a_missing_axis():
    with mg.scope("norm"), raises(mg.OpIndexError, "mean in norm: axis -3 is out of bounds for array of "
                                                   "dimension 2 (shape (2, 3))"):
        ones(2, 3).mean(axis=(0, -3))


def test_split_along_a_missing_axis():
    with raises(mg.OpIndexError, "split: axis 2 is out of bounds for array of dimension 2 (shape (4, 2))"):
        ones(4, 2).split(2, axis=2)


def test_concat_along_a_missing_axis():
    with raises(mg.OpIndexError, "concat: axis 2 is out of bounds for array of dimension 2 "
                                 "(inputs: float64 (2, 3), float64 (2, 3))"):
        mg.concat([ones(2, 3), ones(2, 3)], axis=2)


@pytest.mark.parametrize("axis", [2, -3])
def test_stack_along_a_missing_axis(axis):
    # A 1-D shape gets a new axis at 0 or 1 (-2 or -1); other axes must not wrap around.
    with raises(mg.OpIndexError, f"stack: axis {axis} is out of bounds for array of dimension 2 "):
        mg.stack([ones(3), ones(3)], axis=axis)


def test_transpose_with_a_missing_axis():
    with raises(mg.OpIndexError, "transpose: axis 2 is out of bounds for array of dimension 2"):
        ones(2, 3).transpose(0, 2)


# -- dtypes ---
@pytest.mark.parametrize(("data", "text"), [
    (np.array([object()]), "Tensor: unsupported dtype object; minigrad works on real numbers"),
    ("abc", "Tensor: unsupported dtype <U3; minigrad works on real numbers"),
    ([1 + 2j], "Tensor: unsupported dtype complex128; minigrad works on real numbers"),
    (None, "Tensor: unsupported dtype object"),
    ([[1, 2], [3]], "Tensor: cannot make an array of list data (setting an array element with a sequence"),
])  # fmt: skip
def test_data_that_is_not_real_numbers(data, text):
    with raises(TypeError, text):
        mg.tensor(data)


def test_integer_tensors_cannot_require_grad():
    with raises(TypeError, "Tensor: only floating-point tensors can require gradients, got dtype int64"):
        mg.tensor([1, 2], dtype=np.int64, requires_grad=True)
    t = mg.tensor([1, 2], dtype=np.int32)
    assert t.dtype == np.int32  # asked for explicitly, so kept
    with raises(TypeError, "requires_grad_: only floating-point tensors can require gradients, got dtype "
                           "int32"):
        t.requires_grad_()


def test_combining_a_tensor_with_text():
    with raises(mg.OpTypeError, "add: cannot combine a Tensor with str data of dtype <U1"):
        ones(2) + "a"
