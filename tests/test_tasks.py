"""Training tasks: generators obey their definitions, seeds reproduce, metrics score as stated."""

import math
import re
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lstm.tasks import (
    TASKS,
    AddingProblem,
    Batch,
    CharCorpus,
    CopyTask,
    EmbeddedReber,
    TemporalOrder,
    make_task,
)
from lstm.tasks.reber import SYMBOLS as REBER_SYMBOLS
from lstm.tasks.reber import grammar_logits, legal_next, sample_string

CORPUS = Path(__file__).resolve().parents[1] / "lstm" / "data" / "corpus.txt"


def draw(task, n_batches, batch_size, seed=0):
    rng = np.random.default_rng(seed)
    return [task.batch(batch_size, rng) for _ in range(n_batches)]


def same_batches(a: list[Batch], b: list[Batch]) -> bool:
    return len(a) == len(b) and all(
        np.array_equal(p.x, q.x)
        and np.array_equal(p.y, q.y)
        and (p.mask is None) == (q.mask is None)
        and (p.mask is None or np.array_equal(p.mask, q.mask))
        for p, q in zip(a, b, strict=True)
    )


# ---------------------------------------------------------------------------------------------
# adding


def check_adding_paper(batch: Batch, T: int) -> np.ndarray:
    """Assert the paper's definition on one batch; return the marked positions (B, 2), sorted."""
    x, y = batch.x, batch.y
    B, L, I = x.shape
    assert I == 2 and y.shape == (B, 1) and batch.mask is None
    assert T <= L <= T + T // 10
    values, markers = x[..., 0], x[..., 1]
    assert np.all(np.abs(values) <= 1)
    marked = markers == 1
    assert np.all(marked.sum(axis=1) == 2)
    positions = np.nonzero(marked)[1].reshape(B, 2)
    # One mark among the first 10 pairs, the other among the first T//2 - 1 still unmarked ones.
    assert np.all(positions[:, 0] <= 9) and np.all(positions[:, 1] <= T // 2 - 1)
    expected = np.zeros_like(markers)
    expected[:, [0, -1]] = -1
    expected[marked] = 1
    assert np.array_equal(markers, expected)
    # A marked first pair counts as zero, and is zero in the input.
    assert np.all(values[marked[:, 0], 0] == 0)
    counted = np.where(marked, values, 0.0)
    counted[:, 0] = 0.0
    np.testing.assert_allclose(y[:, 0], 0.5 + counted.sum(axis=1) / 4, rtol=0, atol=1e-12)
    return positions


def adding_oracle(x: np.ndarray) -> np.ndarray:
    """The right answer of the paper's adding problem, read off the inputs alone."""
    counted = np.where(x[..., 1] == 1, x[..., 0], 0.0)
    counted[:, 0] = 0.0
    return 0.5 + counted.sum(axis=1, keepdims=True) / 4


def test_adding_paper_definition_and_coverage():
    T = 100
    task = AddingProblem(T)
    batches = draw(task, 40, 64) + task.test_batches()
    positions = np.concatenate([check_adding_paper(b, T) for b in batches])
    lengths = {b.x.shape[1] for b in batches}
    assert lengths == set(range(100, 111))
    assert set(positions[:, 0]) == set(range(10))
    assert positions[:, 1].max() == T // 2 - 1
    # The first pair is marked when X1 lands there (1/10) or X2 does (9/10 * 1/49).
    first_marked = np.mean(positions[:, 0] == 0)
    assert abs(first_marked - (0.1 + 0.9 / 49)) < 0.03


@settings(max_examples=30, deadline=None)
@given(T=st.integers(22, 300), seed=st.integers(0, 2**32 - 1))
def test_adding_paper_definition_any_T(T, seed):
    check_adding_paper(AddingProblem(T).batch(16, np.random.default_rng(seed)), T)


def test_adding_test_set_is_drawn_sequence_by_sequence():
    batches = AddingProblem(100).test_batches(batch_size=256)
    assert sum(len(b.x) for b in batches) == 2560
    assert all(len(b.x) <= 256 for b in batches)
    per_length = Counter()
    for b in batches:
        per_length[b.x.shape[1]] += len(b.x)
    # Uniform over 11 lengths: about 233 each, not multiples of a batch.
    assert sorted(per_length) == list(range(100, 111))
    assert all(150 < n < 320 for n in per_length.values())


def test_adding_modern_definition():
    T = 40
    task = AddingProblem(T, variant="modern")
    for batch in draw(task, 20, 64):
        values, markers = batch.x[..., 0], batch.x[..., 1]
        assert batch.x.shape[1] == T
        assert values.min() >= 0 and values.max() <= 1
        assert set(np.unique(markers)) == {0.0, 1.0}
        assert np.all(markers.sum(axis=1) == 2)
        np.testing.assert_allclose(batch.y[:, 0], (values * markers).sum(axis=1), atol=1e-12)
    assert task.baseline()["mse"] == pytest.approx(1 / 6, rel=0.1)


def test_adding_metric_boundaries():
    task = AddingProblem(100)
    perfect = task.evaluate(adding_oracle)
    assert perfect == {"loss": 0.0, "mse": 0.0, "wrong": 0, "error_rate": 0.0}
    just_inside = task.evaluate(lambda x: adding_oracle(x) - 0.039)
    assert just_inside["wrong"] == 0
    assert just_inside["mse"] == pytest.approx(0.039**2)
    just_outside = task.evaluate(lambda x: adding_oracle(x) + 0.041)
    assert just_outside["wrong"] == 2560 and just_outside["error_rate"] == 1.0


def test_adding_constant_predictor_scores_by_hand():
    task = AddingProblem(100)
    y = np.concatenate([b.y[:, 0] for b in task.test_batches()])
    wrong = int(np.sum(np.abs(y - 0.5) >= 0.04))
    scores = task.evaluate(lambda x: np.full((len(x), 1), 0.5))
    assert scores["wrong"] == wrong and scores["error_rate"] == wrong / 2560
    assert scores["mse"] == pytest.approx(np.mean((y - 0.5) ** 2))
    assert task.baseline() == scores
    # Var((X1 + X2) / 4) with a marked first pair counting 0: (2 - p0) / 48.
    p0 = 0.1 + 0.9 / 49
    assert scores["mse"] == pytest.approx((2 - p0) / 48, rel=0.1)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"T": 21}, "AddingProblem(variant='paper') needs T >= 22, got 21"),
        ({"T": 1, "variant": "modern"}, "AddingProblem(variant='modern') needs T >= 2, got 1"),
        ({"variant": "classic"}, "variant must be 'paper' or 'modern', got 'classic'"),
    ],
)
def test_adding_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        AddingProblem(**kwargs)


