"""The researcher client against the real service over loopback HTTP (uvicorn in a thread)."""

from __future__ import annotations


import numpy as np
import pandas as pd
import pytest

from egress_review.client import EgressClient, ExportError, request_export, status
from egress_review.client.cli import main
from tests.testbed.uvicorn_process import app_in_thread
from tests.unit.egress.egress_factories import SAFE_CSV, project_token

pytestmark = pytest.mark.unit


@pytest.fixture
def live(env, monkeypatch):
    from egress_review.app import create_app

    with app_in_thread(create_app(env.settings)) as url:
        monkeypatch.setenv("SANDKASSE_EGRESS_URL", url)
        monkeypatch.setenv("SANDKASSE_EGRESS_TOKEN", project_token("alice", "alpha"))
        yield url


def test_request_export_submits_and_shows_verdicts(live, tmp_path, capsys):
    table = tmp_path / "days_by_district.csv"
    table.write_text(SAFE_CSV)
    small = tmp_path / "small.csv"
    small.write_text("district,days\nGrefsen,3\n")
    result = request_export([table, small], context="Sick-leave days by district", controls="counts of people")
    assert result.state == "submitted"
    assert [f.name for f in result.files] == ["days_by_district.csv", "small.csv"]
    assert result.files[1].verdict in ("review", "fail") and (result.files[1].flags or result.files[1].unverifiable)
    out = capsys.readouterr().out
    assert "small.csv: automatic checks say" in out and result.request_id in out
    rows = status(show=True)
    assert [r["id"] for r in rows] == [result.request_id] and rows[0]["state"] == "submitted"


def test_sdc_result_is_sent_with_its_sidecar(env, live):
    from egress_review.sdc import crosstab

    rng = np.random.default_rng(1)
    df = pd.DataFrame({"bydel": rng.choice(["Grefsen", "Sagene", "Frogner"], 3000),
                       "kjonn": rng.choice(["K", "M"], 3000)})
    r = crosstab(df.bydel, df.kjonn)
    r.name = "bydel_kjonn"
    result = request_export(r, context="people by district and sex", controls="checked with sdc.crosstab", show=False)
    assert result.state == "submitted"
    req = env.get(result.request_id)
    v = req.files[0].current_version
    assert req.files[0].name.endswith(".csv") and v.sidecar is not None  # sealed sidecar stored with the version
    with env.svc.sessions() as s:
        from egress_review.api.views import check_report

        assert check_report(s, v)["verdict"] == v.verdict


def test_cli_exports_and_reports_errors(live, tmp_path, capsys):
    table = tmp_path / "t.csv"
    table.write_text(SAFE_CSV)
    assert main([str(table), "--context", "days by district", "--controls", "n >= 10"]) == 0
    assert "automatic checks say" in capsys.readouterr().out
    assert main(["--status"]) == 0
    bad = tmp_path / "t.png"
    bad.write_text(SAFE_CSV)
    assert main([str(bad), "--context", "x", "--controls", "y"]) == 1
    assert "415" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main([str(table), "--context", "x"])


def test_client_needs_url_and_token(monkeypatch):
    monkeypatch.delenv("SANDKASSE_EGRESS_URL", raising=False)
    monkeypatch.delenv("SANDKASSE_EGRESS_TOKEN", raising=False)
    with pytest.raises(ExportError, match="SANDKASSE_EGRESS_URL"):
        EgressClient()


def test_context_and_controls_are_required(live, tmp_path):
    table = tmp_path / "t.csv"
    table.write_text(SAFE_CSV)
    with pytest.raises(ExportError, match="required"):
        request_export([table], context=" ", controls="x")


def test_client_imports_only_stdlib_httpx_pandas():
    import ast
    import sys
    from pathlib import Path

    allowed = {"httpx", "pandas", "egress_review"}
    root = Path(__file__).resolve().parents[3] / "egress_review"
    # records/acro_import.py reads ACRO folders for request_export_acro: it is held to the same rule
    for path in [*(root / "client").glob("*.py"), root / "records" / "acro_import.py"]:
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                names = [node.module or ""]
            for name in names:
                top = name.split(".")[0]
                assert top in sys.stdlib_module_names or top in allowed, f"{path.name} imports {name}"
                if top == "egress_review":
                    # export_names is standard library only (tests/unit/checks/test_export_names.py)
                    assert name.startswith(("egress_review.client", "egress_review.export_names",
                                            "egress_review.records.acro_import")) or (
                        name == "egress_review" and all(a.name == "export_names" for a in node.names)), \
                        f"{path.name} imports {name}"


def test_files_arrive_under_the_names_given_or_made_from_the_call(env, live):
    from egress_review.sdc import crosstab

    rng = np.random.default_rng(3)
    df = pd.DataFrame({"unit": rng.choice(["Lade", "Moholt", "Byåsen"], 3000), "gender": rng.choice(["F", "M"], 3000)})
    r = crosstab(df.unit, df.gender)
    named = request_export({"staff_by_unit.csv": r}, context="staff by unit", controls="counts", show=False)
    default = request_export([r], context="staff by unit", controls="counts", show=False)
    assert [f.name for f in named.files] == ["staff_by_unit.csv"]
    assert [f.name for f in default.files] == ["crosstab_unit_gender.csv"]
    assert [f.name for f in env.get(default.request_id).files] == ["crosstab_unit_gender.csv"]
