"""``crosstab``, ``pivot_table`` and ``describe_by``: pandas' tables with every disclosure check attached."""

from __future__ import annotations

import inspect
import sys
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from egress_review.checks import explain
from egress_review.checks.api import Flag
from egress_review.checks.policy import DisclosurePolicy, load_disclosure_policy
from egress_review.checks.rounding import COUNT_AGGS, describe, round_table, unrounded
from egress_review.checks.rules import LINEAR_AGGS, RULE_ORDER, CellStats, agg_name, evaluate, outcome_strings, \
    rules_for, severity_verdict
from egress_review.checks.sidecar import label_text
from egress_review.checks.suppression import protect
from egress_review.sdc.engine import Axis, GroupStats, entity_bitmap, entity_codes, group_stats, make_axis, \
    merge_top
from egress_review.export_names import call_name
from egress_review.sdc import provenance
from egress_review.sdc.result import SDCResult, Summary

_POLICY: DisclosurePolicy | None = None


def _policy(policy: DisclosurePolicy | None) -> DisclosurePolicy:
    global _POLICY
    if policy is not None:
        return policy
    if _POLICY is None:
        _POLICY = load_disclosure_policy()
    return _POLICY


def _as_series_list(axis: Any, prefix: str, names: Sequence | None, n: int | None = None) -> list[pd.Series]:
    if axis is None:
        return []
    if isinstance(axis, pd.DataFrame):
        items = [axis[c] for c in axis.columns]
    elif isinstance(axis, (pd.Series, np.ndarray, pd.Index, pd.Categorical)) and np.ndim(axis) == 1:
        items = [axis]
    elif isinstance(axis, (list, tuple)) and axis and all(np.ndim(x) == 1 and not isinstance(x, str) for x in axis):
        items = list(axis)
    else:
        items = [axis]
    out = []
    for i, item in enumerate(items):
        s = item if isinstance(item, pd.Series) else pd.Series(np.asarray(item) if not isinstance(
            item, pd.Categorical) else item)
        name = names[i] if names is not None and i < len(names) else (s.name if s.name is not None else f"{prefix}_{i}")
        # positions, not index labels, tie the keys together; renaming without copying keeps a 1M-row call cheap
        out.append(s if s.name == name else s.rename(name, copy=False))
    return out


