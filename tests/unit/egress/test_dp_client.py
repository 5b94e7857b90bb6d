"""The notebook's DP client against the real service over loopback HTTP (uvicorn in a thread):
queries, the budget, and exporting an answer for review."""

from __future__ import annotations

import subprocess
import sys

import pytest

from egress_review.client import ExportError
from tests.testbed.uvicorn_process import app_in_thread
from tests.unit.egress.dp_fixtures import add_dp_dataset
from tests.unit.egress.egress_factories import make_env, project_token

pytestmark = pytest.mark.unit


@pytest.fixture
def live(tmp_path, monkeypatch):
    monkeypatch.setenv("SANDKASSE_VAR_DIR", str(tmp_path / "var"))
    from sandkasse.settings import get_settings

    get_settings.cache_clear()
    env = make_env(tmp_path)
    add_dp_dataset(env.settings.effective_database_url, tmp_path, total=1.0)
    from egress_review.app import create_app

    with app_in_thread(create_app(env.settings)) as url:
        monkeypatch.setenv("SANDKASSE_EGRESS_URL", url)
        monkeypatch.setenv("SANDKASSE_EGRESS_TOKEN", project_token("alice", "alpha"))
        yield env
    env.svc.close()


def test_notebook_queries_sees_its_budget_and_exports_an_answer(live, tmp_path):
    from egress_review.client import request_export
    from egress_review.dp import budget, crosstab, mean

    m = mean("sick-leave", "days", epsilon=0.3, bounds=(0, 60), max_rows=1)
    assert 0 <= m.low <= m.value <= m.high <= 60
    assert "epsilon=0.3" in str(m)
    t = crosstab("sick-leave", "gender", "diagnosis_group", epsilon=0.3)
    assert len(t.cells) == 2 * 10 and list(t.to_frame().columns[:2]) == ["gender", "diagnosis_group"]
    (b,) = budget()
    assert (b["dataset"], b["measure"]) == ("sick-leave", "epsilon") and b["remaining"] == pytest.approx(0.4)
    with pytest.raises(ExportError, match="privacy budget spent"):
        mean("sick-leave", "days", epsilon=0.5)
    result = request_export([t], context="DP crosstab", controls="differential privacy, epsilon 0.3", wait_seconds=30)
    assert result.files[0].name.startswith("dp_crosstab_")


def test_the_client_loads_no_data_or_dp_library():
    code = ("import sys, egress_review.dp; "
            "bad = [m for m in ('opendp', 'numpy', 'pandas', 'pyarrow') if m in sys.modules]; "
            "assert not bad, bad")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
