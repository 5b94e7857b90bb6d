"""The researcher's sidecar is evidence, never authority (issue 13 item 2).

What the server can see in the file is always checked, whatever the sidecar says; a sidecar that
disagrees with the file is rejected with its reason; text outputs get the table checks; a count column
is recognised by its values, not its name. Each test was run with its control switched off and failed.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from egress_review import sdc
from egress_review.checks import CheckContext, check_file
from egress_review.checks.policy import DisclosurePolicy
from tests.unit.checks.test_sdc_wrappers import sick_leave

pytestmark = pytest.mark.unit
POLICY = DisclosurePolicy()
CTX = CheckContext(person_level=True)


def _rehash(table: Path, meta: dict, side: Path) -> None:
    meta["sha256"] = hashlib.sha256(table.read_bytes()).hexdigest()
    side.write_text(json.dumps(meta))


def _safe_export(tmp_path: Path) -> tuple[Path, Path, dict]:
    d = sick_leave()
    r = sdc.crosstab(d.bydel, d.alder, entity=d.person, policy=POLICY)
    table, side = r.export(tmp_path / "t.csv")
    return table, side, json.loads(side.read_text())


def _small_counts(tmp_path: Path, name: str = "small.csv") -> Path:
    p = tmp_path / name
    p.write_text("bydel,K,M\nGrefsen,3,41\nSagene,22,2\nFrogner,17,15\n")
    return p


def _sidecar_for(table: Path, cells: dict | None, **over) -> Path:
    frame = pd.read_csv(table, index_col=0)
    meta = {"format": "sandkasse-sdc-sidecar", "command": "crosstab", "entity": "person", "unit": "entities",
            "table_file": table.name, "sha256": hashlib.sha256(table.read_bytes()).hexdigest(),
            "shape": list(frame.shape), "row_labels": [str(x) for x in frame.index],
            "column_labels": [str(c) for c in frame.columns], "cells": cells, **over}
    side = Path(str(table) + ".sdc.json")
    side.write_text(json.dumps(meta))
    return side


def test_a_regression_sidecar_cannot_switch_off_the_checks_of_a_count_table(tmp_path):
    table = _small_counts(tmp_path)
    side = _sidecar_for(table, None, kind="regression", dof=500)
    report = check_file(table, declared_name=table.name, sidecar=side, policy=POLICY, context=CTX)
    assert report.verdict == "fail"
    assert {(f.row, f.column) for f in report.flags if f.rule == "threshold"} == {("Grefsen", "K"), ("Sagene", "M")}
    assert any("sidecar was rejected" in f.message and "coefficient table" in f.message for f in report.flags)


def test_a_regression_sidecar_cannot_hide_microdata(tmp_path):
    d = sick_leave(1000)
    table = tmp_path / "model.csv"
    d.drop(columns="person").to_csv(table)
    side = _sidecar_for(table, None, kind="regression", dof=990)
    report = check_file(table, declared_name=table.name, sidecar=side, policy=POLICY, context=CTX)
    assert report.verdict == "fail" and any(f.rule == "record_level" for f in report.flags)


def test_a_sidecar_calling_small_counts_sums_cannot_lift_the_threshold(tmp_path):
    table = _small_counts(tmp_path)
    shown = [3, 41, 22, 2, 17, 15]
    cells = {"agg": ["sum"] * 6, "count": [100] * 6, "rows": [100] * 6, "total": shown,
             "top": [[1, 1]] * 6, "suppressed": [False] * 6, "margin": [False] * 6}
    report = check_file(table, declared_name=table.name, sidecar=_sidecar_for(table, cells), policy=POLICY,
                        context=CTX)
    assert report.verdict != "pass"
    flagged = {(f.row, f.column) for f in report.flags if f.rule == "threshold"}
    assert flagged == {("Grefsen", "K"), ("Sagene", "M")}
    assert all("calls it a sum" in f.message for f in report.flags if f.rule == "threshold")


def test_a_sidecar_claiming_more_people_than_rows_is_rejected(tmp_path):
    table = _small_counts(tmp_path)
    shown = [3, 41, 22, 2, 17, 15]
    cells = {"agg": ["count"] * 6, "count": [50] * 6, "rows": shown, "suppressed": [False] * 6,
             "margin": [False] * 6}
    report = check_file(table, declared_name=table.name, sidecar=_sidecar_for(table, cells), policy=POLICY,
                        context=CTX)
    assert report.verdict == "fail"
    assert any("sidecar rejected" in u and "more units than it has rows" in u for u in report.unverifiable)
    assert {(f.row, f.column) for f in report.flags if f.rule == "threshold"} == {("Grefsen", "K"), ("Sagene", "M")}


@pytest.mark.parametrize("tamper, reason", [
    (lambda m: m.update(sha256=""), "no SHA-256"),
    (lambda m: m.update(kind="regression", dof=100), "per-cell table statistics"),
    (lambda m: m.update(cells=None), "no statistics for its cells"),
    (lambda m: m["row_labels"].reverse(), "labels differ"),
    (lambda m: m.update(shape=[m["shape"][0] + 1, m["shape"][1]]), "describes a"),
    (lambda m: m["cells"]["rows"].pop(), "'rows' list has"),
    (lambda m: m["cells"]["agg"].__setitem__(0, "secret"), "aggregate the checks do not know"),
    (lambda m: m["cells"]["rows"].__setitem__(0, -5), "negative number of rows"),
    (lambda m: m["cells"]["count"].__setitem__(0, 10_000), "more units than it has rows"),
])
def test_a_sidecar_that_disagrees_with_the_file_is_rejected_with_its_reason(tmp_path, tamper, reason):
    table, side, meta = _safe_export(tmp_path)
    assert check_file(table, declared_name="t.csv", sidecar=side, policy=POLICY, context=CTX).verdict == "pass"
    tamper(meta)
    side.write_text(json.dumps(meta))
    report = check_file(table, declared_name="t.csv", sidecar=side, policy=POLICY, context=CTX)
    assert report.verdict != "pass"
    rejected = [f for f in report.flags if f.rule == "unverifiable" and "sidecar was rejected" in f.message]
    assert rejected and reason in rejected[0].message, report.flags
    assert any(u.startswith("sidecar rejected:") and reason in u for u in report.unverifiable)


def test_an_edited_table_with_a_rehashed_sidecar_is_still_checked_on_what_it_shows(tmp_path):
    table, side, meta = _safe_export(tmp_path)
    frame = pd.read_csv(table)
    frame.iloc[0, 1] = 4  # the researcher un-suppresses a small cell and re-hashes the sidecar
    frame.to_csv(table, index=False)
    _rehash(table, meta, side)
    report = check_file(table, declared_name="t.csv", sidecar=side, policy=POLICY, context=CTX)
    assert report.verdict == "fail"
    assert any(f.rule == "threshold" and f.row == str(frame.iloc[0, 0]) for f in report.flags)


@pytest.mark.parametrize("name, render", [
    ("extract.txt", lambda d: d.to_csv(index=False)),
    ("extract.md", lambda d: "| " + " | ".join(d.columns) + " |\n|" + "---|" * d.shape[1] + "\n"
     + "".join("| " + " | ".join(map(str, r)) + " |\n" for r in d.itertuples(index=False))),
    ("extract.json", lambda d: d.to_json(orient="records")),
    ("extract.json", lambda d: d.to_json()),
    ("printed.txt", lambda d: d.to_string()),
])
def test_a_1000_row_extract_renamed_to_a_text_type_does_not_pass(tmp_path, name, render):
    d = sick_leave(1000)
    p = tmp_path / name
    p.write_text(render(d))
    report = check_file(p, declared_name=name, policy=POLICY, context=CTX)
    assert report.verdict == "fail"
    assert any(f.rule == "record_level" for f in report.flags), report.flags


def test_prose_and_a_small_safe_text_table_still_pass(tmp_path):
    p = tmp_path / "notes.md"
    p.write_text("# Method\n\nWe counted episodes per area, see the table.\n\n| area | episodes |\n|---|---|\n"
                 "| Grefsen | 140 |\n| Sagene | 122 |\n| Frogner | 98 |\n")
    assert check_file(p, declared_name=p.name, policy=POLICY, context=CheckContext(person_level=False)).verdict \
        == "pass"


@pytest.mark.parametrize("column", ["andel", "rate", "%", "n_people"])
def test_a_renamed_count_column_is_recognised_or_marked_for_the_checkers(tmp_path, column):
    p = tmp_path / "t.csv"
    p.write_text(f"bydel,{column}\nGrefsen,3\nSagene,41\nFrogner,22\n")
    report = check_file(p, declared_name=p.name, policy=POLICY, context=CheckContext(person_level=False))
    assert report.verdict != "pass"
    threshold = [f for f in report.flags if f.rule == "threshold" and f.row == "Grefsen"]
    marked = [f for f in report.flags if f.rule == "unverifiable" and f.column == column]
    assert threshold or (marked and f"counts: column {column}" in report.unverifiable), report.flags


@pytest.mark.parametrize("odd", ["-1", "2.5"])
def test_one_negative_or_fractional_value_does_not_turn_counts_into_a_measure(tmp_path, odd):
    p = tmp_path / "t.csv"
    rows = "".join(f"area {i},{40 + i},{30 + i}\n" for i in range(8))
    p.write_text(f"area,K,M\n{rows}Grefsen,3,{odd}\n")
    report = check_file(p, declared_name=p.name, policy=POLICY, context=CheckContext(person_level=False))
    assert report.verdict == "fail"
    assert {(f.row, f.column) for f in report.flags if f.rule == "threshold"} >= {("Grefsen", "K"), ("Grefsen", "M")}


def test_a_true_measure_column_is_not_taken_for_counts(tmp_path):
    p = tmp_path / "t.csv"
    rng = np.random.default_rng(1)
    p.write_text("bydel,mean_days\n" + "".join(f"area {i},{x:.2f}\n" for i, x in enumerate(rng.gamma(2, 4, 12))))
    report = check_file(p, declared_name=p.name, policy=POLICY, context=CheckContext(person_level=False))
    assert not [f for f in report.flags if f.rule == "threshold"]


def test_microdata_dressed_as_a_coefficient_table_with_a_valid_regression_sidecar_is_record_level(tmp_path):
    """The sidecar's claims all agree with the file, yet its rows are 1,000 records: still checked."""
    rng = np.random.default_rng(3)
    d = sick_leave(1000)
    table = tmp_path / "coef.csv"
    pd.DataFrame({"": d.person + "-" + d.index.astype(str), "coef": d.dager, "std err": rng.normal(size=1000),
                  "t": rng.normal(size=1000), "P>|t|": rng.random(1000)}).to_csv(table, index=False)
    side = _sidecar_for(table, None, kind="regression", dof=990)
    report = check_file(table, declared_name=table.name, sidecar=side, policy=POLICY, context=CTX)
    assert not [f for f in report.flags if "sidecar was rejected" in f.message]
    assert report.verdict == "fail" and any(f.rule == "record_level" for f in report.flags), report.flags


def test_a_ranking_of_units_is_not_taken_for_numbered_records(tmp_path):
    p = tmp_path / "ranking.txt"
    p.write_text("rank,unit,episodes\n" + "".join(f"{i + 1},Unit {i},{400 - i}\n" for i in range(60)))
    report = check_file(p, declared_name=p.name, policy=POLICY, context=CheckContext(person_level=False))
    assert not [f for f in report.flags if f.rule == "record_level"], report.flags