class _Grid:
    """Statistics for every (row combination, column combination) plus the margins pandas would add."""

    def __init__(self, rows: Axis, cols: Axis, margins: bool, margins_name: str):
        self.rows, self.cols = rows, cols
        self.margins = margins
        R, C = rows.n, cols.n
        self.shape = (R + margins, C + margins if cols.names else C)
        valid = (rows.codes >= 0) & (cols.codes >= 0)
        self.valid = valid
        self.cell = np.where(valid, rows.codes * C + cols.codes, -1)
        self.row_groups = np.where(valid, rows.codes, -1)
        self.col_groups = np.where(valid, cols.codes, -1)
        self.margins_name = margins_name
        self.row_labels = rows.labels
        self.col_labels = cols.labels
        if margins:
            self.row_labels = _append_margin(rows.labels, margins_name)
            if cols.names:
                self.col_labels = _append_margin(cols.labels, margins_name)

    def stats(self, values: np.ndarray | None, entity: np.ndarray | None, n_entities: int, m: int,
              need_top: bool) -> dict[str, np.ndarray]:
        R, C = self.rows.n, self.cols.n
        bitmap = None
        if entity is not None and not need_top:
            bitmap = entity_bitmap(self.cell, R * C, entity, n_entities)
        cell = group_stats(self.cell, R * C, values, None if bitmap is not None else entity, n_entities, m,
                           need_top)
        if bitmap is not None:
            cell.units = bitmap.sum(axis=1)
        out = {k: _grid(getattr(cell, k), R, C) for k in ("rows", "units", "total", "nonmissing", "negative",
                                                           "missing") if getattr(cell, k) is not None}
        if cell.top is not None:
            out["top"] = cell.top.reshape(R, C, m)
        if not self.margins:
            return out
        has_cols = bool(self.cols.names)
        if bitmap is not None:
            # a person counts once in a row total however many of the row's cells they appear in
            cube = bitmap.reshape(R, C, n_entities)
            row_units = cube.any(axis=1).sum(axis=1)
            col_units = cube.any(axis=0).sum(axis=1)
            grand_units = cube.any(axis=(0, 1)).sum()
            entity_for_margins = None
        else:
            entity_for_margins = entity
        if entity_for_margins is None:
            # margins are sums of cells; their largest contributions are the largest of the cells'
            def margin(axis: int) -> GroupStats:
                s = GroupStats(rows=out["rows"].sum(axis=axis), units=out["units"].sum(axis=axis))
                for k in ("total", "nonmissing", "negative", "missing"):
                    if k in out:
                        setattr(s, k, out[k].sum(axis=axis))
                if "top" in out:
                    t = out["top"] if axis == 1 else out["top"].transpose(1, 0, 2)
                    s.top = merge_top(t, m)
                return s
            row_m, col_m = margin(1), margin(0)
            grand = GroupStats(rows=np.array([out["rows"].sum()]), units=np.array([out["units"].sum()]))
            for k in ("total", "nonmissing", "negative", "missing"):
                if k in out:
                    setattr(grand, k, np.array([out[k].sum()]))
            if "top" in out:
                grand.top = merge_top(out["top"].reshape(1, R * C, m), m)
            if bitmap is not None:
                row_m.units, col_m.units, grand.units = row_units, col_units, np.array([grand_units])
        else:
            row_m = group_stats(self.row_groups, R, values, entity, n_entities, m, need_top)
            col_m = group_stats(self.col_groups, C, values, entity, n_entities, m, need_top)
            grand = group_stats(np.where(self.valid, 0, -1), 1, values, entity, n_entities, m, need_top)
        full = {}
        for k, g in out.items():
            if k == "top":
                a = np.full((R + 1, C + (1 if has_cols else 0), m), np.nan)
                a[:R, :C] = g
                if has_cols:
                    a[:R, C] = row_m.top
                    a[R, C] = grand.top[0]
                a[R, :C] = col_m.top
            else:
                a = np.zeros((R + 1, C + (1 if has_cols else 0)), dtype=float)
                a[:R, :C] = g
                if has_cols:
                    a[:R, C] = getattr(row_m, k)
                    a[R, C] = getattr(grand, k)[0]
                a[R, :C] = getattr(col_m, k)
            full[k] = a
        return full


def _grid(a: np.ndarray, R: int, C: int) -> np.ndarray:
    return np.asarray(a, dtype=float).reshape(R, C)


def _append_margin(labels: pd.Index, name: str) -> pd.Index:
    if isinstance(labels, pd.MultiIndex):
        extra = pd.MultiIndex.from_tuples([(name,) + ("",) * (labels.nlevels - 1)], names=labels.names)
        return labels.append(extra)
    out = labels.append(pd.Index([name]))
    out.name = labels.name
    return out


def _entity_codes(entity: Any, data: pd.DataFrame | None, n: int) -> tuple[np.ndarray | None, int, str | None]:
    if entity is None:
        return None, 0, None
    if isinstance(entity, str) and data is not None:
        s = data[entity]
    else:
        s = pd.Series(np.asarray(entity)) if not isinstance(entity, pd.Series) else entity
    if len(s) != n:
        raise ValueError(f"entity has {len(s)} values but the data has {n} rows")
    codes, n_entities = entity_codes(s)
    return codes, n_entities, (entity if isinstance(entity, str) else (s.name or "entity"))