# ---------------------------------------------------------------------------------------------
# temporal order

TO_SYMBOLS = "EBabcdXY"


def test_temporal_order_definition_and_coverage():
    task = TemporalOrder()
    batches = draw(task, 20, 64) + task.test_batches()
    t1s, t2s, lengths, classes = set(), set(), set(), Counter()
    for batch in batches:
        assert np.all(batch.x.sum(axis=-1) == 1) and set(np.unique(batch.x)) == {0.0, 1.0}
        for ids, label in zip(batch.x.argmax(axis=-1), batch.y, strict=True):
            seq = "".join(TO_SYMBOLS[i] for i in ids)
            assert seq[0] == "E" and seq[-1] == "B"
            assert set(seq[1:-1]) <= set("abcdXY")
            # Positions counted from 1, E at position 1.
            (t1, s1), (t2, s2) = [(t + 1, s) for t, s in enumerate(seq) if s in "XY"]
            assert 10 <= t1 <= 20 and 50 <= t2 <= 60
            assert label == {"XX": 0, "XY": 1, "YX": 2, "YY": 3}[s1 + s2]
            t1s.add(t1), t2s.add(t2), lengths.add(len(seq))
            classes[int(label)] += 1
    assert t1s == set(range(10, 21)) and t2s == set(range(50, 61))
    assert lengths == set(range(100, 111))
    assert sorted(classes) == [0, 1, 2, 3] and min(classes.values()) > 0.2 * sum(classes.values())


