"""The disclosure checks' contract with the egress service: ``check_file`` and its report models."""

from __future__ import annotations

import csv
import functools
import io
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict

from egress_review.checks import explain
from egress_review.checks.differencing import find_differences
from egress_review.checks.filetypes import png_metadata_chunks, sniff, strip_image_metadata
from egress_review.checks.identifiers import IdentifierScanner
from egress_review.checks.policy import DisclosurePolicy, load_disclosure_policy
from egress_review.checks.record_level import record_level_reasons
from egress_review.checks import rounding
from egress_review.checks.replay import NOT_REPLAYABLE, ReplayNote, replay_message, replay_summary
from egress_review.checks.rules import CellStats, evaluate, outcome_strings
from egress_review.checks.sidecar import Sidecar, read_sidecar
from egress_review.checks.text_tables import encoded_runs, table_in_text
from egress_review.checks.suppression import find_recomputable, protect
from egress_review.checks.sidecar_trust import COUNT_AGGS, sidecar_problem
from egress_review.checks.tables import LoadedTable, _split_strings, column_kinds, count_like_columns, detect_margins, read_table_files

__all__ = ["Flag", "FileReport", "CheckContext", "check_file", "load_disclosure_policy", "strip_image_metadata",
           "DisclosurePolicy"]

RuleName = Literal["threshold", "zero", "nk", "p_percent", "negative", "missing", "dof", "identifier",
                   "record_level", "differencing", "file_type", "size", "archive", "notebook", "unverifiable",
                   "replay"]


class Flag(BaseModel):
    rule: str
    severity: Literal["fail", "review"]
    message: str
    row: str | None = None
    column: str | None = None
    # Quotes the file under review (an identifier flag's matched text and the labels of its cell): for
    # output checkers, who see the file anyway; never shown to a researcher outside the sandbox.
    checker_detail: str | None = None


class FileReport(BaseModel):
    verdict: Literal["pass", "review", "fail"]
    file_type: str
    flags: list[Flag]
    unverifiable: list[str]
    suggested_csv: str | None
    cell_outcome: list[list[str]] | None
    # "reproduced from the data" / "does not match the data" / "not replayable" (egress_review.replay)
    replay: str | None = None


class PendingTable(BaseModel):
    """A table that may still leave: another output of the same request, or of another request of the
    project not yet released (``egress_review.neighbours``). ``where`` says which, for the checker."""

    name: str
    where: str
    path: Path


class CheckContext(BaseModel):
    model_config = ConfigDict(arbitrary_types_allowed=True)
    identifier_values: set[str] = set()
    # The catalogue's quasi-identifier values (units, places, job titles): words that are never taken
    # for a direct identifier even when a name column holds them too ("Berg", "Lade").
    non_identifier_values: set[str] = set()
    released_tables: list[Path] = []
    pending_tables: list[PendingTable] = []
    entitled_row_count: int | None = None
    person_level: bool = True
    # the replay of a table from the project's extract, when the check worker could try one
    replay: ReplayNote | None = None


TABLE_TYPES = ("csv", "tsv", "xlsx", "parquet")
TEXT_TYPES = ("txt", "md", "svg")


def _verdict(flags: list[Flag], unverifiable: list[str]) -> str:
    if any(f.severity == "fail" for f in flags):
        return "fail"
    return "review" if flags or unverifiable else "pass"


class _Flags:
    """Collects flags, capping each rule at ``max_flags_per_rule`` with one summary flag for the rest."""

    def __init__(self, policy: DisclosurePolicy):
        self.policy = policy
        self.flags: list[Flag] = []
        self._per_rule: dict[str, int] = {}

    def add(self, rule: str, message: str, row: str | None = None, column: str | None = None,
            severity: str | None = None, checker_detail: str | None = None) -> None:
        n = self._per_rule.get(rule, 0)
        self._per_rule[rule] = n + 1
        if n < self.policy.files.max_flags_per_rule:
            self.flags.append(Flag.model_construct(rule=rule, severity=severity or self.policy.severity_of(rule),
                                                   message=message, row=row, column=column,
                                                   checker_detail=checker_detail))

    def room(self, rule: str) -> int:
        """How many more flags of ``rule`` will be kept (building messages beyond that is wasted work)."""
        return max(self.policy.files.max_flags_per_rule - self._per_rule.get(rule, 0), 0)

    def count_only(self, rule: str, n: int) -> None:
        self._per_rule[rule] = self._per_rule.get(rule, 0) + n

    def close(self) -> list[Flag]:
        cap = self.policy.files.max_flags_per_rule
        for rule, n in self._per_rule.items():
            if n > cap:
                self.flags.append(Flag(rule=rule, severity=self.policy.severity_of(rule) if rule in (
                    "threshold", "zero", "nk", "p_percent", "negative", "missing", "identifier", "differencing"
                ) else "review", message=f"{n - cap} more cells fail the {rule} rule (see the highlighted table)"))
        return self.flags


