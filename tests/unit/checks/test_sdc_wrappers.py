"""The researcher-side wrappers: pandas' tables unchanged, per-cell outcomes, entities, export round trip."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from egress_review import sdc
from egress_review.checks import CheckContext, check_file
from egress_review.checks.policy import DisclosurePolicy

pytestmark = pytest.mark.unit
POLICY = DisclosurePolicy()


def sick_leave(n: int = 3000, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    people = rng.integers(0, n // 6, n)
    return pd.DataFrame({
        "person": [f"p{p:05d}" for p in people],
        "bydel": rng.choice(["Grefsen", "Sagene", "Frogner", "Bygdøy"], n, p=[0.4, 0.35, 0.248, 0.002]),
        "alder": rng.choice(["18-29", "30-49", "50-66", "67+"], n, p=[0.2, 0.45, 0.33, 0.02]),
        "kjonn": rng.choice(["K", "M"], n),
        "year": rng.choice([2022, 2023], n),
        "dager": rng.gamma(2.0, 6.0, n).round(),
    })


@pytest.mark.parametrize("call", [
    lambda d: ((d.bydel, d.alder), {}),
    lambda d: ((d.bydel, d.alder), {"margins": True}),
    lambda d: (([d.bydel, d.kjonn], d.alder), {"margins": True}),
    lambda d: ((d.bydel, [d.alder, d.year]), {"margins": True, "margins_name": "Totalt"}),
    lambda d: ((d.year, d.kjonn), {"margins": True}),
    lambda d: ((d.bydel, d.alder), {"values": d.dager, "aggfunc": "mean", "margins": True}),
    lambda d: ((d.bydel, d.alder), {"values": d.dager, "aggfunc": "sum"}),
    lambda d: ((d.bydel, d.alder), {"normalize": "index"}),
    lambda d: ((d.bydel.to_numpy(), d.alder.to_numpy()), {}),
])
def test_table_is_exactly_what_pandas_returns(call):
    d = sick_leave()
    args, kwargs = call(d)
    ours = sdc.crosstab(*args, policy=POLICY, **kwargs)
    pd.testing.assert_frame_equal(ours.table, pd.crosstab(*args, **kwargs))
    assert ours.outcome.shape == ours.table.shape
    assert ours.outcome.index.equals(ours.table.index) and ours.outcome.columns.equals(ours.table.columns)


def test_pivot_table_and_describe_by_match_pandas():
    d = sick_leave()
    for kwargs in ({"index": "bydel", "columns": "alder", "values": "dager", "aggfunc": "mean", "margins": True},
                   {"index": ["bydel", "kjonn"], "values": "dager", "aggfunc": ["mean", "count", "max"]},
                   {"index": "bydel", "columns": "year", "values": ["dager"], "aggfunc": "sum", "margins": True}):
        ours = sdc.pivot_table(d, policy=POLICY, **kwargs)
        pd.testing.assert_frame_equal(ours.table, pd.pivot_table(d, **kwargs))
        assert ours.outcome.shape == ours.table.shape
    r = sdc.describe_by(d, "bydel", "dager", policy=POLICY)
    pd.testing.assert_frame_equal(r.table, d.groupby("bydel")[["dager"]].agg(
        ["count", "mean", "std", "min", "median", "max"]))
    # Bygdøy has a handful of rows: every statistic of that group fails the threshold, the others pass
    assert (r.outcome.loc["Bygdøy"].str.contains("threshold")).all()
    assert (r.outcome.loc["Grefsen"] == "").all()


def test_outcome_names_rules_per_cell_with_explained_flags():
    d = sick_leave()
    r = sdc.crosstab(d.bydel, d.alder, margins=True, policy=POLICY)
    assert r.outcome.loc["Bygdøy", "67+"] in ("threshold", "threshold; zero")
    assert r.outcome.loc["Grefsen", "30-49"] == ""
    assert r.summary.status == "fail" and r.summary == "fail"
    flag = next(f for f in r.summary.flags if f.row == "Bygdøy" and f.column == "67+")
    count = r.table.loc["Bygdøy", "67+"]
    assert flag.message.startswith(f"cell (Bygdøy, 67+) has {count} rows; the minimum is 10")
    assert r.protected.isna().loc["Bygdøy", "67+"]


def test_entity_counts_people_not_rows():
    # 3 employees with 12 monthly rows each: 36 rows pass a row threshold, 3 people do not.
    rows = [{"person": f"e{p}", "bydel": "Sagene", "month": m, "dager": 2.0} for p in range(3) for m in range(12)]
    rows += [{"person": f"g{p}", "bydel": "Grefsen", "month": m, "dager": 2.0} for p in range(30) for m in range(2)]
    d = pd.DataFrame(rows)
    d["k"] = "all"
    by_rows = sdc.crosstab(d.bydel, d.k, policy=POLICY)
    by_people = sdc.crosstab(d.bydel, d.k, entity=d.person, policy=POLICY)
    assert by_rows.outcome.loc["Sagene", "all"] == ""
    assert by_people.outcome.loc["Sagene", "all"] == "threshold"
    assert by_people.table.loc["Sagene", "all"] == 36  # the table itself still counts rows, as asked
    msg = next(f.message for f in by_people.summary.flags)
    assert "has 3 people; the minimum is 10" in msg


def test_entity_dominance_sums_each_persons_contributions_first():
    # one person with 40 small rows dominates a cell of 12 people; row by row nobody dominates
    rows = [{"person": "big", "g": "x", "v": 10.0} for _ in range(40)]
    rows += [{"person": f"p{i}", "g": "x", "v": 1.0} for i in range(11)]
    rows += [{"person": f"q{i}", "g": "y", "v": 5.0} for i in range(20)]
    d = pd.DataFrame(rows)
    d["k"] = "all"
    plain = sdc.crosstab(d.g, d.k, values=d.v, aggfunc="sum", policy=POLICY)
    people = sdc.crosstab(d.g, d.k, values=d.v, aggfunc="sum", entity=d.person, policy=POLICY)
    assert plain.outcome.loc["x", "all"] == ""
    assert people.outcome.loc["x", "all"] == "nk; p_percent"
    assert people.outcome.loc["y", "all"] == ""


def test_export_round_trip_passes_the_server_check(tmp_path):
    d = sick_leave()
    r = sdc.crosstab(d.bydel, d.alder, margins=True, entity=d.person, policy=POLICY)
    table, side = r.export(tmp_path / "fravaer.csv")
    assert side.name == "fravaer.csv.sdc.json"
    meta = json.loads(side.read_text())
    assert meta["unit"] == "entities" and meta["entity"] == "person" and len(meta["cells"]["count"]) == r.table.size
    report = check_file(table, declared_name="fravaer.csv", sidecar=side, policy=POLICY)
    assert report.verdict == "pass", report.flags
    assert report.cell_outcome is not None and len(report.cell_outcome) == r.table.shape[0]


def test_raw_export_fails_on_the_server_with_coordinates(tmp_path):
    d = sick_leave()
    r = sdc.crosstab(d.bydel, d.alder, margins=True, entity=d.person, policy=POLICY)
    table, side = r.export(tmp_path / "raw.csv", protected=False)
    report = check_file(table, declared_name="raw.csv", sidecar=side, policy=POLICY)
    assert report.verdict == "fail"
    coords = {(f.row, f.column) for f in report.flags if f.rule == "threshold"}
    small = np.argwhere(r.outcome.apply(lambda col: col.str.contains("threshold")).to_numpy())
    expected = {(str(r.table.index[i]), str(r.table.columns[j])) for i, j in small}
    assert expected and coords == expected
    # the suggested safe version is the protected table
    suggested = pd.read_csv(__import__("io").StringIO(report.suggested_csv), index_col=0)
    assert suggested.isna().sum().sum() == r.suppressed.to_numpy().sum()


def test_server_refuses_row_counting_sidecar_for_person_level_data(tmp_path):
    d = sick_leave()
    r = sdc.crosstab(d.bydel, d.kjonn, policy=POLICY)
    table, side = r.export(tmp_path / "t.csv")
    person = check_file(table, declared_name="t.csv", sidecar=side, policy=POLICY,
                        context=CheckContext(person_level=True))
    assert person.verdict == "fail"
    assert any("counts rows, not people" in f.message for f in person.flags)
    other = check_file(table, declared_name="t.csv", sidecar=side, policy=POLICY,
                       context=CheckContext(person_level=False))
    assert other.verdict == "pass"


def test_edited_file_no_longer_matches_its_sidecar(tmp_path):
    d = sick_leave()
    r = sdc.crosstab(d.bydel, d.alder, entity=d.person, policy=POLICY)
    table, side = r.export(tmp_path / "t.csv")
    text = table.read_text().replace("Grefsen,", "Grefsen,1", 1)
    table.write_text(text)
    report = check_file(table, declared_name="t.csv", sidecar=side, policy=POLICY)
    assert report.verdict != "pass"
    assert any(f.rule == "unverifiable" and "different version" in f.message for f in report.flags)


def test_magnitude_table_without_sidecar_is_unverifiable_for_dominance(tmp_path):
    d = sick_leave()
    r = sdc.crosstab(d.bydel, d.alder, values=d.dager, aggfunc="mean", entity=d.person, policy=POLICY)
    table, side = r.export(tmp_path / "m.csv")
    with_side = check_file(table, declared_name="m.csv", sidecar=side, policy=POLICY)
    without = check_file(table, declared_name="m.csv", policy=POLICY)
    assert with_side.verdict == "pass", with_side.flags
    assert without.verdict == "review" and "dominance" in without.unverifiable


def test_dominated_cell_found_by_server_from_sidecar(tmp_path):
    d = sick_leave()
    d.loc[d.index[d.bydel == "Frogner"][0], "dager"] = 1e6
    r = sdc.crosstab(d.bydel, d.kjonn, values=d.dager, aggfunc="sum", entity=d.person, policy=POLICY)
    table, side = r.export(tmp_path / "s.csv", protected=False)
    report = check_file(table, declared_name="s.csv", sidecar=side, policy=POLICY)
    nk = [f for f in report.flags if f.rule == "nk"]
    assert nk and nk[0].row == "Frogner" and "largest contributors make up" in nk[0].message


def test_regression_dof():
    rng = np.random.default_rng(0)
    x = pd.DataFrame({"x1": rng.normal(size=12), "x2": rng.normal(size=12), "x3": rng.normal(size=12)})
    y = x.x1 * 2 + rng.normal(size=12)
    small = sdc.ols(y, x, policy=POLICY)
    assert small.dof == 8 and small.summary.status == "fail" and (small.outcome == "dof").all().all()
    big = sdc.ols(formula="y ~ x1", data=x.assign(y=y).sample(12, replace=False), policy=POLICY)
    assert big.dof == 10 and big.summary.status == "pass"
    yb = (y > y.median()).astype(int)
    lg = sdc.logit(pd.concat([yb] * 3, ignore_index=True), pd.concat([x[["x1"]]] * 3, ignore_index=True),
                   policy=POLICY)
    assert lg.dof == 34 and lg.summary.status == "pass"


def test_notebook_side_imports_only_the_allowed_packages(tmp_path):
    code = textwrap.dedent(f"""
        import sys, importlib.abc
        BLOCKED = ("fastapi", "sqlalchemy", "starlette", "statsmodels", "scipy", "pydantic_settings", "jupyterhub")
        class Block(importlib.abc.MetaPathFinder):
            def find_spec(self, name, path=None, target=None):
                if name.split(".")[0] in BLOCKED:
                    raise ImportError("blocked in the notebook image: " + name)
        sys.meta_path.insert(0, Block())
        import pandas as pd
        from egress_review import sdc
        from egress_review.checks import check_file
        d = pd.DataFrame({{"a": list("xxyy") * 10, "b": list("uvuv") * 10}})
        r = sdc.crosstab(d.a, d.b)
        t, s = r.export({str(tmp_path / 'n.csv')!r})
        print(r.summary.status, check_file(t, declared_name="n.csv", sidecar=s).verdict)
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=Path(__file__).parents[3],
                         timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["pass", "fail"]  # server: person-level policy wants entity= (default context)