def test_temporal_order_6b_has_three_symbols_and_eight_classes():
    from lstm.tasks.temporal_order import CLASSES_3, TemporalOrder3

    # Hochreiter & Schmidhuber 1997, Task 6b: t1 in 10..20, t2 in 33..43, t3 in 66..76, and its rules
    rules = {"XXX": "Q", "XXY": "R", "XYX": "S", "XYY": "U", "YXX": "V", "YXY": "A", "YYX": "B", "YYY": "C"}
    task = TemporalOrder3()
    assert (task.input_size, task.output_size) == (8, 8)
    seen, classes = [set(), set(), set()], Counter()
    for batch in draw(task, 20, 64) + task.test_batches()[:2]:
        for ids, label in zip(batch.x.argmax(axis=-1), batch.y, strict=True):
            seq = "".join(TO_SYMBOLS[i] for i in ids)
            assert seq[0] == "E" and seq[-1] == "B" and 100 <= len(seq) <= 110
            marked = [(t + 1, s) for t, s in enumerate(seq) if s in "XY"]
            assert len(marked) == 3
            for k, ((t, _), (low, high)) in enumerate(zip(marked, ((10, 20), (33, 43), (66, 76)))):
                assert low <= t <= high
                seen[k].add(t)
            assert CLASSES_3[label] == rules["".join(s for _, s in marked)]
            classes[int(label)] += 1
    assert seen == [set(range(10, 21)), set(range(33, 44)), set(range(66, 77))]
    assert sorted(classes) == list(range(8))
    assert task.baseline()["wrong"] == task.n_test  # equal logits: no sequence right


def temporal_order_logits(x: np.ndarray, p_true: float) -> np.ndarray:
    """Logits whose softmax gives the true class probability p_true, the rest shared equally."""
    ids = x.argmax(axis=-1)
    picked = [[TO_SYMBOLS[i] for i in row if TO_SYMBOLS[i] in "XY"] for row in ids]
    label = np.array([2 * (a == "Y") + (b == "Y") for a, b in picked])
    probs = np.full((len(x), 4), (1 - p_true) / 3)
    probs[np.arange(len(x)), label] = p_true
    return np.log(probs)


def test_temporal_order_metric_boundaries():
    task = TemporalOrder()
    perfect = task.evaluate(lambda x: temporal_order_logits(x, 1 - 1e-12))
    assert perfect["wrong"] == 0 and perfect["accuracy"] == 1.0 and perfect["loss"] < 1e-9
    inside = task.evaluate(lambda x: temporal_order_logits(x, 0.71))
    assert inside["wrong"] == 0 and inside["error_rate"] == 0.0
    assert inside["loss"] == pytest.approx(-math.log(0.71))
    outside = task.evaluate(lambda x: temporal_order_logits(x, 0.69))
    assert outside["wrong"] == 2560 and outside["error_rate"] == 1.0
    assert outside["accuracy"] == 1.0


def test_temporal_order_constant_predictor():
    task = TemporalOrder()
    y = np.concatenate([b.y for b in task.test_batches()])
    scores = task.evaluate(lambda x: np.zeros((len(x), 4)))
    assert scores["loss"] == pytest.approx(math.log(4))
    assert scores["wrong"] == 2560
    assert scores["accuracy"] == pytest.approx(np.mean(y == 0))  # argmax of a tie is class 0
    assert task.baseline() == scores


# ---------------------------------------------------------------------------------------------
# embedded Reber grammar

