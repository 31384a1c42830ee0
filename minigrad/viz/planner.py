"""The planner: what a drawing shows, decided in phases over the recorded graph.

`plan` runs a `Planner`, whose methods are its phases, in order: `select` (the ops inside ``scope=``),
`find_steps` and `roll` (time steps; a rolled view keeps one), `classify` (each tensor's kind, and whether it
is weight-like), `fold` (the scopes drawn as one box), `place` (which clusters read each tensor, which
tensors get a box), `build` (items and edges, each item made the first time something needs it) and
`check_size`. Every phase reads what the earlier ones left on the planner, as lists indexed like the
graph's ops (j) and tensors (i).
"""

from __future__ import annotations

import re

from minigrad.tensor import Tensor
from minigrad.viz.errors import DrawingError, GraphTooLargeError
from minigrad.viz.graph import (
    Edge,
    Graph,
    Item,
    Picture,
    leaf_kind,
    name_resolver,
    parts_of,
    patterns,
    reading_order,
    scope_list,
    step_keys,
    step_names,
    weight_scopes,
)
from minigrad.viz.options import Options


def plan(roots, opts: Options, who: str = "to_dot") -> Picture:
    """Decide what to draw: the items and edges of the picture of the graph behind ``roots``.

    See `Options` for the options. Raises GraphTooLargeError when the picture has more than
    ``max_nodes`` nodes (None: no limit); the count is made before any label is written.
    """
    return Planner(roots, opts, who).plan()


