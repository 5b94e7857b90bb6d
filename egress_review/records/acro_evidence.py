"""ACRO's outcomes for a request's outputs, from the ``results.json`` the researcher attached as a
supporting file (``request_export_acro``): evidence shown to checkers, never an authority. The
service's own checks run on every output whatever ACRO said, and ACRO's status never changes a
verdict or a decision; like a sidecar, it is the researcher's claim about their files."""

from __future__ import annotations

import json

from egress_review.models import ReleaseRequest
from egress_review.quarantine.store import QuarantineStore
from egress_review.records.acro_import import RESULTS_NAME, AcroFolderError, AcroOutput, by_file, parse_results
from egress_review.states import FileKind

MAX_RESULTS_BYTES = 4 * 1024 * 1024


def acro_outcomes(store: QuarantineStore, req: ReleaseRequest) -> dict[str, AcroOutput]:
    """ACRO's record per output file id (empty if the request carries no ACRO record). Only for a
    caller that may read the request's content (``permissions.may_read_content``): it quotes labels."""
    record = next((f for f in req.files if f.kind == FileKind.SUPPORTING and not f.withdrawn
                   and f.name == RESULTS_NAME and f.current_version is not None), None)
    if record is None:
        return {}
    v = record.current_version
    if v.size > MAX_RESULTS_BYTES:
        return {}
    try:
        records = parse_results(json.loads(b"".join(store.read(v.blob, v.id, v.wrapped_key))))
    except (AcroFolderError, ValueError):
        return {}
    named = by_file(records)
    return {f.id: named[f.name] for f in req.files
            if f.kind == FileKind.OUTPUT and not f.withdrawn and f.name in named}
