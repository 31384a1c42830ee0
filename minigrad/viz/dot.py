"""DOT text for a `Picture`: labels, colours, clusters and the legend. Needs no Graphviz program.

Every label is an HTML-like label and every other text a quoted string, each escaped by one function
(`html`, `quote`, `tooltip`), so any name (quotes, ``<``, ``&``, backslashes, newlines, control
characters, unicode) gives DOT that ``dot`` accepts, and labels show the name as written. Graphviz reads
backslash sequences such as ``\\N`` (the node's name) even inside HTML-like labels, so backslashes are
doubled there; in tooltips, which some Graphviz versions unescape twice, a backslash is shown as U+29F5.
"""

from __future__ import annotations

import inspect
import re

import numpy as np

from minigrad.tensor import Tensor
from minigrad.viz.errors import DrawingTypeError
from minigrad.viz.graph import Item, Picture
from minigrad.viz.options import Options

# fill colour and legend text of each kind of node, in legend order
KINDS = {
    "parameter": ("#c8e6c9", "parameter"),
    "input": ("#bbdefb", "input"),
    "constant": ("#eeeeee", "constant"),
    "boundary": ("#e1bee7", "from outside"),
    "intermediate": ("#ffffff", "intermediate"),
    "output": ("#ffcc80", "output"),
    "op": ("#fff9c4", "op"),
    "collapsed": ("#d7ccc8", "folded scope"),
}
RECURRENT = "#c62828"
# colors= for a comparison with a hand derivation (lstm.compare): where it disagrees, where it agrees
DISAGREE, AGREE = "#e57373", "#81c784"
GRAD = "#d81b60"
CLUSTER_FILLS = ("#fafafa", "#f3f3f3", "#ececec", "#e5e5e5", "#dedede")
# A yellow-orange-red heat scale (low to high) for numbers returned by colors=.
HEAT = ((255, 255, 204), (254, 217, 118), (253, 141, 60), (227, 26, 28), (128, 0, 38))
# Widest picture, in px (a notebook column is about 1,100 px): Graphviz scales a wider layout down to it.
PAGE_WIDTH = 1000
MAX_TEXT = 60  # longest line of a label
MAX_TOOLTIP = 300  # longest tooltip

_BAD_CHARS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff]")


def _visible(text) -> str:
    """Text as a label can show it: control characters written as \\xNN, lone surrogates as U+FFFD."""
    s = str(text).replace("\r\n", "\n").replace("\r", "\n").replace("\t", " ")

    def sub(m: re.Match) -> str:
        c = m.group()
        return "\ufffd" if "\ud800" <= c <= "\udfff" else f"\\x{ord(c):02x}"

    return _BAD_CHARS.sub(sub, s)


def _short(text: str, limit: int = MAX_TEXT) -> str:
    """Each line of text cut to ``limit`` characters, ending in an ellipsis when cut."""
    return "\n".join(ln if len(ln) <= limit else ln[: limit - 1] + "\u2026" for ln in str(text).split("\n"))


def html(text) -> str:
    """Escape text for the inside of an HTML-like label (newlines become line breaks)."""
    s = _visible(text).replace("\\", "\\\\")
    s = s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")
    return s.replace("'", "&#39;").replace("\n", "<br/>")


def quote(text) -> str:
    """A DOT quoted string holding text (backslashes doubled: DOT reads \\\\ as one backslash)."""
    s = _visible(text).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{s}"'


def tooltip(text) -> str:
    """A quoted tooltip: as `quote`, with each backslash shown as U+29F5, which looks the same, and cut
    to MAX_TOOLTIP characters with an ellipsis (the whole name stays on the tensor)."""
    s = _visible(text).replace("\\", "\u29f5")
    return quote(s if len(s) <= MAX_TOOLTIP else s[: MAX_TOOLTIP - 1] + "\u2026")


# -- value summaries ---


def _number(x) -> str:
    if isinstance(x, (bool, np.bool_)):
        return str(bool(x))
    if isinstance(x, (int, np.integer)):
        return str(int(x))
    return f"{float(x):.4g}"


