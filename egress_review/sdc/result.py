"""What every wrapper returns: the table, its per-cell outcome, a summary, and ``export``."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pandas as pd

from egress_review.checks.api import Flag
from egress_review.checks.policy import DisclosurePolicy
from egress_review.checks.sidecar import Sidecar, SidecarCells, file_sha256, label_text, sidecar_path
from egress_review.export_names import check_name, table_file_name


@dataclass
class Summary:
    status: str  # pass | review | fail
    reasons: list[str]
    flags: list[Flag] = field(default_factory=list)

    def __str__(self) -> str:
        if not self.reasons:
            return self.status
        return self.status + ": " + "; ".join(self.reasons)

    def __repr__(self) -> str:
        return f"Summary({self})"

    def __eq__(self, other: object) -> bool:
        if isinstance(other, str):
            return self.status == other
        return isinstance(other, Summary) and (self.status, self.reasons) == (other.status, other.reasons)


def _none_if_nan(a: np.ndarray) -> list:
    return [None if (isinstance(x, float) and np.isnan(x)) else (int(x) if float(x).is_integer() and abs(x) < 2**53
                                                                  else float(x)) for x in a.tolist()]


@dataclass
class SDCResult:
    """A checked output. ``table`` is what pandas returns for the call; ``protected`` is the same table with
    every failing cell (and the complementary cells that protect them from the margins) blanked."""

    table: pd.DataFrame
    outcome: pd.DataFrame
    summary: Summary
    protected: pd.DataFrame
    suppressed: pd.DataFrame  # bool: blank in ``protected``
    command: str
    policy: DisclosurePolicy
    cells: dict | None = None  # per-cell statistics for the sidecar (flattened, row-major)
    aggfuncs: list[str] = field(default_factory=list)
    entity: str | None = None
    margins: bool = False
    margins_name: str = "All"
    secondary: bool = False
    dof: int | None = None
    kind: str = "table"
    # complementary cells (row, column) -> why they were suppressed although they pass every rule
    secondary_reasons: dict = field(default_factory=dict)
    row_totals: bool = False
    column_totals: bool = False
    additive: bool = False
    # the export's file name: ``name`` as the researcher gave it (``r.name = "x.csv"`` or ``name=`` on the
    # call), else ``default_name``, made from the call (``crosstab_unit_gender``)
    name: str | None = None
    default_name: str = ""
    # how the server can make this table again from the extract (egress_review.sdc.provenance), or why not
    replay: dict | None = None
    replay_problem: str | None = "it was not made by a table wrapper"

    @property
    def file_name(self) -> str:
        """The name this result is exported under: ``name`` or ``default_name``, with ``.csv`` unless a
        table suffix is given."""
        return table_file_name(self.name or self.default_name or self.command or "table")

    def named(self, name: str | None, default: str) -> SDCResult:
        self.default_name = default
        if name is not None:
            self.name = check_name(name)
        return self
    # {"base": 5, "method": "nearest"} when the protected table's counts are rounded
    rounding: dict | None = None

    @property
    def status(self) -> str:
        return self.summary.status

    def _repr_html_(self) -> str:  # how Jupyter shows it: the protected table and the verdict
        return f"<p><b>{self.summary}</b></p>" + self.protected._repr_html_()

    def __repr__(self) -> str:
        return f"{self.summary}\n{self.protected!r}"

    def flat_table(self, frame: pd.DataFrame) -> pd.DataFrame:
        """The table as written to a file: one header row, one column per row-label level."""
        out = frame.copy()
        out.columns = [label_text(c) for c in out.columns]
        names = [n if n is not None else (f"level_{i}" if out.index.nlevels > 1 else "") for i, n in
                 enumerate(out.index.names)]
        if isinstance(out.index, pd.MultiIndex):
            labels = pd.DataFrame([[label_text(x) for x in t] for t in out.index], columns=names)
        else:
            labels = pd.DataFrame({names[0]: [label_text(x) for x in out.index]})
        body = out.reset_index(drop=True)
        body.columns = [c if c not in labels.columns else f"{c} " for c in body.columns]
        return pd.concat([labels, body], axis=1)

    def export(self, path: str | Path, *, protected: bool = True) -> tuple[Path, Path]:
        """Write the table (CSV, or XLSX/Parquet by extension) and its sidecar ``<path>.sdc.json``.

        By default the protected table is written, so a failing cell never reaches the file; pass
        ``protected=False`` to export the raw table and argue an exception with the checkers.
        """
        path = Path(path)
        frame = self.protected if protected else self.table
        flat = self.flat_table(frame)
        suffix = path.suffix.lower()
        if suffix == ".xlsx":
            flat.to_excel(path, index=False)
            fmt = "xlsx"
        elif suffix == ".parquet":
            flat.astype({c: str for c in flat.columns[: frame.index.nlevels]}).to_parquet(path, index=False)
            fmt = "parquet"
        else:
            flat.to_csv(path, index=False, sep="\t" if suffix == ".tsv" else ",")
            fmt = "tsv" if suffix == ".tsv" else "csv"
        row_labels = [" / ".join(flat.iloc[i, : frame.index.nlevels].astype(str)) for i in range(len(flat))]
        cells = None
        if self.cells is not None:
            c = dict(self.cells)
            sup = self.suppressed.to_numpy(dtype=bool).ravel() if protected else np.zeros(frame.size, dtype=bool)
            cells = SidecarCells(
                agg=list(c["agg"]), count=_none_if_nan(np.asarray(c["count"], dtype=float)),
                rows=[int(x) for x in np.nan_to_num(np.asarray(c["rows"], dtype=float))],
                total=None if c.get("total") is None else _none_if_nan(np.asarray(c["total"], dtype=float)),
                top=None if c.get("top") is None else [_none_if_nan(r) for r in np.asarray(c["top"], dtype=float)],
                negative=None if c.get("negative") is None else [int(x) for x in np.nan_to_num(c["negative"])],
                missing=None if c.get("missing") is None else [int(x) for x in np.nan_to_num(c["missing"])],
                suppressed=[bool(x) for x in sup], margin=[bool(x) for x in np.asarray(c["margin"]).ravel()])
        sc = Sidecar(kind=self.kind, command=self.command, aggfunc=self.aggfuncs, entity=self.entity,
                     unit="entities" if self.entity else "rows", table_file=path.name, sha256=file_sha256(path),
                     file_format=fmt, index_levels=frame.index.nlevels, shape=frame.shape,
                     row_labels=row_labels, column_labels=[label_text(x) for x in frame.columns],
                     margins=self.margins, margins_name=self.margins_name, secondary_suppression=self.secondary,
                     row_totals=self.row_totals, column_totals=self.column_totals, additive=self.additive,
                     policy=self.policy.model_dump(mode="json"), cells=cells, dof=self.dof,
                     rounding=self.rounding if protected else None,
                     replay=None if self.replay is None else {**self.replay, "protected": protected},
                     replay_problem=None if self.replay is not None else self.replay_problem,
                     created_at=datetime.now(timezone.utc).isoformat(timespec="seconds"))
        side = sidecar_path(path)
        side.write_text(json.dumps(sc.model_dump(mode="json"), ensure_ascii=False), encoding="utf-8")
        return path, side
