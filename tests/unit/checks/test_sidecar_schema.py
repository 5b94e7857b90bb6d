"""The one sidecar schema (issue 17.1): ``egress_review/sdc/sidecar.schema.json`` is what the server's model
generates (a stale file fails here), and Python sidecars validate against it. The R package's sidecars are
validated against the same file in tests/e2e/hub/test_r_sdc_agreement.py."""

from __future__ import annotations

import json

import jsonschema
import pytest

from egress_review import sdc
from egress_review.checks.policy import DisclosurePolicy
from egress_review.sdc.sidecar_schema import generated_schema, load_schema
from tests.unit.checks.test_sdc_wrappers import sick_leave

pytestmark = pytest.mark.unit


def test_the_schema_file_is_the_one_the_server_model_generates():
    assert load_schema() == generated_schema(), "run python -m egress_review.sdc.sidecar_schema"


@pytest.mark.parametrize("make", [
    lambda d, p: sdc.crosstab(d.bydel, d.alder, entity=d.person, policy=p),
    lambda d, p: sdc.crosstab(d.bydel, d.alder, values=d.dager, aggfunc="sum", margins=True, policy=p),
    lambda d, p: sdc.pivot_table(d, values="dager", index="bydel", columns="year", aggfunc="mean", entity="person",
                                 policy=p),
    lambda d, p: sdc.describe_by(d, "bydel", "dager", entity="person", policy=p),
])
def test_python_sidecars_validate(tmp_path, make):
    _, side = make(sick_leave(), DisclosurePolicy()).export(tmp_path / "t.csv")
    meta = json.loads(side.read_text())
    jsonschema.validate(meta, load_schema())
    meta["shape"] = [1, 2, 3]
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(meta, load_schema())


def test_a_row_count_of_a_value_column_with_missing_values_is_evidence_the_server_accepts(tmp_path):
    """Found by the R/Python agreement test: without an entity, a "count" cell counts the rows that have a
    value, and its sidecar count must say so, or the server rejects the sidecar as inconsistent."""
    from egress_review.checks import CheckContext, check_file

    d = sick_leave()
    d.loc[d.index[::17], "dager"] = float("nan")
    table, side = sdc.describe_by(d, "bydel", "dager", stats=["count", "mean"], policy=DisclosurePolicy()).export(
        tmp_path / "t.csv")
    report = check_file(table, declared_name="t.csv", sidecar=side, policy=DisclosurePolicy(),
                        context=CheckContext(person_level=False))
    assert not [u for u in report.unverifiable if "sidecar" in u], report.unverifiable
