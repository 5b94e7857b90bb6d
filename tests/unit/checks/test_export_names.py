"""Export file names: made from the call (``crosstab_unit_gender.csv``), or given by the researcher with
``name=`` or as the key of ``request_export({...})``; never a folder, never two files with one name."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from egress_review.client import ExportError, _materialise, _named_items
from egress_review.export_names import call_name, check_name, table_file_name, unique
from egress_review.sdc import crosstab, describe_by, ols, pivot_table

pytestmark = pytest.mark.unit


@pytest.fixture(scope="module")
def df() -> pd.DataFrame:
    rng = np.random.default_rng(7)
    n = 2000
    return pd.DataFrame({
        "national_id": rng.integers(0, 600, n).astype(str),
        "unit": rng.choice(["Lade sykehjem", "Moholt barnehage", "Byåsen skole"], n),
        "gender": rng.choice(["F", "M"], n),
        "year": rng.choice([2024, 2025], n),
        "days": rng.integers(1, 30, n).astype(float),
    })


def test_default_names_come_from_the_call(df):
    assert crosstab(df.unit, df.gender, entity=df.national_id).file_name == "crosstab_unit_gender.csv"
    assert crosstab(df.unit, df.gender, values=df.days, aggfunc="sum").file_name == "crosstab_sum_days_by_unit_gender.csv"
    assert pivot_table(df, values="days", index="unit", columns="year", aggfunc="mean",
                       entity="national_id").file_name == "pivot_table_mean_days_by_unit_year.csv"
    assert describe_by(df, "unit", "days", stats=("count", "mean")).file_name == "describe_by_days_by_unit.csv"
    assert ols(formula="days ~ year", data=df).file_name == "ols_days.csv"


def test_name_on_the_call_or_the_result_wins(df):
    r = crosstab(df.unit, df.gender, name="staff_by_unit_and_gender")
    assert r.file_name == "staff_by_unit_and_gender.csv"
    r.name = "staff.xlsx"
    assert r.file_name == "staff.xlsx"  # a table suffix is kept; export() writes that format
    with pytest.raises(ValueError):
        crosstab(df.unit, df.gender, name="../outside.csv")


def test_names_are_plain_file_names():
    assert call_name("crosstab", ["Tjenesteområde"], ["Kjønn / alder"]) == "crosstab_tjenesteområde_kjønn_alder"
    assert table_file_name("sick_days_by_area") == "sick_days_by_area.csv"
    for bad in ("", "a/b.csv", "..", ".hidden.csv", "a\\b.csv"):
        with pytest.raises(ValueError):
            check_name(bad)
    assert unique(["a.csv", "A.csv", "a.csv", "b"]) == ["a.csv", "A_2.csv", "a_3.csv", "b"]


def test_request_export_names_files_by_the_mapping_and_by_the_call(df, tmp_path):
    by_unit = crosstab(df.unit, df.gender, entity=df.national_id)
    plain = tmp_path / "notes.txt"
    plain.write_text("how the tables were made")
    work = tmp_path / "work"
    work.mkdir()
    files = _materialise(_named_items({"sick_days_by_area.csv": by_unit, "method.txt": plain}), work)
    assert [(p.name, n) for p, n, _ in files] == [("sick_days_by_area.csv", "sick_days_by_area.csv"),
                                                  ("notes.txt", "method.txt")]
    assert files[0][2]["table_file"] == "sick_days_by_area.csv"  # the sidecar names the file it describes
    # in a list: names from the calls, a repeated one made unique (never table_1.csv)
    work2 = tmp_path / "work2"
    work2.mkdir()
    names = [n for _, n, _ in _materialise(_named_items([by_unit, by_unit, plain]), work2)]
    assert names == ["crosstab_unit_gender.csv", "crosstab_unit_gender_2.csv", "notes.txt"]
    with pytest.raises(ExportError, match="plain file name"):
        _materialise(_named_items({"../x.csv": by_unit}), tmp_path)


def test_export_names_import_with_the_standard_library_alone():
    """The client and the sdc wrappers share the naming module; it must not pull in pydantic, yaml or httpx."""
    code = ("import sys\nfor m in ('pydantic', 'yaml', 'httpx', 'numpy', 'pandas'): sys.modules[m] = None\n"
            "from egress_review.export_names import call_name\nprint(call_name('crosstab', ['unit'], ['gender']))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "crosstab_unit_gender"
