"""A released file is handed out the same way by the API and the web UI (egress_review.release.download):
only a file of the release that is still on disk, every download an audit event with the file's hash, and
an attachment the browser does not sniff, carrying the hash the manifest signed."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from sqlalchemy import select

from egress_review.audit import Actor
from egress_review.errors import NotFound
from egress_review.models import EgressAuditEvent, Release
from egress_review.release.download import file_response, record_download
from egress_review.states import RequestState
from tests.unit.egress.egress_factories import SAFE_CSV

pytestmark = pytest.mark.unit

ANNA = Actor("anna", "researcher", "test")


def _downloads(s) -> list[dict]:
    events = s.execute(select(EgressAuditEvent).where(EgressAuditEvent.action == "release.download")).scalars()
    return [json.loads(e.detail) for e in events]


def test_a_download_is_recorded_with_the_files_hash(env):
    req_id = env.make_request(RequestState.RELEASED)
    with env.svc.sessions() as s:
        rel = s.execute(select(Release).where(Release.request_id == req_id)).scalar_one()
        path, sha256 = record_download(s, env.svc.audit, rel, "table.csv", ANNA, via="web")
        s.commit()
        assert path.read_bytes() == SAFE_CSV.encode() and sha256 == hashlib.sha256(SAFE_CSV.encode()).hexdigest()
        assert _downloads(s) == [{"name": "table.csv", "sha256": sha256, "project": "alpha", "via": "web"}]
    headers = file_response(path, "table.csv", sha256).headers
    assert headers["x-content-type-options"] == "nosniff" and headers["x-sandkasse-sha256"] == sha256
    assert headers["content-disposition"] == "attachment; filename*=UTF-8''table.csv"


def test_a_file_not_in_the_release_or_gone_from_disk_is_not_found_and_not_recorded(env):
    req_id = env.make_request(RequestState.RELEASED)
    with env.svc.sessions() as s:
        rel = s.execute(select(Release).where(Release.request_id == req_id)).scalar_one()
        with pytest.raises(NotFound, match="no such file"):
            record_download(s, env.svc.audit, rel, "other.csv", ANNA)
        Path(rel.files[0].path).unlink()
        with pytest.raises(NotFound, match="missing from the release area"):
            record_download(s, env.svc.audit, rel, "table.csv", ANNA)
        assert _downloads(s) == []