# A recogniser written from the grammar's graph, independent of the task's transition table.
# From the state after "X" out of the T-loop: loop X T* V P, then leave by S or by X T* V V.
_AFTER_X = "(?:XT*VP)*(?:S|XT*VV)"
_REBER = f"B(?:TS*X{_AFTER_X}|PT*V(?:V|P{_AFTER_X}))E"
EMBEDDED = re.compile(rf"B([TP]){_REBER}\1E")


def test_recogniser_itself():
    for good in ("BTBTXSETE", "BPBPVVEPE", "BTBTSSXXTVVETE", "BPBPVPXVPXVPXVVEPE", "BTBPTVPSETE"):
        assert EMBEDDED.fullmatch(good), good
    for bad in ("BTBTXSEPE", "BTBTXSET", "BTBTXXETE", "BPBPVPEPE", "BTTXSETE"):
        assert not EMBEDDED.fullmatch(bad), bad


def test_reber_strings_obey_the_grammar():
    task = EmbeddedReber()
    assert len(task.train_strings) == 256 and len(task.test_strings) == 256
    assert not set(task.train_strings) & set(task.test_strings)
    sampled = [sample_string(np.random.default_rng(seed)) for seed in range(500)]
    for string in task.train_strings + task.test_strings + sampled:
        assert EMBEDDED.fullmatch(string), string
    # Every way out of a state is equally likely: T and P open half the strings each.
    assert 0.4 < np.mean([s[1] == "T" for s in sampled]) < 0.6


def test_reber_legal_next_by_hand():
    # B T | B T X S E | T E: after the inner E only T may come, the long-range dependency.
    assert legal_next("BTBTXSETE") == ["TP", "B", "TP", "SX", "SX", "E", "T", "E"]
    assert legal_next("BPBPVVEPE") == ["TP", "B", "TP", "TV", "PV", "E", "P", "E"]
    with pytest.raises(ValueError, match="'V' cannot follow"):
        legal_next("BTBTVSETE")


def test_reber_batches_come_from_the_training_strings():
    task = EmbeddedReber()
    train = set(task.train_strings)
    for batch in draw(task, 10, 32):
        B, T, _ = batch.x.shape
        assert batch.mask.shape == (B, T) and batch.y.shape == (B, T)
        assert np.all(batch.x.sum(axis=-1) == batch.mask)  # one-hot at steps, zeros as padding
        for x, y, mask in zip(batch.x, batch.y, batch.mask, strict=True):
            n = int(mask.sum())
            assert mask[:n].all()
            inputs = "".join(REBER_SYMBOLS[i] for i in x[:n].argmax(axis=-1))
            string = inputs + REBER_SYMBOLS[y[n - 1]]
            assert string in train
            assert "".join(REBER_SYMBOLS[i] for i in y[:n]) == string[1:]


def test_reber_metrics():
    task = EmbeddedReber()
    lengths = [len(s) - 1 for s in task.test_strings]

    ideal = task.evaluate(grammar_logits)
    assert ideal["fraction_correct"] == 1.0 and ideal["symbol_accuracy"] == 1.0
    # The true next-symbol distribution is uniform over the legal set.
    floor = np.mean([math.log(len(k)) for s in task.test_strings for k in legal_next(s)])
    assert ideal["loss"] == pytest.approx(floor)
    assert task.evaluate(grammar_logits, split="train")["fraction_correct"] == 1.0

    # Forgetting the second symbol costs exactly one step per string.
    forgetful = task.baseline()
    assert forgetful["fraction_correct"] == 0.0
    assert forgetful["symbol_accuracy"] == pytest.approx(1 - 256 / sum(lengths))

    # Equal logits never single out the legal symbols.
    flat = task.evaluate(lambda x: np.zeros(x.shape[:2] + (7,)))
    assert flat == {
        "loss": pytest.approx(math.log(7)),
        "fraction_correct": 0.0,
        "symbol_accuracy": 0.0,
    }


