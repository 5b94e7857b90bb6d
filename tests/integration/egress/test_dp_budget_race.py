"""50 DP queries paid for at once never spend more than the budget, on SQLite and on PostgreSQL:
each payment is one conditional UPDATE (``spent + cost <= total``) in the transaction of its audit
event (provisioning/dp_budget.py::spend, egress_review/dp_service/queries.py::pay)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from sqlalchemy import func, select

from egress_review.dp_service.queries import BudgetSpent, DPQuery, pay
from egress_review.models import EgressAuditEvent
from provisioning.dp_budget import get_budget
from tests.unit.egress.dp_fixtures import add_dp_dataset
from tests.unit.egress.egress_factories import make_env, researcher

QUERIES = 50
COST = 0.1
TOTAL = 1.0  # room for exactly ten of them

RESULT = {"kind": "count", "value": 1, "low": 0, "high": 2, "max_rows": 1, "mechanism": "discrete Laplace",
          "measure": "epsilon", "amount": COST, "alpha": 0.05}


def test_parallel_queries_never_overspend(database_url, tmp_path, monkeypatch):
    monkeypatch.setenv("SANDKASSE_VAR_DIR", str(tmp_path / "var"))
    from sandkasse.settings import get_settings

    get_settings.cache_clear()
    env = make_env(tmp_path, database_url)
    try:
        add_dp_dataset(env.settings.effective_database_url, tmp_path, total=TOTAL)
        q = DPQuery(dataset="sick-leave", kind="count", epsilon=COST)
        p = researcher("alice", "alpha")

        def one(_: int) -> str:
            try:
                pay(env.svc, p, "alpha", q, dict(RESULT))
                return "paid"
            except BudgetSpent:
                return "refused"

        with ThreadPoolExecutor(max_workers=QUERIES) as pool:
            outcomes = list(pool.map(one, range(QUERIES)))

        assert outcomes.count("paid") == round(TOTAL / COST)
        assert outcomes.count("refused") == QUERIES - round(TOTAL / COST)
        with env.svc.read_sessions() as s:
            b = get_budget(s, "alpha", "sick-leave")
            audited = s.execute(select(func.count()).select_from(EgressAuditEvent)
                                .where(EgressAuditEvent.action == "dp.query")).scalar_one()
        assert b.spent == TOTAL and b.spent <= b.total
        assert audited == outcomes.count("paid")  # every answered query audited, no refused one
    finally:
        env.svc.close()