def _identifier_flags(texts: list[str], scanner: IdentifierScanner, out: _Flags, where: str | None = None,
                      places: Callable[[int], tuple[str, str]] | None = None) -> None:
    """Flag each identifier in ``texts``. ``places(n)`` tells where text n is: a neutral position that
    anyone may read ("line 4") and, for checkers, the labels around it (asked for hits only)."""
    seen: set[str] = set()
    for n, t in enumerate(texts):
        if t in seen:
            continue
        seen.add(t)
        for hit in scanner.scan(t):
            public, labelled = places(n) if places else ("", "")
            text = f"{where + ' ' if where else ''}{scanner.explain(hit)}"
            if public:
                text = text.replace("; direct", f" at {public}; direct", 1)
            at = f" at {labelled or public}" if (labelled or public) else ""
            out.add("identifier", text[:1].upper() + text[1:], row=where,
                    checker_detail=f"matched {hit.text!r}{at}" + (f" of {where.rstrip(':')}" if where else ""))


# A cell a spreadsheet would run: a checker who downloads the file (the page says to, for long tables)
# and opens it in Excel or LibreOffice on a machine outside the TRE would let =WEBSERVICE(...) or
# =HYPERLINK(...) send the other cells anywhere, before any release. Negative numbers and a bare "-"
# are not formulas.
_NUMBER = re.compile(r"[+-]?\s*(\d[\d ,.]*|\.\d+)([eE][+-]?\d+)?\s*%?")


def _is_formula(text: str) -> bool:
    x = text.lstrip("\t\r ")
    if x[:1] in ("=", "@"):
        return True
    return x[:1] in ("+", "-") and x[1:].strip() != "" and not _NUMBER.fullmatch(x.strip())


def _formula_cell_flags(t: LoadedTable, out: _Flags) -> None:
    frame = t.raw if t.raw is not None else t.cells
    texts = [str(c) for c in frame.columns] + [str(v) for v in frame.to_numpy(dtype=object).ravel() if isinstance(v, str)]
    hits = [x for x in texts if _is_formula(x)]
    if hits:
        where = f"sheet {t.name}: " if t.name else ""
        out.add("formula", f"{where}{len(hits)} cell(s) start like a spreadsheet formula (=, +, -, @); a spreadsheet "
                "opening the file would run them: export the values as text", severity="fail")


def _xlsx_formula_flags(path: Path, out: _Flags) -> None:
    """Formulas and external links in the workbook itself (pandas reads only their cached values)."""
    import zipfile

    try:
        with zipfile.ZipFile(path) as z:
            names = z.namelist()
            links = [n for n in names if n.startswith("xl/externalLinks/")]
            formulas = 0
            for n in names:
                if n.startswith("xl/worksheets/") and n.endswith(".xml"):
                    tail = b""
                    with z.open(n) as fh:  # streamed: members are bounded by intake, not held whole
                        while chunk := fh.read(1 << 20):
                            formulas += len(re.findall(rb"<(?:\w+:)?f[ >/]", tail + chunk))
                            tail = chunk[-8:]
    except (zipfile.BadZipFile, OSError):
        return
    if formulas or links:
        out.add("formula", f"the workbook holds {formulas} formula(s) and {len(links)} external link(s); a spreadsheet "
                "opening it would run them: export the values only", severity="fail")


