"""Is this 'table' really microdata? Signals of record-level data in a tabular file."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from egress_review.checks.policy import RecordLevelRule

_ID_NAME = re.compile(r"(^|[_\W])(id|pid|person|personid|person_id|lopenr|løpenr|fnr|ssn|pseudonym|ident)([_\W]|$)",
                      re.IGNORECASE)
_ID_VALUE = re.compile(r"^(?=.*\d)[0-9A-Za-z_-]{8,}$")


def _looks_like_ids(values: pd.Series) -> bool:
    sample = values.dropna().astype(str).head(200)
    return len(sample) > 0 and sample.map(lambda s: bool(_ID_VALUE.match(s))).mean() > 0.9


def record_level_reasons(cells: pd.DataFrame, rule: RecordLevelRule, count_columns: list[str],
                         entitled_row_count: int | None, raw: pd.DataFrame | None = None) -> list[str]:
    """Plain-words reasons why ``cells`` looks like one row per person or event (empty if it does not)."""
    n = len(cells)
    reasons: list[str] = []
    if entitled_row_count and n >= rule.entitled_row_ratio * entitled_row_count and n >= rule.min_rows:
        reasons.append(f"it has {n} rows, {n / entitled_row_count:.0%} of the {entitled_row_count} rows of the "
                       "project's largest dataset")
    if n < rule.min_rows:
        return reasons
    labels = cells.index.to_series()
    if labels.duplicated().any() and not labels.str.startswith("row ").all():
        dup = int(labels.duplicated().sum())
        reasons.append(f"{dup} rows repeat the label of an earlier row ({labels[labels.duplicated()].iloc[0]!r}); "
                       "a table has one row per category")
    # text values that repeat down the rows: categories of records, not the names of a table's rows
    text_columns = [str(c) for c in cells.columns if not pd.api.types.is_numeric_dtype(cells[c])
                    and cells[c].nunique() <= n / 2]
    if text_columns and n >= rule.distinct_label_min_rows:
        # a DataFrame printed or saved with its index: rows numbered 0, 1, 2, ... and text among the values
        number = pd.to_numeric(pd.Series(labels.to_numpy()), errors="coerce").to_numpy(dtype=float)
        if not np.isnan(number).any() and (np.array_equal(number, np.arange(n)) or
                                           np.array_equal(number, np.arange(1, n + 1))):
            reasons.append(f"its {n} rows are numbered 1, 2, 3, ... like the records of a data frame, and column "
                           f"{text_columns[0]!r} repeats text categories, not numbers")
    label_columns = [(str(c), raw[c]) for c in raw.columns[: raw.shape[1] - cells.shape[1]]] if raw is not None \
        else [("row labels", labels)]
    columns = label_columns + [(str(c), cells[c]) for c in cells.columns]
    if n >= rule.distinct_label_min_rows:
        for name, values in columns:
            # the cheap "looks like an identifier" tests first; counting distinct values only for those
            numeric = pd.api.types.is_numeric_dtype(values)
            present = values.dropna()
            id_like = _ID_NAME.search(name) or (not numeric and _looks_like_ids(values)) or (
                numeric and name != "row labels" and len(present) > 0 and present.abs().min() >= 1e6
                and np.all(np.mod(present.to_numpy(dtype=float), 1) == 0))
            if not id_like:
                continue
            distinct = values.nunique(dropna=True) / max(values.notna().sum(), 1)
            if distinct >= rule.distinct_label_fraction:
                reasons.append(f"column {name!r} has a different value on every one of its {n} rows, like a "
                               "person or record identifier")
                break
    cc = [c for c in count_columns if c in cells.columns]
    if cc:
        v = cells[cc].to_numpy(dtype=float)
        v = v[~np.isnan(v)]
        if v.size >= rule.min_rows and np.mean(v == 1) > rule.count_one_fraction:
            reasons.append(f"{np.mean(v == 1):.0%} of its count cells are 1: one row per person")
    return reasons
