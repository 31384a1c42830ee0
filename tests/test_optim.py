"""minigrad.optim: SGD and Adam against their textbook update formulas step by step, clip_grad_norm against
the norm computed by hand, bitwise-identical resumption from a state dict saved in an .npz file, errors,
and convergence on a small regression."""

import json
import math

import numpy as np
import pytest

import minigrad as mg
from minigrad import functional as F
from minigrad.nn import Linear
from minigrad.optim import SGD, Adam, clip_grad_norm

RNG = np.random.default_rng(11)


def param(shape=(2, 3), dtype=np.float64):
    return mg.tensor(RNG.normal(size=shape).astype(dtype), requires_grad=True)


def run(opt, params, grads_per_step):
    """Step ``opt`` once per entry of ``grads_per_step`` (one gradient array per parameter, or None)."""
    for grads in grads_per_step:
        for p, g in zip(params, grads):
            p.grad = None if g is None else mg.tensor(g)
        opt.step()


# -- SGD ---
def hand_sgd(p, grads, lr, momentum=0.0, weight_decay=0.0):
    """PyTorch's SGD: d = g + wd p; b = d at the first step, then momentum b + d; p = p - lr b."""
    b = None
    for g in grads:
        d = g + weight_decay * p
        if momentum:
            b = d if b is None else momentum * b + d
            d = b
        p = p - lr * d
    return p


@pytest.mark.parametrize(("momentum", "weight_decay"), [(0.0, 0.0), (0.9, 0.0), (0.0, 0.1), (0.8, 0.05)])
def test_sgd_matches_the_hand_formula_over_three_steps(momentum, weight_decay):
    p = param()
    p0 = p.data.copy()
    grads = [RNG.normal(size=p.shape) for _ in range(3)]
    opt = SGD([p], lr=0.1, momentum=momentum, weight_decay=weight_decay)
    run(opt, [p], [[g] for g in grads])
    np.testing.assert_allclose(p.data, hand_sgd(p0, grads, 0.1, momentum, weight_decay), rtol=1e-14)


def test_sgd_on_gradients_from_backward():
    # loss = sum(c * p**2) / 2 has gradient c * p: the hand loop recomputes it from its own p
    c = np.array([1.0, 2.0, 3.0])
    p = mg.tensor([1.0, -1.0, 0.5], requires_grad=True)
    hand = p.data.copy()
    buf = None
    opt = SGD([p], lr=0.1, momentum=0.5)
    for _ in range(4):
        opt.zero_grad()
        ((p * p * c).sum() * 0.5).backward()
        opt.step()
        buf = c * hand if buf is None else 0.5 * buf + c * hand
        hand = hand - 0.1 * buf
    np.testing.assert_allclose(p.data, hand, rtol=1e-14)


# -- Adam ---
def hand_adam(p, grads, lr, b1, b2, eps, weight_decay=0.0):
    """Adam as written by Kingma and Ba: bias-corrected moments m_hat, v_hat."""
    m = np.zeros_like(p)
    v = np.zeros_like(p)
    for t, g in enumerate(grads, start=1):
        g = g + weight_decay * p
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g**2
        m_hat = m / (1 - b1**t)
        v_hat = v / (1 - b2**t)
        p = p - lr * m_hat / (np.sqrt(v_hat) + eps)
    return p


@pytest.mark.parametrize("weight_decay", [0.0, 0.1])
def test_adam_matches_the_hand_formula_over_three_steps(weight_decay):
    p = param()
    p0 = p.data.copy()
    grads = [RNG.normal(size=p.shape) for _ in range(3)]
    opt = Adam([p], lr=0.01, betas=(0.8, 0.9), eps=1e-6, weight_decay=weight_decay)
    run(opt, [p], [[g] for g in grads])
    np.testing.assert_allclose(p.data, hand_adam(p0, grads, 0.01, 0.8, 0.9, 1e-6, weight_decay), rtol=1e-12)
    assert opt.state[0]["step"] == 3