def _table_identifier_flags(t: LoadedTable, scanner: IdentifierScanner, out: _Flags) -> None:
    """The identifier scan of a table: every header and text cell, each reported with its place."""
    where = f"sheet {t.name}:" if t.name else None
    if t.raw is None:
        _identifier_flags(t.text, scanner, out, where=where)
        return
    raw = t.raw
    cols = [str(c) for c in raw.columns]
    flat = pd.Series(raw.to_numpy(dtype=object).ravel()).astype(str)
    nums = pd.to_numeric(flat, errors="coerce").to_numpy(dtype=float)
    # numbers are not text to scan, except long digit runs (identity numbers typed into a numeric column)
    keep = (flat != "").to_numpy() & (np.isnan(nums) | (np.abs(nums) >= 1e7))
    first = flat[keep].drop_duplicates()
    texts = cols + first.tolist()
    positions = first.index.to_numpy()
    label_cols = max(raw.shape[1] - t.cells.shape[1], 0)

    def place(n: int) -> tuple[str, str]:
        if n < len(cols):
            return f"the header of column {n + 1}", ""
        i, j = divmod(int(positions[n - len(cols)]), raw.shape[1])
        row_label = " / ".join(str(x) for x in raw.iloc[i, :label_cols]) if label_cols else f"row {i + 1}"
        return (f"data row {i + 1}, column {j + 1}",
                f"data row {i + 1} ({row_label!r}), column {j + 1} ({cols[j]!r})")

    _identifier_flags(texts, scanner, out, where=where, places=place)


# --------------------------------------------------------------------------------------------------- tables


def _stats_from_sidecar(sc: Sidecar) -> CellStats:
    c = sc.cells
    assert c is not None
    # numpy turns None (JSON null) into NaN for float arrays; the top lists are rectangular by construction
    top = None
    if c.top is not None:
        top = np.array(c.top, dtype=float).reshape(len(c.top), -1)
        if top.shape[1] < 2:
            top = np.hstack([top, np.full((top.shape[0], 2 - top.shape[1]), np.nan)])
    return CellStats(count=np.array(c.count, dtype=float), agg=np.array(c.agg, dtype=object),
                     total=None if c.total is None else np.array(c.total, dtype=float), top=top,
                     negative=None if c.negative is None else np.array(c.negative, dtype=float),
                     missing=None if c.missing is None else np.array(c.missing, dtype=float))


def _shown_values_match(sc: Sidecar, values: np.ndarray, blank: np.ndarray) -> list[int]:
    """Cells whose published value disagrees with the sidecar's statistics."""
    c = sc.cells
    agg = np.array(c.agg, dtype=object)
    rows = np.array(c.rows, dtype=float)
    bad = np.zeros(len(agg), dtype=bool)
    with np.errstate(invalid="ignore", divide="ignore"):
        expect = np.full(len(agg), np.nan)
        expect = np.where(agg == "count", rows, expect)
        if c.total is not None:
            total = np.array([np.nan if x is None else x for x in c.total], dtype=float)
            miss = np.array(c.missing if c.missing is not None else [0] * len(agg), dtype=float)
            expect = np.where(agg == "sum", total, expect)
            expect = np.where(agg == "mean", total / (rows - miss), expect)
    if sc.rounding:
        # the file shows rounded counts; its totals are sums of them (checked by the rounding rule)
        counted = agg == "count"
        margin = np.array(c.margin if c.margin is not None else [False] * len(agg), dtype=bool)
        expect = np.where(counted & margin, np.nan, np.where(counted, rounding.round_counts(
            rows, int(sc.rounding["base"]), str(sc.rounding["method"])), expect))
    check = ~blank & ~np.isnan(expect)
    bad[check] = ~np.isclose(values[check], expect[check], rtol=1e-6, atol=1e-6)
    return list(np.flatnonzero(bad))


