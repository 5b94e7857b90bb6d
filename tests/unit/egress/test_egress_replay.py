"""The service's check path replays wrapper-made tables from the project's extract (issue 16 item 3).

Real service, real quarantine upload, real check path (``egress_review.checking.check_version``): the
worker finds the extract where provisioning writes it (``provisioning.api.extract_dir``) and the
stored verdict follows the replay, not the researcher's sidecar."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pandas as pd
import pytest

from egress_review import sdc, submission
from egress_review.checks.policy import DisclosurePolicy
from egress_review.states import FileKind
from sandkasse.settings import get_settings
from tests.unit.checks.test_sdc_wrappers import sick_leave
from tests.unit.egress.egress_factories import researcher

pytestmark = pytest.mark.unit


@pytest.fixture
def extract(env, monkeypatch) -> Path:
    monkeypatch.setenv("SANDKASSE_VAR_DIR", str(env.settings.var_dir))
    get_settings.cache_clear()
    from provisioning import api

    data = api.extract_dir("alpha")
    data.mkdir(parents=True)
    d = sick_leave()
    d.loc[(d.bydel == "Frogner") & (d.alder == "30-49"), "person"] = "p99999"
    d.loc[d.person == "p99999", "dager"] = 900.0
    d.to_parquet(data / "sykefravaer.parquet", index=False)
    yield data / "sykefravaer.parquet"
    get_settings.cache_clear()


def _submit(env, table: Path, side: Path) -> dict:
    p = researcher("alice", "alpha")
    with env.svc.sessions() as s:
        req = submission.create_request(s, env.svc.audit, p)
        f = submission.add_file(s, env.svc.audit, env.svc.policy, p, req, name=table.name, kind=FileKind.OUTPUT, context="sick days by district",
                                controls="sdc wrappers", sidecar=json.loads(side.read_text()))
        s.commit()
        req_id, file_id = req.id, f.id
    env.upload(p, req_id, file_id, table.read_bytes())
    [f] = env.get(req_id).files
    v = f.current_version
    flags = json.loads(v.check_report)["flags"]
    return {"verdict": v.verdict, "rules": {(x["rule"], x["severity"]) for x in flags},
            "cells": {(x["rule"], x["row"], x["column"]) for x in flags}, "request": req_id}


def test_service_check_uses_the_replay_not_the_sidecar(env, extract: Path, tmp_path: Path):
    df = sdc.read_extract(extract)
    r = sdc.crosstab(df.bydel, df.alder, values=df.dager, aggfunc="sum", entity=df.person, policy=DisclosurePolicy())
    table, side = r.export(tmp_path / "sum.csv", protected=False)
    meta = json.loads(side.read_text())
    k = meta["row_labels"].index("Frogner") * meta["shape"][1] + meta["column_labels"].index("30-49")
    meta["cells"]["top"][k] = [meta["cells"]["total"][k] / 50] * len(meta["cells"]["top"][k])  # forged
    side.write_text(json.dumps(meta))
    got = _submit(env, table, side)
    assert got["verdict"] == "fail"
    assert {("nk", "Frogner", "30-49"), ("p_percent", "Frogner", "30-49")} & got["cells"]

    # an edited cell in an otherwise passing table, sidecar rehashed to match: the replay fails it
    sub = sdc.where(df, bydel=["Grefsen", "Sagene", "Frogner"])
    r = sdc.crosstab(sub.bydel, sub.kjonn, entity=sub.person, policy=DisclosurePolicy())
    table, side = r.export(tmp_path / "counts.csv")
    assert _submit(env, table, side)["verdict"] == "pass"
    t = pd.read_csv(table)
    t.loc[0, "K"] = int(t.loc[0, "K"]) + 20
    t.to_csv(table, index=False)
    meta = json.loads(side.read_text())
    meta["sha256"] = hashlib.sha256(table.read_bytes()).hexdigest()
    meta["cells"]["rows"][0] += 20
    meta["cells"]["count"][0] += 20
    side.write_text(json.dumps(meta))
    got = _submit(env, table, side)
    assert got["verdict"] == "fail" and ("replay", "fail") in got["rules"]


def test_checker_sees_the_replay_outcome_on_the_request_page(env, extract: Path, tmp_path: Path):
    from tests.unit.web.test_web_ui import _client, _login

    df = sdc.read_extract(extract)
    sub = sdc.where(df, bydel=["Grefsen", "Sagene", "Frogner"])
    table, side = sdc.crosstab(sub.bydel, sub.kjonn, entity=sub.person, policy=DisclosurePolicy()).export(
        tmp_path / "counts.csv")
    req_id = _submit(env, table, side)["request"]
    env.act(lambda s, r: submission.submit(s, env.svc.audit, researcher("alice", "alpha"), r), req_id)
    with _client(env) as c:
        _login(c, "chris", ["output-checker"])
        page = c.get(f"/requests/{req_id}").text
    assert "Made again from the project&#39;s data: reproduced from the data (bit-for-bit)" in page
