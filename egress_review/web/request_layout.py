"""How the request page lays out its files so that a checker decides quickly: files with flags first
(fail, then review), clean tables folded into one summary line that opens with "show" (``<details>``:
the UI runs no scripts), large flagged tables reduced to their flagged rows with the full table folded,
and the suggested protected version only where it differs from the original.

Layout only: what a viewer may see is decided before (``request_page``, ``permissions``); this module
never adds content, it orders and folds what the page was going to show anyway.
"""

from __future__ import annotations

from dataclasses import dataclass

from egress_review.web.preview import Preview, TableView

# Tables up to this many rows are shown whole; longer flagged ones show their flagged rows first.
WHOLE_TABLE_ROWS = 12
_ORDER = {"fail": 0, "review": 1, "pending": 2, "pass": 3}


@dataclass
class FileLayout:
    clean: bool = False  # a table with nothing flagged: one summary line, the table behind "show"
    rows: int = 0  # rows and columns of the (first) table, for the summary line
    columns: int = 0
    flagged: TableView | None = None  # the original's rows with a failing cell (long tables only)
    flagged_suggested: TableView | None = None  # the same rows of the suggested version, where it differs
    show_suggested: bool = False  # the suggested version differs from the original somewhere


def _rows(view: TableView, keep: set[int]) -> TableView:
    return TableView(view.sheet, view.index_name, view.columns, [r for i, r in enumerate(view.rows) if i in keep],
                     highlighted=view.highlighted)


def layout(preview: Preview | None, flags: int, verdict: str | None) -> FileLayout:
    if preview is None or preview.kind != "table" or not preview.tables:
        return FileLayout()
    first = preview.tables[0]
    total_rows = len(first.rows) + first.hidden_rows
    failing = sum(t.failing_count for t in preview.tables)
    differs = preview.suggested is not None and preview.suggested.suppressed_count > 0
    out = FileLayout(rows=total_rows, columns=len(first.columns), show_suggested=differs)
    # "review" without flags: only what could not be verified (listed apart), no cell to look at
    if not failing and not flags and not differs and verdict in ("pass", "review"):
        out.clean = True
        return out
    if failing and len(first.rows) > WHOLE_TABLE_ROWS:
        keep = {i for i, r in enumerate(first.rows) if any(c.failing for c in r.cells)}
        if differs:
            keep |= {i for i, r in enumerate(preview.suggested.rows) if any(c.suppressed for c in r.cells)}
        out.flagged = _rows(first, keep)
        if differs:
            out.flagged_suggested = _rows(preview.suggested, keep)
    return out


def file_order(files: list, verdicts: dict[str, str | None], flags: dict[str, int]) -> list:
    """Outputs with flags first (worst verdict first), then the other outputs, supporting files last;
    otherwise in the order the researcher sent them."""
    def key(item: tuple[int, object]) -> tuple[int, int, int, int]:
        n, f = item
        verdict = verdicts.get(f.id) or "pending"
        return (f.kind != "output", 0 if flags.get(f.id) else 1, _ORDER.get(verdict, 2), n)

    return [f for _, f in sorted(enumerate(files), key=key)]

