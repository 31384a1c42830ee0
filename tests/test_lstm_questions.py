"""The questions students ask about LSTM cells, answered as executable facts about lstm.LSTMCell and
lstm.LSTM. Each test's docstring is the question; its body is the answer."""

import numpy as np
import pytest

import minigrad as mg
from lstm.layer import LSTM
from lstm.lstm_cell import LSTMCell

B, I, H, T = 4, 3, 5, 6
RNG = np.random.default_rng(2024)


def cell_with_gate_biases(i=0.0, f=0.0, g=0.0, o=0.0, seed=0) -> LSTMCell:
    """A cell whose bias_ih blocks are shifted by the given amounts (bias_hh zero), e.g. f=50 to hold
    the forget gate open whatever the inputs (|x @ W + h @ U| is a few units at most here)."""
    cell = LSTMCell(I, H, rng=seed)
    cell.bias_ih.data = cell.bias_ih.data + np.repeat([i, f, g, o], H)
    cell.bias_hh.data = np.zeros(4 * H)
    return cell


def test_what_goes_into_an_lstm_cell_and_what_comes_out():
    """What are the inputs and outputs of an LSTM cell, and their shapes?

    Three inputs: x_t (B, I), h_{t-1} (B, H), c_{t-1} (B, H). Two outputs: h_t and c_t, both (B, H).
    """
    cell = LSTMCell(I, H, rng=0)
    x, h_prev, c_prev = RNG.normal(size=(B, I)), RNG.normal(size=(B, H)), RNG.normal(size=(B, H))
    outputs = cell(x, (h_prev, c_prev))
    assert len(outputs) == 2
    h, c = outputs
    assert h.shape == c.shape == (B, H)
    with pytest.raises(ValueError):  # h_{t-1} must have the hidden size, not the input size
        cell(x, (RNG.normal(size=(B, I)), c_prev))


def test_why_gates_are_between_zero_and_one_and_the_candidate_between_minus_one_and_one():
    """Why are the gates i, f, o in (0, 1) and the candidate g in (-1, 1)?

    Because the gates are a sigmoid of their pre-activation and the candidate a tanh: whatever the
    inputs, a gate is a fraction (how much to let through) and g a bounded proposal.
    """
    cell = LSTMCell(I, H, rng=1)
    x, h_prev, c_prev = 3 * RNG.normal(size=(B, I)), RNG.normal(size=(B, H)), RNG.normal(size=(B, H))
    s = cell.step(x, (h_prev, c_prev))
    for gate in (s.i, s.f, s.o):
        assert np.all((gate.data > 0) & (gate.data < 1))
        assert gate.grad_fn.op == "sigmoid"
    assert np.all(np.abs(s.g.data) < 1)
    assert s.g.grad_fn.op == "tanh"


def test_is_the_hidden_state_exactly_the_output_gate_times_tanh_of_the_cell_state():
    """Is h_t = o_t * tanh(c_t), exactly?"""
    cell = LSTMCell(I, H, rng=2)
    s = cell.step(RNG.normal(size=(B, I)), (RNG.normal(size=(B, H)), RNG.normal(size=(B, H))))
    np.testing.assert_array_equal(s.h.data, s.o.data * np.tanh(s.c.data))


def test_with_the_forget_gate_open_and_the_input_gate_shut_the_cell_state_passes_through():
    """If the forget gate is 1 and the input gate 0, does the cell state pass through unchanged? And if the
    forget gate is 0, is it erased?

    Yes, element by element and exactly: c_t = f * c_{t-1} + i * g = c_{t-1} for f = 1, i = 0, for as
    many steps as they stay so; with f = 0 the old cell state has no influence at all.
    """
    keep = cell_with_gate_biases(i=-50.0, f=50.0)
    c0 = 3 * RNG.normal(size=(B, H))
    h, c = np.zeros((B, H)), c0
    for _ in range(T):
        s = keep.step(RNG.normal(size=(B, I)), (h, c))
        assert np.all(s.f.data == 1) and np.all(s.i.data == 0)
        h, c = s.h, s.c
    np.testing.assert_array_equal(c.data, c0)

    erase = cell_with_gate_biases(f=-50.0)
    x, h_prev = RNG.normal(size=(B, I)), RNG.normal(size=(B, H))
    _, c_a = erase(x, (h_prev, RNG.normal(size=(B, H))))
    _, c_b = erase(x, (h_prev, 100 * RNG.normal(size=(B, H))))
    np.testing.assert_array_equal(c_a.data, c_b.data)
    _, c_zero = cell_with_gate_biases(i=-50.0, f=-50.0)(x, (h_prev, c0))
    assert not c_zero.data.any()  # both gates shut: nothing kept, nothing written


