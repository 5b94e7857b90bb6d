"""Outputs verified against the data (issue 16 item 3).

A table made with the ``sdc`` wrappers records how it was made (extract file and SHA-256, filters, the
call); the check worker's replay (``egress_review.replay``, run by ``egress_review.autocheck``) makes it
again from the project's extract and compares. Real files throughout: a Parquet extract in a project
data folder, the wrappers' own exports, the check worker's in-process path.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from egress_review import autocheck, sdc
from egress_review.autocheck import CheckInput, run_checks
from egress_review.checks.policy import DisclosurePolicy
from egress_review.checks.replay import RTOL
from tests.unit.checks.test_sdc_wrappers import sick_leave

pytestmark = pytest.mark.unit
POLICY = DisclosurePolicy()
EXTRACT = "sykefravaer.parquet"


@pytest.fixture()
def project(tmp_path: Path) -> Path:
    """A project's data folder as provisioning writes it, with one extract (people with many rows)."""
    data = tmp_path / "data"
    data.mkdir()
    d = sick_leave()
    # one person with very many sick days in Frogner: the cell's sum is dominated by them
    d.loc[(d.bydel == "Frogner") & (d.alder == "30-49"), "person"] = "p99999"
    d.loc[d.person == "p99999", "dager"] = 900.0
    d.loc[d.index[:40], "dager"] = np.nan  # a few missing values: means over what is there
    d.to_parquet(data / EXTRACT, index=False)
    return data


def _check(table: Path, side: Path | None, data: Path, policy: DisclosurePolicy = POLICY) -> dict:
    outcome = run_checks(CheckInput(path=table, declared_name=table.name, sidecar=side, extract_dir=data,
                                    project="p", policy=policy), in_process_max_bytes=10**9)
    return outcome.report


def _rehash(table: Path, side: Path, meta: dict) -> None:
    meta["sha256"] = hashlib.sha256(table.read_bytes()).hexdigest()
    side.write_text(json.dumps(meta))


def _rules(report: dict) -> set[str]:
    return {f["rule"] for f in report["flags"]}


def test_honest_tables_reproduce_bit_for_bit(project: Path, tmp_path: Path):
    df = sdc.read_extract(project / EXTRACT)
    grefsen = sdc.where(df, ("dager", ">=", 2), bydel=["Grefsen", "Sagene"])
    made = [
        sdc.crosstab(df.bydel, df.alder, entity=df.person, margins=True, policy=POLICY),
        sdc.crosstab(grefsen.bydel, grefsen.kjonn, values=grefsen.dager, aggfunc="mean", entity=grefsen.person,
                     policy=POLICY),
        sdc.pivot_table(grefsen, values="dager", index="alder", columns="kjonn", aggfunc=["sum", "mean"],
                        entity="person", policy=POLICY),
        sdc.describe_by(df, by="bydel", values="dager", entity=df.person, policy=POLICY),
    ]
    for i, r in enumerate(made):
        assert r.replay is not None, r.replay_problem
        table, side = r.export(tmp_path / f"t{i}.csv")
        report = _check(table, side, project)
        assert report["replay"].startswith("reproduced from the data (bit-for-bit)"), (i, report)
        assert "replay" not in _rules(report)
    spec = json.loads(side.read_text())["replay"]
    assert spec["source"] == EXTRACT and spec["source_sha256"] == hashlib.sha256(
        (project / EXTRACT).read_bytes()).hexdigest()


def test_floats_reproduce_within_the_stated_tolerance(project: Path, tmp_path: Path):
    """A table re-saved with floats printed at 12 significant digits still reproduces (relative 1e-9)."""
    df = sdc.read_extract(project / EXTRACT)
    r = sdc.crosstab(df.bydel, df.kjonn, values=df.dager, aggfunc="mean", entity=df.person, policy=POLICY)
    table, side = r.export(tmp_path / "means.csv")
    pd.read_csv(table).to_csv(table, index=False, float_format="%.12g")
    meta = json.loads(side.read_text())
    _rehash(table, side, meta)
    report = _check(table, side, project)
    assert report["replay"].startswith(f"reproduced from the data (within a relative tolerance of {RTOL:g})")
    # a change beyond the tolerance is not
    t = pd.read_csv(table)
    i = int(t["K"].notna().to_numpy().argmax())  # a cell that is not suppressed
    t.loc[i, "K"] = t.loc[i, "K"] * (1 + 1e-6)
    t.to_csv(table, index=False, float_format="%.12g")
    _rehash(table, side, meta)
    assert _check(table, side, project)["replay"] == "does not match the data"