def _finish(table: pd.DataFrame, stats: dict[str, np.ndarray], aggs: np.ndarray, policy: DisclosurePolicy,
            command: str, aggnames: list[str], entity_name: str | None, margins: bool, margins_name: str,
            row_margin: bool, col_margin: bool, additive: bool, kind_unit: str,
            normalize: Any = False, round_: bool | int | None = None) -> SDCResult:
    """Evaluate the rules on statistics already laid out like ``table`` and wrap the result."""
    shape = table.shape
    units = stats["units"]
    if entity_name is None and "nonmissing" in stats:
        # units are rows here, and pandas' "count" of a value column counts the rows that have a value: the
        # count shown is the count checked (and what the server's sidecar check expects of a row count)
        units = np.where(aggs == "count", stats["nonmissing"], units)
    cs = CellStats(count=units.ravel(), agg=aggs.ravel(),
                   total=None if "total" not in stats else stats["total"].ravel(),
                   top=None if "top" not in stats else stats["top"].reshape(shape[0] * shape[1], -1),
                   negative=None if "negative" not in stats else stats["negative"].ravel(),
                   missing=None if "missing" not in stats else stats["missing"].ravel())
    masks = evaluate(cs, policy)
    failing = np.zeros(shape, dtype=bool)
    for m in masks.values():
        failing |= m.reshape(shape)
    rounding = _rounding(policy, round_, normalize)
    is_count = np.isin(aggs, list(COUNT_AGGS))
    if policy.rounding.enabled and not normalize and is_count.any():
        # the raw table's unrounded counts; not a reason to suppress (the safe version is rounded instead)
        unround = is_count.ravel() & unrounded(table.to_numpy(dtype=float, na_value=np.nan).ravel(),
                                               policy.rounding.base, policy.rounding.method)
        if unround.any():
            masks["rounding"] = unround
    outcome = pd.DataFrame(outcome_strings(masks, table.size).reshape(shape), index=table.index,
                           columns=table.columns)
    secondary = False
    secondary_why: dict[tuple[str, str], str] = {}
    suppressed = failing
    protect_normalized = bool(normalize) and policy.secondary_suppression.enabled and failing.any()
    if (margins and additive or protect_normalized) and policy.secondary_suppression.enabled and failing.any():
        r_lab = [label_text(r) for r in table.index] + ["(row total)"]
        c_lab = [label_text(c) for c in table.columns] + ["(column total)"]
        if protect_normalized:
            # Proportions add up to known totals (1 per row, per column, or overall) even where no margin is
            # printed: protect as if every total were published, on the counts behind the proportions, and
            # never "suppress" a total that is not in the table.
            values, primary, fixed = _with_virtual_totals(stats["rows"], failing, normalize, margins)
            row_eq = np.ones(values.shape[0], dtype=bool)
            col_eq = np.ones(values.shape[1], dtype=bool)
        else:
            values, primary, fixed = np.nan_to_num(table.to_numpy(dtype=float)), failing, None
            row_eq = np.full(shape[0], bool(row_margin))
            col_eq = np.full(shape[1], bool(col_margin))
        plan = protect(values, primary, row_eq, col_eq, policy.secondary_suppression.line_total_min,
                       where=lambda i, j: f"cell ({r_lab[i]}, {c_lab[j]})",
                       min_interval=policy.secondary_suppression.min_interval, fixed=fixed)
        suppressed = plan.suppressed[: shape[0], : shape[1]]
        secondary = True
        secondary_why = {(r_lab[i], c_lab[j]): why for (i, j), why in plan.reasons.items()
                         if i < shape[0] and j < shape[1]}
    protected = table.mask(suppressed) if suppressed.any() else table.copy()
    if suppressed.any():
        # keep counts whole numbers in the exported file: "53", not "53.0"
        # by position: a boolean dimension's labels (False/True) in a list would be read as a row mask
        for j in range(shape[1]):
            if pd.api.types.is_integer_dtype(table.dtypes.iloc[j]):
                protected.isetitem(j, protected.iloc[:, j].astype("Int64"))
    if rounding is not None and is_count.any():
        base, method = rounding
        rounded = round_table(table.to_numpy(dtype=float, na_value=np.nan), is_count,
                              bool(margins and row_margin and additive), bool(margins and col_margin and additive),
                              base, method)
        protected = pd.DataFrame(rounded, index=table.index, columns=table.columns).mask(suppressed)
        for j in range(shape[1]):
            if is_count[:, j].all():
                protected.isetitem(j, protected.iloc[:, j].round().astype("Int64"))
    # flags with explanations, capped per rule like the server's
    flags: list[Flag] = []
    rows = [label_text(r) for r in table.index]
    cols = [label_text(c) for c in table.columns]
    cap = policy.files.max_flags_per_rule
    reasons = []
    for rule in [r for r in RULE_ORDER if r in masks] + [r for r in masks if r not in RULE_ORDER]:
        hits = np.argwhere(masks[rule].reshape(shape))
        reasons.append(f"{rule}: {len(hits)} cell{'s' if len(hits) != 1 else ''}")
        for i, j in hits[:cap]:
            k = i * shape[1] + j
            kw: dict = {}
            if rule == "threshold":
                kw["count"] = float(cs.count[k])
            elif rule == "nk":
                kw["share"] = float(np.nansum(cs.top[k, : policy.nk.n]) / cs.total[k]) if cs.total[k] else 1.0
            elif rule == "p_percent":
                t = np.nan_to_num(cs.top[k])
                kw["ratio"] = float((cs.total[k] - t[0] - t[1]) / t[0]) if t[0] else 0.0
            elif rule == "negative":
                kw["negatives"] = float(cs.negative[k])
            elif rule == "missing":
                kw["missing"] = float(cs.missing[k])
            elif rule == "rounding":
                flags.append(Flag(rule=rule, severity=policy.severity_of(rule), row=rows[i], column=cols[j],
                                  message=f"{explain.where(rows[i], cols[j])} shows an unrounded count "
                                          f"({table.iat[i, j]:g}); counts are published rounded "
                                          f"{describe(policy.rounding.base, policy.rounding.method)}"))
                continue
            flags.append(Flag(rule=rule, severity=policy.severity_of(rule), row=rows[i], column=cols[j],
                              message=explain.cell_message(rule, rows[i], cols[j], policy, unit=kind_unit, **kw)))
    n_secondary = int((suppressed & ~failing).sum())
    if n_secondary:
        reasons.append(f"{n_secondary} more cell{'s' if n_secondary != 1 else ''} suppressed so that the suppressed "
                       "cells cannot be worked out from the totals")
        reasons += [f"cell ({r}, {c}) suppressed: {why}" for (r, c), why in list(secondary_why.items())[:cap]]
    status = severity_verdict(set(masks), policy)
    margin_mask = np.zeros(shape, dtype=bool)
    if margins:
        if col_margin:
            margin_mask[-1, :] = True
        if row_margin:
            margin_mask[:, -1] = True
    rows = stats["rows"].ravel()
    if "nonmissing" in stats:
        # pandas' "count" of a value column counts the rows where the value is present
        rows = np.where(aggs.ravel() == "count", stats["nonmissing"].ravel(), rows)
    cells = {"agg": list(aggs.ravel()), "count": cs.count, "rows": rows,
             "total": cs.total, "top": cs.top, "negative": cs.negative, "missing": cs.missing,
             "margin": margin_mask.ravel()}
    return SDCResult(table=table, outcome=outcome, summary=Summary(status, reasons, flags), protected=protected,
                     suppressed=pd.DataFrame(suppressed, index=table.index, columns=table.columns),
                     command=command, policy=policy, cells=cells, aggfuncs=aggnames, entity=entity_name,
                     margins=margins, margins_name=margins_name, secondary=secondary,
                     secondary_reasons=secondary_why, row_totals=bool(margins and row_margin),
                     column_totals=bool(margins and col_margin), additive=additive,
                     rounding=None if rounding is None else {"base": rounding[0], "method": rounding[1]})