def _check_cells(table: LoadedTable, path: Path, sc: Sidecar | None, policy: DisclosurePolicy,
                 context: CheckContext, out: _Flags, unverifiable: list[str], released: list[tuple[str, LoadedTable]]
                 ) -> tuple[str | None, list[list[str]] | None]:
    cells = table.cells
    prefix = f"{table.name}!" if table.name else ""
    rows = [prefix + str(r) for r in cells.index]
    cols = [str(c) for c in cells.columns]
    shape = cells.shape
    numeric = np.full(shape, np.nan)
    is_num = np.array([pd.api.types.is_numeric_dtype(cells[c]) for c in cells.columns], dtype=bool)
    if is_num.any():
        numeric[:, is_num] = cells.loc[:, is_num].to_numpy(dtype=float)
    blank = np.isnan(numeric)
    if sc is not None:
        problem = sidecar_problem(sc, path, cells)
        if problem:
            out.add("unverifiable", f"the sidecar was rejected: {problem}; the table was checked as the file shows "
                    "it, without the sidecar", severity="review")
            unverifiable.append(f"sidecar rejected: {problem}")
            sc = None
    regression = sc is not None and sc.kind == "regression"
    if regression:
        if policy.dof.enabled and sc.dof < policy.dof.min_dof:
            out.add("dof", f"the model has {sc.dof} residual degrees of freedom; the minimum is {policy.dof.min_dof}")
        sc = None  # what it claims is checked; the visible table is checked below like any other

    # What the file shows is always checked: counts by their values, whatever the sidecar says.
    kinds = {} if regression else column_kinds(cells)  # a coefficient table's columns are never counts
    count_cols = [c for c, k in kinds.items() if k == "count"]
    side_agg = None if sc is None else np.array(sc.cells.agg, dtype=object).reshape(shape)
    for col in (c for c, k in kinds.items() if k == "ambiguous"):
        j = cols.index(col)
        if side_agg is not None and not np.isin(side_agg[:, j], list(COUNT_AGGS)).any():
            continue  # the sidecar, checked against the shown values, says what the column holds
        out.add("unverifiable", f"column {col!r} is named like a share or a statistic but holds only whole "
                "non-negative numbers, like counts; a checker must judge whether they are counts of fewer than "
                f"{policy.threshold.min_count}", column=col, severity="review")
        if f"counts: column {col}" not in unverifiable:
            unverifiable.append(f"counts: column {col}")
    vis_agg = np.full(shape, "other", dtype=object)
    vis_agg[:, [cols.index(c) for c in count_cols]] = "count"
    visible = CellStats(count=np.where(vis_agg == "count", numeric, np.nan).ravel(), agg=vis_agg.ravel())
    vis_masks = _evaluate_partial(visible, policy)
    row_margin, col_margin = detect_margins(cells)
    if sc is not None:
        stats = _stats_from_sidecar(sc)
        unit = "people" if sc.unit == "entities" else "rows"
        if sc.unit == "rows" and policy.entity.require_for_person_level and context.person_level:
            out.add("threshold", "this table counts rows, not people: for a person-level dataset the export must "
                    "name the person column (entity=...) so that thresholds count people", severity="fail")
        for k in _shown_values_match(sc, numeric.ravel(), blank.ravel()):
            i, j = divmod(int(k), shape[1])
            out.add("unverifiable", f"{explain.where(rows[i], cols[j])} shows {numeric[i, j]:g}, which does not match "
                    "the statistics in its sidecar", row=rows[i], column=cols[j], severity="review")
        additive_aggs = set(sc.cells.agg) <= {"count", "size", "sum"}
        # margins the file shows are protected even when the sidecar does not declare them
        row_margin = bool(sc.row_totals and sc.additive) or (row_margin and additive_aggs)
        col_margin = bool(sc.column_totals and sc.additive) or (col_margin and additive_aggs)
        if sc.cells.top is None and any(a in ("sum", "mean") for a in sc.cells.agg):
            unverifiable.append("dominance")
        side_masks = _evaluate_partial(stats, policy)
    else:
        stats = visible
        unit = ""
        if _has_magnitudes(cells, count_cols) and "dominance" not in unverifiable:
            unverifiable.append("dominance")
        if count_cols and context.person_level and policy.entity.require_for_person_level \
                and "entity" not in unverifiable:
            unverifiable.append("entity")
        side_masks = {}
    masks = dict(side_masks)
    for rule, m in vis_masks.items():
        masks[rule] = masks[rule] | m if rule in masks else m
    failing = np.zeros(shape, dtype=bool)
    for m in masks.values():
        failing |= m.reshape(shape)
    for rule, m in masks.items():
        hits = np.argwhere(m.reshape(shape) & ~blank)
        keep = out.room(rule)
        for i, j in hits[:keep]:
            k = i * shape[1] + j
            if rule not in side_masks or not side_masks[rule][k]:
                # found in the shown values only: the sidecar says the cell is no count, the values say it is
                severity, note = None, ""
                if side_agg is not None and side_agg[i, j] not in COUNT_AGGS:
                    severity = "review"
                    note = (f" (its sidecar calls it a {side_agg[i, j]}; a checker must confirm it is not a count of "
                            "people)")
                out.add(rule, explain.cell_message(rule, rows[i], cols[j], policy, unit="",
                                                   count=float(numeric[i, j])) + note,
                        row=rows[i], column=cols[j], severity=severity)
                continue
            kw = {}
            if rule == "threshold":
                kw["count"] = float(stats.count[k])
            elif rule == "nk":
                tot = stats.total[k]
                kw["share"] = float(np.nansum(stats.top[k, : policy.nk.n]) / tot) if tot else 1.0
            elif rule == "p_percent":
                t = np.nan_to_num(stats.top[k])
                kw["ratio"] = float((stats.total[k] - t[0] - t[1]) / t[0]) if t[0] else 0.0
            elif rule == "negative":
                kw["negatives"] = float(stats.negative[k])
            elif rule == "missing":
                kw["missing"] = float(stats.missing[k])
            out.add(rule, explain.cell_message(rule, rows[i], cols[j], policy, unit=unit, **kw), row=rows[i],
                    column=cols[j])
        out.count_only(rule, max(len(hits) - keep, 0))  # the rest only appear in the summary flag
    # Suppressed (blank) cells must not be recomputable from the published totals.
    row_eq = np.full(shape[0], bool(row_margin))
    col_eq = np.full(shape[1], bool(col_margin))
    if blank.any() and (row_margin or col_margin):
        for i, j in find_recomputable(blank, row_eq, col_eq):
            if sc is not None and not failing[i, j]:
                continue  # a complementary blank that passes every rule reveals nothing by being worked out
            out.add("threshold",
                    f"{explain.where(rows[i], cols[j])} is blank but can be worked out from its row and column "
                    "totals and the other published cells", row=rows[i], column=cols[j])
    # Record-level data and differencing.
    if policy.record_level.enabled:
        for reason in record_level_reasons(cells, policy.record_level, count_cols, context.entitled_row_count,
                                           table.raw):
            out.add("record_level", f"this looks like record-level data, not a table: {reason}")
    if policy.differencing.enabled:
        for name, old in released:
            old_counts = count_like_columns(old.cells)
            for d in find_differences(cells, old.cells, name, count_cols, old_counts, policy.threshold.min_count):
                out.add("differencing", (
                    f"{explain.where(prefix + d.row, d.column)} is {d.value:g} here and {d.released_value:g} in the "
                    f"{d.released_name} (row {d.released_row}); the difference, "
                    f"{abs(d.value - d.released_value):g}, describes fewer than {policy.threshold.min_count} people"),
                    row=prefix + d.row, column=d.column)
                failing[rows.index(prefix + d.row), cols.index(d.column)] = True
                masks.setdefault("differencing", np.zeros(failing.size, dtype=bool))[
                    rows.index(prefix + d.row) * shape[1] + cols.index(d.column)] = True
    rmask = np.zeros(shape, dtype=bool)
    if policy.rounding.enabled:
        rmask, found = rounding.check_published(numeric, blank, np.asarray(stats.agg, dtype=object).reshape(shape),
                                                bool(row_margin), bool(col_margin), policy.rounding.base,
                                                policy.rounding.method)
        for i, j, text in found[: out.room("rounding")]:
            out.add("rounding", f"{explain.where(rows[i], cols[j])} {text}", row=rows[i], column=cols[j])
        if rmask.any():
            masks["rounding"] = rmask.ravel()
    outcome = outcome_strings({r: m & ~blank.ravel() for r, m in masks.items()}, failing.size).reshape(shape)
    suggested = None
    if (failing & ~blank).any() or blank.any() or rmask.any():
        plan = protect(np.where(blank, 0.0, numeric), failing | blank, row_eq, col_eq,
                       policy.secondary_suppression.line_total_min if policy.secondary_suppression.enabled else 0.0,
                       min_interval=policy.secondary_suppression.min_interval
                       if policy.secondary_suppression.enabled else 0.0)
        suggested = _protected_csv(_rounded(cells, numeric, blank, stats.agg, rmask, row_margin, col_margin, policy),
                                   plan.suppressed)
    return suggested, outcome.tolist()