def _dominated_sum(project: Path, tmp_path: Path) -> tuple[Path, Path, dict]:
    df = sdc.read_extract(project / EXTRACT)
    r = sdc.crosstab(df.bydel, df.alder, values=df.dager, aggfunc="sum", entity=df.person, policy=POLICY)
    assert r.outcome.loc["Frogner", "30-49"] != "ok"  # one person makes that cell
    table, side = r.export(tmp_path / "sum.csv", protected=False)  # the researcher argues an exception
    return table, side, json.loads(side.read_text())


def test_forged_sidecar_contributions_are_replaced_by_the_replay(project: Path, tmp_path: Path, monkeypatch):
    table, side, meta = _dominated_sum(project, tmp_path)
    k = meta["row_labels"].index("Frogner") * meta["shape"][1] + meta["column_labels"].index("30-49")
    total = meta["cells"]["total"][k]
    # the forgery: the dominant person's contribution spread over many, counts raised to match
    meta["cells"]["top"][k] = [total / 50] * len(meta["cells"]["top"][k])
    meta["cells"]["count"][k] = meta["cells"]["rows"][k]
    side.write_text(json.dumps(meta))
    report = _check(table, side, project)
    assert report["replay"].startswith("reproduced from the data")  # the file itself is honest
    dominance = [f for f in report["flags"] if f["rule"] in ("nk", "p_percent") and f["row"] == "Frogner"
                 and f["column"] == "30-49"]
    assert dominance and report["verdict"] == "fail"
    # control removed: without the replay the forged contributions pass the dominance rules
    monkeypatch.setattr(autocheck, "_replay", lambda item: None)
    forged = _check(table, side, project)
    assert not [f for f in forged["flags"] if f["rule"] in ("nk", "p_percent") and f["row"] == "Frogner"]


def test_edited_csv_does_not_match_the_data(project: Path, tmp_path: Path, monkeypatch):
    df = sdc.where(sdc.read_extract(project / EXTRACT), bydel=["Grefsen", "Sagene", "Frogner"])
    r = sdc.crosstab(df.bydel, df.kjonn, entity=df.person, policy=POLICY)
    assert r.status == "pass"
    table, side = r.export(tmp_path / "counts.csv")
    t = pd.read_csv(table, dtype=str, keep_default_na=False)
    t.loc[0, "K"] = str(int(t.loc[0, "K"]) + 20)  # one cell changed, the sidecar rehashed to match
    t.to_csv(table, index=False)
    meta = json.loads(side.read_text())
    k = 0 * meta["shape"][1] + meta["column_labels"].index("K")
    meta["cells"]["rows"][k] += 20
    meta["cells"]["count"][k] += 20
    _rehash(table, side, meta)
    report = _check(table, side, project)
    assert report["replay"] == "does not match the data" and report["verdict"] == "fail"
    flag = next(f for f in report["flags"] if f["rule"] == "replay")
    assert flag["severity"] == "fail" and "K" in flag["message"]
    # control removed: the edited sidecar agrees with the edited file, and nothing else objects
    monkeypatch.setattr(autocheck, "_replay", lambda item: None)
    assert _check(table, side, project)["verdict"] == "pass"


def test_undeclared_filter_is_caught(project: Path, tmp_path: Path, monkeypatch):
    """A table from a subset whose spec claims the whole extract does not match; a subset made with
    plain pandas is honestly 'not replayable'."""
    df = sdc.read_extract(project / EXTRACT)
    sub = sdc.where(df, kjonn="K")
    r = sdc.crosstab(sub.bydel, sub.alder, entity=sub.person, policy=POLICY)
    assert r.replay["filters"] == [{"column": "kjonn", "op": "==", "value": "K"}]
    table, side = r.export(tmp_path / "women.csv")
    assert _check(table, side, project)["replay"].startswith("reproduced")
    meta = json.loads(side.read_text())
    meta["replay"]["filters"] = []  # the filter left out of the record
    side.write_text(json.dumps(meta))
    report = _check(table, side, project)
    assert report["replay"] == "does not match the data" and report["verdict"] == "fail"

    plain = df[df.kjonn == "K"]
    r2 = sdc.crosstab(plain.bydel, plain.alder, entity=plain.person, policy=POLICY)
    assert r2.replay is None and "sdc.where" in r2.replay_problem
    t2, s2 = r2.export(tmp_path / "women2.csv")
    report = _check(t2, s2, project)
    assert report["replay"] == "not replayable" and "not_replayable" not in report["unverifiable"]
    strict = DisclosurePolicy.model_validate({"replay": {"not_replayable": "review"}})
    report = _check(t2, s2, project, strict)
    assert "not_replayable" in report["unverifiable"] and report["verdict"] != "pass"
    assert any(f["rule"] == "replay" and f["severity"] == "review" for f in report["flags"])