def test_regression_export_is_rechecked_for_dof(tmp_path):
    rng = np.random.default_rng(4)
    x = pd.DataFrame({"x1": rng.normal(size=9), "x2": rng.normal(size=9)})
    r = sdc.ols(x.x1 + rng.normal(size=9), x[["x2"]], policy=POLICY)
    table, side = r.export(tmp_path / "coef.csv", protected=False)
    report = check_file(table, declared_name="coef.csv", sidecar=side, policy=POLICY)
    assert report.verdict == "fail"
    assert [f.rule for f in report.flags] == ["dof"] and "7 residual degrees of freedom" in report.flags[0].message


def test_grouped_statistics_with_missing_values_round_trip(tmp_path):
    d = sick_leave()
    d.loc[d.index[::7], "dager"] = np.nan
    r = sdc.describe_by(d, ["bydel", "kjonn"], "dager", stats=["count", "mean", "max"], entity="person",
                        policy=POLICY)
    table, side = r.export(tmp_path / "g.csv", protected=False)
    report = check_file(table, declared_name="g.csv", sidecar=side, policy=POLICY)
    assert not [f for f in report.flags if f.rule == "unverifiable"], report.flags[:3]
    assert {f.rule for f in report.flags} == {"threshold"} and all(f.row.startswith("Bygdøy") for f in report.flags)


