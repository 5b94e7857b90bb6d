"""Secondary suppression: hide extra cells so that no suppressed cell can be worked out from the totals.

A two-way table with its margins is a set of linear equations: every row (the margin row included) sums
to its row total and every column to its column total. Think of the table as a bipartite graph whose
vertices are the rows and columns and whose edges are the suppressed cells. Perturbing the suppressed cells
by +d, -d alternately around a cycle keeps every published total unchanged, and every solution of the
equations is a combination of such cycles. So a suppressed cell can be recomputed exactly if and only if
its edge lies on no cycle (a bridge). We add the cheapest complementary cells that close a cycle through
every bridge (a rectangle: at most three more cells), prefer cells that are already suppressed and small
non-zero cells (a zero complement gives no room to move), and make sure the suppressed cells of every
line together hide at least ``line_total_min`` (otherwise the difference between the total and the
published cells reveals that all of them are small).

Lines without an equation (no margin was published for them) are merged into one "ground" vertex, which
covers one-way tables with a total row and tables without margins (nothing to protect against).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

GROUND = -1
INTERVAL_MAX_HIDDEN = 80  # interval bounds cost two small LPs per hidden cell


@dataclass
class SuppressionPlan:
    suppressed: np.ndarray  # bool, shape of the table (margins included)
    secondary: np.ndarray  # bool, the cells added by this module
    reasons: dict[tuple[int, int], str]  # secondary cell -> why


def _bridges(edges: list[tuple[int, int]]) -> set[int]:
    """Indices of bridge edges in an undirected multigraph (iterative Tarjan, list-based for speed)."""
    if not edges:
        return set()
    ids = {}
    for u, v in edges:
        ids.setdefault(u, len(ids))
        ids.setdefault(v, len(ids))
    n = len(ids)
    adj: list[list[tuple[int, int]]] = [[] for _ in range(n)]
    for i, (u, v) in enumerate(edges):
        if u == v:
            continue  # a self-loop (both ends on ground) is never a bridge
        a, b = ids[u], ids[v]
        adj[a].append((b, i))
        adj[b].append((a, i))
    disc = [-1] * n
    low = [0] * n
    result: set[int] = set()
    counter = 0
    for root in range(n):
        if disc[root] >= 0 or not adj[root]:
            continue
        disc[root] = low[root] = counter
        counter += 1
        stack = [(root, -1, 0)]
        while stack:
            node, via, k = stack[-1]
            nbrs = adj[node]
            if k < len(nbrs):
                stack[-1] = (node, via, k + 1)
                nxt, eid = nbrs[k]
                if eid == via:
                    continue
                if disc[nxt] >= 0:
                    if disc[nxt] < low[node]:
                        low[node] = disc[nxt]
                else:
                    disc[nxt] = low[nxt] = counter
                    counter += 1
                    stack.append((nxt, eid, 0))
            else:
                stack.pop()
                if stack:
                    parent = stack[-1][0]
                    if low[node] < low[parent]:
                        low[parent] = low[node]
                    if low[node] > disc[parent]:
                        result.add(via)
    return result


def _edges(cells: np.ndarray, row_eq: np.ndarray, col_eq: np.ndarray, n_rows: int) -> list[tuple[int, int]]:
    u = np.where(row_eq[cells[:, 0]], cells[:, 0], GROUND)
    v = np.where(col_eq[cells[:, 1]], n_rows + cells[:, 1], GROUND)
    return list(zip(u.tolist(), v.tolist()))


def find_recomputable(suppressed: np.ndarray, row_eq: np.ndarray, col_eq: np.ndarray) -> list[tuple[int, int]]:
    """Suppressed cells whose value follows exactly from the published cells and totals."""
    cells = np.argwhere(suppressed)
    if not len(cells) or not (row_eq.any() or col_eq.any()):
        return []
    edges = _edges(cells, row_eq, col_eq, suppressed.shape[0])
    return [(int(cells[k, 0]), int(cells[k, 1])) for k in sorted(_bridges(edges))]


def equations_for(shape: tuple[int, int], row_margin: bool, col_margin: bool) -> tuple[np.ndarray, np.ndarray]:
    """Which rows/columns carry an equation, for a table whose last column is the row total (``row_margin``)
    and/or whose last row is the column total (``col_margin``), as pandas lays out ``margins=True``."""
    row_eq = np.full(shape[0], bool(row_margin))
    col_eq = np.full(shape[1], bool(col_margin))
    return row_eq, col_eq


def protect(values: np.ndarray, primary: np.ndarray, row_eq: np.ndarray, col_eq: np.ndarray,
            line_total_min: float = 0.0, max_rounds: int | None = None,
            where: Callable[[int, int], str] | None = None, min_interval: float = 0.0,
            fixed: np.ndarray | None = None) -> SuppressionPlan:
    """Add complementary suppressions to ``primary`` until no suppressed cell is recomputable.

    ``values`` are the published cell values (non-negative counts or sums), same shape as ``primary``;
    ``where(i, j)`` names a cell in the explanations (default "cell (i, j)"). With ``min_interval``, every
    primary cell must also keep an attacker's interval (linear programming on everything published) at
    least that wide; checked on tables with up to ``INTERVAL_MAX_HIDDEN`` hidden cells. Small tables are
    fixed one recomputable cell at a time (fewest extra cells); large ones in batches (every recomputable
    cell of a pass, complements sought among the cheapest few of its row and column). ``fixed`` cells are
    never suppressed (totals that are known without being printed).
    """
    where = where or (lambda i, j: f"cell ({i}, {j})")
    vals = np.nan_to_num(np.abs(np.asarray(values, dtype=float)), nan=0.0)
    sup = np.asarray(primary, dtype=bool).copy()
    n_rows, n_cols = sup.shape
    reasons: dict[tuple[int, int], str] = {}
    if not (row_eq.any() or col_eq.any()) or not sup.any():
        return SuppressionPlan(sup, np.zeros_like(sup), reasons)
    big = float(vals.sum()) + 1.0
    # Suppressed non-zero cells are free complements; zeros are poor ones (they cannot go down).
    cost = np.where(sup, np.where(vals > 0, 0.0, big / 2), np.where(vals > 0, vals, big))
    frozen = np.zeros(sup.shape, dtype=bool) if fixed is None else np.asarray(fixed, dtype=bool)
    cost[frozen] = np.inf
    large = sup.size > 20_000
    touched_rows: set[int] = set()
    touched_cols: set[int] = set()

    def add(cells: list[tuple[int, int]], why: str) -> None:
        for c in cells:
            if not sup[c] and not frozen[c]:
                sup[c] = True
                cost[c] = 0.0 if vals[c] > 0 else big / 2
                reasons[c] = why
                touched_rows.add(c[0])
                touched_cols.add(c[1])

    rounds = 0
    limit = max_rounds if max_rounds is not None else sup.size + 1
    while rounds < limit:
        rounds += 1
        bridges = find_recomputable(sup, row_eq, col_eq)
        if bridges:
            before = int(sup.sum())
            touched_rows.clear()
            touched_cols.clear()
            for i, j in (bridges if large else bridges[:1]):
                if large and (i in touched_rows or j in touched_cols):
                    continue  # a complement was added next to it in this pass; the next pass re-checks
                best = _complement(cost, i, j, row_eq, col_eq, large)
                if best is None:
                    # Nothing can close a cycle (e.g. a one-cell line): hide the whole line instead.
                    add([(i, jj) for jj in range(n_cols)] if row_eq[i] else [(ii, j) for ii in range(n_rows)],
                        f"otherwise {where(i, j)} could be worked out from the totals (no smaller complement exists)")
                else:
                    add(best, f"otherwise {where(i, j)} could be worked out from the totals")
            if int(sup.sum()) == before:
                break  # nothing left that may be hidden: the caller sees the plan as it stands
            continue
        # Every suppressed cell is on a cycle; now make each line hide enough in total.
        fixed = False
        if line_total_min > 0:
            for axis, eq in ((0, row_eq), (1, col_eq)):
                hidden = np.where(sup, vals, 0.0).sum(axis=1 - axis)
                has = sup.any(axis=1 - axis)
                for line in np.flatnonzero(eq & has & (hidden < line_total_min)):
                    line_vals = vals[line, :] if axis == 0 else vals[:, line]
                    line_sup = sup[line, :] if axis == 0 else sup[:, line]
                    line_fixed = frozen[line, :] if axis == 0 else frozen[:, line]
                    cand = np.where(~line_sup & ~line_fixed & (line_vals > 0), line_vals, np.inf)
                    if not np.isfinite(cand).any():
                        continue
                    k = int(np.argmin(cand))
                    cell = (int(line), k) if axis == 0 else (k, int(line))
                    add([cell], f"otherwise the hidden cells of its {'row' if axis == 0 else 'column'} would add "
                                f"up to less than {line_total_min:g}, which gives them away as small")
                    fixed = True
                    if not large:
                        break
                if fixed:
                    break
        if not fixed and min_interval > 0 and not large and sup.sum() <= INTERVAL_MAX_HIDDEN:
            fixed = _widen_narrow_intervals(vals, np.asarray(primary, dtype=bool), sup, cost, row_eq, col_eq,
                                            min_interval, add, where)
        if not fixed:
            break
    secondary = sup & ~np.asarray(primary, dtype=bool)
    return SuppressionPlan(sup, secondary, reasons)


def _complement(cost: np.ndarray, i: int, j: int, row_eq: np.ndarray, col_eq: np.ndarray,
                large: bool) -> list[tuple[int, int]] | None:
    """The cheapest cells that put (i, j) on a cycle: a rectangle, or one cell when a side is ground."""
    if row_eq[i] and col_eq[j]:
        rows = np.flatnonzero(row_eq)
        cols = np.flatnonzero(col_eq)
        rows = rows[rows != i]
        cols = cols[cols != j]
        if not len(rows) or not len(cols):
            return None
        if large:
            k = 8
            rows = rows[np.argpartition(cost[rows, j], min(k, len(rows) - 1))[:k]]
            cols = cols[np.argpartition(cost[i, cols], min(k, len(cols) - 1))[:k]]
        total = cost[i, cols][None, :] + cost[rows, j][:, None] + cost[np.ix_(rows, cols)]
        if not np.isfinite(total).any():
            return None
        a, b = np.unravel_index(int(np.argmin(total)), total.shape)
        i2, j2 = int(rows[a]), int(cols[b])
        return [(i, j2), (i2, j2), (i2, j)]
    if row_eq[i]:
        cand = np.where(~col_eq, cost[i, :], np.inf)
        cand[j] = np.inf
        return [(i, int(np.argmin(cand)))] if np.isfinite(cand).any() else None
    if col_eq[j]:
        cand = np.where(~row_eq, cost[:, j], np.inf)
        cand[i] = np.inf
        return [(int(np.argmin(cand)), j)] if np.isfinite(cand).any() else None
    return None


def _widen_narrow_intervals(vals: np.ndarray, primary: np.ndarray, sup: np.ndarray, cost: np.ndarray,
                            row_eq: np.ndarray, col_eq: np.ndarray, min_interval: float,
                            add: Callable[[list[tuple[int, int]], str], None],
                            where: Callable[[int, int], str]) -> bool:
    """Hide one more cell next to the first primary cell an attacker could bracket too narrowly."""
    from egress_review.checks.intervals import cell_bounds

    targets = [tuple(map(int, c)) for c in np.argwhere(primary & sup)]
    bounds = cell_bounds(vals, sup, row_eq, col_eq, targets)
    for (i, j), (lo, hi) in bounds.items():
        if hi - lo >= min_interval - 1e-9:
            continue
        line_cells = ([(i, jj) for jj in range(sup.shape[1])] if row_eq[i] else []) + \
                     ([(ii, j) for ii in range(sup.shape[0])] if col_eq[j] else [])
        # prefer a cell of its own row or column big enough to give room; failing that any non-zero one there;
        # failing that the cheapest non-zero cell anywhere (so every round hides one more cell and this ends)
        free = ~sup & np.isfinite(cost)
        cand = [c for c in line_cells if free[c] and vals[c] >= min_interval]
        if not cand:
            cand = [c for c in line_cells if free[c] and vals[c] > 0]
        if not cand:
            cand = [tuple(map(int, c)) for c in np.argwhere(free & (vals > 0))]
        if not cand:
            continue
        best = min(cand, key=lambda c: cost[c])
        add([best], f"otherwise {where(i, j)} could be narrowed down to between {lo:g} and {hi:g}")
        return True
    return False
