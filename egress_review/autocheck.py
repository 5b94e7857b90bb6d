"""Automatic disclosure checks of one uploaded file, via the check engine (:mod:`egress_review.checks`).

The report (the engine's ``FileReport`` as JSON) is stored with the file version, so checkers and the
researcher see the same verdict the service computed. Large files are checked in a child process so
that a big table cannot push the service's own memory up; small ones in process, which is fast.
"""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

VERDICTS = ("pass", "review", "fail")


@dataclass
class CheckInput:
    path: Path
    declared_name: str
    sidecar: Path | None = None
    identifier_values: set[str] = field(default_factory=set)
    released_tables: list[Path] = field(default_factory=list)
    entitled_row_count: int | None = None
    person_level: bool = True


@dataclass
class CheckOutcome:
    verdict: str
    report: dict[str, Any]

    @property
    def report_json(self) -> str:
        return json.dumps(self.report, sort_keys=True, default=str)

    @property
    def redacted_json(self) -> str:
        """The report without anything that quotes the file's content (messages, suggested table)."""
        flags = [
            {k: f.get(k) for k in ("rule", "severity", "row", "column")}
            for f in self.report.get("flags", [])
            if isinstance(f, dict)
        ]
        return json.dumps(
            {"verdict": self.verdict, "file_type": self.report.get("file_type"), "flags": flags,
             "unverifiable": list(self.report.get("unverifiable", []) or []), "redacted": True},
            sort_keys=True, default=str,
        )


def _unavailable(reason: str) -> CheckOutcome:
    # No automatic verdict is never a pass: the file goes to the checkers marked as unchecked.
    return CheckOutcome(
        "review",
        {"verdict": "review", "flags": [], "unverifiable": [f"automatic checks unavailable: {reason}"]},
    )


def run_checks(item: CheckInput, in_process_max_bytes: int) -> CheckOutcome:
    try:
        if item.path.stat().st_size > in_process_max_bytes:
            return _run_in_child(item)
        return _run_in_process(item)
    except Exception as exc:  # the engine is another team's code: never let it take the upload down
        log.exception("automatic checks failed on %s", item.declared_name)
        return _unavailable(f"{exc.__class__.__name__}: {exc}")


def _run_in_process(item: CheckInput) -> CheckOutcome:
    try:
        from egress_review.checks import CheckContext, check_file
    except ImportError as exc:
        return _unavailable(str(exc))
    context = CheckContext(
        identifier_values=item.identifier_values,
        released_tables=item.released_tables,
        entitled_row_count=item.entitled_row_count,
        person_level=item.person_level,
    )
    report = check_file(item.path, declared_name=item.declared_name, sidecar=item.sidecar, context=context)
    data = report.model_dump(mode="json")
    return CheckOutcome(_verdict(data), data)


def _run_in_child(item: CheckInput) -> CheckOutcome:
    # The child sees no identifier values or earlier releases: the reviewer is told what is missing.
    cmd = [sys.executable, "-m", "egress_review.checks", str(item.path), "--json"]
    if item.sidecar is not None:
        cmd += ["--sidecar", str(item.sidecar)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    if proc.returncode not in (0, 1, 2) or not proc.stdout.strip():
        return _unavailable(f"check process exited {proc.returncode}: {proc.stderr.strip()[-500:]}")
    data = json.loads(proc.stdout)
    data.setdefault("unverifiable", [])
    data["unverifiable"].append("large file checked without project identifiers or earlier releases")
    return CheckOutcome(_verdict(data), data)


def _verdict(data: dict[str, Any]) -> str:
    verdict = str(data.get("verdict", "review"))
    return verdict if verdict in VERDICTS else "review"
