"""Quarantined files made readable for the request page, without executing any of them.

Tables are read with the check engine's own reader (:func:`egress_review.checks.tables.read_table_files`),
in a worker process under a memory limit (:mod:`egress_review.bounded`), so the grid is cell for cell the one the automatic checks judged, and the failing cells are taken
from the stored report (``cell_outcome``, ``flags``) rather than computed again here. The suggested
protected version is the report's ``suggested_csv``. Images are shown through ``<img>`` (where an SVG
cannot run scripts) from an endpoint that answers with ``Content-Security-Policy: sandbox``; text is
shown escaped; anything else is offered as a download.
"""

from __future__ import annotations

import io
import json
import math
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from egress_review.models import FileVersion
from egress_review.service import EgressService

TABLE_TYPES = ("csv", "tsv", "xlsx", "parquet")
IMAGE_TYPES = {"png": "image/png", "svg": "image/svg+xml"}
TEXT_TYPES = ("txt", "md", "json", "svg")


@dataclass
class Cell:
    text: str
    rules: list[str] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)
    reason_numbers: list[int] = field(default_factory=list)  # positions in the file's reason list
    suppressed: bool = False  # blank in the suggested version although the original shows a value

    @property
    def failing(self) -> bool:
        return bool(self.rules)


@dataclass
class Row:
    label: str
    cells: list[Cell]


@dataclass
class TableView:
    sheet: str
    index_name: str
    columns: list[str]
    rows: list[Row]
    hidden_rows: int = 0
    highlighted: bool = True

    @property
    def failing_count(self) -> int:
        return sum(c.failing for r in self.rows for c in r.cells)

    @property
    def suppressed_count(self) -> int:
        return sum(c.suppressed for r in self.rows for c in r.cells)


@dataclass
class Reason:
    rule: str
    severity: str
    message: str
    row: str | None
    column: str | None
    checker_detail: str | None = None  # quotes the file (an identifier's matched text): checkers only


@dataclass
class Preview:
    kind: str  # table | image | text | download
    tables: list[TableView] = field(default_factory=list)
    suggested: TableView | None = None
    text: str | None = None
    text_truncated: bool = False
    image_type: str | None = None
    note: str | None = None


def reasons_of(report: dict[str, Any]) -> list[Reason]:
    out = []
    for f in report.get("flags") or []:
        if isinstance(f, dict):
            out.append(Reason(str(f.get("rule", "")), str(f.get("severity", "review")), str(f.get("message", "")),
                              f.get("row"), f.get("column"), f.get("checker_detail")))
    return out


def rule_counts(metadata: dict[str, Any], t) -> list[Reason]:
    """The reasons of a viewer who may not read the file: one line per rule with its count."""
    return [Reason(str(r["rule"]), str(r["severity"]), t("req.flag_count", n=r["count"]), None, None)
            for r in metadata.get("rule_counts", [])]


