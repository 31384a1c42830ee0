"""The recorded graph as a graph: its nodes in forward order, and how many consumers each one has.

A node is a `Function` instance (a Tensor's ``grad_fn``); its producers are the nodes that made those of
its inputs that need a gradient, in argument order, so every order here is the same on every run. Both
walks are iterative: a graph may be 100,000 nodes deep.
"""

from __future__ import annotations


def producers(node) -> list:
    """The nodes that made ``node``'s inputs that need a gradient, in argument order (repeats kept)."""
    return [a._ctx for a, need in zip(node.inputs, node.needs_input_grad) if need and a._ctx is not None]


def forward_order(roots) -> list:
    """Every node reachable from ``roots`` (nodes, or Tensors standing for the nodes that made them),
    each after the nodes that produced its inputs: a depth-first post-order, inputs in argument order."""
    order, seen = [], set()
    for start in roots:
        start = getattr(start, "_ctx", start)  # a Tensor stands for its node; a leaf for nothing
        if start is None or start in seen:
            continue
        seen.add(start)
        stack = [(start, iter(producers(start)))]
        while stack:
            node, pending = stack[-1]
            for child in pending:
                if child not in seen:
                    seen.add(child)
                    stack.append((child, iter(producers(child))))
                    break
            else:
                stack.pop()
                order.append(node)
    return order


def consumer_counts(roots) -> dict:
    """For each node reachable from the Tensors ``roots``, the number of gradients it will receive."""
    counts = {r._ctx: 0 for r in roots if r._ctx is not None}
    stack = list(counts)
    while stack:
        node = stack.pop()
        for inp, need in zip(node.inputs, node.needs_input_grad):
            if need and inp._ctx is not None:
                counts[inp._ctx] = counts.get(inp._ctx, 0) + 1
                if counts[inp._ctx] == 1:  # found now: count its own inputs' producers too
                    stack.append(inp._ctx)
    return counts