def summary(a) -> str:
    """A compact description of an array's values: in full up to 6 elements (at most 2-D), else
    ``min · mean · max`` over the finite values plus a count of NaN and inf."""
    a = np.asarray(a)
    if a.size == 0:
        return f"empty {a.shape}"
    if a.size <= 6 and a.ndim <= 2:
        if a.ndim == 0:
            return _number(a.item())
        rows = [a] if a.ndim == 1 else list(a)
        inner = ["[" + ", ".join(_number(x) for x in r) + "]" for r in rows]
        return inner[0] if a.ndim == 1 else "[" + ", ".join(inner) + "]"
    if a.dtype.kind not in "fc":
        return f"min {_number(a.min())} \u00b7 mean {float(a.mean()):.4g} \u00b7 max {_number(a.max())}"
    finite = np.isfinite(a)
    bad = []
    if not finite.all():
        n_nan = int(np.isnan(a).sum())
        n_inf = a.size - int(finite.sum()) - n_nan
        bad = [f"{n} {what}" for n, what in ((n_nan, "nan"), (n_inf, "inf")) if n]
        a = a[finite]
        if a.size == 0:
            return "all " + ", ".join(bad)
    text = (
        f"min {_number(a.min())} \u00b7 mean {float(np.mean(a, dtype=np.float64)):.4g} "
        f"\u00b7 max {_number(a.max())}"
    )
    return text + ("".join(f" \u00b7 {b}" for b in bad))


# -- labels ---


def _shape_text(t: Tensor) -> str:
    shape = "scalar" if t.shape == () else str(tuple(t.shape))
    return f"{shape} {t.dtype}"


def _arg_text(a) -> str:
    if isinstance(a, slice):
        parts = ["" if v is None else str(v) for v in (a.start, a.stop, a.step)]
        return ":".join(parts[:2] if a.step is None else parts)
    if a is Ellipsis:
        return "..."
    if isinstance(a, (tuple, list)):
        inner = ", ".join(_arg_text(x) for x in a)
        if isinstance(a, list):
            return f"[{inner}]"
        return f"({inner},)" if len(a) == 1 else f"({inner})"
    if isinstance(a, np.ndarray):
        return _arg_text(a.tolist()) if a.size <= 4 else f"array{a.shape}"
    return repr(a)


def _op_args(node, signatures: dict) -> str:
    """The op's non-Tensor arguments as ``name=value``, named after its forward's parameters."""
    cls = type(node)
    names = signatures.get(cls)
    if names is None:
        try:
            params = list(inspect.signature(cls.forward).parameters.values())[1:]
        except (TypeError, ValueError):
            params = []
        positional = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
        names = signatures[cls] = [p.name for p in params if p.kind in positional]
    out = []
    for k, a in enumerate(node.inputs):
        if isinstance(a, Tensor) or a is None or a is False:
            continue
        name = names[k] if k < len(names) else f"arg{k}"
        out.append(f"{name}={_short(_arg_text(a), 30)}")
    return " ".join(out)


def _small(text: str) -> str:
    return f'<font point-size="9">{text}</font>'