def test_server_rechecks_blank_cells_against_the_totals(tmp_path):
    d = sick_leave()
    r = sdc.crosstab(d.bydel, d.alder, margins=True, policy=POLICY)
    table, side = r.export(tmp_path / "p.csv")
    meta = json.loads(side.read_text())
    assert meta["row_totals"] and meta["column_totals"] and meta["additive"]
    ok = check_file(table, declared_name="p.csv", sidecar=side, policy=POLICY,
                    context=CheckContext(person_level=False))
    assert ok.verdict == "pass", ok.flags
    # undo the complementary suppression: the primary cells become recomputable and the server says so
    leaky = r.table.astype(float).mask(r.outcome != "")
    flat = r.flat_table(leaky)
    flat.to_csv(table, index=False)
    meta["sha256"] = __import__("hashlib").sha256(table.read_bytes()).hexdigest()
    meta["cells"]["suppressed"] = [bool(x) for x in (r.outcome != "").to_numpy().ravel()]
    side.write_text(json.dumps(meta))
    bad = check_file(table, declared_name="p.csv", sidecar=side, policy=POLICY,
                     context=CheckContext(person_level=False))
    assert any("can be worked out" in f.message for f in bad.flags) and bad.verdict == "fail"
    # a one-way table with several statistics has no row totals: no false alarm about its blanks
    one = sdc.pivot_table(d, index="bydel", values="dager", aggfunc=["mean", "count"], margins=True, policy=POLICY)
    t1, s1 = one.export(tmp_path / "one.csv")
    assert not json.loads(s1.read_text())["row_totals"]
    r1 = check_file(t1, declared_name="one.csv", sidecar=s1, policy=POLICY, context=CheckContext(person_level=False))
    assert not any("worked out" in f.message for f in r1.flags)
