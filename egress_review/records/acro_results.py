"""Each release as an ACRO ``results.json`` (+ ACRO's ``checksums/<name>.txt``), so SACRO-Viewer and
``acro.record.load_records`` read a Sandkasse release like an ACRO session.

Written into the release folder beside ``manifest.json`` before the manifest is signed, and the
manifest names it with its SHA-256 (``records``), so the signature covers it. It holds what the
checkers cleared and nothing else: the service's verdict, per-rule finding counts, the approvers;
never the researcher's free text (context, controls, comments are written in the sandbox and were
not reviewed as outputs) nor cell values.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from egress_review.models import ReleaseRequest, RequestFile
from egress_review.report_view import metadata_report

RESULTS_NAME = "results.json"
CHECKSUMS_DIR = "checksums"
# The results.json format version: acro's own loader accepts only its own version, and the one the
# project tests against is pinned in pyproject.toml (acro==1.0.2).
ACRO_FORMAT_VERSION = "1.0.2"
TABLE_TYPES = frozenset({"csv", "tsv", "xlsx", "parquet"})
RESERVED_NAMES = frozenset({RESULTS_NAME})
_STATUS = {"pass": "pass", "fail": "fail"}  # review, unverifiable -> ACRO's "review"


def is_reserved(name: str) -> bool:
    """Would an output of this name overwrite the release's own record?"""
    return name.strip().lower() in RESERVED_NAMES


def _record(f: RequestFile, req: ReleaseRequest, release_id: str, approvers: list[str]) -> dict[str, Any]:
    v = f.current_version
    assert v is not None
    meta = metadata_report(v.check_report)
    counts: dict[str, int] = {}
    for rc in meta["rule_counts"]:
        counts[rc["rule"]] = counts.get(rc["rule"], 0) + int(rc["count"])
    status = _STATUS.get(v.verdict, "review")
    summary = f"Sandkasse automatic checks: {v.verdict}"
    if counts:
        summary += " (" + ", ".join(f"{r}: {n}" for r, n in sorted(counts.items())) + ")"
    summary += f"; approved by {', '.join(approvers)}"
    return {
        "uid": f.name,
        "status": status,
        "type": "table" if v.detected_type in TABLE_TYPES else "custom",
        "properties": {"method": "sandkasse-egress-review", "request_id": req.id, "release_id": release_id,
                       "version": v.number},
        "files": [{"name": f.name, "sdc": {"summary": counts, "cells": {}}}],
        "outcome": {},
        "command": "",
        "summary": summary,
        "timestamp": (v.checked_at or v.created_at).isoformat(),
        "comments": [],
        "exception": "" if status == "pass" else f"released after review by {', '.join(approvers)}",
        "fair": {},
    }


def _own_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("sandkasse")
    except PackageNotFoundError:
        return "unknown"


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def write_results(folder: Path, req: ReleaseRequest, release_id: str, files: list[RequestFile],
                  approvers: dict[str, list[str]]) -> dict[str, Any]:
    """Write ``results.json`` and ``checksums/`` for the released ``files`` (already in ``folder``);
    returns the manifest entry naming it. Refuses to overwrite a file of the same name."""
    document = {
        "version": ACRO_FORMAT_VERSION,
        "tool": {"@type": "SoftwareApplication", "name": "Sandkasse egress review",
                 "url": "https://github.com/sandkasse/sandkasse", "version": _own_version()},
        "results": {f.name: _record(f, req, release_id, approvers[f.id]) for f in files},
    }
    target = folder / RESULTS_NAME
    data = (json.dumps(document, indent=4, ensure_ascii=False) + "\n").encode()
    with target.open("xb") as fh:  # "x": an output of this name would have been overwritten
        fh.write(data)
    checksums = folder / CHECKSUMS_DIR
    checksums.mkdir(mode=0o750)
    for name in [f.name for f in files] + [RESULTS_NAME]:
        (checksums / f"{name}.txt").write_text(_sha256(folder / name), encoding="utf-8")
    return {"name": RESULTS_NAME, "sha256": hashlib.sha256(data).hexdigest(), "size": len(data),
            "format": f"acro-results/{ACRO_FORMAT_VERSION}"}
