"""Standard records (issue 16.4): an ACRO output folder written by the real ``acro`` package is
imported as a release request and its outcomes are shown to checkers as evidence only; each release
carries an ACRO ``results.json`` that acro's own loader reads back; each release's provenance exports
as a Five Safes RO-Crate that the ``rocrate`` library reads back."""

from __future__ import annotations

import hashlib
import io
import json
import logging
import re
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from egress_review.client import request_export_acro
from egress_review.client.cli import main
from egress_review.errors import Conflict
from egress_review.models import Release, ReleaseRequest
from egress_review.records import acro_results
from egress_review.release.verify_cli import verify_release
from egress_review.states import FileKind, RequestState
from tests.unit.egress.egress_factories import SAFE_CSV, project_token, researcher
from tests.unit.egress.test_egress_client import live  # noqa: F401  (fixture: the service over loopback)

pytestmark = pytest.mark.unit


@pytest.fixture(scope="module")
def acro_folder(tmp_path_factory) -> Path:
    """What a researcher's ``acro.finalise(folder, "json")`` leaves: one crosstab with two cells under
    ACRO's threshold, one safe crosstab, and ACRO's checker-only session summary."""
    import acro

    logging.getLogger("acro").setLevel(logging.WARNING)
    work = tmp_path_factory.mktemp("acro")
    rng = np.random.default_rng(7)
    df = pd.DataFrame({"area": rng.choice(["Grefsen", "Sagene", "Frogner"], 600),
                       "sex": rng.choice(["K", "M"], 600)})
    df.loc[:1, "area"] = "Nydalen"  # two people: ACRO's MinimumThresholdCheck fails these cells
    session = acro.ACRO(suppress=False)
    session.crosstab(df.area, df.sex)
    session.crosstab(df[df.area != "Nydalen"].area, df[df.area != "Nydalen"].sex)
    folder = work / "acro_out"
    import os

    cwd = os.getcwd()
    os.chdir(work)  # acro writes scratch files into the working directory
    try:
        session.finalise(str(folder), "json")
    finally:
        os.chdir(cwd)
    return folder


def _release(env, req_id) -> Release:
    from sqlalchemy import select

    with env.svc.sessions() as s:
        rel = s.execute(select(Release).where(Release.request_id == req_id)).scalar_one()
        _ = rel.files
        return rel


def _web_client(env):
    from tests.unit.web.test_web_ui import _client

    return _client(env)


def test_acro_folder_imports_and_the_checker_sees_acros_cell_outcomes(env, live, acro_folder, capsys):
    from tests.unit.web.test_web_ui import _login

    result = request_export_acro(acro_folder, context="people by area and sex", controls="ACRO checked")
    assert [f.name for f in result.files] == ["output_0_0.csv", "output_1_0.csv"]
    assert result.state == "submitted"
    req = env.get(result.request_id)
    kinds = {f.name: f.kind for f in req.files}
    assert kinds["results.json"] == "supporting" and kinds["session_summary.json"] == "supporting"
    first = next(f for f in req.files if f.name == "output_0_0.csv")
    assert "ACRO table output_0" in first.context and "ACRO status fail" in first.controls
    # The service's own checks ran on every output, whatever ACRO said.
    assert all(f.current_version.verdict != "pending" for f in req.files)
    with _web_client(env) as c:
        _login(c, "chris", ["output-checker"])
        page = c.get(f"/requests/{req.id}").text
        blocks = re.findall(r'<details class="acro".*?</details>', page, re.S)
        assert len(blocks) == 2
        assert "acro-fail" in blocks[0] and "acro-pass" in blocks[1]
        flagged = re.findall(r"<tr><td>([^<]+)</td><td>([^<]+)</td><td>([^<]+)</td></tr>", blocks[0])
        assert flagged == [("Nydalen", "K", "MinimumThresholdCheck"), ("Nydalen", "M", "MinimumThresholdCheck")]
        # Outside the sandbox a researcher reads no content, ACRO's labels included.
        _login(c, "alice", ["researcher"])
        assert 'class="acro"' not in c.get(f"/requests/{req.id}").text