def _fmt(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        if math.isnan(value):
            return ""
        return str(int(value)) if value.is_integer() else f"{value:g}"
    return str(value)


def _number_text(value: str) -> str:
    """A number as the original table shows it (the engine writes its suggestion as floats: 120.0)."""
    try:
        return _fmt(float(value)) if value.strip() else ""
    except ValueError:
        return value


def _index_levels(svc: EgressService, version: FileVersion) -> int | None:
    if not version.sidecar:
        return None
    from egress_review.submission import sidecar_context

    try:
        sidecar = json.loads(svc.store.unseal(sidecar_context(version.file_id), version.sidecar))
    except Exception:  # noqa: BLE001 - without the sidecar the table is read as the checks would
        return None
    if isinstance(sidecar, dict) and isinstance(sidecar.get("index_levels"), int):
        return sidecar["index_levels"]
    return None


@dataclass
class Sheet:
    """A table as read for the preview, without pandas (it crosses from the worker process)."""

    name: str
    index_name: str
    columns: list[str]
    labels: list[str]  # the first rows only (up to max_rows)
    values: list[list[str]]
    n_rows: int


def read_sheets(path: Path, kind: str, index_levels: int | None, max_rows: int) -> list[Sheet]:
    """Run in a memory-capped worker (:mod:`egress_review.bounded`): pandas never grows the web process."""
    from egress_review.checks.tables import read_table_files

    out = []
    for t in read_table_files(path, kind, index_levels):
        frame = t.cells
        head = frame.iloc[:max_rows].to_numpy(dtype=object)
        out.append(Sheet(t.name, str(frame.index.name or ""), [str(c) for c in frame.columns],
                         [str(r) for r in frame.index[:max_rows]], [[_fmt(v) for v in row] for row in head],
                         len(frame)))
    return out


def _table_view(sheet: Sheet, max_rows: int, outcome: list[list[str]] | None,
                reasons: list[Reason], prefix: str = "") -> TableView:
    cols = sheet.columns
    fits = outcome is not None and len(outcome) == sheet.n_rows and all(len(o) == len(cols) for o in outcome)
    by_cell: dict[tuple[str, str], list[int]] = {}
    for n, r in enumerate(reasons):
        if r.row is not None and r.column is not None:
            by_cell.setdefault((r.row, r.column), []).append(n)
    out_rows = []
    for i, label in enumerate(sheet.labels[:max_rows]):
        cells = []
        for j, col in enumerate(cols):
            rules = [x.strip() for x in outcome[i][j].split(";") if x.strip()] if fits else []
            numbers = by_cell.get((prefix + label, col), []) if rules else []
            cells.append(Cell(sheet.values[i][j], rules, [reasons[n].message for n in numbers], numbers))
        out_rows.append(Row(label, cells))
    return TableView(sheet.name, sheet.index_name, cols, out_rows, max(0, sheet.n_rows - max_rows),
                     highlighted=fits)


def _suggested_view(csv_text: str, original: TableView, max_rows: int) -> TableView | None:
    import pandas as pd  # on first table shown: uploads and queues never load pandas in this process

    try:
        frame = pd.read_csv(io.StringIO(csv_text), dtype=str, keep_default_na=False, index_col=0)
    except Exception:  # noqa: BLE001 - a report we cannot parse is shown without the suggestion
        return None
    view = TableView("", str(frame.index.name or ""), [str(c) for c in frame.columns], [],
                     max(0, len(frame) - max_rows))
    for i, (label, row) in enumerate(frame.iterrows()):
        if i >= max_rows:
            break
        cells = []
        for j, value in enumerate(row.tolist()):
            shown = original.rows[i].cells[j].text if i < len(original.rows) and j < len(original.rows[i].cells) else ""
            text = _number_text(str(value))
            cells.append(Cell(text, suppressed=(text == "" and shown != "")))
        view.rows.append(Row(str(label), cells))
    return view


def decrypted_copy(svc: EgressService, version: FileVersion) -> Path:
    """A private plaintext copy in the service's scratch folder; the caller removes it."""
    svc.settings.scratch_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    folder = Path(tempfile.mkdtemp(dir=svc.settings.scratch_dir, prefix="preview-"))
    path = folder / f"file.{version.detected_type}"
    try:
        svc.store.decrypt_to(version.blob, version.id, version.wrapped_key, path)
    except BaseException:
        discard(path)
        raise
    return path


def discard(path: Path) -> None:
    path.unlink(missing_ok=True)
    try:
        path.parent.rmdir()
    except OSError:
        pass


def build(svc: EgressService, version: FileVersion, report: dict[str, Any], max_bytes: int, max_rows: int) -> Preview:
    """``report`` is the full (unsealed) check report, see :func:`egress_review.api.views.check_report`."""
    kind = version.detected_type
    if version.size > max_bytes:
        return Preview("download", note="too_large")
    if kind not in TABLE_TYPES and kind not in TEXT_TYPES and kind not in IMAGE_TYPES:
        return Preview("download")
    path = decrypted_copy(svc, version)
    try:
        if kind in TABLE_TYPES:
            return _table_preview(path, kind, _index_levels(svc, version), report, max_rows,
                                  svc.policy.uploads.parse_memory_bytes)
        data = path.read_bytes()
    finally:
        discard(path)
    text = data.decode("utf-8", errors="replace")
    if kind in IMAGE_TYPES:
        return Preview("image", image_type=kind, text=text if kind == "svg" else None)
    return Preview("text", text=text)


def _table_preview(path: Path, kind: str, index_levels: int | None, report: dict[str, Any], max_rows: int,
                   memory_bytes: int) -> Preview:
    from egress_review import bounded

    try:
        tables = bounded.pool(memory_bytes).run(read_sheets, path, kind, index_levels, max_rows)
    except bounded.OverMemoryLimit:
        return Preview("download", note="too_large")
    except Exception:  # noqa: BLE001 - the checks already flagged an unreadable table
        return Preview("download", note="unreadable")
    reasons = reasons_of(report)
    outcome = report.get("cell_outcome")
    views = []
    for n, t in enumerate(tables):
        # The engine reports cell outcomes for the first table (sheet) of a file.
        prefix = f"{t.name}!" if t.name else ""
        views.append(_table_view(t, max_rows, outcome if n == 0 else None, reasons, prefix))
    suggested = None
    if views and report.get("suggested_csv"):
        suggested = _suggested_view(str(report["suggested_csv"]), views[0], max_rows)
    return Preview("table", tables=views, suggested=suggested)
