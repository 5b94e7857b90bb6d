"""Is a sidecar consistent with the file it describes?

The sidecar is the researcher's evidence, never an authority: it may add checks (dominance from the
largest contributions it carries, people rather than rows), but the server checks what it can see in
the file whatever the sidecar says, and a sidecar whose claims disagree with the file (hash, kind,
labels, shape, arrays, counts) is rejected as a whole, with the reason."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from egress_review.checks.rules import AGG_RULES
from egress_review.checks.sidecar import Sidecar, file_sha256

COUNT_AGGS = frozenset({"count", "size", "nunique"})
# The columns egress_review.sdc.regression writes: a regression sidecar on any other table is a lie.
REGRESSION_COLUMNS = frozenset({"coef", "std err", "t", "z", "P>|t|", "P>|z|", "[0.025", "0.975]"})


def sidecar_problem(sc: Sidecar, path: Path, cells: pd.DataFrame) -> str | None:
    """Why the sidecar cannot be used for this file (None if it can)."""
    if not sc.sha256:
        return "the sidecar does not name the file it describes (no SHA-256)"
    if sc.sha256 != file_sha256(path):
        return "the sidecar was written for a different version of this file"
    if tuple(sc.shape) != cells.shape:
        return (f"the sidecar describes a {sc.shape[0]}x{sc.shape[1]} table but the file has "
                f"{cells.shape[0]}x{cells.shape[1]} cells")
    if [str(x) for x in cells.index] != sc.row_labels or [str(x) for x in cells.columns] != sc.column_labels:
        return "the sidecar's row or column labels differ from the file's"
    if sc.kind == "regression":
        if sc.cells is not None:
            return "the sidecar says this is a regression but carries per-cell table statistics"
        if sc.dof is None:
            return "the sidecar says this is a regression but gives no residual degrees of freedom"
        odd = [c for c in sc.column_labels if c not in REGRESSION_COLUMNS]
        if odd:
            return (f"the sidecar says this is a regression, but column {odd[0]!r} is not part of a coefficient "
                    "table")
        return None
    c = sc.cells
    if c is None:
        return "the sidecar says this is a table but carries no statistics for its cells"
    n = cells.size
    for name in ("agg", "count", "rows", "total", "top", "negative", "missing", "suppressed", "margin"):
        values = getattr(c, name)
        if values is not None and len(values) != n:
            return f"the sidecar's {name!r} list has {len(values)} entries for the file's {n} cells"
    unknown = sorted(set(c.agg) - set(AGG_RULES))
    if unknown:
        return f"the sidecar names an aggregate the checks do not know ({unknown[0]!r})"
    count = np.array(c.count, dtype=float)  # None (JSON null) becomes NaN
    rows = np.array(c.rows, dtype=float)
    # rows with a value, plus those without one: a group's people are at most all its rows
    all_rows = rows + (np.array(c.missing, dtype=float) if c.missing is not None else 0)
    is_count = pd.Series(c.agg).isin(COUNT_AGGS).to_numpy()  # hashing, not sorting 100,000 strings
    checks = [
        (np.isnan(count) & is_count, "gives no count"),
        (rows < 0, "has a negative number of rows"),
        (count < 0, "has a negative count"),
        (count > all_rows, "counts more units than it has rows"),
    ]
    if sc.unit == "rows":
        checks.append((~np.isnan(count) & is_count & (count != rows),
                       "counts rows, but its count differs from its rows"))
    for bad, what in checks:
        hit = np.flatnonzero(np.nan_to_num(bad, nan=0).astype(bool))
        if hit.size:
            r, col = divmod(int(hit[0]), len(sc.column_labels))
            r, col = sc.row_labels[r], sc.column_labels[col]
            return f"the sidecar's cell ({r}, {col}) {what}" + (f", and {hit.size - 1} more" if hit.size > 1 else "")
    return None
