"""Reading a table file (CSV, TSV, XLSX, Parquet) the way a reader of the released file would see it."""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from egress_review.checks.sidecar import label_text

# Column names that say "this is not a count" (means, shares, dispersion): no threshold on their values.
_MEASURE_HINT = re.compile(
    r"(mean|avg|average|snitt|gjennomsnitt|median|std|sd\b|var\b|percent|pct|prosent|andel|share|rate|ratio|"
    r"proportion|min\b|max\b|sum\b|coef|estimate|p[-_ ]?value|%)", re.IGNORECASE)
_BLANKS = ["", "NaN", "nan", "NA", "<NA>", "None", "-", ".", ".."]
MARGIN_NAMES = frozenset({"all", "total", "totalt", "sum", "i alt", "alle"})


@dataclass
class LoadedTable:
    name: str  # sheet name for workbooks, "" otherwise
    cells: pd.DataFrame  # data cells; numeric where the column is numeric; index/columns are label strings
    text: list[str]  # every string in the file (labels, headers, text cells), for the identifier scan
    n_rows_raw: int
    raw: pd.DataFrame | None = None  # the file's columns as strings, labels included


def _decode(path: Path) -> str:
    data = path.read_bytes()
    for enc in ("utf-8-sig", "cp1252", "latin-1"):
        try:
            return data.decode(enc)
        except UnicodeDecodeError:
            continue
    return data.decode("latin-1", errors="replace")


def _frame_from_strings(raw: pd.DataFrame, index_levels: int | None) -> pd.DataFrame:
    return _split_strings(raw, index_levels)[0]


def _split_strings(raw: pd.DataFrame, index_levels: int | None) -> tuple[pd.DataFrame, np.ndarray]:
    """Split a frame of strings into label columns and numeric data columns."""
    # one vectorised pass over every cell (a column-by-column apply is 10x slower on wide tables); only the
    # cells that do not parse as they are get cleaned (spaces, a typographic minus) and parsed again
    flat = pd.Series(raw.to_numpy(dtype=object).ravel())
    nums = pd.to_numeric(flat, errors="coerce").to_numpy(dtype=float)
    blank_flat = flat.isin(_BLANKS).to_numpy(dtype=bool)
    retry = np.isnan(nums) & ~blank_flat
    if retry.any():
        cleaned = flat[retry].str.strip().str.replace("\u2212", "-", regex=False)
        nums[retry] = pd.to_numeric(cleaned, errors="coerce").to_numpy(dtype=float)
        blank_flat[retry] = cleaned.isin(_BLANKS).to_numpy(dtype=bool)
    numeric = pd.DataFrame(nums.reshape(raw.shape), columns=raw.columns, index=raw.index)
    blank = pd.DataFrame(blank_flat.reshape(raw.shape), columns=raw.columns, index=raw.index)
    is_num = (numeric.notna() | blank).all(axis=0) & numeric.notna().any(axis=0)
    if index_levels is None:
        index_levels = 0
        for col in raw.columns:
            if is_num[col]:
                break
            index_levels += 1
        if index_levels == 0 and raw.shape[1] > 1:
            first = numeric.iloc[:, 0]
            # an all-numeric table: a strictly increasing first column (years, ages) is a label, not a count
            if first.notna().all() and first.is_monotonic_increasing and first.is_unique:
                index_levels = 1
        index_levels = min(index_levels, max(raw.shape[1] - 1, 0))
    label_cols = list(raw.columns[:index_levels])
    data_cols = list(raw.columns[index_levels:])
    cells = pd.DataFrame({c: (numeric[c] if is_num[c] else raw[c]) for c in data_cols})
    if label_cols:
        labels = raw[label_cols].astype(str)
        cells.index = pd.Index(labels.agg(" / ".join, axis=1) if len(label_cols) > 1 else labels.iloc[:, 0])
        cells.index.name = " / ".join(map(str, label_cols))
    else:
        cells.index = pd.Index([f"row {i + 1}" for i in range(len(raw))])
    cells.columns = [label_text(c) for c in data_cols]
    return cells, nums


