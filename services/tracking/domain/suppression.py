"""Small-cell suppression with complementary suppression for a two-way table with its totals.

The table is seen with its margins as an (R+1)×(C+1) grid: cells, a row-total column, a column-total
row and the grand total in the corner. Every published value is either 0 or at least `threshold`
(primary suppression hides 1..threshold-1, totals included). What the published values say about the
hidden ones is a set of line equations (each row and each column sums to its total). A hidden entry is
recoverable by subtraction exactly when those equations pin it down; for a two-way table that happens
exactly when the entry is a bridge of the bipartite graph whose vertices are the grid's lines and
whose edges are the hidden entries (an entry on a cycle can move by +d/-d around the cycle while every
published value stays the same). So complementary suppression hides more entries until no hidden entry
is a bridge, choosing each time the cheapest entry that closes a cycle: an inner cell before a total,
a value at or above the threshold before a zero, a small value before a large one.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Iterator

MINIMUM_THRESHOLD = 11  # never publish 1..10

Entry = tuple[int, int]


def augmented(cells: list[list[int]]) -> list[list[int]]:
    """Cells plus a row-total column, a column-total row and the grand total."""
    rows = [[*row, sum(row)] for row in cells]
    width = len(cells[0]) if cells else 0
    totals = [sum(row[j] for row in rows) for j in range(width + 1)]
    return [*rows, totals]


def bridges(hidden: set[Entry]) -> list[Entry]:
    """Hidden entries the published values determine: the bridges of the line graph (Tarjan)."""
    adj: dict[tuple[str, int], list[tuple[tuple[str, int], Entry]]] = {}
    for i, j in hidden:
        adj.setdefault(("r", i), []).append((("c", j), (i, j)))
        adj.setdefault(("c", j), []).append((("r", i), (i, j)))
    order: dict[tuple[str, int], int] = {}
    low: dict[tuple[str, int], int] = {}
    found: list[Entry] = []
    for root in sorted(adj):
        if root in order:
            continue
        order[root] = low[root] = len(order)
        stack: list[tuple[tuple[str, int], Entry | None, Iterator[tuple[tuple[str, int], Entry]]]] = [
            (root, None, iter(adj[root]))
        ]
        while stack:
            v, via, edges = stack[-1]
            for w, edge in edges:
                if edge == via:
                    continue
                if w in order:
                    low[v] = min(low[v], order[w])
                    continue
                order[w] = low[w] = len(order)
                stack.append((w, edge, iter(adj[w])))
                break
            else:
                stack.pop()
                if stack:
                    parent = stack[-1][0]
                    low[parent] = min(low[parent], low[v])
                    if low[v] > order[parent]:
                        assert via is not None
                        found.append(via)
    return sorted(found)


def _reach(hidden: set[Entry], start: tuple[str, int], cut: Entry) -> set[tuple[str, int]]:
    adj: dict[tuple[str, int], set[tuple[str, int]]] = {}
    for i, j in hidden:
        if (i, j) != cut:
            adj.setdefault(("r", i), set()).add(("c", j))
            adj.setdefault(("c", j), set()).add(("r", i))
    seen = {start}
    todo = deque([start])
    while todo:
        for w in adj.get(todo.popleft(), ()):
            if w not in seen:
                seen.add(w)
                todo.append(w)
    return seen


def suppress(
    cells: list[list[int]], threshold: int = MINIMUM_THRESHOLD, forced: Iterable[Entry] = ()
) -> set[Entry]:
    """The entries of the augmented grid to hide (row R = column totals, column C = row totals).

    `forced` entries are hidden whatever their value (they are hidden in a linked table)."""
    if threshold < MINIMUM_THRESHOLD:
        raise ValueError(f"threshold may only be raised above {MINIMUM_THRESHOLD}")
    if not cells or not cells[0]:
        return set()
    grid = augmented(cells)
    n_rows, n_cols = len(grid), len(grid[0])
    hidden = {(i, j) for i in range(n_rows) for j in range(n_cols) if 0 < grid[i][j] < threshold}
    hidden |= set(forced)

    def cost(e: Entry) -> tuple[int, int, int, int, int]:
        v = grid[e[0]][e[1]]
        is_total = int(e[0] == n_rows - 1 or e[1] == n_cols - 1)
        return (is_total, 0 if v >= threshold else 1, v, e[0], e[1])

    everything = [(i, j) for i in range(n_rows) for j in range(n_cols)]
    while True:
        found = bridges(hidden)
        if not found:
            return hidden
        i, j = found[0]
        side_a = _reach(hidden, ("r", i), (i, j))
        side_b = _reach(hidden, ("c", j), (i, j))
        closing = [
            (p, q)
            for p, q in everything
            if (p, q) not in hidden
            and ((("r", p) in side_a and ("c", q) in side_b) or (("r", p) in side_b and ("c", q) in side_a))
        ]
        if not closing:  # grow one side first: a neighbour in the same row or column
            closing = [(p, q) for p, q in everything if (p, q) not in hidden and (p == i or q == j)]
        if not closing:
            closing = [e for e in everything if e not in hidden]
        hidden.add(min(closing, key=cost))
