"""The command line: ``python -m lstm train | sample | graph | gradcheck``.

Every failure a user can cause (an unknown task, a missing or non-UTF-8 file, a negative size, a
checkpoint of another model) ends with one line on stderr and exit status 2, never a traceback.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

from minigrad.errors import MinigradError

GATES = {
    "input": "input_gate",
    "forget": "forget_gate",
    "cell": "cell_candidate",
    "output": "output_gate",
    "cell_state": "cell_state",
    "hidden_state": "hidden_state",
}


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, not usage + message
        self.exit(2, f"{self.prog}: error: {message}\n")


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text}")
    return value


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text}")
    return value


EXAMPLES = """\
examples, one per command:
  python -m lstm train --task adding --seq-len 22 --hidden 32 --forget-bias 5 --lr 0.01 --steps 500
        learn the adding problem on short sequences (about 20 seconds); ends saying whether it beat the
        trivial baseline (always answering the mean)
  python -m lstm sample --checkpoint runs/<run>/checkpoint.npz --length 200 --temperature 0.7
        write 200 characters with a trained character model
  python -m lstm graph --gate forget --steps 2
        draw the forget gate of a 2-step LSTM as lstm_forget.svg
  python -m lstm gradcheck --verbose
        check the LSTM's gradients against central differences and the hand-derived NumPy LSTM

`python -m lstm COMMAND --help` explains every option of a command."""

TEMPERATURE = "a finite number >= 0; 0 always takes the most likely character"
POSITIVE_INT = "a positive integer"
POSITIVE = "a positive number"


def _help(what: str, accepts: str | None = None, default: str = "%(default)s") -> str:
    """An option's help: what it does, then what it accepts and its default, in the same words everywhere."""
    return f"{what} ({accepts}; default: {default})" if accepts else f"{what} (default: {default})"