def test_acros_pass_is_evidence_never_authority(env, live, acro_folder, tmp_path):
    """A results.json edited to say every output passed changes no verdict: the service still flags
    the two small cells ACRO had found."""
    import shutil

    forged = tmp_path / "forged"
    shutil.copytree(acro_folder, forged)
    doc = json.loads((forged / "results.json").read_text())
    for rec in doc["results"].values():
        rec["status"] = "pass"
        rec["outcome"] = {}
        rec["summary"] = "<script>alert(1)</script> all safe"
    (forged / "results.json").write_text(json.dumps(doc))
    result = request_export_acro(forged, show=False)
    verdict = {f.name: f for f in result.files}["output_0_0.csv"]
    assert verdict.verdict != "pass" and verdict.flags
    from tests.unit.web.test_web_ui import _login

    with _web_client(env) as c:  # the checker sees ACRO's claim, as text, beside the service's verdict
        _login(c, "chris", ["output-checker"])
        page = c.get(f"/requests/{result.request_id}").text
        assert "acro-pass" in page and "&lt;script&gt;alert(1)" in page and "<script>alert" not in page


def test_cli_acro_option(env, live, acro_folder, capsys):
    assert main(["--acro", str(acro_folder)]) == 0
    assert "output_0_0.csv: automatic checks say" in capsys.readouterr().out
    assert main(["--acro", str(acro_folder.parent)]) == 1  # no results.json there
    assert "results.json" in capsys.readouterr().err


def test_release_writes_an_acro_results_json_that_acro_loads_and_the_manifest_signs(env):
    from acro.record import load_records

    req_id = env.make_request(RequestState.RELEASED, files={"table.csv": SAFE_CSV.encode()})
    rel = _release(env, req_id)
    folder = env.svc.release_dir / "alpha" / rel.id
    records = load_records(str(folder))
    rec = records.get("table.csv")
    verdict = env.get(req_id).files[0].current_version.verdict
    assert rec.status == {"pass": "pass", "fail": "fail"}.get(verdict, "review") and rec.output_type == "table"
    assert "approved by chris, cora" in rec.summary and f"checks: {verdict}" in rec.summary
    assert rec.exception == ("" if verdict == "pass" else "released after review by chris, cora")
    pd.testing.assert_frame_equal(rec.output[0], pd.read_csv(folder / "table.csv"))
    data = (folder / "results.json").read_bytes()
    assert "counts by district" not in data.decode()  # the researcher's free text stays inside
    for name in ("table.csv", "results.json"):  # ACRO's / SACRO-Viewer's checksum files
        assert (folder / "checksums" / f"{name}.txt").read_text() == hashlib.sha256((folder / name).read_bytes()).hexdigest()
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["manifest"]["records"] == [{"name": "results.json", "sha256": hashlib.sha256(data).hexdigest(),
                                                "size": len(data), "format": "acro-results/1.0.2"}]
    assert verify_release(folder / "manifest.json", [folder / "table.csv", folder / "results.json"],
                          env.settings.public_key_path) == []
    (folder / "results.json").write_bytes(data.replace(b'"pass"', b'"fail"').replace(b'"review"', b'"fail"'))
    assert verify_release(folder / "manifest.json", [folder / "results.json"], env.settings.public_key_path) == [
        "results.json: SHA-256 differs from the manifest (changed)"]


def test_an_output_named_results_json_is_refused_and_never_overwrites_the_record(env, tmp_path):
    from egress_review import submission

    p = researcher("alice", "alpha")
    req_id = env.make_request(RequestState.DRAFT)
    for name in ("results.json", "RESULTS.json"):
        with pytest.raises(Conflict):
            env.act(lambda s, r, n=name: submission.add_file(s, env.svc.audit, env.svc.policy, p, r, name=n,
                                                           kind=FileKind.OUTPUT, context="x", controls="y"), req_id)
    # as a supporting file (ACRO's own record, never released) it is welcome
    env.store_file(p, req_id, "results.json", b'{"version": "1.0.2", "results": {}}', kind=FileKind.SUPPORTING)
    # and the writer itself never replaces a file of that name, whatever reached the release folder
    (tmp_path / "results.json").write_text("the researcher's own")
    with pytest.raises(FileExistsError):
        acro_results.write_results(tmp_path, env.get(req_id), "rel", [], {})
    assert (tmp_path / "results.json").read_text() == "the researcher's own"