def _rounding(policy: DisclosurePolicy, round_: bool | int | None, normalize: Any) -> tuple[int, str] | None:
    """(base, method) the safe version is rounded with: ``round=`` overrides the policy (an int is the
    base, True the policy's rule even where it is off, False no rounding)."""
    if normalize or round_ is False or (round_ is None and not policy.rounding.enabled):
        return None
    if isinstance(round_, bool) or round_ is None:
        return policy.rounding.base, policy.rounding.method
    if int(round_) < 2:
        raise ValueError("round= is a base of at least 2 (or True/False)")
    return int(round_), policy.rounding.method


def _with_virtual_totals(counts: np.ndarray, failing: np.ndarray, normalize: Any, margins: bool
                         ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The counts behind a normalised table, with a total column and row appended where pandas does not
    print them (``fixed``: those cells exist only as equations and can never be suppressed)."""
    counts = np.nan_to_num(np.asarray(counts, dtype=float))
    R, C = counts.shape
    has_row_totals = margins and normalize in ("all", True, "columns", 1)  # an "All" column is printed
    has_col_totals = margins and normalize in ("all", True, "index", 0)  # an "All" row is printed
    body = counts[: R - has_col_totals, : C - has_row_totals]
    full = np.zeros((body.shape[0] + 1, body.shape[1] + 1))
    full[:-1, :-1] = body
    full[:-1, -1] = body.sum(axis=1)
    full[-1, :-1] = body.sum(axis=0)
    full[-1, -1] = body.sum()
    # The printed cells (body and any printed totals) are the top-left R x C block of ``full``; whatever lies
    # beyond is a total that exists only as an equation.
    fixed = np.ones(full.shape, dtype=bool)
    fixed[:R, :C] = False
    primary = np.zeros(full.shape, dtype=bool)
    primary[:R, :C] = failing
    return full, primary, fixed


def _layout(grid: _Grid, stats: dict[str, np.ndarray], table: pd.DataFrame, n_col_keys: int,
            col_value: list[str | None] | None = None, stats_by_value: dict | None = None) -> dict[str, np.ndarray]:
    """Place grid statistics at the table's cells, matching labels (margins included)."""
    row_idx = grid.row_labels.get_indexer(table.index)
    cols = list(table.columns)
    if n_col_keys:
        keys = [c[-n_col_keys:] if isinstance(c, tuple) else (c,) for c in cols]
        keys = [k if len(k) > 1 else k[0] for k in keys]
        col_idx = grid.col_labels.get_indexer(pd.Index(keys, tupleize_cols=True)
                                              if n_col_keys > 1 else pd.Index(keys))
    else:
        col_idx = np.zeros(len(cols), dtype=np.int64)
    out: dict[str, np.ndarray] = {}
    for j in range(len(cols)):
        src = stats if stats_by_value is None else stats_by_value[col_value[j]]
        for k, a in src.items():
            if k not in out:
                out[k] = np.full((len(row_idx), len(cols)) + a.shape[2:], np.nan)
            col = a[:, col_idx[j]] if col_idx[j] >= 0 else np.full(a.shape[:1] + a.shape[2:], np.nan)
            vals = col[row_idx]
            vals[row_idx < 0] = np.nan
            out[k][:, j] = vals
    # a combination absent from the data has no units
    for k in ("units", "rows"):
        if k in out:
            out[k] = np.nan_to_num(out[k], nan=0.0)
    return out


def crosstab(index: Any, columns: Any = None, values: Any = None, rownames: Sequence | None = None,
             colnames: Sequence | None = None, aggfunc: Any = None, margins: bool = False,
             margins_name: str = "All", dropna: bool = True, normalize: bool | str = False, *,
             entity: Any = None, policy: DisclosurePolicy | None = None, name: str | None = None,
             round: bool | int | None = None) -> SDCResult:
    """``pandas.crosstab`` with the disclosure checks. ``entity=`` (a person id per row) makes thresholds
    count people and dominance add up each person's contributions first. ``name=`` is the file name it is
    exported under (default: from the call, ``crosstab_unit_gender``)."""
    policy = _policy(policy)
    rkeys = _as_series_list(index, "row", rownames)
    ckeys = _as_series_list(columns, "col", colnames)
    if not rkeys or not ckeys:
        raise ValueError("crosstab needs index and columns (use pivot_table or describe_by for one dimension)")
    n = len(rkeys[0])
    several = isinstance(aggfunc, (list, tuple))
    if several:
        # pandas (and ACRO) accept a list: one block of columns per function, under its name
        if not aggfunc:
            raise ValueError("aggfunc is an empty list")
        aggfunc = list(aggfunc)
    names = [agg_name(f) for f in aggfunc] if several else [agg_name(aggfunc)]
    for nm in names:
        rules_for(nm)
    agg = names[0]
    if aggfunc is not None and values is None:
        raise ValueError("aggfunc needs values")
    vals = None if values is None else pd.to_numeric(pd.Series(np.asarray(values)), errors="coerce").to_numpy(
        dtype=float)
    ent, n_ent, ent_name = _entity_codes(entity, None, n)
    rows_axis = make_axis(rkeys, dropna, n)
    cols_axis = make_axis(ckeys, dropna, n)
    grid = _Grid(rows_axis, cols_axis, margins, margins_name)
    m = max(2, policy.nk.n)
    need_values = vals is not None and any(nm != "count" for nm in names)
    stats = grid.stats(vals if need_values else None, ent, n_ent, m, need_top=any(nm in LINEAR_AGGS for nm in names))
    plain = not any(isinstance(k.dtype, pd.CategoricalDtype) for k in rkeys + ckeys)
    # pandas' own dropna=False margins are blank for empty combinations (and wrong with missing keys), so the
    # fast path is only taken where its result is exactly pandas'.
    fast = not normalize and plain and dropna and not several
    if fast and agg == "count" and values is None:
        # The count table is the statistics grid itself: build it directly instead of running pandas twice.
        table = pd.DataFrame(stats["rows"].astype(np.int64), index=grid.row_labels, columns=grid.col_labels)
        laid = stats
    elif fast and agg in ("sum", "mean") and not np.isnan(vals).any() and (stats["rows"] > 0).any(axis=0).all() \
            and (stats["rows"] > 0).any(axis=1).all():
        # Sums and means follow from the same grid (pandas leaves empty cells blank).
        with np.errstate(invalid="ignore", divide="ignore"):
            cells = stats["total"] if agg == "sum" else stats["total"] / stats["nonmissing"]
        table = pd.DataFrame(np.where(stats["rows"] > 0, cells, np.nan), index=grid.row_labels,
                             columns=grid.col_labels)
        laid = stats
    else:
        table = pd.crosstab([k for k in rkeys], [k for k in ckeys], values=None if values is None else pd.Series(
            vals), aggfunc=aggfunc, margins=margins, margins_name=margins_name, dropna=dropna, normalize=normalize)
        laid = _layout(grid, stats, table, len(ckeys))
    if several:
        col_agg = [agg_name(c[0] if isinstance(c, tuple) else c) for c in table.columns]
        aggs = np.array([col_agg] * table.shape[0], dtype=object).reshape(table.shape)
    else:
        col_agg = [agg]
        aggs = np.full(table.shape, agg, dtype=object)
    # a row of blocks for different functions is not one sum: totals protect only a single additive function
    additive = len(set(col_agg)) == 1 and col_agg[0] in ("count", "sum") and not normalize
    result = _finish(table, laid, aggs, policy, "crosstab", names, ent_name, margins, margins_name,
                   row_margin=margins, col_margin=margins, additive=additive,
                   kind_unit="people" if ent is not None else "rows", normalize=normalize, round_=round)
    measure = [] if values is None else [*dict.fromkeys(col_agg), getattr(values, "name", None) or "values", "by"]
    result.named(name, call_name("crosstab", measure, [k.name for k in rkeys], [k.name for k in ckeys]))
    return _with_replay(result, "crosstab", crosstab)


def _has_nan(keys: list[pd.Series]) -> bool:
    return any(k.isna().any() for k in keys)


def pivot_table(data: pd.DataFrame, values: Any = None, index: Any = None, columns: Any = None,
                aggfunc: Any = "mean", fill_value: Any = None, margins: bool = False, dropna: bool = True,
                margins_name: str = "All", observed: bool = False, sort: bool = True, *, entity: Any = None,
                policy: DisclosurePolicy | None = None, name: str | None = None,
                round: bool | int | None = None) -> SDCResult:
    """``pandas.pivot_table`` with the disclosure checks (several values and aggfuncs allowed); default
    export name ``pivot_table_mean_days_by_unit_year``."""
    policy = _policy(policy)
    if values is None:
        raise ValueError("pivot_table needs values (the column to aggregate)")
    index_l = index if isinstance(index, list) else ([] if index is None else [index])
    columns_l = columns if isinstance(columns, list) else ([] if columns is None else [columns])
    values_l = values if isinstance(values, list) else [values]
    funcs = aggfunc if isinstance(aggfunc, list) else [aggfunc]
    names = [agg_name(f) for f in funcs]
    for nm in names:
        rules_for(nm)
    n = len(data)
    rkeys = [data[c].reset_index(drop=True) for c in index_l]
    ckeys = [data[c].reset_index(drop=True) for c in columns_l]
    ent, n_ent, ent_name = _entity_codes(entity, data, n)
    grid = _Grid(make_axis(rkeys, dropna, n), make_axis(ckeys, dropna, n), margins, margins_name)
    m = max(2, policy.nk.n)
    need_top = any(nm in LINEAR_AGGS for nm in names)
    by_value = {v: grid.stats(pd.to_numeric(data[v], errors="coerce").to_numpy(dtype=float), ent, n_ent, m, need_top)
                for v in values_l}
    table = pd.pivot_table(data, values=values, index=index, columns=columns, aggfunc=aggfunc,
                           fill_value=fill_value, margins=margins, dropna=dropna, margins_name=margins_name,
                           observed=observed, sort=sort)
    if isinstance(table, pd.Series):
        table = table.to_frame()
    col_value, col_agg = [], []
    for c in table.columns:
        levels = list(c) if isinstance(c, tuple) else [c]
        prefix = levels[: len(levels) - len(ckeys)] if ckeys else levels
        f = agg_name(prefix[0]) if isinstance(aggfunc, list) and prefix else names[0]
        v = prefix[-1] if (isinstance(values, list) or len(prefix) > (1 if isinstance(aggfunc, list) else 0)) \
            and prefix and prefix[-1] in by_value else values_l[0]
        col_value.append(v)
        col_agg.append(f)
    laid = _layout(grid, None, table, len(ckeys), col_value, by_value)
    aggs = np.array([col_agg] * table.shape[0], dtype=object).reshape(table.shape)
    additive = len(set(col_agg)) == 1 and col_agg[0] in ("count", "sum") and len(values_l) == 1
    result = _finish(table, laid, aggs, policy, "pivot_table", names, ent_name, margins, margins_name,
                     row_margin=margins and bool(ckeys), col_margin=margins, additive=additive,
                     kind_unit="people" if ent is not None else "rows", round_=round)
    result.named(name, call_name("pivot_table", names, values_l, "by", index_l, columns_l))
    return _with_replay(result, "pivot_table", pivot_table)


def describe_by(data: pd.DataFrame, by: Any, values: Any,
                stats: Sequence[str] = ("count", "mean", "std", "min", "median", "max"), *,
                entity: Any = None, policy: DisclosurePolicy | None = None, name: str | None = None,
                round: bool | int | None = None) -> SDCResult:
    """Grouped summary statistics (``data.groupby(by)[values].agg(stats)``), checked per group and statistic."""
    policy = _policy(policy)
    by_l = by if isinstance(by, list) else [by]
    values_l = values if isinstance(values, list) else [values]
    names = [agg_name(s) for s in stats]
    for nm in names:
        rules_for(nm)
    n = len(data)
    rkeys = [data[c].reset_index(drop=True) for c in by_l]
    ent, n_ent, ent_name = _entity_codes(entity, data, n)
    grid = _Grid(make_axis(rkeys, True, n), make_axis([], True, n), False, "All")
    m = max(2, policy.nk.n)
    need_top = any(nm in LINEAR_AGGS for nm in names)
    by_value = {v: grid.stats(pd.to_numeric(data[v], errors="coerce").to_numpy(dtype=float), ent, n_ent, m, need_top)
                for v in values_l}
    # observed=False: every category of a categorical key gets a row, so an empty group is checked (and shown
    # as such) rather than silently missing
    table = data.groupby(by_l if len(by_l) > 1 else by_l[0], sort=True, observed=False)[values_l].agg(list(stats))
    col_value = [c[0] for c in table.columns]
    col_agg = [agg_name(c[1]) for c in table.columns]
    laid = _layout(grid, None, table, 0, col_value, by_value)
    aggs = np.array([col_agg] * table.shape[0], dtype=object).reshape(table.shape)
    result = _finish(table, laid, aggs, policy, "describe_by", names, ent_name, False, "All", False, False,
                     additive=False, kind_unit="people" if ent is not None else "rows", round_=round)
    result.named(name, call_name("describe_by", values_l, "by", by_l))
    return _with_replay(result, "describe_by", describe_by)


def _with_replay(result: SDCResult, call: str, wrapper: Any) -> SDCResult:
    """Attach the replay specification (or why there is none): never a reason to fail the call.

    The arguments are the wrapper's parameters as its caller holds them (none is reassigned before the
    return), so a parameter added to a wrapper is recorded, and replayed, without another edit here."""
    try:
        caller = sys._getframe(1).f_locals
        args = {k: caller[k] for k in inspect.signature(wrapper).parameters if k not in ("policy", "name")}
        result.replay, result.replay_problem = provenance.describe(call, args)
    except Exception as exc:  # noqa: BLE001 - the table is still the researcher's to check and export
        result.replay, result.replay_problem = None, f"it could not be described ({exc.__class__.__name__})"
    return result
