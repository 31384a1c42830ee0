"""The recorded graph as a graph: its nodes in forward order (for `check_graph`, `mg.grad` and drawing).

A node is a `Function` instance (a Tensor's ``grad_fn``); its producers are the nodes that made those of
its inputs that need a gradient, in argument order, so the order is the same on every run. The walk is
iterative: a graph may be 100,000 nodes deep.
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