def test_adam_first_step_moves_each_entry_by_lr():
    # after one step m_hat = g and v_hat = g**2, so the step is lr * g / (|g| + eps), nearly lr * sign(g)
    p = param((50,))
    p0 = p.data.copy()
    g = RNG.normal(size=50)
    run(Adam([p], lr=0.01), [p], [[g]])
    np.testing.assert_allclose(p.data - p0, -0.01 * np.sign(g), rtol=1e-5)


def test_float32_parameters_and_state_stay_float32():
    p, q = param(dtype=np.float32), param(dtype=np.float32)
    grads = [[RNG.normal(size=(2, 3)).astype(np.float32)] * 2 for _ in range(2)]
    adam, sgd = Adam([p], weight_decay=0.1), SGD([q], lr=0.1, momentum=0.9, weight_decay=0.1)
    run(adam, [p], grads)
    run(sgd, [q], grads)
    assert p.dtype == q.dtype == np.float32
    assert adam.state[0]["exp_avg"].dtype == adam.state[0]["exp_avg_sq"].dtype == np.float32
    assert sgd.state[0]["momentum_buffer"].dtype == np.float32


# -- shared behaviour ---
@pytest.mark.parametrize("make", [lambda ps: SGD(ps, lr=0.1, momentum=0.9), lambda ps: Adam(ps)])
def test_parameters_without_gradient_are_left_alone(make):
    p, q = param(), param()
    q0 = q.data.copy()
    opt = make([p, q])
    run(opt, [p, q], [[np.ones(p.shape), None]] * 2)
    np.testing.assert_array_equal(q.data, q0)
    assert 1 not in opt.state or not opt.state[1]
    assert not any(k.startswith("state.1.") for k in opt.state_dict())


def test_step_marks_parameters_modified_so_old_graphs_refuse_to_backward():
    p = param()
    y = (p * p).sum()  # mul saved p's array
    p.grad = mg.tensor(np.ones(p.shape))
    SGD([p], lr=0.1).step()
    with pytest.raises(RuntimeError, match=r"^mul: input 0 .* was modified in place after it was saved"):
        y.backward()


def test_zero_grad_and_named_pairs():
    lin = Linear(3, 2, rng=0)
    opt = SGD(lin.named_parameters(), lr=0.1)
    assert opt.params == lin.parameters()
    lin(np.ones((1, 3))).sum().backward()
    opt.zero_grad()
    assert all(p.grad is None for p in lin.parameters())


def test_param_groups_use_their_own_hyperparameters():
    p, q = param(), param()
    p0, q0 = p.data.copy(), q.data.copy()
    grads = [RNG.normal(size=p.shape) for _ in range(2)]
    opt = SGD([{"params": [p]}, {"params": [q], "lr": 0.5, "momentum": 0.9}], lr=0.1)
    run(opt, [p, q], [[g, g] for g in grads])
    np.testing.assert_allclose(p.data, hand_sgd(p0, grads, 0.1), rtol=1e-14)
    np.testing.assert_allclose(q.data, hand_sgd(q0, grads, 0.5, momentum=0.9), rtol=1e-14)
    assert "; 2 parameters in 2 group(s)" in repr(opt)