def read_table_files(path: Path, file_type: str, index_levels: int | None = None) -> list[LoadedTable]:
    if file_type in ("csv", "tsv"):
        text = _decode(path)
        if file_type == "tsv":
            sep = "\t"
        else:
            try:
                sep = csv.Sniffer().sniff(text[:20000], delimiters=",;\t").delimiter
            except csv.Error:
                sep = ","
        raw = pd.read_csv(io.StringIO(text), sep=sep, dtype=str, keep_default_na=False, header=0)
        raw.columns = [str(c) for c in raw.columns]
        sheets = [("", raw)]
    elif file_type == "xlsx":
        book = pd.read_excel(path, sheet_name=None, dtype=str, header=0, engine="openpyxl")
        # the sheet name only becomes part of the coordinates when there is more than one sheet
        sheets = [(name if len(book) > 1 else "", df.fillna("")) for name, df in book.items()]
    elif file_type == "parquet":
        frame = pd.read_parquet(path)
        if not isinstance(frame.index, pd.RangeIndex):
            frame = frame.reset_index()
        raw = frame.astype(str).where(frame.notna(), "")
        raw.columns = [label_text(c) for c in frame.columns]
        sheets = [("", raw)]
    else:
        raise ValueError(f"{file_type} is not a table format")
    out = []
    for name, raw in sheets:
        raw = raw.astype(str)
        raw.columns = [str(c) for c in raw.columns]
        cells, nums = _split_strings(raw, index_levels)
        strings = list(map(str, raw.columns))
        obj = pd.Series(raw.to_numpy(dtype=object).ravel())
        # numbers are not text to scan, except long digit runs (identity numbers typed into a numeric column)
        keep = (obj != "").to_numpy() & (np.isnan(nums) | (np.abs(nums) >= 1e7))
        strings += obj[keep].unique().tolist()
        out.append(LoadedTable(name=name, cells=cells, text=strings, n_rows_raw=len(raw), raw=raw))
    return out


_NUM_RE = re.compile(r"^[-+]?\d+(?:[.,]\d+)?(?:[eE][-+]?\d+)?$")


def _is_number(s: str) -> bool:
    # 11-digit numbers stay in the text so that identity numbers in numeric columns are seen
    s = s.strip()
    return bool(_NUM_RE.match(s)) and len(s) < 8


def count_like_columns(cells: pd.DataFrame) -> list[str]:
    """Columns whose values say they are counts (see :func:`column_kinds`)."""
    return [c for c, kind in column_kinds(cells).items() if kind == "count"]


def column_kinds(cells: pd.DataFrame) -> dict[str, str]:
    """Per numeric column: "count", "measure", or "ambiguous" (the name says share or mean, the values
    say count: a renamed count column, which the checkers must judge).

    The values decide, not the name: whole non-negative numbers are counts, and so is a column where all
    but one in ten values are (one negative or fractional value does not turn counts into a measure)."""
    out: dict[str, str] = {}
    for col in cells.columns:
        s = cells[col]
        if not pd.api.types.is_numeric_dtype(s):
            continue
        v = s.dropna().to_numpy(dtype=float)
        if not v.size:
            continue
        whole = (v >= 0) & (np.mod(v, 1) == 0)
        odd = int((~whole).sum())
        countish = odd == 0 or (whole.sum() >= 2 and odd <= max(1, v.size // 10))
        if not countish:
            out[col] = "measure"
        elif _MEASURE_HINT.search(str(col)):
            out[col] = "ambiguous"
        else:
            out[col] = "count"
    return out


def detect_margins(cells: pd.DataFrame) -> tuple[bool, bool]:
    """(has a total column at the right, has a total row at the bottom), by name and by arithmetic."""
    num = cells.select_dtypes("number")
    if num.shape[0] < 2 or num.shape[1] < 1:
        return False, False
    last_col = str(num.columns[-1]).strip().lower() in MARGIN_NAMES and num.shape[1] >= 2
    last_row = str(num.index[-1]).strip().lower().split(" / ")[0] in MARGIN_NAMES
    v = num.to_numpy(dtype=float)
    if last_col:
        body = v[:, :-1]
        last_col = bool(np.allclose(np.nansum(body, axis=1), np.nan_to_num(v[:, -1]), rtol=1e-6)) or np.isnan(v).any()
    if last_row:
        body = v[:-1, :]
        last_row = bool(np.allclose(np.nansum(body, axis=0), np.nan_to_num(v[-1, :]), rtol=1e-6)) or np.isnan(v).any()
    return last_col, last_row