def test_reber_criterion_is_strict():
    task = EmbeddedReber()

    def tie_at_first_step_of_first_string(x):
        logits = np.nan_to_num(grammar_logits(x), neginf=-50.0)
        if np.array_equal(x, task.test_batches()[0].x):
            logits[0, 0, REBER_SYMBOLS.index("E")] = logits[0, 0, REBER_SYMBOLS.index("T")]
        return logits

    scores = task.evaluate(tie_at_first_step_of_first_string)
    assert scores["fraction_correct"] == 255 / 256
    total = sum(len(s) - 1 for s in task.test_strings)
    assert scores["symbol_accuracy"] == pytest.approx(1 - 1 / total)


# ---------------------------------------------------------------------------------------------
# copy


def copy_oracle(x: np.ndarray, length: int, n_symbols: int) -> np.ndarray:
    logits = np.zeros(x.shape[:2] + (n_symbols,))
    symbols = x[:, :length].argmax(axis=-1)
    rows = np.arange(len(x))[:, None]
    logits[rows, x.shape[1] - length + np.arange(length), symbols] = 10.0
    return logits


def test_copy_definition():
    length, delay, n = 4, 6, 5
    task = CopyTask(length, delay, n)
    assert task.input_size == n + 2 and task.output_size == n
    for batch in draw(task, 5, 64) + task.test_batches():
        ids = batch.x.argmax(axis=-1)
        assert batch.x.shape[1:] == (2 * length + delay + 1, n + 2)
        assert np.all(batch.x.sum(axis=-1) == 1)
        assert np.all(ids[:, :length] < n)
        assert np.all(ids[:, length : length + delay] == n)
        assert np.all(ids[:, length + delay] == n + 1)
        assert np.all(ids[:, length + delay + 1 :] == n)
        expected_mask = np.zeros(batch.mask.shape, dtype=bool)
        expected_mask[:, -length:] = True
        assert np.array_equal(batch.mask, expected_mask)
        assert np.array_equal(batch.y[:, -length:], ids[:, :length])


def test_copy_metrics():
    task = CopyTask()
    perfect = task.evaluate(lambda x: copy_oracle(x, 5, 8))
    assert perfect["accuracy"] == 1.0 and perfect["sequence_accuracy"] == 1.0
    assert perfect["loss"] < 1e-3

    def first_symbol_wrong(x):
        logits = copy_oracle(x, 5, 8)
        logits[:, -5] = np.roll(logits[:, -5], 1, axis=-1)
        return logits

    off_by_one = task.evaluate(first_symbol_wrong)
    assert off_by_one["accuracy"] == pytest.approx(4 / 5)
    assert off_by_one["sequence_accuracy"] == 0.0
    assert task.baseline()["loss"] == pytest.approx(math.log(8))


def test_copy_bad_arguments():
    with pytest.raises(ValueError, match="CopyTask needs length >= 1"):
        CopyTask(length=0)


# ---------------------------------------------------------------------------------------------
# characters


def test_shipped_corpus():
    raw = CORPUS.read_bytes()
    assert 40_000 <= len(raw) <= 60_000
    text = raw.decode("ascii")
    task = CharCorpus()
    assert task.vocab == "".join(sorted(set(text)))
    assert task.vocab_size == task.input_size == task.output_size == len(task.vocab)
    # The package reads the same bytes through importlib.resources.
    assert task.decode(np.concatenate([task.train_ids, task.val_ids])) == text
    assert len(task.val_ids) == round(0.1 * len(text))


def test_chars_batches_are_windows_of_the_training_split():
    task = CharCorpus(seq_len=16)
    train = task.decode(task.train_ids)
    for batch in draw(task, 3, 32):
        assert batch.x.shape == (32, 16, task.vocab_size) and batch.y.shape == (32, 16)
        assert batch.mask is None
        for x, y in zip(batch.x, batch.y, strict=True):
            window = task.decode(x.argmax(axis=-1)) + task.decode(y[-1:])
            assert window in train
            assert task.decode(y) == window[1:]