def test_derived_columns_and_foreign_data_are_not_replayable(project: Path):
    df = sdc.read_extract(project / EXTRACT)
    doubled = df.dager * 2  # same name, same attrs, other values
    r = sdc.crosstab(df.bydel, df.alder, values=doubled, aggfunc="sum", entity=df.person, policy=POLICY)
    assert r.replay is None and "dager" in r.replay_problem
    r = sdc.pivot_table(df.assign(dager=df.dager + 1), values="dager", index="bydel", entity="person",
                        policy=POLICY)
    assert r.replay is None
    other = pd.read_parquet(project / EXTRACT)
    r = sdc.crosstab(other.bydel, other.alder, policy=POLICY)
    assert r.replay is None and "read_extract" in r.replay_problem


def test_rebuilt_extract_is_not_replayable(project: Path, tmp_path: Path):
    df = sdc.read_extract(project / EXTRACT)
    table, side = sdc.crosstab(df.bydel, df.alder, entity=df.person, policy=POLICY).export(tmp_path / "c.csv")
    pd.read_parquet(project / EXTRACT).iloc[:-1].to_parquet(project / EXTRACT, index=False)
    report = _check(table, side, project)
    assert report["replay"] == "not replayable"


def test_researcher_side_helpers_import_with_pandas_alone(project: Path, tmp_path: Path):
    """The notebook image has no service libraries: the wrappers, read_extract and where need none."""
    code = (
        "import sys\n"
        "for m in ('sqlalchemy', 'fastapi', 'httpx', 'provisioning', 'sandkasse', 'statsmodels', 'jinja2'):\n"
        "    sys.modules[m] = None\n"
        "from egress_review import sdc\n"
        f"df = sdc.where(sdc.read_extract({str(project / EXTRACT)!r}), kjonn='M')\n"
        "r = sdc.crosstab(df.bydel, df.alder, entity=df.person)\n"
        f"r.export({str(tmp_path / 'm.csv')!r})\n"
        "print(r.replay['source'])\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == EXTRACT


@pytest.mark.parametrize("make", [
    lambda d: sdc.crosstab([d.bydel, d.kjonn], d.alder, margins=True, entity=d.person, policy=POLICY),
    lambda d: sdc.crosstab(d.bydel, [d.alder, d.year], margins=True, margins_name="Totalt", policy=POLICY),
    lambda d: sdc.crosstab(d.bydel, d.alder, normalize="index", entity=d.person, policy=POLICY),
    lambda d: sdc.crosstab(d.bydel, d.alder, values=d.dager, aggfunc=np.sum, margins=True, entity=d.person,
                           policy=POLICY),
    lambda d: sdc.pivot_table(d, values=["dager", "year"], index=["bydel", "kjonn"], aggfunc="mean", entity="person",
                              policy=POLICY),
    lambda d: sdc.pivot_table(d, values="dager", index="bydel", columns="alder", aggfunc="count", margins=True,
                              fill_value=0, entity=d.person, policy=POLICY),
    lambda d: sdc.describe_by(d, by=["bydel", "kjonn"], values="dager", stats=("count", "mean", "max"),
                              policy=POLICY),
])
@pytest.mark.parametrize("suffix", [".csv", ".xlsx", ".parquet"])
def test_every_wrapper_shape_and_format_reproduces(project: Path, tmp_path: Path, make, suffix: str):
    d = sdc.where(sdc.read_extract(project / EXTRACT), ("year", "==", 2023))
    r = make(d)
    assert r.replay is not None, r.replay_problem
    table, side = r.export(tmp_path / f"t{suffix}")
    report = _check(table, side, project)
    assert report["replay"].startswith("reproduced from the data"), report
    if suffix != ".xlsx":  # an XLSX file carries its own creation time
        assert "bit-for-bit" in report["replay"]
