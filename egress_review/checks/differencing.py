"""Differencing: a new table that, subtracted from an already released one, reveals a small group.

Two tables are compared where they describe nested populations or categories: rows with the same label
or with numeric ranges that contain one another ("18-66" inside "18-67"), in columns with the same label.
If every such difference points the same way (one population contains the other) and a difference is
below the threshold but not zero, the people in that difference are exposed.
"""

from __future__ import annotations

import functools
import re
from collections import defaultdict
from dataclasses import dataclass

import numpy as np
import pandas as pd

_RANGE = re.compile(r"^\s*(\d+(?:[.,]\d+)?)\s*(?:-|–|til|to)\s*(\d+(?:[.,]\d+)?)\s*$")
_OPEN_UP = re.compile(r"^\s*(\d+(?:[.,]\d+)?)\s*(?:\+|og over|or more|and over)\s*$")
_OPEN_DOWN = re.compile(r"^\s*(?:<|under)\s*(\d+(?:[.,]\d+)?)\s*$")
_NUMBER = re.compile(r"^\s*(\d+(?:[.,]\d+)?)\s*$")


def _as_range(label: str) -> tuple[float, float] | None:
    part = label.split(" / ")[-1]
    for rx, make in ((_RANGE, lambda m: (float(m[1].replace(",", ".")), float(m[2].replace(",", ".")))),
                     (_OPEN_UP, lambda m: (float(m[1].replace(",", ".")), np.inf)),
                     (_OPEN_DOWN, lambda m: (-np.inf, float(m[1].replace(",", ".")) - 1)),
                     (_NUMBER, lambda m: (float(m[1].replace(",", ".")),) * 2)):
        m = rx.match(part)
        if m:
            return make(m)
    return None


def _prefix(label: str) -> str:
    parts = label.split(" / ")
    return " / ".join(parts[:-1])


def _containment(a: str, b: str) -> int | None:
    """+1 if category ``a`` strictly contains ``b``, -1 if it lies strictly inside it, 0 if they are the same
    label, None if neither holds."""
    if a == b:
        return 0
    if _prefix(a) != _prefix(b):
        return None
    ra, rb = _as_range(a), _as_range(b)
    if ra is None or rb is None or ra == rb:
        return None
    if ra[0] <= rb[0] and rb[1] <= ra[1]:
        return 1
    if rb[0] <= ra[0] and ra[1] <= rb[1]:
        return -1
    return None


MAX_PAIRS = 200_000
# Range labels of the same prefix compared in one go; beyond this (huge tables with one label prefix)
# the comparison would cost more memory than a check may take, and nothing is compared.
MAX_CANDIDATES = 2_000_000


@functools.lru_cache(maxsize=100_000)
def _parts(label: str) -> tuple[str, tuple[float, float] | None]:
    # The same labels come back in every table of a project and every earlier release: parse once.
    return _prefix(label), _as_range(label)


def _range_frame(labels: list[str]) -> pd.DataFrame:
    rows = []
    for i, label in enumerate(labels):
        prefix, r = _parts(label)
        if r is not None:
            rows.append((i, prefix, r[0], r[1]))
    return pd.DataFrame(rows, columns=["i", "prefix", "lo", "hi"])


def comparable_pairs(new_rows: list[str], old_rows: list[str]) -> list[tuple[int, int, int]]:
    """Every (new row, released row, direction) for which :func:`_containment` is not None, sorted;
    empty when there are more than ``MAX_PAIRS``. The same as comparing every pair, but labels are
    matched by dictionary and ranges joined on their prefix and compared by pandas, so a table of
    thousands of rows against dozens of earlier releases costs milliseconds, not its square in Python."""
    old_by_label: dict[str, list[int]] = defaultdict(list)
    for j, b in enumerate(old_rows):
        old_by_label[b].append(j)
    found = [(i, j, 0) for i, a in enumerate(new_rows) for j in old_by_label.get(a, ())]
    a, b = _range_frame(new_rows), _range_frame(old_rows)
    if len(found) > MAX_PAIRS:
        return []
    if len(a) and len(b):
        if a.prefix.value_counts().mul(b.prefix.value_counts(), fill_value=0).sum() > MAX_CANDIDATES:
            return []
        m = a.merge(b, on="prefix", suffixes=("", "_old"))
        same = (m.lo == m.lo_old) & (m.hi == m.hi_old)
        for direction, hit in ((1, (m.lo <= m.lo_old) & (m.hi_old <= m.hi)),
                               (-1, (m.lo_old <= m.lo) & (m.hi <= m.hi_old))):
            hit &= ~same
            found += zip(m.i[hit].tolist(), m.i_old[hit].tolist(), [direction] * int(hit.sum()))
    if len(found) > MAX_PAIRS:
        return []
    return sorted(found)


@dataclass
class Difference:
    row: str
    column: str
    released_row: str
    value: float
    released_value: float
    released_name: str


def find_differences(new: pd.DataFrame, released: pd.DataFrame, released_name: str, count_columns: list[str],
                     released_count_columns: list[str], min_count: int) -> list[Difference]:
    cols = [c for c in count_columns if c in set(released_count_columns)]
    if not cols:
        return []
    new_rows = [str(r) for r in new.index]
    old_rows = [str(r) for r in released.index]
    found = comparable_pairs(new_rows, old_rows)
    if not found:
        return []
    ni, oj, direction = np.asarray(found, dtype=np.int64).T
    sign = direction[:, None]
    a = new[cols].to_numpy(dtype=float)[ni]
    b = released[cols].to_numpy(dtype=float)[oj]
    d = a - b
    ok = ~np.isnan(d)
    # Nested categories: the wider one must hold at least as many; a contradiction means another population.
    ok &= ~((sign > 0) & (d < 0)) & ~((sign < 0) & (d > 0))
    # Same labels: the populations are nested only if every such difference points the same way
    # (another year of the same table moves both ways and is not compared).
    same = ok & (sign == 0)
    if same.any() and not ((d[same] >= 0).all() or (d[same] <= 0).all()):
        ok &= sign != 0
    small = ok & (np.abs(d) > 0) & (np.abs(d) < min_count)
    out = []
    for p, c in np.argwhere(small):
        out.append(Difference(row=new_rows[ni[p]], column=cols[c], released_row=old_rows[oj[p]],
                              value=float(a[p, c]), released_value=float(b[p, c]), released_name=released_name))
    return out
