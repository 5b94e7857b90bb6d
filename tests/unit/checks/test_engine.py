"""The vectorised statistics engine against slow, obvious reference computations."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from egress_review import sdc
from egress_review.checks.policy import DisclosurePolicy
from egress_review.checks.rules import CellStats, evaluate
from egress_review.sdc import engine

pytestmark = pytest.mark.unit
POLICY = DisclosurePolicy()


def test_top_m_matches_sorting_each_group():
    rng = np.random.default_rng(0)
    for _ in range(30):
        n, groups, m = int(rng.integers(1, 500)), int(rng.integers(1, 40)), int(rng.integers(1, 5))
        g = rng.integers(0, groups, n)
        v = rng.choice([0.0, 1.0, 2.0, 5.0, np.nan], n) if rng.random() < 0.5 else rng.normal(size=n)
        got = engine.top_m(g, v, groups, m)
        for k in range(groups):
            vals = np.sort(v[(g == k) & ~np.isnan(v)])[::-1][:m]
            expect = np.full(m, np.nan)
            expect[: len(vals)] = vals
            np.testing.assert_array_equal(got[k], expect)


def test_entity_units_bitmap_and_hashing_agree(monkeypatch):
    rng = np.random.default_rng(1)
    d = pd.DataFrame({"a": rng.choice(list("abcd"), 2000), "b": rng.choice(list("xyz"), 2000),
                      "p": rng.integers(0, 150, 2000)})
    fast = sdc.crosstab(d.a, d.b, margins=True, entity=d.p, policy=POLICY)
    # the same table again with the bitmap path switched off, so the hashing path counts the entities
    monkeypatch.setattr(engine, "BITMAP_MAX", 0)
    import egress_review.sdc.tables as tables_mod
    monkeypatch.setattr(tables_mod, "entity_bitmap", lambda *a, **k: None)
    slow = sdc.crosstab(d.a, d.b, margins=True, entity=d.p, policy=POLICY)
    np.testing.assert_array_equal(fast.cells["count"], slow.cells["count"])
    ref = d.groupby(["a", "b"]).p.nunique().unstack()
    np.testing.assert_array_equal(np.asarray(fast.cells["count"]).reshape(fast.table.shape)[:-1, :-1], ref)
    assert fast.cells["count"][-1] == d.p.nunique()  # the grand total counts each person once


def test_rule_boundaries():
    stats = CellStats(count=np.array([9, 10, 0, 12, 12, 12]), agg=np.array(["count", "count", "count", "sum",
                                                                                "sum", "sum"], dtype=object),
                      total=np.array([0, 0, 0, 100.0, 100.0, 100.0]),
                      top=np.array([[0, 0], [0, 0], [0, 0], [45.0, 45.0], [44.9, 45.0], [50.0, 41.0]]),
                      negative=np.zeros(6), missing=np.zeros(6))
    stats.top = np.sort(stats.top, axis=1)[:, ::-1]
    m = evaluate(stats, POLICY)
    assert list(np.flatnonzero(m["threshold"])) == [0, 2]
    assert list(np.flatnonzero(m["zero"])) == [2]
    assert list(np.flatnonzero(m["nk"])) == [3, 5]  # 90 and 91 of 100 are "at least 90 %"; 89.9 is not
    # p%: (100 - 50 - 41) / 50 = 0.18 passes; (100 - 45 - 45) / 45 = 0.22 passes; nothing fails
    assert "p_percent" not in m
    stats.top[5] = [60.0, 35.0]  # the rest, 5, is 8.3 % of the largest
    assert list(np.flatnonzero(evaluate(stats, POLICY)["p_percent"])) == [5]


def test_policy_switches_and_review_severities():
    d = pd.DataFrame({"g": ["x"] * 20 + ["y"] * 20, "k": "all",
                      "v": [1.0] * 19 + [np.nan] + [2.0] * 19 + [-1.0]})
    default = sdc.crosstab(d.g, d.k, values=d.v, aggfunc="mean", policy=POLICY)
    assert default.outcome["all"].tolist() == ["", "negative"]
    assert default.summary.status == "review"  # negative values go to a checker; they do not fail
    with_missing = POLICY.model_copy(update={"missing": POLICY.missing.model_copy(update={"enabled": True})})
    r = sdc.crosstab(d.g, d.k, values=d.v, aggfunc="mean", policy=with_missing)
    assert r.outcome["all"].tolist() == ["missing", "negative"] and r.summary.status == "review"
    small = pd.DataFrame({"g": ["x"] * 3, "k": "all"})
    no_threshold = POLICY.model_copy(update={"threshold": POLICY.threshold.model_copy(update={"enabled": False})})
    assert sdc.crosstab(small.g, small.k, policy=no_threshold).summary.status == "pass"
    stricter = POLICY.model_copy(update={"threshold": POLICY.threshold.model_copy(update={"min_count": 2})})
    assert sdc.crosstab(small.g, small.k, policy=stricter).summary.status == "pass"
    assert sdc.crosstab(small.g, small.k, policy=POLICY).summary.status == "fail"


def test_policy_file_is_the_source_of_the_thresholds(tmp_path):
    from egress_review.checks.policy import load_disclosure_policy

    repo = load_disclosure_policy()
    assert repo == DisclosurePolicy()  # the shipped YAML states ACRO's defaults explicitly
    custom = tmp_path / "disclosure.yaml"
    custom.write_text("threshold:\n  min_count: 5\nnk:\n  n: 3\n  k: 0.8\n")
    p = load_disclosure_policy(custom)
    assert (p.threshold.min_count, p.nk.n, p.nk.k) == (5, 3, 0.8)
    bad = tmp_path / "bad.yaml"
    bad.write_text("threshold:\n  min_cont: 5\n")
    with pytest.raises(Exception, match="min_cont"):
        load_disclosure_policy(bad)
