"""An LSTM built from minigrad's primitive ops, so every gate's graph can be drawn, with the NumPy
reference it is checked against and converters between weight layouts.

    import lstm
    layer = lstm.LSTM(input_size=3, hidden_size=8, return_sequences=True, rng=0)
    out = layer(x)                         # x (B, T, 3) -> out (B, T, 8)

Where things are:
    lstm_cell.py   `LSTMCell`: one step, one line per gate (the forget gate is here), and its variants
    rnn_cells.py   `RNNCell`, `GRUCell`: the simpler recurrent cells, built the same way
    layer.py       `LSTM`: cells stacked and run over a sequence, PyTorch's parameter names
    reference.py   the hand-derived NumPy LSTM, forward and backward, the ground truth
    compare        a student's hand-derived gradients against autograd, gate by gate
    convert.py     weight layouts: PyTorch, Keras, cs231n
    tasks/         seeded training tasks (adding problem, temporal order, Reber grammar, copying, text)
    models.py      `SequenceModel`: an LSTM with a linear readout, for the tasks
    train.py       training by backpropagation through time; sampling.py, plots.py: text and pictures
    fused.py       the layer (fused_kernel.py) and the step as one hand-derived op each; allocator.py:
                   training's memory policy
    online.py      the papers' networks (memory blocks, 1997 truncated gradient) in NumPy, trained online;
    paper1997.py   the papers' setups and trials

Every module above is imported with the package, so ``lstm.compare`` or ``lstm.plots`` works after a plain
``import lstm``; none of them imports matplotlib or tqdm until a function needs it.
"""

from lstm import compare, convert, models, online, paper1997, plots, reference, sampling, tasks, train
from lstm.layer import LSTM
from lstm.lstm_cell import GateWeights, LSTMCell, LSTMStep, LSTMWeights
from lstm.rnn_cells import GRUCell, RNNCell

__all__ = [
    "GRUCell", "GateWeights", "LSTM", "LSTMCell", "LSTMStep", "LSTMWeights", "RNNCell", "compare",
    "convert", "models", "online", "paper1997", "plots", "reference", "sampling", "tasks", "train",
]  # fmt: skip