def test_chars_test_windows_cover_the_held_out_split_once():
    task = CharCorpus(seq_len=50)
    held_out = task.decode(task.val_ids)
    batches = task.test_batches(batch_size=16)
    assert all(b.mask is None for b in batches)
    assert all(b.x.shape[1] == 50 for b in batches[:-1]) and batches[-1].x.shape[1] <= 50
    rebuilt = task.decode(batches[0].x[0, :1].argmax(axis=-1))
    rebuilt += "".join(task.decode(row) for b in batches for row in b.y)
    assert rebuilt == held_out


def test_chars_unigram_by_hand():
    # Training split "aabaaba" (5 a, 2 b), held out "aba"; add-one: p(a) = 6/9, p(b) = 3/9.
    task = CharCorpus(text="aabaabaaba", seq_len=2, val_fraction=0.3)
    assert task.decode(task.val_ids) == "aba"
    by_hand = -(math.log2(3 / 9) + math.log2(6 / 9)) / 2  # predicts "b", then "a"
    assert task.unigram_bits_per_char == pytest.approx(by_hand)
    assert task.baseline()["bits_per_char"] == pytest.approx(by_hand)
    flat = task.evaluate(lambda x: np.zeros(x.shape[:2] + (2,)))
    assert flat["loss"] == pytest.approx(math.log(2))
    assert flat["bits_per_char"] == pytest.approx(1.0)