def build_parser() -> argparse.ArgumentParser:
    from lstm.tasks import TASKS

    p = _Parser(prog="lstm", description="Train, sample and draw LSTMs built from minigrad's ops.",
                epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)

    t = sub.add_parser("train", help="train a model on a task (default: the character model)",
                       description="Train an LSTM with a linear readout on a task, evaluating on held-out "
                                   "data; writes a checkpoint, the metrics, a loss curve and gate drawings.")
    tasks = ", ".join(sorted(TASKS))
    t.add_argument("--task", default="chars", choices=sorted(TASKS), metavar="TASK",
                   help=_help("what to learn: adding (the sum of two marked numbers), temporal_order "
                              "(the order of two marked symbols), reber (the embedded Reber grammar), copy "
                              "(repeat a sequence after a gap), chars (the next character of a text)",
                              f"one of {tasks}"))
    t.add_argument("--text", type=Path, metavar="FILE",
                   help=_help("chars: train on this UTF-8 text file", "a path",
                              "the 47 KB text shipped in lstm/data"))
    t.add_argument("--hidden", type=_positive_int, default=128, metavar="H",
                   help=_help("hidden units (the size of h and c) of each LSTM layer", POSITIVE_INT))
    t.add_argument("--layers", type=_positive_int, default=1, metavar="N",
                   help=_help("LSTM layers stacked on each other", POSITIVE_INT))
    t.add_argument("--seq-len", type=_positive_int, default=64, metavar="T",
                   help=_help("chars: characters per training window; adding: the shortest sequence "
                              "length T (sequences have T to T + T/10 steps)",
                              f"{POSITIVE_INT}; adding needs >= 22"))
    t.add_argument("--bptt", type=_positive_int, metavar="K",
                   help=_help("truncate backpropagation through time: cut each sequence into chunks of K "
                              "steps and stop gradients between chunks", POSITIVE_INT,
                              "full BPTT over the whole sequence"))
    t.add_argument("--batch", type=_positive_int, default=32, metavar="B",
                   help=_help("sequences per training step", POSITIVE_INT))
    t.add_argument("--steps", type=_positive_int, default=1500, metavar="N",
                   help=_help("training steps, one batch each", POSITIVE_INT))
    t.add_argument("--lr", type=_positive_float, default=3e-3, metavar="LR",
                   help=_help("learning rate", POSITIVE))
    t.add_argument("--optimizer", choices=("adam", "sgd"), default="adam",
                   help=_help("the optimizer: Adam, or SGD with momentum 0.9", "adam or sgd"))
    t.add_argument("--clip", type=_positive_float, default=1.0, metavar="NORM",
                   help=_help("scale the gradients down when their global norm exceeds NORM", POSITIVE))
    t.add_argument("--seed", type=int, default=0,
                   help=_help("seed of the initial weights and the batches: the same seed gives the same run",
                              "any integer"))
    t.add_argument("--forget-bias", type=float, default=1.0, metavar="BIAS",
                   help=_help("initial bias of the forget gate; a large one (5) makes the cells keep their "
                              "state from the first step, which long-range tasks need", "any number"))
    t.add_argument("--eval-every", type=_positive_int, default=250, metavar="N",
                   help=_help("score the model on held-out data every N steps and at the end", POSITIVE_INT))
    t.add_argument("--fused", action="store_true",
                   help="run each LSTM step as one hand-derived op: faster, same results (default: off, the "
                        "primitive ops)")
    t.add_argument("--checkpoint", type=Path, metavar="FILE",
                   help=_help("checkpoint file to write (and to read with --resume)", "a path",
                              "OUT/checkpoint.npz"))
    t.add_argument("--checkpoint-every", type=_positive_int, default=0, metavar="N",
                   help=_help("also save the checkpoint every N steps", POSITIVE_INT, "only at the end"))
    t.add_argument("--resume", action="store_true",
                   help="continue from the checkpoint if it exists: same weights, optimizer state, step and "
                        "random state, so the result equals one uninterrupted run (default: off, start "
                        "afresh)")
    t.add_argument("--metrics-out", type=Path, metavar="FILE",
                   help=_help("also write the metrics JSON to FILE", "a path", "only OUT/metrics.json"))
    t.add_argument("--out", type=Path, metavar="OUT",
                   help=_help("folder for the checkpoint, metrics, loss curve and gate drawings", "a path",
                              "runs/<date>-<time>"))
    t.add_argument("--temperature", type=float, default=0.8, metavar="TEMP",
                   help=_help("chars: temperature of the samples printed at each evaluation; lower is more "
                              "predictable, higher more varied", TEMPERATURE))
    t.add_argument("--no-progress", action="store_true",
                   help="hide the progress bar, e.g. when writing to a log file (default: off, shown)")
    t.add_argument("--no-pictures", action="store_true",
                   help="skip the loss curve and the gate drawings (default: off, drawn)")
    t.add_argument("--threads", type=_positive_int, default=1, metavar="N",
                   help=_help("BLAS threads: 1 is fastest for these matrix sizes, and steady on a busy "
                              "machine", POSITIVE_INT))
    t.add_argument("--protocol", choices=("modern", "1997"), default="modern",
                   help=_help("1997: the paper's network for --task adding, temporal_order or reber (memory "
                              "blocks, truncated gradient), trained online, one sequence at a time, and "
                              "--steps caps its sequences; modern: this command's batched training",
                              "modern or 1997"))
    t.set_defaults(func=cmd_train)

    s = sub.add_parser("sample", help="generate text from a character-model checkpoint",
                       description="Generate text with a character model trained by `train --task chars`.")
    s.add_argument("--checkpoint", type=Path, required=True, metavar="FILE",
                   help="a chars model's checkpoint, e.g. runs/<run>/checkpoint.npz (required)")
    s.add_argument("--length", type=_positive_int, default=300, metavar="N",
                   help=_help("characters to generate", POSITIVE_INT))
    s.add_argument("--temperature", type=float, default=0.8, metavar="TEMP",
                   help=_help("divides the logits before sampling: lower is more predictable, higher more "
                              "varied", TEMPERATURE))
    s.add_argument("--prime", metavar="TEXT",
                   help=_help("text the model reads before generating; it is printed first",
                              "text of characters the model knows", "a newline, if the model knows one"))
    s.add_argument("--seed", type=int, default=0,
                   help=_help("seed of the sampling: the same seed gives the same text", "any integer"))
    s.set_defaults(func=cmd_sample)

    g = sub.add_parser("graph", help="draw an LSTM step (or an unrolled sequence) gate by gate",
                       description="Draw the computation graph of an LSTM, one gate or a whole step, with "
                                   "Graphviz: a fresh random LSTM, or a trained one with --checkpoint.")
    g.add_argument("--gate", choices=[*GATES, "all"], default="all",
                   help=_help("the part to draw: one gate (cell is the candidate g), the cell or hidden "
                              "state update, or all of it", f"one of {', '.join([*GATES, 'all'])}"))
    g.add_argument("--steps", type=_positive_int, default=1, metavar="T",
                   help=_help("time steps to unroll", POSITIVE_INT))
    g.add_argument("--format", choices=("svg", "png", "dot"),
                   help=_help("svg or png (a picture), or dot (the DOT text)", "svg, png or dot",
                              "--out's extension, else svg"))
    g.add_argument("--out", type=Path, metavar="FILE",
                   help=_help("output file, written exactly as named; an existing file that is not a drawing "
                              "is kept unless --force", "a path", "lstm_<gate>.<format>"))
    g.add_argument("--force", action="store_true",
                   help="replace --out even if it is not a drawing (default: off, refuse)")
    g.add_argument("--input-size", type=_positive_int, default=3, metavar="I",
                   help=_help("features per input step of the random LSTM", POSITIVE_INT))
    g.add_argument("--hidden", type=_positive_int, default=4, metavar="H",
                   help=_help("hidden units of the random LSTM", POSITIVE_INT))
    g.add_argument("--checkpoint", type=Path, metavar="FILE",
                   help=_help("draw this trained model's LSTM on an input of its task instead "
                              "(its sizes replace --input-size and --hidden)",
                              "a checkpoint written by train", "a random LSTM"))
    g.set_defaults(func=cmd_graph)

    c = sub.add_parser("gradcheck", help="check the engine's and the LSTM's gradients",
                       description="Check a 5-step LSTM layer's gradients against central differences "
                                   "(mg.gradcheck) and the hand-derived NumPy LSTM (lstm.compare); prints "
                                   "the verdict, and the full tables with --verbose.")
    c.add_argument("--seed", type=int, default=0,
                   help=_help("seed of the random LSTM, its input and the upstream gradients", "any integer"))
    c.add_argument("--verbose", action="store_true",
                   help="also print the full tables: every parameter and gate, and every time step "
                        "(default: off, the verdict only)")
    c.set_defaults(func=cmd_gradcheck)
    return p


