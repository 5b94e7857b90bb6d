"""Rounding of counts (issue 16.2): the rule on published tables, the rounded safe version of the `sdc`
wrappers, and totals consistent with rounded cells."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from egress_review import sdc
from egress_review.checks.api import CheckContext, check_file
from egress_review.checks.policy import DisclosurePolicy, RoundingRule
from egress_review.checks.rounding import round_counts, round_table, total_mismatches, unrounded

pytestmark = pytest.mark.unit

ROUND5 = DisclosurePolicy(rounding=RoundingRule(enabled=True, base=5, method="nearest"))
MIDPOINT6 = DisclosurePolicy(rounding=RoundingRule(enabled=True, base=6, method="midpoint"))


def people(n: int = 600, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({"district": rng.choice(["Grefsen", "Sagene", "Frogner"], n),
                         "sex": rng.choice(["f", "m"], n), "days": rng.integers(1, 60, n)})


def test_nearest_and_opensafely_midpoint6():
    assert round_counts(np.array([0, 2, 3, 7, 12, 13, 100]), 5, "nearest").tolist() == [0, 0, 5, 5, 10, 15, 100]
    # OpenSAFELY's midpoint 6 derived rounding: 1-6 -> 3, 7-12 -> 9, 13-18 -> 15; zero stays zero
    assert round_counts(np.array([0, 1, 6, 7, 12, 13, 18, 19]), 6, "midpoint").tolist() == [0, 3, 3, 9, 9, 15, 15, 21]
    for method, base in (("nearest", 5), ("midpoint", 6)):
        once = round_counts(np.arange(0, 200), base, method)
        assert not unrounded(once, base, method).any()  # idempotent: a rounded count passes


def test_safe_version_is_rounded_and_its_totals_add_up():
    df = people()
    r = sdc.crosstab(df.district, df.sex, margins=True, policy=ROUND5)
    assert r.status == "fail" and "rounding" in r.outcome.to_numpy().sum()
    shown = r.protected.to_numpy(dtype=float)
    assert (shown % 5 == 0).all()
    body = shown[:-1, :-1]
    assert shown[:-1, -1].tolist() == body.sum(axis=1).tolist()  # totals recomputed from the rounded cells
    assert shown[-1, :-1].tolist() == body.sum(axis=0).tolist() and shown[-1, -1] == body.sum()
    assert r.table.iat[-1, -1] == len(df)  # the raw table stays pandas' own


def test_round_argument_and_midpoint_method():
    df = people(seed=1)
    off = DisclosurePolicy()
    assert sdc.crosstab(df.district, df.sex, policy=off).protected.equals(pd.crosstab(df.district, df.sex))
    r = sdc.crosstab(df.district, df.sex, round=10, policy=off)
    assert (r.protected.to_numpy() % 10 == 0).all() and r.status == "pass"  # the rule is off: only rounded
    m = sdc.pivot_table(df, index="district", columns="sex", values="days", aggfunc=["count", "mean"],
                        policy=MIDPOINT6)
    counts = m.protected["count"].to_numpy(dtype=float)
    assert not unrounded(counts, 6, "midpoint").any() and (counts % 6 == 3).all()
    assert m.protected["mean"].equals(m.table["mean"])  # means are not counts: left as they are


def test_exported_rounded_table_passes_the_server_check(tmp_path):
    df = people()
    r = sdc.crosstab(df.district, df.sex, margins=True, policy=ROUND5)
    table, side = r.export(tmp_path / "counts.csv")
    aggregate = CheckContext(person_level=False)  # a table of rows (not people) is the point here
    report = check_file(table, declared_name="counts.csv", sidecar=side, policy=ROUND5, context=aggregate)
    assert report.verdict == "pass", report.flags
    assert not report.unverifiable
    raw, raw_side = r.export(tmp_path / "raw.csv", protected=False)
    flagged = check_file(raw, declared_name="raw.csv", sidecar=raw_side, policy=ROUND5, context=aggregate)
    assert flagged.verdict == "fail" and {f.rule for f in flagged.flags} == {"rounding"}


def test_server_flags_unrounded_counts_and_totals_that_do_not_add_up(tmp_path):
    unrounded_csv = tmp_path / "a.csv"
    unrounded_csv.write_text("district,f,m\nGrefsen,103,95\nSagene,120,140\n")
    report = check_file(unrounded_csv, declared_name="a.csv", policy=ROUND5)
    assert [(f.rule, f.row, f.column) for f in report.flags if f.rule == "rounding"] == [
        ("rounding", "Grefsen", "f")]
    assert report.cell_outcome[0] == ["rounding", ""]
    # cells rounded, totals exact: 103 = 100 + 3 ... the differences reveal the unrounded cells
    totals = tmp_path / "b.csv"
    totals.write_text("district,f,m,All\nGrefsen,100,95,198\nSagene,120,140,260\nAll,220,235,458\n")
    report = check_file(totals, declared_name="b.csv", policy=ROUND5)
    bad = [(f.row, f.column) for f in report.flags if f.rule == "rounding"]
    assert ("Grefsen", "All") in bad and ("All", "All") in bad and ("Sagene", "All") not in bad
    assert not [f for f in check_file(totals, declared_name="b.csv", policy=DisclosurePolicy()).flags
                if f.rule == "rounding"]  # the rule off: nothing said about rounding


def test_round_table_and_mismatches_helpers():
    v = np.array([[12.0, 7.0, 19.0], [3.0, 21.0, 24.0], [15.0, 28.0, 43.0]])
    out = round_table(v, np.ones(v.shape, dtype=bool), True, True, 5, "nearest")
    assert out.tolist() == [[10, 5, 15], [5, 20, 25], [15, 25, 40]]
    assert total_mismatches(out, np.zeros(v.shape, dtype=bool), True, True) == []
    assert len(total_mismatches(round_counts(v, 5, "nearest"), np.zeros(v.shape, dtype=bool), True, True)) > 0


def test_server_suggestion_of_an_unrounded_table_is_rounded_with_totals_that_add_up(tmp_path):
    """What "Return with suggested table" gives the researcher (16.6): the rounded table, not the
    unrounded one with nothing changed."""
    path = tmp_path / "c.csv"
    path.write_text("district,f,m,All\nGrefsen,103,96,199\nSagene,121,140,261\nAll,224,236,460\n")
    report = check_file(path, declared_name="c.csv", policy=ROUND5)
    assert report.verdict == "fail"
    suggested = pd.read_csv(pd.io.common.StringIO(report.suggested_csv), index_col=0)
    assert suggested.loc["Grefsen"].tolist() == [105, 95, 200] and suggested.loc["Sagene"].tolist() == [120, 140, 260]
    assert suggested.loc["All"].tolist() == [225, 235, 460]  # sums of the rounded cells
    clean = check_file(path, declared_name="c.csv", policy=DisclosurePolicy())
    assert clean.suggested_csv is None  # the rule off: nothing to suggest
