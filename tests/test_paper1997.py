"""lstm.paper1997: the papers' setups, the 1997 protocol's trials and `lstm train --protocol 1997`."""

import numpy as np

from lstm.cli import main
from lstm.paper1997 import (
    SETUPS,
    continual_shape,
    continual_test,
    continual_trial,
    last_step_trial,
    reber_shape,
)


def test_the_setups_have_the_papers_weight_counts_and_biases():
    assert SETUPS["adding"].shape.n_weights() == 93
    assert SETUPS["temporal_order"].shape.n_weights() == 156
    assert SETUPS["reber"].shape.n_weights() == 276 and reber_shape(4, 1).n_weights() == 264
    assert SETUPS["reber"].gate_bias == {"o": [-1.0, -2.0, -3.0]} and SETUPS["reber"].scale == 0.2
    assert SETUPS["adding"].gate_bias == {"i": [-3.0, -6.0]}
    assert continual_shape(forget=True).n_weights() == 424


def test_a_diverged_network_gets_every_test_sequence_wrong():
    result = last_step_trial("adding", seed=0, limit=3)
    assert result["sequences"] == 3 and 0 <= result["wrong"] <= 2560
    lr = SETUPS["adding"].lr
    try:
        SETUPS["adding"].lr = np.inf  # the weights become non-finite at the first update
        with np.errstate(all="ignore"):
            result = last_step_trial("adding", seed=0, limit=5)
    finally:
        SETUPS["adding"].lr = lr
    assert result["sequences"] == 1 and not result["stopped"] and result["wrong"] == 2560


def test_continual_training_and_testing_read_one_stream():
    result, net = continual_trial(forget=True, seed=0, train_symbols=200, test_cap=50)
    assert result["train_symbols"] >= 200 and result["streams"] >= 1
    assert 0 <= result["test_run"] <= 50
    assert continual_test(net, seed=3, cap=50) == continual_test(net, seed=3, cap=50)


def test_cli_trains_the_1997_network_online(capsys):
    assert main(["train", "--protocol", "1997", "--task", "temporal_order", "--steps", "3"]) == 0
    out = capsys.readouterr().out
    assert "the 1997 network and protocol, at most 3 sequences" in out and "'sequences': 3" in out


def test_cli_refuses_a_task_the_1997_paper_did_not_define(capsys):
    assert main(["train", "--protocol", "1997", "--task", "chars"]) == 2
    assert capsys.readouterr().err.strip() == (
        "lstm train: error: --protocol 1997 trains the 1997 network on adding, temporal_order, reber; "
        "got --task chars"
    )


def test_the_cell_state_plot_marks_every_new_string(tmp_path):
    from lstm.paper1997 import plot_cell_states
    from lstm.tasks.reber import continual_stream

    ids, _ = continual_stream(np.random.default_rng(0), 3)
    states = {"ids": ids, "lstm1997_s": np.zeros((ids.size, 8)), "forget_s": np.ones((ids.size, 8)),
              "lstm1997_seed": 0, "forget_seed": 1}
    fig = plot_cell_states(states, tmp_path / "states.png")
    assert (tmp_path / "states.png").stat().st_size > 0
    # two panels; each has a grey line at the B of strings 2 and 3, and the 8 states
    assert [len(ax.lines) for ax in fig.axes] == [2 + 8, 2 + 8]


def test_a_training_stream_ends_at_the_stream_limit(monkeypatch):
    import lstm.paper1997

    # every prediction right: only the limit ends a stream
    monkeypatch.setattr(lstm.paper1997, "right", lambda y, legal: np.ones(np.shape(legal)[:-1], dtype=bool))
    endless, _ = continual_trial(forget=True, seed=0, train_symbols=300, test_cap=5)
    limited, _ = continual_trial(forget=True, seed=0, train_symbols=300, test_cap=5, stream_limit=50)
    assert endless["streams"] == 1 and endless["longest_training_run"] >= 300
    # each stream runs to the end of the string in which its 50th right prediction falls
    assert 2 <= limited["streams"] <= 6 and 50 <= limited["longest_training_run"] < 100


def test_reber_targets_are_the_next_symbol_or_every_legal_one():
    from lstm.paper1997 import reber_example

    # B T B T X S E T E: after the first B either T or P; after the inner E only the T of the second symbol
    x, next_symbol = reber_example("BTBTXSETE")
    _, legal = reber_example("BTBTXSETE", legal_targets=True)
    assert ["".join("BTPSXVE"[k] for k in np.flatnonzero(row)) for row in x] == list("BTBTXSET")
    assert ["".join("BTPSXVE"[k] for k in np.flatnonzero(row)) for row in next_symbol] == list("TBTXSETE")
    assert ["".join("BTPSXVE"[k] for k in np.flatnonzero(row)) for row in legal] == [
        "TP", "B", "TP", "SX", "SX", "E", "T", "E"]