@pytest.mark.parametrize(
    ("make", "error", "message"),
    [
        (lambda: SGD([], lr=0.1), ValueError, r"^SGD: got an empty parameter list"),
        (lambda: Adam([mg.tensor([1.0])]), ValueError,
         r"^Adam: parameter 0 of shape \(1,\) does not require grad"),
        (lambda: SGD([("w", param()), ("frozen", mg.tensor([1.0]))], lr=0.1), ValueError,
         r"^SGD: parameter 1 \('frozen'\) of shape \(1,\) does not require grad"),
        (lambda: SGD([param()], lr=-0.1), ValueError, r"^SGD: lr must be a number >= 0, got -0\.1$"),
        (lambda: SGD([param()], lr=None), ValueError, r"^SGD: lr must be a number >= 0, got None$"),
        (lambda: SGD([param()], lr=0.1, momentum=1.0), ValueError,
         r"^SGD: momentum must be a number in \[0, 1\), got 1\.0$"),
        (lambda: Adam([param()], weight_decay=-1), ValueError, r"^Adam: weight_decay must be a number >= 0"),
        (lambda: Adam([param()], betas=(0.9, 1.0)), ValueError,
         r"^Adam: betas must be two numbers in \[0, 1\), got \(0\.9, 1\.0\)$"),
        (lambda: Adam([param()], eps=0), ValueError, r"^Adam: eps must be a number > 0, got 0$"),
        (lambda: SGD([param() * 2], lr=0.1), ValueError,
         r"^SGD: parameter 0 of shape \(2, 3\) is not a leaf \(it is the output of mul\)"),
        (lambda: SGD(param(), lr=0.1), TypeError, r"^SGD: params must be a list of Tensors, got one Tensor"),
        (lambda: SGD(Linear(2, 2), lr=0.1), TypeError,
         r"^SGD: params must be a list of Tensors, got a Module"),
        (lambda: SGD([np.ones(2)], lr=0.1), TypeError, r"^SGD: parameter 0 is a ndarray, not a Tensor$"),
        (lambda: SGD([{"params": [param()], "learning_rate": 1}], lr=0.1), ValueError,
         r"^SGD: param group 0 has unknown keys \['learning_rate'\]"),
        (lambda: SGD([{"params": [param()], "lr": -1}], lr=0.1), ValueError,
         r"^SGD \(param group 0\): lr must be a number >= 0, got -1$"),
    ],
)
def test_bad_optimizer_arguments_are_reported(make, error, message):
    with pytest.raises(error, match=message) as info:
        make()
    # one minigrad error, also the built-in one
    expected = mg.errors.ArgumentError if error is ValueError else mg.errors.ArgumentTypeError
    assert type(info.value) is expected


def test_a_parameter_given_twice_is_an_error():
    p = param()
    with pytest.raises(ValueError, match=r"^Adam: the same tensor \(shape \(2, 3\)\) is given twice, as "
                                         r"parameters 0 and 1"):
        Adam([{"params": [p]}, {"params": [p]}])


# -- clip_grad_norm ---
def test_clip_grad_norm_returns_the_norm_before_and_scales_to_max_norm():
    ps = [param((3, 2)), param((4,)), param((2,))]
    grads = [RNG.normal(size=(3, 2)), RNG.normal(size=4), None]
    for p, g in zip(ps, grads):
        p.grad = None if g is None else mg.tensor(g)
    norm = math.sqrt(sum((g**2).sum() for g in grads if g is not None))
    assert clip_grad_norm(ps, 0.5) == pytest.approx(norm, rel=1e-14)
    for p, g in zip(ps[:2], grads):
        np.testing.assert_allclose(p.grad.data, g * (0.5 / norm), rtol=1e-14)
    assert ps[2].grad is None
    after = math.sqrt(sum((p.grad.data ** 2).sum() for p in ps[:2]))
    assert after == pytest.approx(0.5, rel=1e-14)


def test_clip_grad_norm_below_max_norm_changes_nothing():
    p = param()
    g = RNG.normal(size=p.shape)
    p.grad = mg.tensor(g)
    norm = clip_grad_norm([p], 1e6)
    assert norm == pytest.approx(np.linalg.norm(g), rel=1e-14)
    np.testing.assert_array_equal(p.grad.data, g)
    assert clip_grad_norm([param()], 1.0) == 0.0  # no gradients at all


def test_clip_grad_norm_on_float32_and_huge_gradients():
    p = param(dtype=np.float32)
    p.grad = mg.tensor(np.full(p.shape, 1e30, np.float32))  # its square overflows float32
    norm = clip_grad_norm([p], 1.0)
    assert norm == pytest.approx(1e30 * math.sqrt(6), rel=1e-6)
    assert p.grad.dtype == np.float32
    np.testing.assert_allclose(p.grad.data, 1 / math.sqrt(6), rtol=1e-6)


def test_clip_grad_norm_leaves_non_finite_gradients_alone():
    p = param((2,))
    p.grad = mg.tensor([np.inf, 1.0])
    assert clip_grad_norm([p], 1.0) == math.inf
    np.testing.assert_array_equal(p.grad.data, [np.inf, 1.0])
    message = r"^clip_grad_norm: max_norm must be a positive number, got 0$"
    with pytest.raises(mg.errors.ArgumentError, match=message):
        clip_grad_norm([p], 0)