def test_what_is_the_difference_between_the_hidden_state_and_the_cell_state():
    """What is the difference between the hidden state h and the cell state c?

    c is the memory: a running sum (f * c + i * g) with no squashing, so it can grow without bound.
    h is what the cell shows: o * tanh(c), always inside (-1, 1).
    """
    accumulate = cell_with_gate_biases(i=50.0, f=50.0, g=50.0)  # add g = 1 at every step
    h, c = np.zeros((B, H)), np.zeros((B, H))
    for t in range(1, 21):
        h, c = accumulate(RNG.normal(size=(B, I)), (h, c))
        np.testing.assert_allclose(c.data, t, rtol=1e-12)
    assert c.data.min() > 19
    assert np.abs(h.data).max() <= 1


def test_does_the_cell_state_keep_the_gradient_from_vanishing():
    """Why do LSTMs not suffer from vanishing gradients along the cell state?

    Because dc_t/dc_{t-1} = f_t (element-wise, plus paths through h): with the forget gate open the
    gradient of c_T with respect to c_0 stays exactly 1 after any number of steps, where a plain RNN
    multiplies by a Jacobian at every step.
    """
    keep = cell_with_gate_biases(i=-50.0, f=50.0)
    c0 = mg.tensor(RNG.normal(size=(B, H)), requires_grad=True)
    h, c = np.zeros((B, H)), c0
    for _ in range(50):
        h, c = keep(RNG.normal(size=(B, I)), (h, c))
    c.sum().backward()
    np.testing.assert_array_equal(c0.grad.data, np.ones((B, H)))


def test_is_there_one_hidden_state_per_input_step():
    """Does an LSTM produce one hidden state per input time step?

    Yes: T inputs give T hidden states, the one at step t computed from inputs 0..t only.
    """
    layer = LSTM(I, H, return_sequences=True, rng=3)
    x = RNG.normal(size=(B, T, I))
    out = layer(x)
    assert out.shape == (B, T, H)
    changed = x.copy()
    changed[:, 4] += 1.0  # change step 4: steps before it do not see the change, steps from it do
    out2 = layer(changed)
    np.testing.assert_array_equal(out.data[:, :4], out2.data[:, :4])
    assert np.all(np.abs(out.data[:, 4:] - out2.data[:, 4:]).max(axis=(0, 2)) > 0)


def test_is_the_output_the_last_hidden_state_or_all_of_them():
    """Is the layer's output (B, H) or (B, T, H)?

    It depends on return_sequences: False gives the last hidden state (B, H), what a classifier of the
    whole sequence needs; True gives every step's (B, T, H), what the next layer or a per-step target
    needs. The last entry of the sequence is the same vector.
    """
    x = RNG.normal(size=(B, T, I))
    last = LSTM(I, H, rng=4)(x)
    every = LSTM(I, H, return_sequences=True, rng=4)(x)
    assert last.shape == (B, H) and every.shape == (B, T, H)
    np.testing.assert_array_equal(last.data, every.data[:, -1])


def test_what_does_return_state_add():
    """What does return_state return, and in what shapes?

    (output, h_n, c_n): the final hidden and cell state of every layer, each (num_layers, B, H); h_n of
    the top layer is the last output. Feeding (h_n, c_n) back as the state continues the sequence.
    """
    L = 2
    layer = LSTM(I, H, num_layers=L, return_sequences=True, return_state=True, rng=5)
    x = RNG.normal(size=(B, T, I))
    out, h_n, c_n = layer(x)
    assert out.shape == (B, T, H) and h_n.shape == (L, B, H) and c_n.shape == (L, B, H)
    np.testing.assert_array_equal(h_n.data[-1], out.data[:, -1])
    # two halves, the second started from the first's state, give the whole sequence
    first, h_mid, c_mid = layer(x[:, :3])
    second, _, _ = layer(x[:, 3:], (h_mid, c_mid))
    np.testing.assert_allclose(np.concatenate([first.data, second.data], axis=1), out.data, rtol=1e-14)


def test_how_many_parameters_does_an_lstm_layer_have():
    """How many parameters does an LSTM layer have?

    4 (H I + H H + 2 H) per layer with PyTorch's two bias vectors: four gates, each with an input
    matrix, a recurrent matrix and biases. The number does not depend on the sequence length.
    """
    assert LSTM(I, H, rng=0).num_parameters() == 4 * (H * I + H * H + 2 * H)
    assert LSTM(I, H, bias=False, rng=0).num_parameters() == 4 * (H * I + H * H)


def test_are_the_same_weights_used_at_every_time_step():
    """Are the weights shared across time steps, and what does that mean for their gradient?

    The same weights act at every step, so the gradient of a sum of per-step losses is the sum of
    the gradients each step's loss alone would give.
    """
    layer = LSTM(I, H, return_sequences=True, rng=6)
    x = RNG.normal(size=(B, T, I))
    layer(x).sum().backward()
    total = layer.weight_hh_l0.grad.data.copy()
    parts = np.zeros_like(total)
    for t in range(T):
        layer.zero_grad()
        layer(x)[:, t].sum().backward()
        parts += layer.weight_hh_l0.grad.data
    np.testing.assert_allclose(total, parts, rtol=1e-12, atol=1e-15)
