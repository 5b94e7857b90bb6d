"""Reading an ACRO output folder (``results.json`` + files, as ``acro.ACRO.finalise(path, "json")``
writes it, from Python, R or Stata).

Standard library only: the researcher client uses it in the notebook image. The server parses the
same ``results.json`` (uploaded as a supporting file) with :func:`parse_results` to show ACRO's
outcomes to checkers as evidence; its own checks still decide.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

RESULTS_NAME = "results.json"
# ACRO names the outputs it writes only for the checker (its session summary) like this.
DONT_RELEASE = "DONT_RELEASE"
MAX_CELLS_SHOWN = 200


class AcroFolderError(ValueError):
    """The folder is not an ACRO output folder ACRO itself would write."""


@dataclass
class AcroCell:
    row: str
    column: str
    reasons: str


@dataclass
class AcroOutput:
    """One record of ``results.json`` (ACRO's ``Record``)."""

    uid: str
    status: str
    type: str
    command: str
    summary: str
    exception: str
    comments: list[str]
    files: list[str]
    cells: list[AcroCell] = field(default_factory=list)  # the cells ACRO did not mark "ok"
    cell_count: int = 0

    @property
    def for_checker_only(self) -> bool:
        return DONT_RELEASE in self.uid


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _cells(outcome: Any) -> tuple[list[AcroCell], int]:
    """ACRO's ``outcome`` is ``DataFrame.to_json()``: ``{column: {row: "ok" | "Rule; Rule; "}}``."""
    if not isinstance(outcome, dict):
        return [], 0
    cells, n = [], 0
    for column, rows in outcome.items():
        if not isinstance(rows, dict):
            continue
        for row, reasons in rows.items():
            n += 1
            text = str(reasons).strip().rstrip(";").strip()
            if text and text != "ok" and len(cells) < MAX_CELLS_SHOWN:
                cells.append(AcroCell(str(row), str(column), text))
    return cells, n


def parse_results(data: Any) -> dict[str, AcroOutput]:
    """The records of a parsed ``results.json`` by uid; raises :class:`AcroFolderError` if it is not one."""
    if not isinstance(data, dict) or not isinstance(data.get("results"), dict) or "version" not in data:
        raise AcroFolderError("not an ACRO results.json (needs 'version' and 'results')")
    out: dict[str, AcroOutput] = {}
    for uid, rec in data["results"].items():
        if not isinstance(rec, dict):
            raise AcroFolderError(f"record {uid!r} is not an object")
        files = [str(f["name"]) for f in rec.get("files") or [] if isinstance(f, dict) and "name" in f]
        cells, n = _cells(rec.get("outcome"))
        out[str(uid)] = AcroOutput(
            uid=str(uid), status=_text(rec.get("status")), type=_text(rec.get("type")),
            command=_text(rec.get("command")), summary=_text(rec.get("summary")),
            exception=_text(rec.get("exception")),
            comments=[str(c) for c in rec.get("comments") or [] if isinstance(c, str)],
            files=files, cells=cells, cell_count=n,
        )
    return out


def by_file(records: dict[str, AcroOutput]) -> dict[str, AcroOutput]:
    """Each file name with the record that made it."""
    return {name: rec for rec in records.values() for name in rec.files}


@dataclass
class AcroFolder:
    results: Path
    records: dict[str, AcroOutput]
    outputs: list[tuple[Path, AcroOutput]]  # files to release
    supporting: list[tuple[Path, AcroOutput]]  # ACRO's files for the checker only (never leave)


def read_folder(folder: str | Path) -> AcroFolder:
    folder = Path(folder)
    results = folder / RESULTS_NAME
    if not results.is_file():
        raise AcroFolderError(f"{folder} has no {RESULTS_NAME}: run acro.finalise(folder, 'json') first")
    try:
        records = parse_results(json.loads(results.read_text(encoding="utf-8")))
    except json.JSONDecodeError as exc:
        raise AcroFolderError(f"{results} is not JSON: {exc}") from None
    outputs, supporting = [], []
    for rec in records.values():
        for name in rec.files:
            path = folder / name
            # ACRO writes plain names into its own folder; anything else is not ACRO's doing.
            if Path(name).name != name or not path.is_file():
                raise AcroFolderError(f"record {rec.uid} names {name!r}, which is not a file in {folder}")
            (supporting if rec.for_checker_only else outputs).append((path, rec))
    if not outputs:
        raise AcroFolderError(f"{results} lists no output to release")
    return AcroFolder(results, records, outputs, supporting)


def describe(rec: AcroOutput) -> tuple[str, str]:
    """(context, controls) for a file from its ACRO record, for the request's required texts."""
    context = f"ACRO {rec.type or 'output'} {rec.uid}: {rec.command}".strip()
    if rec.comments:
        context += " — " + " ".join(rec.comments)
    controls = f"ACRO status {rec.status or 'unknown'}: {rec.summary.strip()}"
    if rec.exception:
        controls += f" Exception requested: {rec.exception}"
    return context, controls
