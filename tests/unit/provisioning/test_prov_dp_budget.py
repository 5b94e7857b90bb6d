"""The DP budget is set at provisioning from the project YAML, kept when re-applied, and spent only
while enough is left."""

from __future__ import annotations

from datetime import date

import pandas as pd
import pytest

from provisioning import catalogue, db, dp_budget
from provisioning.declarative import ProjectSpec, apply_spec
from provisioning.errors import ProvisioningError
from sandkasse.db import make_engine, make_sessionmaker, session_scope


@pytest.fixture
def sessions(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'p.db'}")
    db.migrate(engine=engine)
    source = tmp_path / "s.parquet"
    pd.DataFrame({"national_id": ["1"], "days": [3]}).to_parquet(source)
    factory = make_sessionmaker(engine)
    with session_scope(factory) as s:
        catalogue.create_dataset(s, name="sick-leave", source=source,
                                 columns={"national_id": "direct_identifier", "days": "other"})
    yield factory
    engine.dispose()


def _spec(budget: dict | None) -> ProjectSpec:
    return ProjectSpec.model_validate({
        "slug": "p1", "title": "t", "start_date": date(2026, 1, 1), "end_date": date(2027, 1, 1), "status": "draft",
        "datasets": {"sick-leave": {"columns": {"national_id": "pseudonymise", "days": "keep"}, "dp_budget": budget}}})


def test_yaml_budget_is_set_and_spent_until_empty(sessions):
    with session_scope(sessions) as s:
        done = apply_spec(s, _spec({"epsilon": 1.0}))
        assert "dp budget sick-leave epsilon=1" in done
    with session_scope(sessions) as s:
        assert dp_budget.spend(s, "p1", "sick-leave", "epsilon", 0.7).spent == pytest.approx(0.7)
        assert dp_budget.spend(s, "p1", "sick-leave", "epsilon", 0.4) is None  # 0.3 left
        assert dp_budget.spend(s, "p1", "sick-leave", "rho", 0.1) is None  # another measure
        assert dp_budget.spend(s, "p1", "sick-leave", "epsilon", 0.3).spent == pytest.approx(1.0)
    with session_scope(sessions) as s:
        assert apply_spec(s, _spec({"epsilon": 1.0})) == []  # unchanged
        apply_spec(s, _spec({"epsilon": 2.0}))
        b = dp_budget.get_budget(s, "p1", "sick-leave")
        assert (b.total, b.spent) == (2.0, 1.0)  # spent stays spent
        with pytest.raises(ProvisioningError, match="partly spent"):
            apply_spec(s, _spec({"rho": 1.0}))


def test_a_budget_names_one_measure():
    with pytest.raises(ValueError):
        _spec({"epsilon": 1.0, "rho": 0.5})