class _Writer:
    """Writes the nodes, edges and legend of one picture (and resolves ``colors=`` once)."""

    def __init__(self, pic: Picture, show_data: bool, show_grad: bool, colors, who: str) -> None:
        self.pic = pic
        self.show_data, self.show_grad = show_data, show_grad
        self.who = who
        self.signatures: dict = {}
        self.fills = self._colors(colors)

    # colours from colors=: a colour string, or a number placed on the heat scale
    def _colors(self, colors) -> dict:
        self.heat_range = None
        self.heat_name = ""
        if colors is None:
            return {}
        if not (isinstance(colors, dict) or callable(colors)):
            raise DrawingTypeError(
                f"{self.who}: colors= must be a dict {{tensor or node: colour}} or a function of a tensor, "
                f"got {type(colors).__name__}"
            )
        fn = colors if callable(colors) and not isinstance(colors, dict) else None
        if fn is not None:
            name = getattr(fn, "__name__", "")
            self.heat_name = "" if name == "<lambda>" else name
        cache: dict = {}
        values = {}
        for k, item in enumerate(self.pic.items):
            obj = item.tensor if item.tensor is not None else item.node
            if obj is None:
                continue
            if fn is None:
                v = colors.get(obj)
            else:
                t = item.tensor if item.tensor is not None else item.output
                if t is None:
                    continue
                if t not in cache:
                    cache[t] = fn(t)
                v = cache[t]
            if v is None:
                continue
            if isinstance(v, str):
                values[k] = v
            elif isinstance(v, (int, float, np.number)) and not isinstance(v, (bool, np.bool_)):
                values[k] = float(v)
            else:
                raise DrawingTypeError(
                    f"{self.who}: colors= gave {type(v).__name__} {v!r} for {self._describe(item)}; expected "
                    "a colour string, a number (drawn on a heat scale) or None"
                )
        numbers = [v for v in values.values() if isinstance(v, float) and np.isfinite(v)]
        if numbers:
            self.heat_range = (min(numbers), max(numbers))
        return values

    def _describe(self, item: Item) -> str:
        if item.tensor is not None:
            name = self.pic.name_of(item.tensor)
            return f"tensor {name!r}" if name else f"a tensor of shape {item.tensor.shape}"
        return f"op {item.node.op}"

    def heat(self, v: float) -> str:
        """The heat scale's colour for v, from the smallest finite number given to the largest."""
        if self.heat_range is None or not np.isfinite(v):
            return "#9e9e9e"  # grey: NaN or inf
        lo, hi = self.heat_range
        x = 0.5 if hi == lo else (v - lo) / (hi - lo)
        x = min(max(x, 0.0), 1.0) * (len(HEAT) - 1)
        k = min(int(x), len(HEAT) - 2)
        a, b = HEAT[k], HEAT[k + 1]
        f = x - k
        return "#" + "".join(f"{round(p + (q - p) * f):02x}" for p, q in zip(a, b))

    def fill(self, k: int, item: Item) -> tuple[str, str]:
        v = self.fills.get(k)
        if v is None:
            return KINDS[item.kind][0], "black"
        if isinstance(v, str):
            return v, "black"
        return self.heat(v), self.ink(v)

    def ink(self, v: float) -> str:
        """The text colour that reads on the heat scale's colour for v: white on the dark end."""
        if self.heat_range is None or not np.isfinite(v):
            return "black"
        lo, hi = self.heat_range
        return "white" if hi > lo and v - lo > 0.6 * (hi - lo) else "black"

    # one node
    def node(self, k: int, item: Item) -> str:
        fill, font = self.fill(k, item)
        attrs = {"fillcolor": quote(fill), "fontcolor": quote(font)}
        t = item.tensor
        if item.kind == "op":
            node = item.node
            label = html(_short(node.op))
            extra = _op_args(node, self.signatures)
            if extra:
                label += "<br/>" + _small(html(extra))
            attrs.update(shape="ellipse", style='"filled"', tooltip=tooltip(node.where))
        elif item.kind == "collapsed":
            path = item.note
            lines = [f"<b>{html(_short(path.rsplit('/', 1)[-1]))}</b>", f"{item.ops} ops folded"]
            if item.reads:
                names = [self.pic.name_of(r) for r in item.reads]
                shown = [html(_short(n, 20)) for n in names if n][:3]
                rest = len(names) - len(shown)
                lines.append(_small("reads " + ", ".join(shown) + (f" +{rest}" if rest else "")))
            label = "<br/>".join(lines)
            attrs.update(shape="box3d", style='"filled"', tooltip=tooltip(f"{path}: {item.ops} ops folded"))
        elif item.kind == "constant":
            label = html(summary(t.data)) + ("" if t.ndim == 0 else "<br/>" + _small(html(_shape_text(t))))
            attrs.update(
                shape="box",
                style='"filled,rounded' + (',dashed"' if item.ref else '"'),
                fontsize="9",
                height="0.2",
                tooltip=tooltip(f"constant {_shape_text(t)}"),
            )
        else:
            name = self.pic.name_of(t)
            lines = [f"<b>{html(_short(name))}</b>"] if name else []
            lines.append(html(_shape_text(t)))
            if self.show_data:
                lines.append(_small("data " + html(summary(t.data))))
            if self.show_grad:
                g = t.grad
                lines.append(_small("grad " + (html(summary(g.data)) if g is not None else "none")))
            if item.note:
                lines.append(_small(html(_short(item.note))))
            label = "<br/>".join(lines)
            style = "filled,dashed" if item.ref else "filled"
            tip = f"{name + ': ' if name else ''}{_shape_text(t)}, {KINDS[item.kind][1]}"
            if t.requires_grad:
                tip += ", requires grad"
            attrs.update(shape="box", style=quote(style), tooltip=tooltip(tip))
        if t is not None and t.requires_grad:
            attrs["penwidth"] = "2"
        return f"n{k} [label=<{label}> " + " ".join(f"{a}={v}" for a, v in attrs.items()) + "]"

    # one edge
    def edge(self, e, granted: set) -> str:
        pic = self.pic
        attrs = {}
        text = ""
        if e.kind == "grad":
            lines = []
            for t in e.tensors:
                if t in granted or t.grad is None:
                    continue
                granted.add(t)
                name = pic.name_of(t)
                lines.append(f"grad{' ' + _short(name, 20) if name else ''} {summary(t.grad.data)}")
            text = "\n".join(lines)
            attrs.update(style='"dashed"', color=quote(GRAD), fontcolor=quote(GRAD), constraint="false")
        else:
            if pic.items[e.src].tensor is None:  # the tensors are not drawn: name them on the arrow
                names, unnamed = [], 0
                for t in e.tensors:
                    if pic.items[e.dst].tensor is t:
                        continue  # the arrow into the tensor's own box
                    name = pic.name_of(t)
                    if name:
                        names.append(_short(name, 20))
                    elif t._ctx is not None and t._ctx._nout > 1:
                        names.append(f"[{t._index}]")
                    else:
                        unnamed += 1
                if unnamed and len(e.tensors) > 1:
                    names.append(f"{unnamed} tensors" if not names else f"+{unnamed}")
                text = ", ".join(names)
            if e.notes:
                text = " ".join(x for x in (text, ", ".join(e.notes)) if x)
            if e.kind == "step":  # into the next time step, which is drawn below, not to the right
                attrs["constraint"] = "false"
            if e.kind == "recurrent":
                text = f"{text} ({e.steps} steps)" if text else f"{e.steps} steps"
                attrs.update(
                    color=quote(RECURRENT), fontcolor=quote(RECURRENT), penwidth="1.6", constraint="false"
                )
        if text:
            attrs["label"] = f"<{html(text)}>"
        tail = (" [" + " ".join(f"{a}={v}" for a, v in attrs.items()) + "]") if attrs else ""
        return f"n{e.src} -> n{e.dst}{tail}"

    def legend(self) -> str:
        items, edges = self.pic.items, self.pic.edges
        present = {it.kind for it in items}
        cells = [f'<td bgcolor="{c}">{html(txt)}</td>' for k, (c, txt) in KINDS.items() if k in present]
        notes = []
        if any(it.tensor is not None and it.tensor.requires_grad for it in items):
            notes.append("thick border: requires grad")
        if any(it.ref for it in items):
            notes.append("dashed border: a tensor drawn again in each cluster that uses it")
        if any(e.kind == "recurrent" for e in edges):
            notes.append("red arrows: values passed on to the next time step")
        if any(e.kind == "grad" for e in edges):
            notes.append("dashed pink arrows: gradients flowing back, labelled with their values")
        if (self.show_grad or any(e.kind == "grad" for e in edges)) and not any(
            it.tensor is not None and it.tensor.grad is not None for it in items
        ):
            notes.append("no gradients yet: call backward() first (retain_grad() keeps a non-leaf's)")
        width = max(len(cells), 1)
        rows = ["<tr>" + "".join(cells) + "</tr>"] if cells else []
        rows += [f'<tr><td colspan="{width}" border="0" align="left">{html(n)}</td></tr>' for n in notes]
        if self.heat_range is not None:
            lo, hi = self.heat_range
            title = f"colour: {self.heat_name}" if self.heat_name else "colour: value from colors="
            stops = [lo + (hi - lo) * s / 4 for s in range(5)]
            swatches = "".join(
                f'<td bgcolor="{self.heat(v)}"><font color="{self.ink(v)}">{html(f"{v:.3g}")}</font></td>'
                for v in stops
            )
            rows.append(
                f'<tr><td colspan="{width}" border="0" align="left">'
                f'<table border="0" cellborder="1" cellspacing="0" cellpadding="2"><tr>'
                f'<td border="0">{html(title)}</td>{swatches}</tr></table></td></tr>'
            )
        return (
            '<<table border="0" cellborder="1" cellspacing="2" cellpadding="3">' + "".join(rows) + "</table>>"
        )