def cmd_train(args) -> int:
    from lstm.train import TrainConfig, format_metrics, train, write_metrics

    if args.protocol == "1997":
        return _train_1997(args)
    if args.text is not None and args.task != "chars":
        raise ValueError("--text is only used by --task chars")
    if args.resume and args.checkpoint is None and args.out is None:
        raise ValueError("--resume needs --checkpoint (or --out of the run to continue)")
    out = args.out or Path("runs") / time.strftime("%Y%m%d-%H%M%S")
    config = TrainConfig(
        task=args.task, text=str(args.text) if args.text else None, hidden=args.hidden,
        layers=args.layers, seq_len=args.seq_len, bptt=args.bptt, batch=args.batch, steps=args.steps,
        lr=args.lr, optimizer=args.optimizer, clip=args.clip, seed=args.seed,
        forget_bias=args.forget_bias, eval_every=args.eval_every, fused=args.fused,
        checkpoint_every=args.checkpoint_every,
    )
    from lstm.validate import prepare_train

    lock = prepare_train(args, out)  # every option and output checked, the run folder locked
    print(f"task {config.task}, seed {config.seed}, {config.steps} steps of batch {config.batch}, "
          f"hidden {config.hidden} x {config.layers} layer(s), output in {out}/", flush=True)

    def on_eval(result, metrics):
        if config.task == "chars":
            from lstm.sampling import sample

            text = sample(result.model, config.vocab, length=160, temperature=args.temperature, rng=0)
            print(f"sample at step {metrics['step']}:\n    " + text.replace("\n", "\n    "), flush=True)

    from threadpoolctl import threadpool_limits

    with threadpool_limits(args.threads), np.errstate(all="ignore"):  # train reports non-finite losses
        result = train(config, out_dir=out, checkpoint=args.checkpoint, resume=args.resume,
                       progress=not args.no_progress, on_eval=on_eval)
    metrics = {k: v for k, v in result.metrics().items() if not isinstance(v, (list, dict, bool))}
    print("final: " + format_metrics(metrics, result.baseline), flush=True)
    print(_verdict(result), flush=True)
    written = [
        (args.checkpoint or out / "checkpoint.npz",
         "the trained weights, optimizer state and step (for --resume, sample, graph --checkpoint)"),
        (out / "metrics.json", "the configuration, the loss of every step, every evaluation, the baseline"),
    ]
    if args.metrics_out is not None:
        write_metrics(result, args.metrics_out)
        written.append((args.metrics_out, "a copy of metrics.json (--metrics-out)"))
    if not args.no_pictures:
        written += _pictures(result, out)
    _list_files(out, written)
    lock.release()
    return 0