# -- state dicts: resuming exactly ---
OPTIMIZERS = {
    "sgd": lambda ps: SGD(ps, lr=0.05, momentum=0.9, weight_decay=1e-3),
    "adam": lambda ps: Adam(ps, lr=0.02, betas=(0.8, 0.95), weight_decay=1e-2),
    "groups": lambda ps: Adam([{"params": ps[:1], "lr": 0.05}, {"params": ps[1:]}], lr=0.01),
}
X = RNG.normal(size=(6, 8, 4))  # six batches
Y = RNG.normal(size=(6, 8, 2))


def train(model, opt, steps):
    for k in steps:
        opt.zero_grad()
        F.mse_loss(model(X[k]), Y[k]).backward()
        clip_grad_norm(model.parameters(), 1.0)
        opt.step()


@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_resuming_from_an_npz_checkpoint_is_bitwise_identical(name, tmp_path):
    make = OPTIMIZERS[name]
    model = Linear(4, 2, rng=0)
    opt = make(model.parameters())
    train(model, opt, range(6))

    first = Linear(4, 2, rng=0)
    first_opt = make(first.parameters())
    train(first, first_opt, range(3))
    sd = first_opt.state_dict()
    for key, value in sd.items():
        assert "/" not in key
        ok = isinstance(value, (np.ndarray, int, float)) or (
            isinstance(value, list) and all(isinstance(v, (int, float)) for v in value)
        )
        assert ok, (key, value)
    path = tmp_path / "checkpoint.npz"
    arrays = {f"model.{k}": v for k, v in first.state_dict().items()}
    np.savez(path, **arrays, **{f"optim.{k}": v for k, v in sd.items()})
    train(first, first_opt, range(3, 4))  # moving on afterwards changes neither the dict nor the file

    with np.load(path, allow_pickle=False) as z:
        saved = {k: z[k] for k in z.files}
    for key, value in sd.items():
        np.testing.assert_array_equal(saved[f"optim.{key}"], value)
    resumed = Linear(4, 2, rng=123)
    resumed_opt = make(resumed.parameters())
    for g in resumed_opt.param_groups:
        g["lr"] = 1.0  # restored from the checkpoint too
    resumed.load_state_dict({k[6:]: v for k, v in saved.items() if k.startswith("model.")})
    resumed_opt.load_state_dict({k[6:]: v for k, v in saved.items() if k.startswith("optim.")})
    train(resumed, resumed_opt, range(3, 6))
    for a, b in zip(model.parameters(), resumed.parameters()):
        assert a.data.tobytes() == b.data.tobytes()
    assert [g["lr"] for g in resumed_opt.param_groups] == [g["lr"] for g in opt.param_groups]


def test_state_dict_numbers_survive_json():
    # a checkpoint may keep the arrays in an .npz file and the numbers and lists in JSON metadata
    model, resumed = Linear(4, 2, rng=0), Linear(4, 2, rng=0)
    opt, resumed_opt = Adam(model.parameters(), lr=0.03), Adam(resumed.parameters(), lr=0.03)
    train(model, opt, range(2))
    train(resumed, resumed_opt, range(2))
    sd = opt.state_dict()
    numbers = json.loads(json.dumps({k: v for k, v in sd.items() if not isinstance(v, np.ndarray)}))
    fresh = Adam(resumed.parameters(), lr=0.5, betas=(0.5, 0.5))
    fresh.load_state_dict({**{k: v for k, v in sd.items() if isinstance(v, np.ndarray)}, **numbers})
    train(model, opt, range(2, 4))
    train(resumed, fresh, range(2, 4))
    for a, b in zip(model.parameters(), resumed.parameters()):
        assert a.data.tobytes() == b.data.tobytes()