def picture_to_dot(pic: Picture, opts: Options, who: str = "to_dot", graphviz: tuple | None = None) -> str:
    """The DOT source of a picture; see `Options` for the options. ``graphviz``: the (major, minor)
    version of the Graphviz that will lay it out, if known (the order of the time steps depends on it)."""
    rankdir = opts.rankdir
    w = _Writer(pic, opts.show_data, opts.show_grad, opts.colors, who)
    out = [
        "digraph minigrad {",
        # mclimit: few crossing-minimisation passes keep sibling clusters in the order they are
        # written (see graph.reading_order), and keep layouts fast; size: at most PAGE_WIDTH wide
        f'  graph [rankdir={rankdir} newrank=true mclimit=0.05 size="{PAGE_WIDTH / 96:.3f},100" '
        'fontname="Helvetica" fontsize=10 nodesep=0.2 ranksep=0.2]',
        '  node [fontname="Helvetica" fontsize=10 height=0.3 margin="0.04,0.02"]',
        '  edge [fontname="Helvetica" fontsize=9 color="#616161" arrowsize=0.6]',
    ]
    # The cluster tree, in order of first use; emitted with an explicit stack (scopes can nest deeply).
    children: dict = {(): []}
    members: dict = {(): []}
    ids: dict = {}
    for k, item in enumerate(pic.items):
        cl = item.cluster
        for d in range(1, len(cl) + 1):
            pre = cl[:d]
            if pre not in members:
                members[pre] = []
                children[pre] = []
                children[pre[:-1]].append(pre)
                ids[pre] = len(ids)
        members[cl].append(k)
    if rankdir == "LR":
        # Laid out left to right with few crossing-minimisation passes (mclimit), Graphviz stacks the
        # sibling clusters it meets first at the bottom: write them last, so that they read from the top.
        # Time steps are not connected (what passes between them does not constrain the layout), and
        # unconnected parts stack from the top in the order they are written (Graphviz 10 and later: from
        # the bottom): keep those in order, after their sibling clusters that are not steps (a layer's
        # input projection stands above t0).
        upward = graphviz is not None and tuple(graphviz) >= (10, 0)
        for path, kids in children.items():
            steps = [c for c in kids if c in pic.steps]
            rest = [c for c in kids[::-1] if c not in pic.steps]
            if steps:
                children[path] = (rest + steps)[::-1] if upward else rest + steps
            else:
                children[path] = rest
    stack: list = [((), False)]
    while stack:
        path, closing = stack.pop()
        pad = "  " * (len(path) + (0 if closing else 1))
        if closing:
            out.append(pad + "}")
            continue
        if path:
            out.append("  " * len(path) + f"subgraph cluster_{ids[path]} {{")
            label = f"<b>{html(_short(path[-1]))}</b>"
            note = pic.cluster_notes.get(path)
            if note:
                label += "<br/>" + _small(html(note))
            fill = CLUSTER_FILLS[min(len(path), len(CLUSTER_FILLS)) - 1]
            out.append(
                pad + f'graph [label=<{label}> tooltip={tooltip("/".join(path))} style="rounded,filled" '
                f'fillcolor="{fill}" color="#9e9e9e"]'
            )
            stack.append((path, True))
        out.extend(pad + w.node(k, pic.items[k]) for k in members[path])
        stack.extend((child, False) for child in reversed(children[path]))
    granted: set = set()
    out.extend("  " + w.edge(e, granted) for e in pic.edges)
    if opts.legend:
        # Set last, so that no cluster inherits the legend as its label.
        out.append(f"  graph [label={w.legend()} labelloc=b labeljust=l]")
    out.append("}")
    return "\n".join(out) + "\n"
