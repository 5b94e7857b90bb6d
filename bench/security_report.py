"""One table of the security and reliability suites: tests tried per category, held, failed.

    .venv/bin/python bench/security_report.py                 # runs tests/security, tests/reliability and every test docs/security.md names
    .venv/bin/python bench/security_report.py --junit run.xml # reads the JUnit XML of an earlier run
    .venv/bin/python bench/security_report.py -- -k "not load" # extra pytest arguments after --

"Held" means the control held (the test passed); for the "control removed" rows it means the attack
was shown to succeed without the control, as it must. The figures the suites print (generated
schemathesis cases, load counts and latencies) are repeated under the table. Tests outside the two
suites that docs/security.md names as proof of a control are run too and counted under the doc's
section that first names them ("doc: Sandbox (safe settings)", ...). Exit status 1 when any test
failed or errored.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
from collections import Counter, OrderedDict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SUITES = ["tests/security", "tests/reliability"]
DOC = ROOT / "docs" / "security.md"
DOC_REF = re.compile(r"`(tests/[\w/]+\.py)::(\w+)`")

# First match wins: (category, pattern on "file::test name").
CATEGORIES: list[tuple[str, str]] = [
    ("controls removed: attack succeeds", r"control_removed"),
    ("sandbox: escape, /proc, mount, raw sockets, DNS, hub API, IdP/DB", r"test_sandbox_attacks.*test_attacks_from_inside"),
    ("sandbox: fork and memory bombs", r"test_sandbox_attacks.*bomb"),
    ("sandbox: links planted in the workspace (hub writes)", r"test_workspace_writes"),
    ("API: schemathesis (no 5xx, schema kept)", r"generated_requests"),
    ("API: IDOR across projects and roles", r"outsiders|member_who_is_not|role_escalation|released_files_go|only_admins_read"),
    ("API: token forgery", r"forged|genuine_token"),
    ("UI: CSRF and cookies", r"csrf|cookie"),
    ("API: rate limits", r"rate_limit|flood"),
    ("faults: kill -9 (upload, second approval, release)", r"test_faults"),
    ("faults: database down, disk full", r"test_outages"),
    ("load: 50 researchers, 10 checkers", r"test_load"),
    ("docs: every listed test exists", r"test_security_doc"),
]


def doc_sections(doc: Path = DOC) -> OrderedDict[str, str]:
    """``path::test`` -> "doc: <section>" for every test the security doc names (first mention wins)."""
    found: OrderedDict[str, str] = OrderedDict()
    section = "doc"
    for line in doc.read_text(encoding="utf-8").splitlines():
        if line.startswith("#"):
            section = "doc: " + line.lstrip("#").strip()
            continue
        for path, name in DOC_REF.findall(line):
            found.setdefault(f"{path}::{name}", section)
    return found


def categorise(name: str, named: dict[str, str] | None = None) -> str:
    for category, pattern in CATEGORIES:
        if re.search(pattern, name):
            return category
    for test, section in (named or {}).items():
        if name.endswith(test) or name == test:
            return section
    return "other"


def run_suites(extra: list[str]) -> Path:
    xml = Path(tempfile.mkdtemp(prefix="sandkasse-security-")) / "junit.xml"
    named = doc_sections()
    # the doc's tests outside the suites, by id, so their neighbours in the same file are not run
    outside = [t for t in named if not t.startswith(tuple(SUITES)) and (ROOT / t.split("::")[0]).is_file()]
    cmd = [sys.executable, "-m", "pytest", *SUITES, *outside, "-q", "-p", "no:cacheprovider", f"--junitxml={xml}",
           "-o", "junit_logging=system-out", *extra]
    print("running:", " ".join(cmd[1:]), flush=True)
    subprocess.run(cmd, cwd=ROOT, check=False)
    return xml


def read(xml: Path) -> tuple[OrderedDict[str, Counter], list[str], list[str]]:
    named = doc_sections()
    table: OrderedDict[str, Counter] = OrderedDict((c, Counter()) for c, _ in CATEGORIES)
    for section in named.values():
        table.setdefault(section, Counter())
    table["other"] = Counter()
    failures, figures = [], []
    for case in ET.parse(xml).getroot().iter("testcase"):
        # JUnit: classname "tests.unit.egress.test_x" (or "...test_x.TestClass"), name "test_y[param]"
        classname = case.get("classname", "")
        test = re.sub(r"\[.*\]$", "", case.get("name", ""))
        name = f"{classname.replace('.', '/')}.py::{test}"
        cat = categorise(name, named)
        row = table[cat]
        row["tried"] += 1
        if case.find("skipped") is not None:
            row["skipped"] += 1
        elif case.find("failure") is not None or case.find("error") is not None:
            row["failed"] += 1
            failures.append(name)
        else:
            row["held"] += 1
        out = case.findtext("system-out") or ""
        figures += [line.rstrip() for line in out.splitlines()
                    if line.startswith(("schemathesis:", "load:", "  submitted", "  requests ", "  error:"))]
    return table, failures, figures


def render(table, failures, figures) -> str:
    width = max(len(c) for c in table)
    lines = [f"{'category':{width}s}  tried   held  failed  skipped", "-" * (width + 32)]
    total = Counter()
    for cat, row in table.items():
        if not row["tried"]:
            continue
        total.update(row)
        lines.append(f"{cat:{width}s}  {row['tried']:5d}  {row['held']:5d}  {row['failed']:6d}  {row['skipped']:7d}")
    lines.append("-" * (width + 32))
    lines.append(f"{'total':{width}s}  {total['tried']:5d}  {total['held']:5d}  {total['failed']:6d}  {total['skipped']:7d}")
    verdict = "ALL HELD" if total["tried"] and total["held"] == total["tried"] else \
        f"NOT ALL HELD: {total['failed']} failed, {total['skipped']} skipped"
    lines.append(verdict)
    lines += [f"  failed: {f}" for f in failures]
    if figures:
        lines += ["", "figures:"] + figures
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    extra: list[str] = []
    if "--" in argv:
        i = argv.index("--")
        argv, extra = argv[:i], argv[i + 1:]
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--junit", type=Path, help="read this JUnit XML instead of running the suites")
    args = parser.parse_args(argv)
    xml = args.junit or run_suites(extra)
    table, failures, figures = read(xml)
    print(render(table, failures, figures))
    return 0 if not failures and sum(r["tried"] for r in table.values()) else 1


if __name__ == "__main__":
    raise SystemExit(main())
