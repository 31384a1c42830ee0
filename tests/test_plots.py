"""The loss curve's smoothing: centred, so it follows a falling loss instead of lagging above it."""

import numpy as np
import pytest

from lstm.plots import plot_losses, smooth


def test_smooth_is_a_centred_mean_that_shrinks_evenly_at_both_ends():
    v = np.array([9.0, 1.0, 2.0, 3.0, 4.0, 0.0])
    # window 5: half-width 2 inside, 1 next to an end, 0 at the ends
    expected = [9.0, (9 + 1 + 2) / 3, (9 + 1 + 2 + 3 + 4) / 5, (1 + 2 + 3 + 4 + 0) / 5, (3 + 4 + 0) / 3, 0.0]
    np.testing.assert_allclose(smooth(v, window=5), expected)
    assert smooth([], window=5).shape == (0,)


def test_a_straight_falling_line_is_left_where_it_is():
    line = np.linspace(1.0, 0.0, 200)
    np.testing.assert_allclose(smooth(line), line, atol=1e-12)


def test_the_smoothed_curve_follows_a_fast_falling_noisy_loss():
    # A loss that falls from 2 to about 0.05 in the first ~100 steps, with noise, as training shows.
    steps = np.arange(600)
    clean = 2.0 * np.exp(-steps / 25) + 0.05
    noisy = clean * np.exp(np.random.default_rng(0).normal(0.0, 0.2, steps.size))
    smoothed = smooth(noisy)
    # A trailing 25-point mean is 0.3-0.5 above the loss at steps 10-40; the centred one stays close.
    assert np.abs(smoothed - clean)[:80].max() < 0.15
    assert np.abs(smoothed - clean)[80:].max() < 0.03
    # ... and it still smooths: the noise left is a fraction of what it was.
    assert np.std((smoothed - clean)[100:]) < 0.4 * np.std((noisy - clean)[100:])


@pytest.mark.parametrize("n", [1, 2, 30])
def test_plot_losses_draws_short_histories(tmp_path, n):
    history = [{"step": k + 1, "loss": 1.0 / (k + 1)} for k in range(n)]
    path = tmp_path / "loss.png"
    plot_losses({"task": "adding", "history": history, "evals": [{"step": n, "loss": 0.5}]}, path)
    assert path.read_bytes()[:4] == b"\x89PNG"
