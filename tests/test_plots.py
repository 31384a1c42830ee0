"""The loss curve's smoothing: centred, so it follows a falling loss instead of lagging above it."""

import numpy as np
import pytest

from lstm.plots import plot_losses, smooth


def test_smooth_is_a_centred_mean_whose_window_is_short_at_both_ends():
    k = np.arange(12)
    # window 5: half-width r = min(2, k // 4, 11 - k); the mean of j**2 over j = k-r .. k+r is
    # k**2 + r (r + 1) / 3
    r = np.array([0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 1, 0])
    np.testing.assert_allclose(smooth(k**2.0, window=5), k**2 + r * (r + 1) / 3)
    assert smooth([], window=5).shape == (0,)


def test_a_sharp_bend_at_the_start_is_not_averaged_away():
    # The character model's first steps: the loss falls by 1 nat in about 10 steps, then flattens.
    steps = np.arange(50)
    loss = 3.0 + 1.1 * np.exp(-steps / 4)
    assert np.abs(smooth(loss) - loss).max() < 0.02  # a plain centred 25-point window: 0.15 at step 10


def test_a_straight_falling_line_is_left_where_it_is():
    line = np.linspace(1.0, 0.0, 200)
    np.testing.assert_allclose(smooth(line), line, atol=1e-12)


def test_the_smoothed_curve_follows_a_fast_falling_noisy_loss():
    # A loss that falls from 2 to about 0.05 in the first ~100 steps, with noise, as training shows.
    steps = np.arange(600)
    clean = 2.0 * np.exp(-steps / 25) + 0.05
    noisy = clean * np.exp(np.random.default_rng(0).normal(0.0, 0.2, steps.size))
    smoothed = smooth(noisy)
    # Over steps 5-40 a trailing 25-point mean is 0.38 above the loss on average; this one is not.
    assert abs(np.mean((smoothed - clean)[5:40])) < 0.03
    assert np.abs(smoothed - clean)[80:].max() < 0.03
    # ... and it still smooths: the noise left is a fraction of what it was.
    assert np.std((smoothed - clean)[100:]) < 0.4 * np.std((noisy - clean)[100:])


@pytest.mark.parametrize("n", [1, 2, 30])
def test_plot_losses_draws_short_histories(tmp_path, n):
    history = [{"step": k + 1, "loss": 1.0 / (k + 1)} for k in range(n)]
    path = tmp_path / "loss.png"
    plot_losses({"task": "adding", "history": history, "evals": [{"step": n, "loss": 0.5}]}, path)
    assert path.read_bytes()[:4] == b"\x89PNG"