def test_chars_encode_decode_and_files(tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("café au lait, café noir\n" * 20, encoding="utf-8")
    task = CharCorpus(path=path, seq_len=8)
    assert "é" in task.vocab
    assert task.decode(task.encode("lait café")) == "lait café"
    with pytest.raises(ValueError, match="character 'z' is not in the vocabulary"):
        task.encode("zebra")


def test_chars_bad_files(tmp_path):
    missing = tmp_path / "nowhere.txt"
    with pytest.raises(ValueError, match=re.escape(f"corpus file not found: {missing}")):
        CharCorpus(path=missing)
    latin1 = tmp_path / "latin1.txt"
    latin1.write_bytes("café crème".encode("latin-1"))
    with pytest.raises(ValueError, match=re.escape(f"corpus file {latin1} is not UTF-8 text")):
        CharCorpus(path=latin1)
    with pytest.raises(ValueError, match="the training split has 9 characters; seq_len=64 needs"):
        CharCorpus(text="abcdefghij")
    with pytest.raises(ValueError, match="CharCorpus takes text or path, not both"):
        CharCorpus(text="abc", path=latin1)


# ---------------------------------------------------------------------------------------------
# every task

SMALL = {
    "adding": {"T": 30},
    "temporal_order": {},
    "reber": {},
    "copy": {},
    "chars": {"seq_len": 16},
}


@pytest.fixture(scope="module", params=sorted(SMALL))
def task(request):
    return make_task(request.param, **SMALL[request.param])


def test_registry():
    assert sorted(TASKS) == sorted(SMALL)
    assert all(cls.name == name for name, cls in TASKS.items())
    message = "unknown task 'nope'; known tasks: adding, chars, copy, reber, temporal_order"
    with pytest.raises(ValueError, match=re.escape(message)):
        make_task("nope")


def test_batch_shapes_follow_the_declared_interface(task):
    batch = task.batch(8, np.random.default_rng(0))
    B, T, _ = batch.x.shape
    assert batch.x.shape == (8, T, task.input_size) and batch.x.dtype == np.float64
    assert task.target in ("last", "sequence") and task.loss in ("mse", "cross_entropy")
    if task.target == "last":
        assert batch.mask is None
        assert batch.y.shape == ((B, task.output_size) if task.loss == "mse" else (B,))
    else:
        assert batch.y.shape == (B, T) and np.issubdtype(batch.y.dtype, np.integer)
        assert batch.mask is None or (batch.mask.shape == (B, T) and batch.mask.dtype == bool)
    if task.loss == "cross_entropy":
        assert batch.y.min() >= 0 and batch.y.max() < task.output_size
    assert task.describe().strip()


def test_seeding(task):
    assert same_batches(draw(task, 3, 8, seed=5), draw(task, 3, 8, seed=5))
    assert not same_batches(draw(task, 3, 8, seed=5), draw(task, 3, 8, seed=6))
    again = make_task(task.name, **SMALL[task.name])
    assert same_batches(task.test_batches(), task.test_batches())
    assert same_batches(task.test_batches(), again.test_batches())


def test_evaluate_returns_plain_numbers(task):
    scores = task.baseline()
    assert "loss" in scores
    assert all(type(value) in (int, float) for value in scores.values()), scores


def test_wrong_prediction_shape_is_refused(task):
    with pytest.raises(ValueError, match=f"{task.name}: predict returned shape \\(1, 1, 1\\)"):
        task.evaluate(lambda x: np.zeros((1, 1, 1)))


def test_float32_and_bad_rng():
    task = AddingProblem(30, dtype=np.float32)
    batch = task.batch(4, np.random.default_rng(0))
    assert batch.x.dtype == np.float32 and batch.y.dtype == np.float32
    with pytest.raises(TypeError, match="rng must be a numpy.random.Generator"):
        task.batch(4, 0)
    with pytest.raises(ValueError, match="batch_size must be a positive integer, got 0"):
        task.batch(0, np.random.default_rng(0))


# -- a NaN or an inf in a prediction is wrong, whatever a comparison with it says ---
@pytest.mark.parametrize(("name", "options", "expected"), [
    ("adding", {"T": 22}, {"error_rate": 1.0}),
    ("temporal_order", {}, {"error_rate": 1.0, "accuracy": 0.0}),
    ("reber", {}, {"fraction_correct": 0.0, "symbol_accuracy": 0.0}),
    ("copy", {}, {"accuracy": 0.0, "sequence_accuracy": 0.0}),
])  # fmt: skip
@pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning")  # inf - inf in softmax
@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_a_non_finite_prediction_is_wrong(name, options, expected, bad):
    task = make_task(name, **options)

    def predict(x):
        rows = (x.shape[0],) if task.target == "last" else x.shape[:2]
        out = np.zeros(rows + (task.output_size,))
        out[..., -1] = bad  # one bad entry per prediction, in its last class
        return out

    metrics = task.evaluate(predict)
    assert {k: metrics[k] for k in expected} == expected


def test_chars_encodes_by_code_point_across_chunks():
    from lstm.tasks.chars import _encode

    text = "héllo wörld 😀\nzebra" * 7
    vocab, ids = _encode(text, chunk=5)
    assert "".join(map(chr, vocab)) == "".join(sorted(set(text)))
    assert "".join(chr(vocab[i]) for i in ids) == text and ids.dtype == np.uint8


def test_chars_evaluation_streams_the_held_out_split():
    import tracemalloc

    rng = np.random.default_rng(0)
    text = "".join(rng.choice(list("abcdefghijklmnopqrstuvwxyz ABCDEFGHIJKLM\n"), 400_000))
    task = CharCorpus(text=text, seq_len=8)
    uniform = lambda x: np.zeros(x.shape[:2] + (task.vocab_size,))  # noqa: E731
    tracemalloc.start()
    metrics = task.evaluate(uniform)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert metrics["loss"] == pytest.approx(math.log(task.vocab_size), rel=1e-12)
    # one batch of 256 windows is 256 * 8 * 40 * 8 bytes = 0.6 MiB of one-hot input and as much of
    # logits; the whole split at once was 40,000 * 40 * 8 bytes = 12 MiB of each
    assert peak < 4 * 2**20
