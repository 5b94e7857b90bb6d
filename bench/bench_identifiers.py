"""Precision and recall of the identifier scan on tables made from the synthetic data, against the
scan it replaced (issue 14 item 4), measured in the same run on the same tables.

  * false positives: safe tables (unit, place and job names, dates, times, year ranges, postcodes,
    counts, suppressed cells) that get any identifier hit; target 0;
  * recall: tables with one planted identifier (national id, e-mail, phone, full name, address, a name
    alone in a cell) that the scan finds, in the cells and in the table printed as text; target 100 %;
  * the time to scan them, new / old.

    .venv/bin/python bench/bench_identifiers.py [--tables 1000] [--employees 1500]
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from collections import Counter
from collections.abc import Iterable
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from egress_review.checks.identifiers import _EMAIL_RE, Hit, IdentifierScanner, valid_national_ids  # noqa: E402
from egress_review.checks.policy import IdentifierRule  # noqa: E402
from tests.unit.checks.identifier_corpus import as_text, corpus, planted, safe_table  # noqa: E402

_OLD_NID_RE = re.compile(r"(?<!\d)(\d{6})[ ]?(\d{5})(?!\d)")
_OLD_PHONE_RE = re.compile(
    r"(?<![\w+])(?:(?:\+|00)47[ -]?)?([2-9]\d{2}[ -]?\d{2}[ -]?\d{3}|[2-9]\d[ -]?\d{2}[ -]?\d{2}[ -]?\d{2})(?![\w])"
)


class OldScanner:
    """The scan before issue 14 (commit 40a9dee), kept here as the baseline: substring-style matching of
    every identifier value, phone numbers with any grouping, no negative list."""

    def __init__(self, rule: IdentifierRule, project_values: Iterable[str] = ()):
        self.rule = rule
        values = {v.strip() for v in project_values if v and len(v.strip()) >= rule.min_value_length}
        alternatives = "|".join(re.escape(v) for v in sorted(values, key=len, reverse=True))
        self._value_re = re.compile(rf"(?<![\w])(?:{alternatives})(?![\w])", re.IGNORECASE) if values else None

    def scan(self, text: str) -> list[Hit]:
        hits: list[Hit] = []
        if len(text) >= 11:
            found = [(m.group(0), m.group(1) + m.group(2)) for m in _OLD_NID_RE.finditer(text)]
            if found:
                ok = valid_national_ids([d for _, d in found])
                hits += [Hit("national_id", s) for (s, _), good in zip(found, ok) if good]
        if "@" in text:
            hits += [Hit("email", m.group(0)) for m in _EMAIL_RE.finditer(text)]
        for m in _OLD_PHONE_RE.finditer(text):
            digits = re.sub(r"\D", "", m.group(1))
            grouped = " " in m.group(0).strip() or "-" in m.group(1) or m.group(0).lstrip().startswith(("+", "00"))
            if len(digits) == 8 and (grouped or text.strip() == m.group(0).strip()):
                hits.append(Hit("phone", m.group(0).strip()))
        if self._value_re is not None:
            hits += [Hit("project_value", m.group(0)) for m in self._value_re.finditer(text)]
        return hits


def texts(rows: list[list[str]]) -> list[str]:
    """What the check engine scans: every non-empty cell, and each line of the table printed as text."""
    return [x for r in rows for x in r if x] + as_text(rows).splitlines()


def measure(scanner, safe: list[list[list[str]]], plants: list[tuple[list[list[str]], str, str]]) -> dict:
    t0 = time.perf_counter()
    fp = [rows for rows in safe if any(scanner.scan(t) for t in texts(rows))]
    found = [kind for rows, kind, _ in plants if any(scanner.scan(t) for t in texts(rows))]
    seconds = time.perf_counter() - t0
    return {"fp": len(fp), "found": len(found), "by_kind": Counter(found), "seconds": seconds,
            "first_fp": next((h for rows in fp for t in texts(rows) for h in scanner.scan(t)), None)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tables", type=int, default=1000)
    ap.add_argument("--employees", type=int, default=1500)
    args = ap.parse_args()
    c = corpus(args.employees)
    new = IdentifierScanner(IdentifierRule(), c.identifier_values, c.quasi_values)
    old = OldScanner(IdentifierRule(), c.identifier_values)
    rng = np.random.default_rng(14)
    safe = [safe_table(rng, c) for _ in range(args.tables)]
    rng = np.random.default_rng(4)
    plants = [planted(rng, c, new.ignored) for _ in range(args.tables)]
    planted_kinds = Counter(kind for _, kind, _ in plants)
    res = {"old": measure(old, safe, plants), "new": measure(new, safe, plants)}
    print(f"identifier scan on {args.tables} safe and {args.tables} planted tables from {args.employees} synthetic "
          f"employees ({len(c.identifier_values)} identifier values, {len(c.quasi_values)} quasi-identifier values)")
    print(f"{'':28}{'old':>12}{'new':>12}   target")
    print(f"{'false-positive tables':28}{res['old']['fp']:>12}{res['new']['fp']:>12}   0")
    fpr = {k: v['fp'] / args.tables for k, v in res.items()}
    print(f"{'false-positive rate':28}{fpr['old']:>12.1%}{fpr['new']:>12.1%}   0 %")
    rec = {k: v['found'] / args.tables for k, v in res.items()}
    print(f"{'recall (planted found)':28}{rec['old']:>12.1%}{rec['new']:>12.1%}   100 %")
    for kind in sorted(planted_kinds):
        n = planted_kinds[kind]
        print(f"{'  ' + kind:28}{res['old']['by_kind'][kind] / n:>12.0%}{res['new']['by_kind'][kind] / n:>12.0%}")
    print(f"{'scan time (s)':28}{res['old']['seconds']:>12.3f}{res['new']['seconds']:>12.3f}   "
          f"new/old = {res['new']['seconds'] / res['old']['seconds']:.2f}x")
    if res["old"]["first_fp"] is not None:
        print(f"first false positive of the old scan: {res['old']['first_fp'].kind} {res['old']['first_fp'].text!r}")
    ok = res["new"]["fp"] == 0 and res["new"]["found"] == args.tables
    print("PASS: no false positive, every planted identifier found" if ok else "FAIL: targets not met")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