class Planner:
    """One drawing being planned; see the module docstring for its phases."""

    def __init__(self, roots, opts: Options, who: str) -> None:
        self.opts, self.who = opts, who
        self.step_re = re.compile(opts.step)
        self.intermediates = {True: "all", False: "none"}.get(opts.intermediates, opts.intermediates)
        self.name_of = name_resolver(opts.names)
        self.g = g = Graph(roots)
        memo: dict = {}
        self.parts = [memo.setdefault(node.scope, parts_of(node.scope)) for node in g.ops]
        self.n_ops, self.n_t = len(g.ops), len(g.tensors)
        self.is_root = [False] * self.n_t
        for i in g.roots:
            self.is_root[i] = True

    def plan(self) -> Picture:
        self.select()
        self.find_steps()
        if self.opts.rolled:
            self.roll()
        self.classify()
        self.fold()
        self.place()
        self.build()
        self.check_size()
        self.check_values()
        return self.picture()

    # -- 1. which ops are drawn ---

    def select(self) -> None:
        """The ops inside ``scope=`` (all ops without it)."""
        scope, parts = self.opts.scope, self.parts
        self.selected = [True] * self.n_ops
        if scope is not None:
            pats = patterns(scope, self.who, "scope")
            memo: dict = {}

            def inside(p: tuple) -> bool:
                hit = memo.get(p)
                if hit is None:
                    hit = memo[p] = any(pt.matches(p[:d]) for d in range(1, len(p) + 1) for pt in pats)
                return hit

            self.selected = [inside(p) for p in parts]
            if not any(self.selected):
                raise DrawingError(
                    f"{self.who}: scope={scope!r} matches no scope of the graph; its scopes are: "
                    f"{scope_list(parts)}"
                )
        self.visible = list(self.selected)

    def find_steps(self) -> None:
        """For each drawn op inside a time step: (the scope holding the steps, k, the step's depth)."""
        self.step_of: list = [None] * self.n_ops
        self.groups: dict = {}  # prefix -> {k: the drawn ops of step k}
        self.n_steps: dict = {}  # prefix -> number of steps (rolled)
        self.rep: list[int | None] = [None] * self.n_ops  # rolled: the drawn op standing for a hidden one
        self.cluster_notes: dict = {}
        for j in range(self.n_ops):
            if not self.visible[j]:
                continue
            for d, comp in enumerate(self.parts[j]):
                m = self.step_re.fullmatch(comp)
                if m:
                    k = int(m.group(1))
                    self.groups.setdefault(self.parts[j][:d], {}).setdefault(k, []).append(j)
                    self.step_of[j] = (self.parts[j][:d], k, d)
                    break

    def roll(self) -> None:
        """Keep the last step of each recurrence; the ops of the others stand for it."""
        g, parts, visible = self.g, self.parts, self.visible
        if not any(len(by_k) > 1 for by_k in self.groups.values()):
            raise DrawingError(
                f"{self.who}: rolled=True needs scopes with time steps (a component t0, t1, ... matching "
                f"step={self.opts.step!r}) of which there are at least two; the drawn scopes are: "
                f"{scope_list(p for p, v in zip(parts, visible) if v)}"
            )
        for prefix, by_k in self.groups.items():
            ks = sorted(by_k)
            last = ks[-1]
            self.n_steps[prefix] = len(ks)
            depth = len(prefix)
            index = {key: j for j, key in step_keys(g, by_k[last], depth).items()}
            for k in ks[:-1]:
                for j, key in step_keys(g, by_k[k], depth).items():
                    visible[j] = False
                    self.rep[j] = index.get(key)
            if len(ks) > 1:
                j = by_k[last][0]
                first = parts[by_k[ks[0]][0]][depth]
                self.cluster_notes[parts[j][: depth + 1]] = (
                    f"one step drawn for {len(ks)} ({first}..{parts[j][depth]})"
                )
        self.name_of = step_names(self.name_of, max(max(by_k) for by_k in self.groups.values()))
        # Ops outside the steps that only fed hidden steps (the other steps' inputs) go too.
        root_makers = {g.producer[i] for i in g.roots}
        for j in range(self.n_ops - 1, -1, -1):
            if visible[j] and self.step_of[j] is None and j not in root_makers:
                visible[j] = any(visible[u] for i in g.outputs[j] for u in g.users[i])

    # -- 2. what each tensor is ---

    def classify(self) -> None:
        """Each tensor's kind, and whether it is weight-like: a parameter, or computed from parameters
        and constants alone (like an LSTM's per-gate weight blocks)."""
        g = self.g
        self.kinds: list[str] = [""] * self.n_t
        self.weightlike = [False] * self.n_t
        for i, t in enumerate(g.tensors):
            if g.producer[i] is None:
                only_backward = bool(g.users[i]) and all("backward" in self.parts[u] for u in g.users[i])
                self.kinds[i] = leaf_kind(t, self.name_of(t), only_backward)
                self.weightlike[i] = self.kinds[i] in ("parameter", "constant")
            else:
                self.kinds[i] = "intermediate"
        for j in range(self.n_ops):
            if all(self.weightlike[i] for i in g.args[j]):
                for i in g.outputs[j]:
                    self.weightlike[i] = True

    # -- 3. which scopes fold into one box ---

    def fold(self) -> None:
        """The scopes ``collapse=`` names and, unless ``collapse=False``, each scope that only cuts
        weights for the rest of the graph: ``box_key[j]``, the folded scope holding op j, or None."""
        collapse, parts, visible = self.opts.collapse, self.parts, self.visible
        self.box_key: list = [None] * self.n_ops
        cutting = set() if collapse is False else weight_scopes(self.g, parts, visible, self.weightlike)
        test, cpats = None, []
        if callable(collapse):
            test = collapse
        elif collapse not in (None, False) and not (isinstance(collapse, (list, tuple)) and not collapse):
            cpats = patterns(collapse, self.who, "collapse")
        folds: dict = {}  # scope path -> the outermost folded scope holding it, or None
        used = set()
        for j in range(self.n_ops):
            if not visible[j]:
                continue
            p = parts[j]
            if p not in folds:
                folds[p] = None
                for d in range(1, len(p) + 1):
                    pre = p[:d]
                    if test is not None:
                        hit = bool(test("/".join(pre)))
                    else:
                        k = next((k for k, pt in enumerate(cpats) if pt.matches(pre)), None)
                        hit = k is not None
                        used.add(k)
                    if hit or pre in cutting:
                        folds[p] = pre
                        break
            self.box_key[j] = folds[p]
        unused = [pt.text for k, pt in enumerate(cpats) if k not in used]
        if unused:
            raise DrawingError(
                f"{self.who}: collapse pattern {unused[0]!r} matches no drawn scope; the drawn scopes are: "
                f"{scope_list(p for p, v in zip(parts, visible) if v)}"
            )
        # the item an op is drawn as: itself, or the box of the scope it is folded into
        self.target = [("op", j) if k is None else ("box", k) for j, k in enumerate(self.box_key)]

    def cluster_of(self, j: int) -> tuple:
        return self.parts[j] if self.box_key[j] is None else self.box_key[j][:-1]

    def folds_into_box(self, i: int, j: int) -> bool:
        return self.box_key[j] is not None and self.weightlike[i]

    # -- 4. where tensors are drawn ---

    def place(self) -> None:
        """Which clusters read each tensor (a dict used as an ordered set), which tensors leave the
        selected scope, and which get a box of their own."""
        g, visible = self.g, self.visible
        self.reader_clusters: list[dict] = [{} for _ in range(self.n_t)]
        self.leaves_scope = [False] * self.n_t
        for j in range(self.n_ops):
            if not visible[j]:
                for i in g.args[j]:
                    p = g.producer[i]
                    if self.opts.scope is not None and not self.selected[j] and p is not None and visible[p]:
                        self.leaves_scope[i] = True
                continue
            cl = self.cluster_of(j)
            for i in g.args[j]:
                p = g.producer[i]
                if self.folds_into_box(i, j) or (
                    p is not None and visible[p] and self.target[p] == self.target[j]
                ):
                    continue
                self.reader_clusters[i][cl] = None
        # Ops outside the time steps whose outputs are read in several steps (an LSTM layer's input
        # projection, made once before the time loop): each output is drawn where it is read, like a weight.
        self.for_steps = [False] * self.n_ops
        if self.opts.copy_shared:
            for j in range(self.n_ops):
                if visible[j] and self.step_of[j] is None and len(g.outputs[j]) > 1:
                    users = (u for i in g.outputs[j] for u in g.users[i])
                    readers = {self.step_of[u][:2] for u in users if self.step_of[u]}
                    self.for_steps[j] = len(readers) > 1
        self.has_box = [self.wants_box(i) for i in range(self.n_t)]
        self.common: dict = {}

    def wants_box(self, i: int) -> bool:
        p = self.g.producer[i]
        if p is None or not self.visible[p]:
            return False
        if self.is_root[i] or self.leaves_scope[i]:
            return True
        if self.box_key[p] is not None or self.for_steps[p]:
            return False
        if self.intermediates != "auto":
            return self.intermediates == "all"
        return self.opts.show_values or bool(self.name_of(self.g.tensors[i]))

    def common_cluster(self, i: int) -> tuple:
        """The innermost cluster holding every cluster that reads tensor i."""
        c = self.common.get(i)
        if c is None:
            it = iter(self.reader_clusters[i])
            c = next(it)
            for other in it:
                n = 0
                while n < min(len(c), len(other)) and c[n] == other[n]:
                    n += 1
                c = c[:n]
            self.common[i] = c
        return c

    # -- 5. items and edges ---

    def build(self) -> None:
        """Walk the drawn ops in reading order; each op's sources are made before the op."""
        g, visible, target = self.g, self.visible, self.target
        self.items: list[Item] = []
        self.made: dict = {}
        self.edges: dict = {}
        for j in reading_order(g, self.parts):
            if not visible[j]:
                continue
            srcs = []
            for i in g.args[j]:
                p = g.producer[i]
                if p is not None and visible[p] and target[p] == target[j]:
                    continue  # both inside one folded box
                srcs.append((i, None, "", "") if self.folds_into_box(i, j) else (i, *self.source(i, j)))
            dst = self.op_item(j)
            if self.box_key[j] is not None:
                self.items[dst].ops += 1
            for i, src, kind, note in srcs:
                t = g.tensors[i]
                if src is None:
                    if not any(x is t for x in self.items[dst].reads):
                        self.items[dst].reads.append(t)
                else:
                    steps = self.n_steps[self.step_of[j][0]] if kind == "recurrent" else 0
                    self.add_edge(src, dst, kind, t, note, steps)
            for i in g.outputs[j]:
                if self.has_box[i]:
                    self.box(i)
        for i in g.roots:  # the roots nothing drawn reads (a leaf root only if the view is not a part)
            p = g.producer[i]
            if p is not None and visible[p]:
                self.box(i)
            elif p is None and (self.opts.scope is None or self.reader_clusters[i]):
                self.leaf_item(i, ())

    def new(self, key, item: Item) -> int:
        self.made[key] = len(self.items)
        self.items.append(item)
        return self.made[key]

    def add_edge(self, src: int, dst: int, kind: str, t: Tensor, note: str = "", steps: int = 0) -> None:
        e = self.edges.get((src, dst, kind))
        if e is None:
            e = self.edges[(src, dst, kind)] = Edge(src, dst, kind, [t], steps)
        elif not any(x is t for x in e.tensors):
            e.tensors.append(t)
        if note and note not in e.notes:
            e.notes.append(note)

    def op_item(self, j: int) -> int:
        key = self.target[j]
        k = self.made.get(key)
        if k is not None:
            return k
        if key[0] == "op":
            outs = self.g.outputs[j]
            single = self.g.tensors[outs[0]] if len(outs) == 1 and not self.has_box[outs[0]] else None
            return self.new(key, Item("op", self.parts[j], node=self.g.ops[j], output=single))
        return self.new(key, Item("collapsed", self.box_key[j][:-1], note="/".join(self.box_key[j])))

    def box(self, i: int) -> int:
        """The box of a tensor made by a drawn op (root, leaving the scope, or shown)."""
        k = self.made.get(("box", i))
        if k is not None:
            return k
        g = self.g
        p = g.producer[i]
        src = self.op_item(p)
        t = g.tensors[i]
        if self.is_root[i] or self.leaves_scope[i]:
            note = ""
            if self.leaves_scope[i] and not self.is_root[i]:
                outside = next(u for u in g.users[i] if not self.selected[u])
                note = "to " + (g.ops[outside].scope or "the top level")
            k = self.new(("box", i), Item("output", (), tensor=t, note=note))
        else:
            k = self.new(("box", i), Item(self.kinds[i], self.cluster_of(p), tensor=t))
        self.add_edge(src, k, "data", t)
        return k

    def leaf_item(self, i: int, cl: tuple, ref: bool = False) -> int:
        key = ("leaf", i, cl)
        k = self.made.get(key)
        if k is None:
            kind = "output" if self.is_root[i] else self.kinds[i]
            k = self.new(key, Item(kind, cl, tensor=self.g.tensors[i], ref=ref))
        return k

    def source(self, i: int, j: int) -> tuple[int | None, str, str]:
        """The item an edge into op j starts from to bring tensor i, the edge's kind and a note."""
        g, kinds, copy_shared = self.g, self.kinds, self.opts.copy_shared
        t = g.tensors[i]
        cl = self.cluster_of(j)
        p = g.producer[i]
        many = len(self.reader_clusters[i]) > 1
        weightlike = self.weightlike[i]
        if self.is_root[i] and (p is None or self.visible[p]):
            return (self.box(i) if p is not None else self.leaf_item(i, ()), "data", "")
        if p is None:
            if not many:
                return self.leaf_item(i, cl), "data", ""
            if copy_shared and weightlike:
                return self.leaf_item(i, cl, ref=True), "data", ""
            return self.leaf_item(i, self.common_cluster(i)), "data", ""
        sp, sj = self.step_of[p], self.step_of[j]
        if self.visible[p]:
            if (copy_shared and weightlike or self.for_steps[p]) and cl != self.cluster_of(p):
                key = ("ref", i, cl)
                k = self.made.get(key)
                if k is None:
                    note = f"from {g.ops[p].scope.rsplit('/', 1)[-1]}" if g.ops[p].scope else ""
                    k = self.new(key, Item(kinds[i], cl, tensor=t, ref=True, note=note))
                return k, "data", ""
            src = self.box(i) if self.has_box[i] else self.op_item(p)
            unfolded = self.box_key[j] is None and self.box_key[p] is None
            if sp and sj and sp[0] == sj[0] and sp[1] != sj[1] and unfolded:
                return self.entering(i, j, src, "step", Item(kinds[i], (), tensor=t, ref=True)), "data", ""
            return src, "data", ""
        # made by a hidden op: a rolled view's other step, or outside the selected scope
        r = self.rep[p]
        if r is not None:
            twin = next((o for o in g.outputs[r] if g.tensors[o]._index == t._index), None)
            src = self.box(twin) if twin is not None and self.has_box[twin] else self.op_item(r)
            if sj is not None and sp[0] == sj[0] and sp[1] < sj[1]:
                # an earlier step of the same recurrence: a red arrow loops back to it
                return self.entering(i, j, src, "recurrent", Item("boundary", (), tensor=t)), "data", ""
            return src, "data", f"from t{sp[1]}"
        shared = copy_shared and weightlike and many
        key = ("boundary", i, cl if shared else self.common_cluster(i))
        k = self.made.get(key)
        if k is None:
            where = f"t{sp[1]}" if self.opts.rolled and sp is not None else g.ops[p].scope or "the top level"
            k = self.new(key, Item("boundary", key[2], tensor=t, ref=shared, note=f"from {where}"))
        return k, "data", ""

    def entering(self, i: int, j: int, src: int, kind: str, item: Item) -> int:
        """A value made in another time step (h_{t-1}, c_{t-1}), drawn once in the step of op j, on its
        left, with an arrow of ``kind`` from ``src``, where it was made, that does not pull the steps
        into one row (so that steps stack, each with what enters it)."""
        item.cluster = self.parts[j][: self.step_of[j][2] + 1]
        key = ("entering", i, item.cluster)
        k = self.made.get(key)
        if k is None:
            k = self.new(key, item)
            self.add_edge(src, k, kind, self.g.tensors[i], steps=self.n_steps.get(self.step_of[j][0], 0))
        return k

    # -- 6. the result ---

    def check_size(self) -> None:
        max_nodes, n = self.opts.max_nodes, len(self.items)
        if max_nodes is None or n <= max_nodes:
            return
        steps = not self.opts.rolled and any(self.step_re.fullmatch(c) for p in set(self.parts) for c in p)
        hint = "rolled=True (draw one time step), " if steps else ""
        raise GraphTooLargeError(
            f"{self.who}: the picture would have {n} nodes, more than max_nodes={max_nodes}; draw part "
            f"of it with scope='...', fold scopes with collapse=[...], {hint}or raise max_nodes (Graphviz "
            "can take minutes to lay out thousands of nodes)"
        )

    def check_values(self) -> None:
        """With show_data, refuse a tensor whose values were dropped (an array marked ``dropped_by``, e.g.
        by ``lstm.LSTM(keep_values=False)``): the drawing would show zeros that were never computed."""
        if not self.opts.show_data:
            return
        for item in self.items:
            switch = getattr(item.tensor.data, "dropped_by", None) if item.tensor is not None else None
            if switch:
                node = item.tensor.grad_fn
                raise DrawingError(
                    f"{self.who}: show_data=True, but the values of the {node.op} in {node.scope} were "
                    f"dropped by {switch}; run the forward again with keep_values=True to draw them, or "
                    "draw without show_data"
                )

    def picture(self) -> Picture:
        out = list(self.edges.values())
        if self.opts.show_backward:
            for e in list(out):
                ts = [t for t in e.tensors if t.requires_grad]
                if ts:
                    out.append(Edge(e.dst, e.src, "grad", ts))
        steps = {
            self.parts[j][: self.step_of[j][2] + 1]
            for j in range(self.n_ops)
            if self.visible[j] and self.step_of[j] is not None
        }
        g = self.g
        return Picture(
            self.items, out, self.cluster_notes, steps, [g.tensors[i] for i in g.roots], self.name_of
        )