def test_release_exports_a_five_safes_ro_crate_that_rocrate_reads_back(env, client, tmp_path):
    from rocrate.rocrate import ROCrate
    from sqlalchemy import select

    from egress_review import permissions
    from egress_review.models import EgressAuditEvent
    from tests.unit.egress.egress_factories import checker

    req_id = env.make_request(RequestState.RELEASED, files={"table.csv": SAFE_CSV.encode()})
    rel = _release(env, req_id)
    url = f"/api/v1/releases/{rel.id}/ro-crate"
    bob = {"Authorization": f"Bearer {project_token('bob', 'beta')}"}
    assert client.get(url, headers=bob).status_code == 404
    r = client.get(url, headers={"Authorization": f"Bearer {project_token('anna', 'alpha')}"})
    assert r.status_code == 200 and r.headers["content-type"] == "application/zip"
    zipfile.ZipFile(io.BytesIO(r.content)).extractall(tmp_path / "crate")
    crate = ROCrate(tmp_path / "crate")
    assert crate.root_dataset["conformsTo"]["@id"] == "https://w3id.org/5s-crate/0.4"
    by_type: dict[str, list] = {}
    for e in crate.get_entities():
        for t in (e.type if isinstance(e.type, list) else [e.type]):
            by_type.setdefault(t, []).append(e)
    assert {e.id for e in by_type["File"]} == {"table.csv", "manifest.json", "results.json",
                                               "checksums/table.csv.txt", "checksums/results.json.txt"}
    from acro.record import load_records

    assert load_records(str(tmp_path / "crate")).get("table.csv").uid == "table.csv"  # an ACRO folder as well
    assert crate.get("table.csv")["sha256"] == hashlib.sha256(SAFE_CSV.encode()).hexdigest()
    [ask] = by_type["AskAction"]
    assert ask["agent"]["name"] == "alice" and [o.id for o in ask["object"]] == ["table.csv"]
    def _id(value) -> str:  # the library resolves a reference to an entity only if the crate defines it
        return value if isinstance(value, str) else getattr(value, "id", None) or value["@id"]

    assess = {_id(e["additionalType"]).rsplit("#", 1)[1]: e for e in by_type["AssessAction"]}
    assert set(assess) == {"DisclosureCheck", "SignOff"} and assess["DisclosureCheck"]["result"] == env.get(req_id).files[0].current_version.verdict
    assert sorted(a["agent"]["name"] for a in by_type["AuthorizeAction"]) == ["chris", "cora"]
    assert all(a["result"] == "approve" for a in by_type["AuthorizeAction"])
    metadata = (tmp_path / "crate" / "ro-crate-metadata.json").read_text()
    assert "counts by district" not in metadata  # researcher free text is not provenance that leaves
    with env.svc.sessions() as s:
        events = list(s.execute(select(EgressAuditEvent).where(EgressAuditEvent.action == "release.ro_crate")).scalars())
        assert [e.actor for e in events] == ["anna"]
        req = s.get(ReleaseRequest, req_id)
        assert permissions.can_read_provenance(s, checker("chris"), req)


def test_operator_command_writes_the_same_crate(env, tmp_path):
    from rocrate.rocrate import ROCrate

    from egress_review.records.ro_crate import export_command

    rel = _release(env, env.make_request(RequestState.RELEASED))
    out = tmp_path / "crate.zip"
    assert export_command(rel.id, str(out), settings=env.settings) == 0
    zipfile.ZipFile(out).extractall(tmp_path / "crate")
    assert ROCrate(tmp_path / "crate").get("manifest.json") is not None
    assert export_command("0" * 32, str(tmp_path / "none.zip"), settings=env.settings) == 1
