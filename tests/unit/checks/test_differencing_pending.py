"""The check engine compares a table with tables that have not left yet (``CheckContext.pending_tables``)
as it does with released ones, and names where the other table is."""

from __future__ import annotations

import pytest

from egress_review.checks import CheckContext, PendingTable, check_file
from egress_review.checks.policy import DisclosurePolicy

pytestmark = pytest.mark.unit


def test_a_pending_table_is_a_differencing_partner(tmp_path):
    wide = tmp_path / "scratch-1.csv"
    wide.write_text("alder,K,M\n18-66,120,110\n67+,40,38\n")
    narrow = tmp_path / "n.csv"
    narrow.write_text("alder,K,M\n18-67,123,110\n68+,37,38\n")
    ctx = CheckContext(person_level=False,
                       pending_tables=[PendingTable(name="wide.csv", where="request 1234abcd, submitted", path=wide)])
    report = check_file(narrow, declared_name="n.csv", policy=DisclosurePolicy(), context=ctx)
    diff = [f for f in report.flags if f.rule == "differencing"]
    assert diff and report.verdict == "fail"
    assert "the table wide.csv (request 1234abcd, submitted)" in diff[0].message
    alone = check_file(narrow, declared_name="n.csv", policy=DisclosurePolicy(), context=CheckContext(person_level=False))
    assert not [f for f in alone.flags if f.rule == "differencing"]