def _list_files(out: Path, written: list[tuple[Path, str]]) -> None:
    """``wrote OUT/:`` and one line per file, what it is; paths inside OUT are shown relative to it."""
    names = [str(p.relative_to(out)) if p.is_relative_to(out) else str(p) for p, _ in written]
    width = max(map(len, names))
    print(f"wrote {out}/:", flush=True)
    for name, (_, what) in zip(names, written):
        print(f"  {name:<{width}}  {what}", flush=True)


def _verdict(result) -> str:
    """One line: whether the run beat the task's trivial predictor on the task's headline metric."""
    task, key = result.task, result.task.headline
    ours, theirs = result.evals[-1][key], result.baseline[key]
    against = f"{key} {ours:.4g} against {theirs:.4g} for {task.baseline_name}"
    if result.beat_baseline():
        return f"beat the baseline: {against}"
    return f"did NOT beat the baseline: {against}; it has not learned the task yet (try more --steps)"


def _train_1997(args) -> int:
    from lstm.paper1997 import SETUPS, trial
    from lstm.tasks import TASKS

    offered = [name for name in SETUPS if name in TASKS]  # experiment 6b: experiments/protocol1997.py
    if args.task not in offered:
        raise ValueError(
            f"--protocol 1997 trains the 1997 network on {', '.join(offered)}; got --task {args.task}"
        )
    print(f"task {args.task}, seed {args.seed}: the 1997 network and protocol, at most {args.steps} "
          "sequences", flush=True)
    print(trial(args.task, args.seed, args.steps))
    return 0


def _pictures(result, out: Path) -> list[tuple[Path, str]]:
    """Draw the loss curve and one time step's gate graphs; returns each file written and what it is."""
    from lstm.plots import plot_losses

    plot_losses(result.metrics(), out / "loss.png")
    written = [(out / "loss.png", "the training loss (raw and smoothed) and the held-out loss, by step")]
    x = result.task.batch(1, np.random.default_rng(0)).x[:, :1]
    try:
        for gate, scope in GATES.items():
            path = _draw_step(result.model.lstm, x, scope, out / "gates" / f"{gate}.svg")
            written.append((Path(path), f"the graph of one time step's {scope.replace('_', ' ')}"))
        path = _draw_step(result.model.lstm, x, None, out / "gates" / "step.svg")
        written.append((Path(path), "the graph of one whole time step, every gate"))
    except RuntimeError as e:  # no Graphviz: the run itself succeeded
        print(f"gate graphs skipped: {e}", file=sys.stderr)
    return written


def _draw_step(layer, x, scope, path: Path, fmt: str | None = None, force: bool = False):
    """Draw the graph of ``layer`` on ``x`` (the whole thing, or the ops of one gate) to exactly ``path``
    (in ``fmt``, else as its extension says); a file there that is not a drawing is kept unless ``force``."""
    from minigrad import viz

    fused = getattr(layer, "fused", False)
    if fused:
        layer.fused = False  # draw the primitive ops, not the one-node fused step
    try:
        out = layer(x)
    finally:
        if fused:
            layer.fused = True
    root = out[0] if isinstance(out, tuple) else out
    pattern = f"*/{scope}" if scope else None
    return viz.draw(root, scope=pattern).render(path, format=fmt, force=force)


