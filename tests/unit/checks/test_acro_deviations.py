"""Each documented deviation from ACRO 1.0.2 (docs/disclosure-rules.md), shown against the real package:
ACRO's behaviour is asserted first (so the test notices if ACRO changes), then that ours is right."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from egress_review import sdc
from egress_review.checks.policy import DisclosurePolicy
from tests.unit.checks.acro_harness import acro_session, last_outcome, our_sets, quiet_in_tmp, rule_sets

pytestmark = pytest.mark.unit
POLICY = DisclosurePolicy()


def frame(groups: dict[tuple, list[float]], names=("a", "b")) -> pd.DataFrame:
    rows = [(*key, v) for key, vals in groups.items() for v in vals]
    return pd.DataFrame(rows, columns=[*names, "v"])


def cell(outcome_sets, table: pd.DataFrame, row, col) -> frozenset:
    return outcome_sets[table.index.get_loc(row)][table.columns.get_loc(col)]


def test_d1_margin_of_an_empty_row_combination_is_checked():
    # (x, q) never occurs: its row is empty, so its total describes zero people.
    df = frame({("x", "p", "u"): [1.0] * 15, ("x", "p", "w"): [2.0] * 15, ("y", "q", "u"): [3.0] * 15,
                ("y", "p", "w"): [4.0] * 15, ("y", "q", "w"): [5.0] * 15}, names=("a", "c", "b"))
    acro = acro_session()
    with quiet_in_tmp():
        acro.crosstab([df.a, df.c], df.b, values=df.v, aggfunc="mean", margins=True)
        theirs = rule_sets(last_outcome(acro))
    ours = sdc.crosstab([df.a, df.c], df.b, values=df.v, aggfunc="mean", margins=True, dropna=False, policy=POLICY)
    row = ("x", "q")
    assert pd.isna(ours.table.loc[row, "All"])
    assert cell(theirs, ours.table, row, "All") == frozenset()  # ACRO: no count, so no flag
    assert cell(theirs, ours.table, row, "u") == {"threshold"}  # ... though the interior cells of that row fail
    assert cell(our_sets(ours.outcome), ours.table, row, "All") == {"threshold"}
    assert cell(our_sets(ours.outcome), ours.table, row, "u") == {"threshold"}


def test_d2_total_row_of_a_one_way_table_is_checked():
    df = frame({("x",): [5.0] * 6, ("y",): [5.0] * 3}, names=("a",))  # 9 rows in all
    acro = acro_session()
    with quiet_in_tmp():
        acro.pivot_table(df, index="a", values="v", aggfunc="count", margins=True)
        theirs = rule_sets(last_outcome(acro))
    ours = sdc.pivot_table(df, index="a", values="v", aggfunc="count", margins=True, policy=POLICY)
    assert theirs[-1] == [frozenset()]  # ACRO passes a total of 9
    assert our_sets(ours.outcome)[-1] == [frozenset({"threshold"})]
    assert ours.table.iloc[-1, 0] == 9


def test_d3_all_zero_cell_is_not_dominated():
    df = frame({("x", "u"): [0.0] * 12, ("x", "w"): [3.0, 4.0, 5.0, 6.0] * 3,
                ("y", "u"): [2.0, 3.0] * 6, ("y", "w"): [1.0, 2.0, 3.0] * 4})
    acro = acro_session()
    with quiet_in_tmp():
        acro.crosstab(df.a, df.b, values=df.v, aggfunc="sum")
        theirs = rule_sets(last_outcome(acro))
    ours = sdc.crosstab(df.a, df.b, values=df.v, aggfunc="sum", policy=POLICY)
    assert theirs[0][0] == {"p_percent"}  # ACRO: 12 people with nothing "dominate" a total of 0
    assert our_sets(ours.outcome)[0][0] == frozenset()
    assert ours.summary.status == "pass"


def test_d4_one_negative_value_does_not_switch_dominance_off_elsewhere():
    df = frame({("x", "u"): [1000.0] + [1.0] * 11, ("x", "w"): [3.0, 4.0, 5.0, 6.0] * 3,
                ("y", "u"): [2.0, 3.0] * 6, ("y", "w"): [-1.0] + [2.0] * 11})
    acro = acro_session()
    with quiet_in_tmp():
        acro.crosstab(df.a, df.b, values=df.v, aggfunc="sum")
        theirs = rule_sets(last_outcome(acro))
    ours = sdc.crosstab(df.a, df.b, values=df.v, aggfunc="sum", policy=POLICY)
    o = our_sets(ours.outcome)
    assert theirs[0][0] == frozenset()  # ACRO misses the cell one person dominates
    assert theirs[1][1] == {"nk", "p_percent"}  # and reports the negative cell under the dominance names
    assert o[0][0] == {"nk", "p_percent"}
    assert o[1][1] == {"negative"}
    assert ours.summary.status == "fail"
    neg = [f for f in ours.summary.flags if f.rule == "negative"]
    assert neg and neg[0].severity == "review" and neg[0].row == "y" and neg[0].column == "w"


def test_d5_normalize_is_judged_on_counts_not_proportions():
    df = frame({("x", "u"): [1.0] * 20, ("x", "w"): [1.0] * 30, ("y", "u"): [1.0] * 25, ("y", "w"): [1.0] * 40})
    acro = acro_session()
    with quiet_in_tmp():
        acro.crosstab(df.a, df.b, normalize="all")
        theirs = rule_sets(last_outcome(acro))
    ours = sdc.crosstab(df.a, df.b, normalize="all", policy=POLICY)
    assert all(c == {"threshold"} for row in theirs for c in row)  # every proportion is "below 10"
    assert all(c == frozenset() for row in our_sets(ours.outcome) for c in row)
    assert np.isclose(ours.table.to_numpy().sum(), 1.0)


def test_d6_missing_category_is_suppressed_without_crashing():
    df = frame({("x", "u"): [1.0] * 20, ("x", "w"): [1.0] * 3, ("y", "u"): [1.0] * 25, ("y", "w"): [1.0] * 40})
    df.loc[:4, "a"] = np.nan
    with quiet_in_tmp():
        acro = acro_session(suppress=True)
        with pytest.raises(Exception):  # noqa: B017 - ACRO's failure is not a specific exception type
            acro.crosstab(df.a, df.b)
    ours = sdc.crosstab(df.a, df.b, dropna=False, policy=POLICY)
    assert ours.table.index.isna().any()
    visible = ours.protected.to_numpy(dtype=float)
    assert not ((visible < 10) & ~np.isnan(visible)).any()


def test_d7_margins_with_an_integer_dimension_leave_no_small_cell_visible():
    rng = np.random.default_rng(7)
    df = pd.DataFrame({"year": rng.choice([2021, 2022, 2023], 300, p=[0.05, 0.45, 0.5]),
                       "b": rng.choice(["u", "w", "z"], 300, p=[0.3, 0.3, 0.4])})
    with quiet_in_tmp():
        acro = acro_session(suppress=True)
        theirs = acro.crosstab(df.year, df.b, margins=True)
    t = theirs.to_numpy(dtype=float)
    assert ((t < 10) & ~np.isnan(t)).any()  # ACRO's "suppressed" table still shows small cells
    ours = sdc.crosstab(df.year, df.b, margins=True, policy=POLICY)
    v = ours.protected.to_numpy(dtype=float)
    assert ours.summary.status == "fail" and np.isnan(v).any()
    assert not ((v < 10) & ~np.isnan(v)).any()


def test_d8_boolean_dimension_small_cell_is_flagged():
    # (False, z) holds 8 rows; with the dimension as 0/1 ACRO flags it, as boolean it passes everything.
    df = frame({(False, "x"): [1.0] * 20, (False, "z"): [2.0] * 8, (True, "x"): [3.0] * 20,
                (True, "z"): [4.0] * 12}, names=("b", "a"))
    acro = acro_session()
    with quiet_in_tmp():
        acro.crosstab(df.b, df.a)
        as_bool = rule_sets(last_outcome(acro))
        acro.crosstab(df.b.astype(int), df.a)
        as_int = rule_sets(last_outcome(acro))
    assert not any(any(row) for row in as_bool)  # ACRO: nothing fails
    assert as_int[0][1] == {"threshold"}
    ours = sdc.crosstab(df.b, df.a, policy=POLICY)
    assert our_sets(ours.outcome) == as_int
    assert pd.isna(ours.protected.loc[False, "z"])


def test_d9_aggfunc_list_checks_each_block_by_its_own_function():
    # one dominant contribution in (p, u): a dominance failure for its sum, not for its maximum
    df = frame({("p", "u"): [1.0] * 11 + [5000.0], ("p", "w"): [2.0] * 15, ("q", "u"): [3.0] * 15,
                ("q", "w"): [4.0] * 15})
    acro = acro_session()
    with quiet_in_tmp():
        acro.crosstab(df.a, df.b, values=df.v, aggfunc=["sum", "max"])
        theirs = rule_sets(last_outcome(acro))
    assert theirs[0][0] == {"nk", "p_percent"} and theirs[0][2] == {"nk", "p_percent"}  # ACRO: the max too
    ours = sdc.crosstab(df.a, df.b, values=df.v, aggfunc=["sum", "max"], policy=POLICY)
    o = our_sets(ours.outcome)
    assert o[0][0] == {"nk", "p_percent"} and o[0][2] == frozenset()
    single_max = sdc.crosstab(df.a, df.b, values=df.v, aggfunc="max", policy=POLICY)
    assert our_sets(single_max.outcome)[0][0] == frozenset()
