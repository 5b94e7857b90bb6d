"""Per-cell disclosure statistics from microdata, vectorised with numpy (no Python loop over rows or cells).

Each axis (rows, columns) is one or more key columns; their values are factorised to integer codes and
combined into one code per row of data, so a cell is ``row_code * n_cols + col_code`` and every statistic
is a ``bincount`` or a segment reduction over rows sorted by cell. With an entity column, units are
distinct entities and contributions are summed per entity first (one person's twelve monthly rows are
one contributor, not twelve).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd


@dataclass
class Axis:
    codes: np.ndarray  # int64 per data row, -1 where the row is left out (a missing key with dropna)
    labels: pd.Index  # one label (tuple for several keys) per code
    names: list

    @property
    def n(self) -> int:
        return len(self.labels)


def _key_codes(s: pd.Series, dropna: bool) -> tuple[np.ndarray, pd.Index]:
    if isinstance(s.dtype, pd.CategoricalDtype):
        codes = s.cat.codes.to_numpy().astype(np.int64)
        uniques = pd.Index(s.cat.categories)
    else:
        codes, uniques = pd.factorize(s, sort=True, use_na_sentinel=True)
        codes = codes.astype(np.int64, copy=False)
        uniques = pd.Index(uniques)
    if not dropna and (codes < 0).any():
        codes = np.where(codes < 0, len(uniques), codes)
        uniques = uniques.append(pd.Index([np.nan]))
    return codes, uniques


def make_axis(keys: list[pd.Series], dropna: bool, n_rows: int) -> Axis:
    """Combine ``keys`` into one code per row; with ``dropna`` only observed combinations get a code."""
    names = [k.name for k in keys]
    if not keys:
        return Axis(np.zeros(n_rows, dtype=np.int64), pd.Index([""]), [])
    parts = [_key_codes(k, dropna) for k in keys]
    code = np.zeros(n_rows, dtype=np.int64)
    valid = np.ones(n_rows, dtype=bool)
    for c, u in parts:
        valid &= c >= 0
        code = code * max(len(u), 1) + np.where(c >= 0, c, 0)
    sizes = [max(len(u), 1) for _, u in parts]
    if dropna:
        present = np.unique(code[valid]) if len(keys) > 1 else np.flatnonzero(
            np.bincount(code[valid], minlength=sizes[0]) > 0) if not isinstance(keys[0].dtype, pd.CategoricalDtype) \
            else np.arange(sizes[0])
        combos = present
        remap = np.full(int(np.prod(sizes)) if len(keys) > 1 else sizes[0], -1, dtype=np.int64)
        remap[combos] = np.arange(len(combos))
        code = np.where(valid, remap[code], -1)
    else:
        combos = np.arange(int(np.prod(sizes)))
        code = np.where(valid, code, -1)
    digits = np.unravel_index(combos, sizes) if len(keys) > 1 else (combos,)
    if len(keys) == 1:
        labels = parts[0][1].take(digits[0])
        labels.name = names[0]
    else:
        labels = pd.MultiIndex.from_arrays([u.take(d) for (_, u), d in zip(parts, digits)], names=names)
    return Axis(code, labels, names)


def top_m(groups: np.ndarray, vals: np.ndarray, n_groups: int, m: int) -> np.ndarray:
    """The ``m`` largest values per group, descending, NaN-padded: shape (n_groups, m).

    Each round takes every group's maximum with an unbuffered ``maximum.at`` (no sort), counts how many
    rows hold it (ties count as separate contributors), and removes them for the next round.
    """
    out = np.full((n_groups, m), np.nan)
    ok = ~np.isnan(vals)
    g = groups[ok] if not ok.all() else groups
    rem = (vals[ok] if not ok.all() else vals).astype(float, copy=True)
    if g.size == 0:
        return out
    taken = np.zeros(n_groups, dtype=np.int64)
    for _ in range(m):
        mx = np.full(n_groups, -np.inf)
        np.maximum.at(mx, g, rem)
        live = np.isfinite(mx)
        if not live.any():
            break
        eq = rem == mx[g]
        cnt = np.bincount(g[eq], minlength=n_groups)
        for t in range(m):
            fill = live & (taken <= t) & (t < taken + cnt)
            out[fill, t] = mx[fill]
        taken += cnt
        if (taken[live] >= m).all():
            break
        rem[eq] = -np.inf
    return out


def entity_codes(entity: pd.Series | np.ndarray) -> tuple[np.ndarray, int]:
    """Dense integer codes for an entity column (small non-negative integers are used as they are)."""
    arr = np.asarray(entity)
    if arr.dtype.kind in "iu" and arr.size:
        lo, hi = int(arr.min()), int(arr.max())
        if lo >= 0 and hi < 4 * arr.size + 1024:
            return arr.astype(np.int64, copy=False), hi + 1
    codes, uniques = pd.factorize(entity, sort=False, use_na_sentinel=True)
    if (codes < 0).any():
        raise ValueError("the entity column has missing values: every row must belong to a statistical unit")
    return codes.astype(np.int64, copy=False), len(uniques)


# Distinct entities per cell are counted in a dense (cells x entities) bitmap when it stays this small:
# a scatter and a row sum, far faster than hashing (cell, entity) pairs.
BITMAP_MAX = 64_000_000


def entity_bitmap(groups: np.ndarray, n_groups: int, entity: np.ndarray, n_entities: int) -> np.ndarray | None:
    if n_groups * n_entities > BITMAP_MAX:
        return None
    seen = np.zeros((n_groups, n_entities), dtype=bool)
    keep = groups >= 0
    if keep.all():
        seen.reshape(-1)[groups * n_entities + entity] = True
    else:
        seen.reshape(-1)[groups[keep] * n_entities + entity[keep]] = True
    return seen


@dataclass
class GroupStats:
    rows: np.ndarray  # rows per group
    units: np.ndarray  # statistical units per group (entities, or rows)
    total: np.ndarray | None = None
    nonmissing: np.ndarray | None = None
    top: np.ndarray | None = None
    negative: np.ndarray | None = None
    missing: np.ndarray | None = None


def group_stats(groups: np.ndarray, n_groups: int, values: np.ndarray | None, entity: np.ndarray | None,
                n_entities: int, m: int, need_top: bool = True) -> GroupStats:
    """Statistics per group for rows with ``groups >= 0``; ``entity`` holds entity codes (or None)."""
    keep = groups >= 0
    g = groups[keep] if not keep.all() else groups
    rows = np.bincount(g, minlength=n_groups)
    ent = None if entity is None else (entity[keep] if not keep.all() else entity)
    vals = None if values is None else (values[keep] if not keep.all() else values)
    pair_inv = pair_group = None
    if ent is None:
        units = rows
    else:
        pair_inv, uniq = pd.factorize(g.astype(np.int64) * n_entities + ent, sort=False)
        pair_group = (uniq // n_entities).astype(np.int64)
        units = np.bincount(pair_group, minlength=n_groups)
    stats = GroupStats(rows=rows, units=units)
    if vals is None:
        return stats
    isnan = np.isnan(vals)
    v0 = np.where(isnan, 0.0, vals)
    stats.total = np.bincount(g, weights=v0, minlength=n_groups)
    stats.missing = np.bincount(g[isnan], minlength=n_groups) if isnan.any() else np.zeros(n_groups, dtype=np.int64)
    stats.nonmissing = rows - stats.missing
    neg = vals < 0
    stats.negative = np.bincount(g[neg], minlength=n_groups) if neg.any() else np.zeros(n_groups, dtype=np.int64)
    if need_top:
        if ent is None:
            stats.top = top_m(g, vals, n_groups, m)
        else:
            # one contributor per entity: sum each entity's rows in the group first
            per_pair = np.bincount(pair_inv, weights=v0, minlength=pair_group.size)
            all_nan = np.bincount(pair_inv, weights=(~isnan).astype(float), minlength=pair_group.size) == 0
            per_pair[all_nan] = np.nan
            stats.top = top_m(pair_group, per_pair, n_groups, m)
    return stats


def merge_top(top: np.ndarray, m: int) -> np.ndarray:
    """Top ``m`` of several groups' top lists: ``top`` shape (n, k, m) -> (n, m)."""
    flat = top.reshape(top.shape[0], -1)
    flat = np.where(np.isnan(flat), -np.inf, flat)
    part = -np.sort(-flat, axis=1)[:, :m]
    return np.where(np.isinf(part), np.nan, part)
