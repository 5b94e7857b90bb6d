"""A check report as seen by someone who may not read the file's content
(:func:`egress_review.permissions.may_read_content` is false): the verdict, the file type, how many
findings each rule made and which checks could not run. Never messages (they quote cell values),
row or column labels (an index column can be the data itself), per-cell outcomes or the suggested
table."""

from __future__ import annotations

import json
import re
from collections import Counter
from typing import Any

# Unverifiable entries are check names ("dominance", "image_content"); anything longer is prose that
# may quote the file, and is counted instead of shown.
_CHECK_NAME = re.compile(r"^[a-z_]{1,40}$")


def metadata_report(stored: str | dict[str, Any] | None) -> dict[str, Any]:
    """From the stored (redacted) or the full report: what an outside viewer may see."""
    report = json.loads(stored or "{}") if not isinstance(stored, dict) else stored
    counts: Counter[tuple[str, str]] = Counter()
    for f in report.get("flags") or []:
        if isinstance(f, dict):
            counts[(str(f.get("rule", "")), str(f.get("severity", "review")))] += 1
    unverifiable = [str(u) for u in report.get("unverifiable") or []]
    out: dict[str, Any] = {
        "verdict": report.get("verdict"),
        "file_type": report.get("file_type"),
        "rule_counts": [{"rule": r, "severity": s, "count": n} for (r, s), n in sorted(counts.items())],
        "unverifiable": [u for u in unverifiable if _CHECK_NAME.match(u)],
        "content_withheld": True,
    }
    other = sum(1 for u in unverifiable if not _CHECK_NAME.match(u))
    if other:
        out["unverifiable_other"] = other
    return out
