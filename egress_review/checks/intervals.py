"""How precisely could an attacker pin down a suppressed cell? Bounds by linear programming.

Given the published cells and totals of a table, each suppressed cell lies in an interval: the smallest
and largest values consistent with every equation (cells add up to their totals) and with non-negative
values. A small dense simplex (two phases, Bland's rule, so it cannot cycle) is enough for the tables
this runs on; the wrappers only call it for tables of modest size.
"""

from __future__ import annotations

import numpy as np

_EPS = 1e-9


def _pivot(T: np.ndarray, row: int, col: int) -> None:
    pivot_row = T[row] / T[row, col]
    T -= np.outer(T[:, col], pivot_row)
    T[row] = pivot_row


def _simplex_min(c: np.ndarray, A: np.ndarray, b: np.ndarray, max_iter: int = 5000) -> float | None:
    """min c.x subject to A x = b, x >= 0. Returns the optimum, -inf if unbounded, None if infeasible."""
    m, n = A.shape
    A = A.astype(float).copy()
    b = b.astype(float).copy()
    neg = b < 0
    A[neg] *= -1
    b[neg] *= -1
    # Phase I tableau: [A | I | b], objective: minimise the sum of artificials
    T = np.zeros((m + 1, n + m + 1))
    T[:m, :n] = A
    T[:m, n:n + m] = np.eye(m)
    T[:m, -1] = b
    basis = list(range(n, n + m))
    T[m, :] = 0.0
    T[m, n:n + m] = 1.0
    for i in range(m):
        T[m] -= T[i]

    def run(T: np.ndarray, allowed: int) -> bool:
        for _ in range(max_iter):
            row = T[-1, :allowed]
            entering = np.flatnonzero(row < -_EPS)
            if not entering.size:
                return True
            e = int(entering[0])
            col = T[:-1, e]
            pos = col > _EPS
            if not pos.any():
                return False  # unbounded
            ratios = np.full(col.shape, np.inf)
            ratios[pos] = T[:-1, -1][pos] / col[pos]
            best = ratios.min()
            cands = np.flatnonzero(np.abs(ratios - best) <= _EPS * max(1.0, abs(best)))
            leave = int(min(cands, key=lambda r: basis[r]))
            _pivot(T, leave, e)
            basis[leave] = e
        raise RuntimeError("simplex did not converge")

    run(T, n + m)
    if T[m, -1] < -1e-7:
        return None  # infeasible (the published table is inconsistent)
    # drive artificials out of the basis (or drop redundant rows)
    keep = []
    for i in range(m):
        if basis[i] >= n:
            nz = np.flatnonzero(np.abs(T[i, :n]) > 1e-7)
            if nz.size:
                e = int(nz[0])
                _pivot(T, i, e)
                basis[i] = e
                keep.append(i)
        else:
            keep.append(i)
    T2 = np.zeros((len(keep) + 1, n + 1))
    T2[:-1, :n] = T[keep, :n]
    T2[:-1, -1] = T[keep, -1]
    basis = [basis[i] for i in keep]
    T2[-1, :n] = c
    for i, bv in enumerate(basis):
        if abs(T2[-1, bv]) > _EPS:
            T2[-1] -= T2[-1, bv] * T2[i]
    if not run(T2, n):
        return -np.inf
    return float(-T2[-1, -1])


def cell_bounds(table: np.ndarray, hidden: np.ndarray, row_eq: np.ndarray, col_eq: np.ndarray,
                cells: list[tuple[int, int]] | None = None) -> dict[tuple[int, int], tuple[float, float]]:
    """Smallest and largest value of each hidden cell (or of ``cells``) consistent with the published ones.

    The table's last column holds the row totals of rows with ``row_eq``; its last row holds the column
    totals of columns with ``col_eq`` (pandas' ``margins=True`` layout).
    """
    R, C = table.shape
    unknown = [tuple(map(int, c)) for c in np.argwhere(hidden)]
    pos = {c: k for k, c in enumerate(unknown)}
    known = np.nan_to_num(np.where(hidden, 0.0, table))
    rows_A, rows_b = [], []

    def equation(plus: list[tuple[int, int]], minus: tuple[int, int]) -> None:
        a = np.zeros(len(unknown))
        rhs = 0.0
        for cell, sign in [(p, 1.0) for p in plus] + [(minus, -1.0)]:
            if cell in pos:
                a[pos[cell]] += sign
            else:
                rhs -= sign * known[cell]
        if a.any():
            rows_A.append(a)
            rows_b.append(rhs)

    for r in range(R):
        if row_eq[r]:
            equation([(r, c) for c in range(C - 1)], (r, C - 1))
    for c in range(C):
        if col_eq[c]:
            equation([(r, c) for r in range(R - 1)], (R - 1, c))
    out: dict[tuple[int, int], tuple[float, float]] = {}
    targets = cells if cells is not None else unknown
    if not rows_A:
        return {cell: (0.0, np.inf) for cell in targets}
    A = np.array(rows_A)
    b = np.array(rows_b)
    for cell in targets:
        obj = np.zeros(len(unknown))
        obj[pos[cell]] = 1.0
        lo = _simplex_min(obj, A, b)
        hi = _simplex_min(-obj, A, b)
        if lo is None or hi is None:
            continue
        out[cell] = (max(lo, 0.0), -hi)
    return out
