"""An independent oracle: what a reader can recover by subtraction from a published table."""

from __future__ import annotations

from fractions import Fraction


def rank(rows: list[list[Fraction]]) -> int:
    m = [r[:] for r in rows]
    r = 0
    width = len(m[0]) if m else 0
    for c in range(width):
        pivot = next((i for i in range(r, len(m)) if m[i][c] != 0), None)
        if pivot is None:
            continue
        m[r], m[pivot] = m[pivot], m[r]
        for i in range(len(m)):
            if i != r and m[i][c] != 0:
                f = m[i][c] / m[r][c]
                m[i] = [a - f * b for a, b in zip(m[i], m[r], strict=True)]
        r += 1
    return r


def recoverable(shown: list[list[int | None]]) -> list[tuple[int, int]]:
    """Hidden entries of an augmented grid (last row/column = totals) that the published values pin
    down: the unit vector of the entry lies in the span of the line equations over hidden entries."""
    n_rows, n_cols = len(shown), len(shown[0])
    hidden = [(i, j) for i in range(n_rows) for j in range(n_cols) if shown[i][j] is None]
    if not hidden:
        return []
    index = {e: k for k, e in enumerate(hidden)}
    equations: list[list[Fraction]] = []
    lines = [[(i, j) for j in range(n_cols)] for i in range(n_rows)]
    lines += [[(i, j) for i in range(n_rows)] for j in range(n_cols)]
    for line in lines:  # sum of the inner entries of a line minus its total entry is zero
        row = [Fraction(0)] * len(hidden)
        for pos, e in enumerate(line):
            if e in index:
                row[index[e]] += -1 if pos == len(line) - 1 else 1
        equations.append(row)
    base = rank(equations)
    found = []
    for e, k in index.items():
        unit = [Fraction(int(i == k)) for i in range(len(hidden))]
        if rank([*equations, unit]) == base:
            found.append(e)
    return found


PRIME = 2**61 - 1
Form = dict[int, int]  # variable index → coefficient


class Span:
    """Linear forms known to a reader (mod a large prime), in row-echelon form."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.rows: dict[int, list[int]] = {}

    def reduce(self, form: Form) -> list[int]:
        vec = [0] * self.size
        for k, v in form.items():
            vec[k] = (vec[k] + v) % PRIME
        for c in range(self.size):
            if vec[c] and c in self.rows:
                f, row = vec[c], self.rows[c]
                vec = [(a - f * b) % PRIME for a, b in zip(vec, row, strict=True)]
        return vec

    def add(self, form: Form) -> None:
        vec = self.reduce(form)
        pivot = next((c for c, v in enumerate(vec) if v), None)
        if pivot is not None:
            inverse = pow(vec[pivot], PRIME - 2, PRIME)
            self.rows[pivot] = [v * inverse % PRIME for v in vec]

    def knows(self, form: Form) -> bool:
        return not any(self.reduce(form))
