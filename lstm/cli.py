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


def build_parser() -> argparse.ArgumentParser:
    from lstm.tasks import TASKS

    p = _Parser(prog="lstm", description="Train, sample and draw LSTMs built from minigrad's ops.")
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)

    t = sub.add_parser("train", help="train a model on a task (default: the character model)")
    t.add_argument("--task", default="chars", choices=sorted(TASKS))
    t.add_argument("--text", type=Path, help="chars: train on this UTF-8 file instead of the shipped text")
    t.add_argument("--hidden", type=_positive_int, default=128)
    t.add_argument("--layers", type=_positive_int, default=1)
    t.add_argument("--seq-len", type=_positive_int, default=64, help="chars: window; adding: minimum T")
    t.add_argument("--bptt", type=_positive_int, help="truncate backpropagation every K steps")
    t.add_argument("--batch", type=_positive_int, default=32)
    t.add_argument("--steps", type=_positive_int, default=1500)
    t.add_argument("--lr", type=_positive_float, default=3e-3)
    t.add_argument("--optimizer", choices=("adam", "sgd"), default="adam")
    t.add_argument("--clip", type=_positive_float, default=1.0, help="clip the gradients' global norm")
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--forget-bias", type=float, default=1.0)
    t.add_argument("--eval-every", type=_positive_int, default=250)
    t.add_argument("--fused", action="store_true", help="one hand-derived op per LSTM step (faster)")
    t.add_argument("--checkpoint", type=Path, help="checkpoint file (default: OUT/checkpoint.npz)")
    t.add_argument("--checkpoint-every", type=_positive_int, default=0)
    t.add_argument("--resume", action="store_true", help="continue from --checkpoint if it exists")
    t.add_argument("--metrics-out", type=Path, help="also write the metrics JSON here")
    t.add_argument("--out", type=Path, help="output folder (default: runs/<timestamp>)")
    t.add_argument("--temperature", type=float, default=0.8, help="chars: temperature of the samples")
    t.add_argument("--no-progress", action="store_true")
    t.add_argument("--no-pictures", action="store_true", help="skip the loss curve and gate graphs")
    t.add_argument("--threads", type=_positive_int, default=1,
                   help="BLAS threads (1 is fastest for these matrix sizes, and steady on a busy machine)")
    t.add_argument("--protocol", choices=("modern", "1997"), default="modern",
                   help="1997: the paper's network for --task adding, temporal_order or reber (memory "
                        "blocks, truncated gradient), online SGD one sequence at a time; --steps caps its "
                        "sequences")
    t.set_defaults(func=cmd_train)

    s = sub.add_parser("sample", help="generate text from a character-model checkpoint")
    s.add_argument("--checkpoint", type=Path, required=True)
    s.add_argument("--length", type=_positive_int, default=300)
    s.add_argument("--temperature", type=float, default=0.8)
    s.add_argument("--prime", default="\n")
    s.add_argument("--seed", type=int, default=0)
    s.set_defaults(func=cmd_sample)

    g = sub.add_parser("graph", help="draw an LSTM step (or an unrolled sequence) gate by gate")
    g.add_argument("--gate", choices=[*GATES, "all"], default="all")
    g.add_argument("--steps", type=_positive_int, default=1, help="time steps to unroll")
    g.add_argument("--format", choices=("svg", "png", "dot"), default="svg")
    g.add_argument("--out", type=Path, help="output file (default: lstm_<gate>.<format>)")
    g.add_argument("--input-size", type=_positive_int, default=3)
    g.add_argument("--hidden", type=_positive_int, default=4)
    g.set_defaults(func=cmd_graph)

    c = sub.add_parser("gradcheck", help="check the engine's and the LSTM's gradients and print tables")
    c.add_argument("--seed", type=int, default=0)
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
    print(f"task {config.task}, seed {config.seed}, {config.steps} steps of batch {config.batch}, "
          f"hidden {config.hidden} x {config.layers} layer(s), output in {out}/", flush=True)

    def on_eval(result, metrics):
        if config.task == "chars":
            from lstm.sampling import sample

            text = sample(result.model, config.vocab, length=160, temperature=args.temperature, rng=0)
            print(f"sample at step {metrics['step']}:\n    " + text.replace("\n", "\n    "), flush=True)

    from threadpoolctl import threadpool_limits

    with threadpool_limits(args.threads):
        result = train(config, out_dir=out, checkpoint=args.checkpoint, resume=args.resume,
                       progress=not args.no_progress, on_eval=on_eval)
    metrics = result.metrics()
    print("final: " + format_metrics({k: v for k, v in metrics.items()
                                       if not isinstance(v, (list, dict))}), flush=True)
    if args.metrics_out is not None:
        write_metrics(result, args.metrics_out)
    if not args.no_pictures:
        _pictures(result, out)
    print(f"wrote {out}/", flush=True)
    return 0