def _rounded(cells: pd.DataFrame, numeric: np.ndarray, blank: np.ndarray, agg: object, rmask: np.ndarray,
             row_margin: object, col_margin: object, policy: DisclosurePolicy) -> pd.DataFrame:
    """The table whose counts fail the rounding rule, as the safe version shows it: counts rounded,
    totals the sums of the rounded cells (a suggestion that only blanked them would lose the table)."""
    if not rmask.any():
        return cells
    is_count = np.isin(np.asarray(agg, dtype=object).reshape(numeric.shape), list(rounding.COUNT_AGGS)) & ~blank
    r = rounding.round_table(numeric, is_count, bool(row_margin), bool(col_margin), policy.rounding.base,
                             policy.rounding.method)
    out = cells.copy()
    for k in np.flatnonzero(is_count.any(axis=0)):
        out.isetitem(int(k), np.where(is_count[:, k], r[:, k], numeric[:, k]))
    return out


def _protected_csv(cells: pd.DataFrame, suppressed: np.ndarray) -> str:
    """The table with suppressed cells blank; whole-number columns stay whole numbers.

    Written with the csv module from column-wise formatted strings: pandas' own writer is several times
    slower on a mixed table of 100,000 cells."""
    columns = []
    for k, col in enumerate(cells.columns):
        s = cells[col]
        if pd.api.types.is_numeric_dtype(s):
            v = s.to_numpy(dtype=float)
            ok = ~np.isnan(v)
            whole = bool(np.all(np.mod(v[ok], 1) == 0)) and np.max(np.abs(v[ok]), initial=0) < 2**53
            text = np.where(ok, v, 0).astype(np.int64).astype(str) if whole else v.astype(str)
            text = np.where(ok & ~suppressed[:, k], text, "")
        else:
            text = np.where(suppressed[:, k], "", s.astype(str).to_numpy())
        columns.append(text.astype(object))
    labels = np.array([str(x) for x in cells.index], dtype=object)
    body = np.column_stack([labels] + columns) if columns else labels[:, None]
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow([cells.index.name or ""] + [str(c) for c in cells.columns])
    writer.writerows(body.tolist())
    return buf.getvalue()