def _load_model(path: Path):
    """The config and model of a checkpoint written by ``train``. The checkpoint is self-contained: no
    path in it is ever read."""
    from lstm.train import build_model, load_run_checkpoint

    ckpt, config = load_run_checkpoint(path)
    model = build_model(config, None, np.random.default_rng(0))
    model.load_state_dict(ckpt.params)
    return config, model


def cmd_sample(args) -> int:
    from lstm.sampling import default_prime, sample
    from lstm.validate import check_prime, check_temperature

    check_temperature(args.temperature)
    config, model = _load_model(args.checkpoint)
    if config.task != "chars" or not config.vocab:
        raise ValueError(f"{args.checkpoint} is a {config.task!r} model; only a chars model can sample text")
    prime = check_prime(args.prime, config.vocab) if args.prime is not None else default_prime(config.vocab)
    print(prime + sample(model, config.vocab, args.length, args.temperature, prime, args.seed))
    return 0


def _graph_layer(args):
    """The LSTM to draw and an input of ``args.steps`` steps for it: a trained model's LSTM on a
    sequence of its task (``--checkpoint``), or a fresh random layer on random numbers."""
    from lstm.layer import LSTM

    rng = np.random.default_rng(0)
    if args.checkpoint is None:
        layer = LSTM(args.input_size, args.hidden, rng=0, forget_bias=1.0)
        return layer, rng.standard_normal((1, args.steps, args.input_size))
    config, model = _load_model(args.checkpoint)
    if config.task == "chars":  # one-hot characters of the stored vocabulary: its text is never read
        x = np.eye(len(config.vocab))[np.arange(args.steps) % len(config.vocab)][None]
        return model.lstm, x
    from lstm.train import build_task

    x = build_task(config).batch(1, rng).x  # the other tasks generate their data and read no file
    if x.shape[1] < args.steps:
        raise ValueError(f"--steps {args.steps}: the sequences of {args.checkpoint}'s task have only "
                         f"{x.shape[1]} steps")
    return model.lstm, x[:, : args.steps]


def cmd_graph(args) -> int:
    layer, x = _graph_layer(args)
    gates = GATES if args.gate == "all" else {args.gate: GATES[args.gate]}
    if args.out is not None and len(gates) > 1 and args.gate != "all":
        raise ValueError("--out names one file; use it with a single --gate")
    if args.gate == "all":
        gates = {"all": None}
    for gate, scope in gates.items():
        path = args.out or Path(f"lstm_{gate}.{args.format or 'svg'}")
        written = _draw_step(layer, x, scope, Path(path), args.format, force=args.force)
        print(f"wrote {written}")
    return 0


def cmd_gradcheck(args) -> int:
    import minigrad as mg
    from lstm import compare
    from lstm.layer import LSTM

    rng = np.random.default_rng(args.seed)
    layer = LSTM(3, 4, rng=rng)
    x = mg.tensor(rng.standard_normal((2, 5, 3)), requires_grad=True, name="x")
    ok = mg.gradcheck(lambda x: layer(x), [x])
    print(f"mg.gradcheck of a 5-step LSTM layer (B=2, I=3, H=4): {'OK' if ok else 'FAILED'}")
    report = compare.compare_with_reference(seed=args.seed)
    if args.verbose:
        print(report)
    else:
        print(f"{report.title}: {'PASS' if report.ok else 'FAIL'}", *report.verdict, sep="\n")
        print("(the full tables, every parameter, gate and time step: lstm gradcheck --verbose)")
    return 0 if report.ok else 1


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except KeyboardInterrupt:
        print(f"lstm {args.command}: interrupted", file=sys.stderr)
        return 130
    except MemoryError as e:  # what the estimate before training did not foresee
        message = str(e) if isinstance(e, MinigradError) else (
            "out of memory; choose smaller sizes (--hidden, --batch, --seq-len, --layers)")
        print(f"lstm {args.command}: error: {message}", file=sys.stderr)
        return 2
    except (ValueError, TypeError, OSError, RuntimeError) as e:
        message = " ".join(str(e).split())
        print(f"lstm {args.command}: error: {message}", file=sys.stderr)
        return 2