def _train_1997(args) -> int:
    from lstm.paper1997 import SETUPS, trial

    if args.task not in SETUPS:
        raise ValueError(
            f"--protocol 1997 trains the 1997 network on {', '.join(SETUPS)}; got --task {args.task}"
        )
    print(f"task {args.task}, seed {args.seed}: the 1997 network and protocol, at most {args.steps} "
          "sequences", flush=True)
    print(trial(args.task, args.seed, args.steps))
    return 0


def _pictures(result, out: Path) -> None:
    from lstm.plots import plot_losses

    plot_losses(result.metrics(), out / "loss.png")
    x = result.task.batch(1, np.random.default_rng(0)).x[:, :1]
    try:
        for gate, scope in GATES.items():
            _draw_step(result.model.lstm, x, scope, out / "gates" / f"{gate}.svg")
        _draw_step(result.model.lstm, x, None, out / "gates" / "step.svg")
    except RuntimeError as e:  # no Graphviz: the run itself succeeded
        print(f"gate graphs skipped: {e}", file=sys.stderr)


def _draw_step(layer, x, scope, path: Path, fmt: str = "svg"):
    """Draw the graph of ``layer`` on ``x`` (the whole thing, or the ops of one gate)."""
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
    path.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "dot":
        path.write_text(viz.to_dot(root, scope=pattern))
        return path
    graph = viz.draw(root, scope=pattern)
    return graph.render(path, format=fmt, cleanup=True)


def cmd_sample(args) -> int:
    from lstm.checkpoint import load_checkpoint
    from lstm.sampling import sample
    from lstm.train import TrainConfig, build_model, build_task

    ckpt = load_checkpoint(args.checkpoint)
    config = TrainConfig.from_dict(ckpt.config)
    if config.task != "chars" or not config.vocab:
        raise ValueError(f"{args.checkpoint} is a {config.task!r} model; only a chars model can sample text")
    task = build_task(config)
    model = build_model(config, task, np.random.default_rng(0))
    model.load_state_dict(ckpt.params)
    print(args.prime + sample(model, config.vocab, args.length, args.temperature, args.prime, args.seed))
    return 0


def cmd_graph(args) -> int:
    from lstm.layer import LSTM

    layer = LSTM(args.input_size, args.hidden, rng=0, forget_bias=1.0)
    x = np.random.default_rng(0).standard_normal((1, args.steps, args.input_size))
    gates = GATES if args.gate == "all" else {args.gate: GATES[args.gate]}
    if args.out is not None and len(gates) > 1 and args.gate != "all":
        raise ValueError("--out names one file; use it with a single --gate")
    if args.gate == "all":
        gates = {"all": None}
    for gate, scope in gates.items():
        path = args.out or Path(f"lstm_{gate}.{args.format}")
        written = _draw_step(layer, x, scope, Path(path), args.format)
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
    print(report)
    return 0 if report.ok else 1


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except KeyboardInterrupt:
        print(f"lstm {args.command}: interrupted", file=sys.stderr)
        return 130
    except (ValueError, TypeError, OSError, RuntimeError) as e:
        message = " ".join(str(e).split())
        print(f"lstm {args.command}: error: {message}", file=sys.stderr)
        return 2
