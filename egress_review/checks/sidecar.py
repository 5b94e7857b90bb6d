"""The sidecar JSON written next to an exported table (``<file>.sdc.json``).

It carries, per cell, what the server needs to re-run every cell rule without the microdata: units
counted (people when an entity column was given), rows, total, the largest contributions, negative and
missing value counts, and which cells the export left blank. The sidecar itself is never released: the
largest contributions are exactly what must not leave.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field

SIDECAR_SUFFIX = ".sdc.json"
FORMAT = "sandkasse-sdc-sidecar"


class SidecarCells(BaseModel):
    """Columnar per-cell statistics in row-major order over the exported table's cells."""

    agg: list[str]
    count: list[float | None]
    rows: list[int]
    total: list[float | None] | None = None
    top: list[list[float | None]] | None = None
    negative: list[int] | None = None
    missing: list[int] | None = None
    suppressed: list[bool]
    margin: list[bool]


class ReplayFilter(BaseModel):
    """One row filter applied through ``egress_review.sdc.where``: ``column op value``."""

    column: str
    op: Literal["==", "!=", "in", "not in", "<", "<=", ">", ">="] = "=="
    value: str | int | float | bool | None | list[str | int | float | bool | None] = None


class ReplaySpec(BaseModel):
    """How to make the table again from the project's extract (``egress_review.replay``): the extract file
    and its SHA-256 when it was read, the filters, the call and its arguments (columns by name)."""

    source: str  # the extract's file name in the project's data folder
    source_sha256: str
    filters: list[ReplayFilter] = []
    call: Literal["crosstab", "pivot_table", "describe_by"]
    args: dict = Field(default_factory=dict)
    entity: str | None = None
    protected: bool = True  # the protected table (failing cells blank) was exported


class Sidecar(BaseModel):
    format: Literal["sandkasse-sdc-sidecar"] = FORMAT
    version: int = 1
    kind: Literal["table", "regression"] = "table"
    command: str
    aggfunc: list[str] = []
    entity: str | None = None
    unit: Literal["entities", "rows"] = "rows"
    table_file: str
    sha256: str
    file_format: str = "csv"
    index_levels: int = 1
    shape: tuple[int, int]
    row_labels: list[str]
    column_labels: list[str]
    margins: bool = False
    margins_name: str = "All"
    # The last column holds row totals / the last row holds column totals, and the cells add up to them
    # (counts and sums): the equations secondary suppression protects.
    row_totals: bool = False
    column_totals: bool = False
    additive: bool = False
    # True when the wrappers protected the margins' equations (secondary suppression was applied).
    secondary_suppression: bool = False
    policy: dict = Field(default_factory=dict)
    cells: SidecarCells | None = None
    dof: int | None = None
    # set when the table's counts were rounded (base, method): the shown counts are the rounded ones
    rounding: dict | None = None
    # Added in version 1 without a bump (older sidecars simply have none): the replay specification, or
    # why the wrappers could not describe the table (then a checker sees "not replayable").
    replay: ReplaySpec | None = None
    replay_problem: str | None = None
    created_at: str = ""
    generator: str = "egress_review.sdc"


def sidecar_path(table_path: Path) -> Path:
    return Path(str(table_path) + SIDECAR_SUFFIX)


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def read_sidecar(path: Path) -> Sidecar:
    # pydantic-core parses and validates in one pass, faster than json.loads on the per-cell arrays
    return Sidecar.model_validate_json(Path(path).read_text(encoding="utf-8"))


def label_text(label: object) -> str:
    """How a row or column label is written in flags, sidecars and flattened headers."""
    if isinstance(label, tuple):
        parts = [label_text(x) for x in label]
        while len(parts) > 1 and parts[-1] == "":
            parts.pop()  # pandas pads margin labels: ("All", "") -> "All"
        return " / ".join(parts)
    if label is None:
        return ""
    if isinstance(label, float):
        if label != label:
            return "NaN"
        if label.is_integer():
            return str(int(label))
    return str(label)