def test_state_dict_layout_is_the_documented_one():
    p, q = param(), param((3,))
    opt = Adam([p, q])
    run(opt, [p, q], [[np.ones(p.shape), None]])
    sd = opt.state_dict()
    assert sorted(sd) == sorted([
        "param_groups.0.params", "param_groups.0.lr", "param_groups.0.betas", "param_groups.0.eps",
        "param_groups.0.weight_decay", "state.0.step", "state.0.exp_avg", "state.0.exp_avg_sq",
    ])
    assert sd["param_groups.0.params"] == [0, 1] and sd["param_groups.0.betas"] == [0.9, 0.999]
    assert sd["state.0.step"] == 1 and sd["state.0.exp_avg"] is not opt.state[0]["exp_avg"]


def test_load_state_dict_reports_every_problem_and_changes_nothing():
    p, q = param(), param((3,))
    opt = Adam([p, q], lr=0.1)
    run(opt, [p, q], [[np.ones(p.shape), np.ones(3)]])
    before = opt.state_dict()
    bad = dict(before)
    bad["state.0.exp_avg"] = np.zeros((3, 2))
    bad["state.7.exp_avg"] = np.zeros(3)
    bad["state.1.momentum_buffer"] = np.zeros(3)
    del bad["state.1.exp_avg_sq"]
    bad["param_groups.0.lr"] = -1.0
    message = (
        r"^Adam\.load_state_dict: state\.0\.exp_avg: expected shape \(2, 3\), got \(3, 2\); "
        r"unexpected key 'state\.7\.exp_avg'; unexpected key 'state\.1\.momentum_buffer'; "
        r"state of parameter 0 is missing exp_avg; state of parameter 1 is missing exp_avg_sq; "
        r"param group 0: lr must be a number >= 0, got -1\.0$"
    )
    with pytest.raises(mg.errors.ArgumentError, match=message):
        opt.load_state_dict(bad)
    after = opt.state_dict()
    assert sorted(after) == sorted(before)
    for k in before:
        np.testing.assert_array_equal(after[k], before[k])


def test_load_state_dict_from_another_optimizer_or_shape_of_groups():
    p = param()
    sgd = SGD([p], lr=0.1, momentum=0.9)
    run(sgd, [p], [[np.ones(p.shape)]])
    message = (
        r"^Adam\.load_state_dict: unexpected key 'param_groups\.0\.momentum'; "
        r"unexpected key 'state\.0\.momentum_buffer'; param group 0 is missing betas, eps$"
    )
    with pytest.raises(ValueError, match=message):
        Adam([p]).load_state_dict(sgd.state_dict())
    two = SGD([{"params": [p]}, {"params": [param()]}], lr=0.1)
    with pytest.raises(ValueError, match=r"param group 1 is missing params, lr, momentum, weight_decay$"):
        two.load_state_dict(sgd.state_dict())
    message = r"param group 0 holds parameters \[0\] in the state dict but \[0, 1\] here$"
    with pytest.raises(ValueError, match=message):
        SGD([p, param()], lr=0.1).load_state_dict(sgd.state_dict())


# -- convergence ---
@pytest.mark.parametrize(
    ("make", "steps"),
    [(lambda ps: SGD(ps, lr=0.1), 300), (lambda ps: SGD(ps, lr=0.05, momentum=0.9), 150),
     (lambda ps: Adam(ps, lr=0.05), 300)],
)
def test_linear_regression_converges(make, steps):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(128, 3))
    w_true, b_true = np.array([[1.5, -2.0, 0.5], [0.0, 1.0, -1.0]]), np.array([0.3, -0.7])
    y = x @ w_true.T + b_true + 0.01 * rng.normal(size=(128, 2))
    model = Linear(3, 2, rng=1)
    opt = make(model.parameters())
    first = None
    for _ in range(steps):
        opt.zero_grad()
        loss = F.mse_loss(model(x), y)
        loss.backward()
        opt.step()
        first = loss.item() if first is None else first
    assert first > 1.0
    assert loss.item() < 2e-4  # the noise's variance is 1e-4
    np.testing.assert_allclose(model.weight.data, w_true, atol=0.01)
    np.testing.assert_allclose(model.bias.data, b_true, atol=0.01)
