"""Identifier scan precision and recall on tables made from the synthetic data (issue 14 item 4).

1,000 safe tables (unit, place, job names, dates, times, year ranges, postcodes, counts) must give no
hit; every planted identifier (national id, e-mail, phone, full name, address, a surname or first name
alone in a cell) must be found. bench/bench_identifiers.py prints the same figures against the old scan.
"""

from __future__ import annotations

import numpy as np
import pytest

from egress_review.checks import CheckContext, DisclosurePolicy, check_file
from egress_review.checks.identifiers import IdentifierScanner
from egress_review.checks.policy import IdentifierRule
from tests.unit.checks.identifier_corpus import PLANT_KINDS, as_csv, as_text, corpus, planted, safe_table

pytestmark = pytest.mark.unit


def _scanner() -> IdentifierScanner:
    c = corpus()
    return IdentifierScanner(IdentifierRule(), c.identifier_values, c.quasi_values)


def _hits(scanner: IdentifierScanner, rows: list[list[str]]) -> list:
    cells = [x for r in rows for x in r if x]
    return [h for t in cells + as_text(rows).splitlines() for h in scanner.scan(t)]


def test_no_false_positive_on_1000_safe_tables_from_the_synthetic_data():
    c, scanner = corpus(), _scanner()
    rng = np.random.default_rng(14)
    false = [(rows, h) for rows in (safe_table(rng, c) for _ in range(1000)) for h in _hits(scanner, rows)]
    assert not false, f"{len(false)} false positives, first: {false[0][1]} in {false[0][0][:3]}"


def test_every_planted_identifier_is_found():
    c, scanner = corpus(), _scanner()
    rng = np.random.default_rng(4)
    kinds_seen, missed = set(), []
    for _ in range(1000):
        rows, kind, text = planted(rng, c, scanner.ignored)
        kinds_seen.add(kind)
        cells_hit = [h for x in (x for r in rows for x in r if x) for h in scanner.scan(x)]
        lines_hit = [h for line in as_text(rows).splitlines() for h in scanner.scan(line)]
        if not cells_hit or not lines_hit:
            missed.append((kind, text, bool(cells_hit), bool(lines_hit)))
    assert kinds_seen == set(PLANT_KINDS)
    assert not missed, f"{len(missed)} missed, e.g. {missed[:5]}"


def test_dates_times_year_ranges_and_postcode_counts_are_never_phone_or_national_id_numbers():
    scanner = IdentifierScanner(IdentifierRule())
    for text in ("2025-01-10", "10.01.2025", "20250110", "10012025", "2019-2025", "2019 - 2025", "12:30",
                 "08:30-16:00", "2025-01-10 12:30:45", "7030 1534", "7030 TRONDHEIM 2345", "2025-01-10,12345",
                 "1988-07-09 00:00:00", "Period 2019-2025: 2345 cases", "7030 12 34"):
        assert scanner.scan(text) == [], text
    assert [h.kind for h in scanner.scan("tlf 22 33 44 55")] == ["phone"]


def test_place_names_that_are_surnames_do_not_hit_but_names_do():
    scanner = IdentifierScanner(IdentifierRule(), {"Berg", "Moholt", "Lade", "Hansen", "Ingrid", "Moholt allé 12"},
                                ignore={"Berg school", "Moholt health and welfare centre", "Home-based services Lade"})
    kinds = lambda t: [h.kind for h in scanner.scan(t)]  # noqa: E731
    assert kinds("Berg school") == [] and kinds("Berg") == [] and kinds("Lade") == [] and kinds("Moholt") == []
    assert kinds("Hansen") == ["project_value"]  # a surname alone in a cell
    assert kinds("Hansen school") == []  # one name word inside a longer label is not a person
    assert kinds("Ingrid Hansen") == ["full_name"]
    assert kinds("lives at Moholt allé 12, 7030") == ["project_value"]  # a whole address wherever it appears


def test_the_crosstab_of_issue_14_passes_and_a_planted_name_is_shown_to_checkers(tmp_path):
    """A suppressed unit x gender crosstab from the synthetic data: no identifier flag; the same table
    with a surname in a cell fails, and the checker sees the value and its cell, the researcher a mask."""
    c = corpus()
    ctx = CheckContext(identifier_values=set(c.identifier_values), non_identifier_values=set(c.quasi_values))
    table = c.staff.groupby(["unit", "gender"], observed=True).size().unstack(fill_value=0)
    table = table.astype(str).where(table >= 10, "")
    p = tmp_path / "crosstab_unit_gender.csv"
    table.to_csv(p)
    report = check_file(p, declared_name=p.name, policy=DisclosurePolicy(), context=ctx)
    assert not [f for f in report.flags if f.rule == "identifier"], report.flags
    table.iloc[3, 0] = "Hansen"
    table.to_csv(p)
    report = check_file(p, declared_name=p.name, policy=DisclosurePolicy(), context=ctx)
    flag = next(f for f in report.flags if f.rule == "identifier")
    assert flag.severity == "fail" and "Hansen" not in flag.message and "data row 4, column 2" in flag.message
    assert "'Hansen'" in flag.checker_detail and table.index[3] in flag.checker_detail
