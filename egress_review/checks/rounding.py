"""Rounding of counts (issue 16.2): a rule that published counts are rounded, the rounding itself, and
totals that stay consistent with rounded cells.

Two methods: ``nearest`` (to the nearest multiple of ``base``, halves away from zero) and ``midpoint``
(OpenSAFELY's "midpoint 6 derived rounding" with ``base: 6``: every count from 1 to 6 becomes 3, 7 to 12
becomes 9, ...; zero stays zero). Both are idempotent, so "is this count rounded?" is "does rounding
leave it unchanged?". Totals are recomputed as the sum of the rounded cells: a total rounded on its own
(or left exact) beside rounded cells lets the unrounded values be worked out by difference. Pure: no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

COUNT_AGGS = frozenset({"count", "size", "nunique"})


def round_counts(values: np.ndarray, base: int, method: str) -> np.ndarray:
    """``values`` rounded (NaN stays NaN)."""
    v = np.asarray(values, dtype=float)
    if base <= 1:
        return v.copy()
    with np.errstate(invalid="ignore"):
        if method == "midpoint":
            out = np.ceil(np.abs(v) / base) * base - base // 2
            out = np.where(v == 0, 0.0, np.sign(v) * out)
        elif method == "nearest":
            out = np.sign(v) * np.floor(np.abs(v) / base + 0.5) * base
        else:
            raise ValueError(f"unknown rounding method {method!r}")
    return np.where(np.isnan(v), np.nan, out)


def unrounded(values: np.ndarray, base: int, method: str) -> np.ndarray:
    """True where a (non-missing) value is not what the rounding gives."""
    v = np.asarray(values, dtype=float)
    r = round_counts(v, base, method)
    return ~np.isnan(v) & ~np.isclose(v, r, rtol=0, atol=1e-9)


def with_totals(values: np.ndarray, row_totals: bool, col_totals: bool) -> np.ndarray:
    """``values`` (a table whose last column / last row are totals when so flagged) with those totals
    recomputed from the body: sums of the cells as published."""
    out = np.array(values, dtype=float)
    R = out.shape[0] - (1 if col_totals else 0)
    C = out.shape[1] - (1 if row_totals else 0)
    body = np.nan_to_num(out[:R, :C])
    if row_totals:
        out[:R, C] = body.sum(axis=1)
    if col_totals:
        out[R, :C] = body.sum(axis=0)
    if row_totals and col_totals:
        out[R, C] = body.sum()
    return out


def round_table(values: np.ndarray, is_count: np.ndarray, row_totals: bool, col_totals: bool, base: int,
                method: str) -> np.ndarray:
    """The safe version: count cells rounded, totals recomputed from the rounded cells."""
    v = np.asarray(values, dtype=float)
    out = np.where(is_count, round_counts(v, base, method), v)
    if (row_totals or col_totals) and is_count.all():
        out = with_totals(out, row_totals, col_totals)
    return out


@dataclass(frozen=True)
class TotalMismatch:
    i: int
    j: int
    shown: float
    cells_sum: float


def total_mismatches(values: np.ndarray, blank: np.ndarray, row_totals: bool, col_totals: bool
                     ) -> list[TotalMismatch]:
    """Published totals that differ from the sum of their published cells (lines with a blank cell are
    left to the suppression checks: their sum is unknown)."""
    v = np.asarray(values, dtype=float)
    R = v.shape[0] - (1 if col_totals else 0)
    C = v.shape[1] - (1 if row_totals else 0)
    out: list[TotalMismatch] = []
    if R <= 0 or C <= 0:
        return out

    def line(i: int, j: int, cells: np.ndarray, cells_blank: np.ndarray) -> None:
        if blank[i, j] or cells_blank.any():
            return
        s = float(cells.sum())
        if not np.isclose(v[i, j], s, rtol=0, atol=1e-6):
            out.append(TotalMismatch(i, j, float(v[i, j]), s))

    if row_totals:
        for i in range(R):
            line(i, C, v[i, :C], blank[i, :C])
    if col_totals:
        for j in range(C):
            line(R, j, v[:R, j], blank[:R, j])
    if row_totals and col_totals:
        line(R, C, v[:R, :C], blank[:R, :C])
    return out


def describe(base: int, method: str) -> str:
    return f"to a multiple of {base}" if method == "nearest" else f"by midpoint-{base} rounding"


def check_published(values: np.ndarray, blank: np.ndarray, agg: np.ndarray, row_totals: bool, col_totals: bool,
                    base: int, method: str) -> tuple[np.ndarray, list[tuple[int, int, str]]]:
    """The rounding rule on a published table: unrounded count cells, and totals that are not the sum of
    their cells. Returns the failing-cell mask and (row, column, message) per finding."""
    v = np.asarray(values, dtype=float)
    is_count = np.isin(np.asarray(agg, dtype=object), list(COUNT_AGGS)) & ~blank
    mask = is_count & unrounded(v, base, method)
    found = [(int(i), int(j), f"shows an unrounded count ({v[i, j]:g}); counts are published rounded "
              f"{describe(base, method)}") for i, j in np.argwhere(mask)]
    if is_count.any() and (row_totals or col_totals):
        for t in total_mismatches(np.where(blank, 0.0, v), blank, row_totals, col_totals):
            mask[t.i, t.j] = True
            found.append((t.i, t.j, f"is a total of {t.shown:g} but its cells add up to {t.cells_sum:g}: a total "
                          "that does not add up lets the unrounded cells be worked out by difference"))
    return mask, found
