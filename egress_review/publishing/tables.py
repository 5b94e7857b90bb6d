"""An open-data table as the operator hands it in (a CSV in long form: one column per dimension and one
count column) and as it is published (the same columns, counts protected, suppressed cells blank)."""

from __future__ import annotations

import csv
import hashlib
import io
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from egress_review.checks.open_data import Cell, Coords, PublishedCell, canonical, identity

MAX_FILE_BYTES = 50_000_000
MAX_COUNT = 1_000_000_000  # more people than any population; also keeps counts inside a 32-bit column


class PublicationInputError(ValueError):
    """The table cannot be read as an open-data count table; the message says what to fix."""


@dataclass(frozen=True)
class InputTable:
    dimensions: list[str]
    count_column: str
    rows: list[tuple[list[str], Coords, int]]  # labels as written, cell identity, true count

    @property
    def cells(self) -> list[Cell]:
        return [Cell(coords, n) for _, coords, n in self.rows]


def read_table(path: Path, count_column: str = "count", max_cells: int = 100_000) -> InputTable:
    if not path.is_file():
        raise PublicationInputError(f"{path}: no such file")
    if path.stat().st_size > MAX_FILE_BYTES:
        raise PublicationInputError(f"{path}: larger than {MAX_FILE_BYTES} bytes")
    try:
        with path.open(encoding="utf-8-sig") as fh:
            header = fh.readline()
        # comma, or the semicolon / tab of Norwegian spreadsheets when the header has no comma
        sep = "," if "," in header else ";" if ";" in header else "\t" if "\t" in header else ","
        frame = pd.read_csv(path, dtype=str, keep_default_na=False, sep=sep, encoding="utf-8-sig")
    except (UnicodeDecodeError, pd.errors.ParserError, csv.Error, pd.errors.EmptyDataError) as exc:
        raise PublicationInputError(f"{path}: not a readable CSV table ({exc})") from exc
    columns = [str(c).strip() for c in frame.columns]
    frame.columns = columns
    if len(set(columns)) != len(columns):
        raise PublicationInputError(f"{path}: column names repeat: {columns}")
    if count_column not in columns:
        raise PublicationInputError(
            f"{path}: no count column {count_column!r} (columns: {', '.join(columns)}); name it with --count")
    dims = [c for c in columns if c != count_column]
    if not dims:
        raise PublicationInputError(f"{path}: no dimension columns besides {count_column!r}")
    if len(frame) == 0:
        raise PublicationInputError(f"{path}: the table has no rows")
    if len(frame) > max_cells:
        raise PublicationInputError(f"{path}: {len(frame)} cells, more than the policy's max_cells {max_cells}")
    rows, seen = [], {}
    for i, rec in enumerate(frame.itertuples(index=False), start=2):
        values = dict(zip(columns, rec, strict=True))
        raw = values[count_column].strip()
        if not raw.isdigit() or int(raw) > MAX_COUNT:
            raise PublicationInputError(
                f"{path}, line {i}: count {raw!r} is not a whole number of people (0 or more); "
                "give true counts, the check protects them")
        labels = [values[d].strip() for d in dims]
        if any(not v for v in labels):
            raise PublicationInputError(f"{path}, line {i}: an empty category; write the category or 'Total'")
        coords = canonical(zip(dims, labels, strict=True))
        if identity(coords) in seen:
            raise PublicationInputError(f"{path}, line {i}: the same cell as line {seen[identity(coords)]}")
        seen[identity(coords)] = i
        rows.append((labels, coords, int(raw)))
    return InputTable(dims, count_column, rows)


def published_frame(table: InputTable, cells: list[PublishedCell]) -> pd.DataFrame:
    data = [[*labels, "" if c.value is None else c.value] for (labels, _, _), c in zip(table.rows, cells, strict=True)]
    return pd.DataFrame(data, columns=[*table.dimensions, table.count_column])


def published_csv(frame: pd.DataFrame) -> tuple[str, str]:
    """The CSV text the public gets and its SHA-256 (kept in the register)."""
    buf = io.StringIO()
    frame.to_csv(buf, index=False, lineterminator="\n")
    text = buf.getvalue()
    return text, hashlib.sha256(text.encode()).hexdigest()