def test_a_per_string_update_is_the_forward_traces_summed_over_the_string():
    # The per-symbol trainer with its updates off, summed over a string, against the gradient computed
    # backward once the string is over: the same truncated gradient, two ways.
    from lstm.online import OnlineTrainer
    from lstm.paper1997 import _network, reber_example, string_gradient

    net = _network(SETUPS["reber"], np.random.default_rng(4))
    x, target = reber_example("BPBTSSXXVPSEPE")
    trainer = OnlineTrainer(net, lr=0.0)
    total = {k: np.zeros_like(v) for k, v in net.weights.items()}
    for t in range(len(x)):
        for k, g in trainer.step(x[t], target[t])[1].items():
            total[k] += g
    expected = string_gradient(net, x, target)
    assert np.abs(expected["W_g"]).max() > 1e-3
    for k in expected:
        np.testing.assert_allclose(total[k], expected[k], rtol=0, atol=1e-10, err_msg=k)


def test_reber_trials_update_per_symbol_by_default_or_per_string():
    import pytest

    from lstm.paper1997 import reber_trial
    from minigrad.errors import ArgumentError

    per_symbol, per_string = reber_trial(0, limit=20), reber_trial(0, limit=20, update="string")
    assert per_symbol == reber_trial(0, limit=20, update="symbol")
    assert per_string["sequences"] == per_symbol["sequences"] == 20
    message = "^reber_trial: update must be one of symbol, string, not 'word'$"
    with pytest.raises(ArgumentError, match=message):
        reber_trial(0, limit=1, update="word")


def test_the_rows_of_table_1_are_the_papers_networks_and_learning_rates():
    from lstm.paper1997 import TABLE_1, reber_setup

    assert reber_setup() == SETUPS["reber"]  # the stored reber.json is the 3 x 2 row at lr 0.5
    assert {lr for _, lr in TABLE_1} == {0.1, 0.2, 0.5} and TABLE_1[("3x2", 0.5)] == (100, 8_440)
    four = reber_setup("4x1", 0.1)
    assert (four.shape.n_blocks, four.shape.cells, four.shape.n_weights()) == (4, 1, 264)
    assert four.gate_bias == {"o": [-1.0, -2.0, -3.0, -4.0]} and four.lr == 0.1
    assert reber_setup("3x2", 0.2).shape.n_weights() == 276


def test_a_reber_row_that_is_not_one_is_refused_by_name():
    import pytest

    from lstm.paper1997 import reber_trial
    from minigrad.errors import ArgumentError

    with pytest.raises(ArgumentError, match="^reber_trial: network must be one of 3x2, 4x1, not '2x3'$"):
        reber_trial(0, limit=1, network="2x3")
    for lr in (0.0, -0.5, float("nan"), "0.5"):
        with pytest.raises(ArgumentError, match=r"^reber_trial: lr must be a positive number, not "):
            reber_trial(0, limit=1, lr=lr)
    message = r"^reber_trial: full_gradient=True needs update='string' \(the exact gradient is computed"
    with pytest.raises(ArgumentError, match=message):
        reber_trial(0, limit=1, full_gradient=True)


def test_the_full_gradient_trial_takes_the_exact_gradient(monkeypatch):
    import lstm.paper1997 as paper

    asked = []
    real = paper.string_gradient

    def spy(net, x, target, truncated=True):
        asked.append(truncated)
        return real(net, x, target, truncated)

    monkeypatch.setattr(paper, "string_gradient", spy)
    paper.reber_trial(0, limit=3, update="string", full_gradient=True)
    paper.reber_trial(0, limit=2, update="string")
    assert asked == [False, False, False, True, True]


def test_reber_trials_use_the_papers_three_pairs_of_sets_ten_trials_each():
    from lstm.paper1997 import REBER_SETS, reber_trial
    from lstm.tasks.reber import EmbeddedReber

    seeds = (0, 9, 10, 19, 20, 29, 30)
    assert [reber_trial(seed, limit=1)["sets"] for seed in seeds] == [0, 0, 1, 1, 2, 2, 0]
    pairs = [EmbeddedReber(sets_seed=s) for s in REBER_SETS]
    assert pairs[0].train_strings == EmbeddedReber().train_strings  # seeds 0-9: the task's own sets
    for task in pairs:
        assert not set(task.train_strings) & set(task.test_strings)
    assert len({tuple(task.train_strings) for task in pairs}) == 3