def _evaluate_partial(stats: CellStats, policy: DisclosurePolicy) -> dict[str, np.ndarray]:
    """``rules.evaluate`` over the cells whose aggregate is known; 'other' cells are left alone."""
    known = stats.agg != "other"
    if known.all():
        return evaluate(stats, policy)
    size = len(stats.agg)
    sub = CellStats(count=stats.count[known], agg=stats.agg[known],
                    total=None if stats.total is None else stats.total[known],
                    top=None if stats.top is None else stats.top[known],
                    negative=None if stats.negative is None else stats.negative[known],
                    missing=None if stats.missing is None else stats.missing[known])
    out = {}
    for rule, m in (evaluate(sub, policy).items() if known.any() else []):
        full = np.zeros(size, dtype=bool)
        full[known] = m
        out[rule] = full
    return out


@functools.lru_cache(maxsize=64)
def _released_tables(path: str, _mtime_ns: int, _size: int) -> tuple[LoadedTable, ...]:
    """A released table, parsed once per check worker: released files never change (the key still
    carries mtime and size), and every new output of the project is compared with all of them."""
    kind = sniff(Path(path), Path(path).name).file_type
    return tuple(read_table_files(Path(path), kind)) if kind in TABLE_TYPES else ()


def _check_table_file(path: Path, file_type: str, sidecar: Path | None, policy: DisclosurePolicy,
                      context: CheckContext, out: _Flags, unverifiable: list[str], scanner: IdentifierScanner
                      ) -> tuple[str | None, list[list[str]] | None]:
    sc = None
    if sidecar is not None:
        try:
            sc = read_sidecar(sidecar)
        except (ValueError, OSError) as exc:
            out.add("unverifiable", f"the sidecar could not be read ({str(exc).splitlines()[0]}); checked without it",
                    severity="review")
    index_levels = sc.index_levels if sc is not None else None
    try:
        tables = read_table_files(path, file_type, index_levels)
    except Exception as exc:  # a malformed file is the researcher's to fix, not a crash
        out.add("file_type", f"the file could not be read as {file_type.upper()}: {str(exc).splitlines()[0]}")
        return None, None
    released: list[tuple[str, LoadedTable]] = []
    if policy.differencing.enabled:
        for rp in context.released_tables:
            try:
                stat = Path(rp).stat()
                released += [(f"the released table {Path(rp).name}", t)
                             for t in _released_tables(str(rp), stat.st_mtime_ns, stat.st_size)]
            except Exception:  # noqa: BLE001 - an unreadable old release is not this file's problem
                continue
        for pt in context.pending_tables:  # two unreleased tables can leave together and be subtracted
            try:
                kind = sniff(pt.path, pt.name).file_type
                released += [(f"the table {pt.name} ({pt.where})", t)
                             for t in (read_table_files(pt.path, kind) if kind in TABLE_TYPES else [])]
            except Exception:  # noqa: BLE001 - an unreadable neighbour is checked in its own right
                continue
    suggested, outcome = None, None
    if file_type == "xlsx":
        _xlsx_formula_flags(path, out)
    for t in tables:
        _table_identifier_flags(t, scanner, out)
        _formula_cell_flags(t, out)
        s, o = _check_cells(t, path, sc if len(tables) == 1 else None, policy, context, out, unverifiable, released)
        if suggested is None:
            suggested, outcome = s, o
    return suggested, outcome


