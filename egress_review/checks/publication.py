"""Open-data publication check: a table for the open web, where anyone may combine it with everything
the organisation ever published.

Cell-key perturbation: each cell's noise is a keyed hash (HMAC) of the cell's identity (labels + true
count), so republishing the same cell gives the same noise and averaging many releases learns nothing.
The secret key stays with the TRE. Counts under the threshold (but not zero) are suppressed.
Differencing is checked against every table already published (the register), via ``differencing``.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass, field

import pandas as pd

from egress_review.checks.differencing import Difference, find_differences

# Small symmetric noise, the ABS cell-key shape: a zero-sum-ish table of offsets picked by the cell key.
NOISE = (-2, -1, 0, 0, 1, 2)


def cell_noise(secret: bytes, table_id: str, row: str, column: str, count: int) -> int:
    msg = "\x1f".join((table_id, row, column, str(int(count)))).encode()
    digest = hmac.new(secret, msg, hashlib.sha256).digest()
    return NOISE[int.from_bytes(digest[:8], "big") % len(NOISE)]


@dataclass
class PublicationReport:
    table: pd.DataFrame
    suppressed: list[tuple[str, str]] = field(default_factory=list)
    differences: list[Difference] = field(default_factory=list)

    @property
    def publishable(self) -> bool:
        return not self.differences


def check_publication(table: pd.DataFrame, *, secret: bytes, table_id: str, threshold: int,
                      published: dict[str, pd.DataFrame]) -> PublicationReport:
    """Perturb and suppress ``table`` (index = row labels, numeric count columns) and look for differencing
    against ``published`` (name -> already published table). The true counts never leave this function."""
    cols = [c for c in table.columns if pd.api.types.is_numeric_dtype(table[c])]
    report = PublicationReport(table=table.copy().astype({c: "object" for c in cols}))
    for name, old in published.items():
        old_cols = [c for c in old.columns if pd.api.types.is_numeric_dtype(old[c])]
        report.differences += find_differences(table, old, name, cols, old_cols, threshold)
    for row in table.index:
        for col in cols:
            n = int(table.at[row, col])
            if 0 < n < threshold:
                report.table.at[row, col] = None
                report.suppressed.append((str(row), str(col)))
            elif n:
                report.table.at[row, col] = max(0, n + cell_noise(secret, table_id, str(row), str(col), n))
    return report