def _check_text_table(text: str, path: Path, policy: DisclosurePolicy, context: CheckContext, out: _Flags,
                      unverifiable: list[str]) -> None:
    """A text output that holds a table gets the table checks (record-level above all): a CSV renamed
    .txt, a printed DataFrame or JSON records are judged by what they hold, not by their name."""
    raw = table_in_text(text)
    if raw is None:
        return
    cells, _ = _split_strings(raw, None)
    table = LoadedTable(name="", cells=cells, text=[], n_rows_raw=len(raw), raw=raw)
    _check_cells(table, path, None, policy, context, out, unverifiable, [])


def _has_magnitudes(cells: pd.DataFrame, count_cols: list[str]) -> bool:
    """Numbers that are not counts (sums, means, ...): their dominance needs the sidecar."""
    return any(pd.api.types.is_numeric_dtype(cells[c]) and c not in count_cols for c in cells.columns)


# ------------------------------------------------------------------------------------------------ notebooks


def _check_notebook(path: Path, policy: DisclosurePolicy, context: CheckContext, out: _Flags,
                    unverifiable: list[str], scanner: IdentifierScanner) -> None:
    from egress_review.checks.notebook import notebook_outputs

    if policy.files.notebooks == "refuse":
        out.add("notebook", "notebooks are not released under this policy; export the tables and figures "
                "themselves (with egress_review.sdc) instead", severity="fail")
        return
    for item in notebook_outputs(path):
        where = item.where
        if item.kind == "text":
            _identifier_flags([item.text], scanner, out, where=where)
            # printed rows are a table too (print(df.to_csv())), and encoded data is unreadable anywhere
            sub = _Flags(policy)
            sub_unv: list[str] = []
            _check_text_table(item.text, path, policy, context, sub, sub_unv)
            encoded = encoded_runs(item.text)
            if encoded:
                sub.add("encoded", f"{encoded:,} characters are an unbroken run of base64 or hex: encoded data no "
                        "checker can read; clear it before export", severity="fail")
            for f in sub.close():
                out.add(f.rule, f"{where}: {f.message}", row=f.row, column=f.column, severity=f.severity)
            unverifiable += [u for u in sub_unv if u not in unverifiable]
        elif item.kind == "table":
            cells = item.table
            _identifier_flags([str(x) for x in cells.index] + [str(c) for c in cells.columns]
                              + [str(v) for v in cells.to_numpy().ravel() if isinstance(v, str)], scanner, out, where)
            sub = _Flags(policy)
            sub_unv: list[str] = []
            lt = LoadedTable(name="", cells=cells, text=[], n_rows_raw=len(cells))
            _check_cells(lt, path, None, policy, context, sub, sub_unv, [])
            for f in sub.close():
                out.add(f.rule, f"{where}: {f.message}", row=f.row, column=f.column, severity=f.severity)
            unverifiable += [u for u in sub_unv if u not in unverifiable]
        elif item.kind == "image":
            if "image_content" not in unverifiable:
                unverifiable.append("image_content")
        elif item.kind == "unsupported":
            out.add("notebook", f"{where}: an output of type {item.text} cannot be checked; clear it before export",
                    severity="fail")


# --------------------------------------------------------------------------------------------------- entry


def check_file(path: Path, *, declared_name: str, sidecar: Path | None = None,
               policy: DisclosurePolicy | None = None, context: CheckContext | None = None) -> FileReport:
    """Check one output file for disclosure risks; never raises for a bad file (that is a 'fail')."""
    path = Path(path)
    policy = policy or load_disclosure_policy()
    context = context or CheckContext()
    out = _Flags(policy)
    unverifiable: list[str] = []
    suggested: str | None = None
    outcome: list[list[str]] | None = None
    size = path.stat().st_size
    sn = sniff(path, declared_name)
    file_type = sn.file_type
    if size > policy.files.max_bytes:
        out.add("size", f"the file is {size:,} bytes; the limit is {policy.files.max_bytes:,}", severity="fail")
    elif sn.archive:
        out.add("archive", f"the file is a {sn.archive} archive; archives are never released, export each file on "
                "its own", severity="fail")
    elif file_type == "unknown" or file_type not in policy.files.allowed_types:
        what = sn.detail or f"a {file_type} file"
        out.add("file_type", f"the content is {what}, which is not an allowed type "
                f"({', '.join(policy.files.allowed_types)})", severity="fail")
    else:
        suffix = Path(declared_name).suffix.lower().lstrip(".")
        compatible = {"csv": {"csv", "txt"}, "tsv": {"tsv", "tab", "txt", "csv"}, "txt": {"txt", "log", "text", "json", ""},
                      "md": {"md", "markdown"}, "xlsx": {"xlsx"}, "parquet": {"parquet", "pq"}, "png": {"png"},
                      "svg": {"svg"}, "pdf": {"pdf"}, "ipynb": {"ipynb"}}
        if suffix and suffix not in compatible.get(file_type, {file_type}):
            out.add("file_type", f"the name ends in .{suffix} but the content is {file_type.upper()}; it was checked "
                    f"as {file_type.upper()}", severity="review")
        scanner = IdentifierScanner(policy.identifier, context.identifier_values, context.non_identifier_values)
        if file_type in TABLE_TYPES:
            suggested, outcome = _check_table_file(path, file_type, sidecar, policy, context, out, unverifiable,
                                                   scanner)
        elif file_type in TEXT_TYPES:
            text = path.read_bytes().decode("utf-8", errors="replace")
            lines = text.splitlines()
            _identifier_flags(lines, scanner, out, places=lambda n: (f"line {n + 1}", ""))
            if file_type != "svg":
                _check_text_table(text, path, policy, context, out, unverifiable)
                encoded = encoded_runs(text)
                if encoded:
                    out.add("encoded", f"{encoded:,} characters are an unbroken run of base64 or hex: encoded data "
                            "no checker can read; export readable text", severity="fail")
            if file_type == "svg":
                low = text.lower()
                if "<script" in low or "javascript:" in low or "<foreignobject" in low:
                    out.add("file_type", "the SVG contains scripts or embedded HTML; export a plain image",
                            severity="fail")
                unverifiable.append("image_content")
        elif file_type == "png":
            # Metadata chunks are no reason to refuse: release strips them (strip_image_metadata). A PNG whose
            # chunks do not parse cannot be stripped, so it fails.
            try:
                png_metadata_chunks(path.read_bytes())
            except ValueError as exc:
                out.add("file_type", f"the PNG is damaged: {exc}", severity="fail")
            unverifiable.append("image_content")
        elif file_type == "pdf":
            raw = path.read_bytes().decode("latin-1")
            lines = raw.splitlines()
            _identifier_flags(lines, scanner, out, places=lambda n: (f"line {n + 1}", ""))
            unverifiable.append("pdf_content")
        elif file_type == "ipynb":
            _check_notebook(path, policy, context, out, unverifiable, scanner)
    replay = None
    if context.replay is not None and file_type in TABLE_TYPES:
        replay = replay_summary(context.replay)
        made = replay_message(context.replay)
        quiet = context.replay.status == NOT_REPLAYABLE and policy.replay.not_replayable == "note"
        if made is not None and not quiet:
            out.add(made[0], made[2], severity=made[1])
        if context.replay.status == NOT_REPLAYABLE and not quiet:
            unverifiable.append("not_replayable")
    flags = out.close()
    return FileReport(verdict=_verdict(flags, unverifiable), file_type=file_type, flags=flags,
                      unverifiable=unverifiable, suggested_csv=suggested, cell_outcome=outcome, replay=replay)


def report_json(report: FileReport) -> str:
    return json.dumps(report.model_dump(mode="json"), ensure_ascii=False, indent=2)
