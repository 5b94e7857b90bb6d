"""docs/security.md names, for every threat, the tests that prove its control. This keeps it true:
every test it names exists, and every test of the security and reliability suites is named there."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "security.md"
REF = re.compile(r"`(tests/[\w/]+\.py)::(\w+)`")


def _tests_in(path: Path) -> set[str]:
    """Names of the test functions in a file (top level, and methods of Test* classes as Class::name)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names = set()
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name.startswith("test"):
            names.add(node.name)
        elif isinstance(node, ast.ClassDef) and node.name.startswith("Test"):
            names |= {f"{node.name}::{n.name}" for n in node.body if isinstance(n, ast.FunctionDef) and n.name.startswith("test")}
    return names


def referenced() -> list[tuple[str, str]]:
    return REF.findall(DOC.read_text(encoding="utf-8"))


def test_every_test_named_in_the_security_doc_exists():
    refs = referenced()
    assert len(refs) >= 40, f"docs/security.md names only {len(refs)} tests"
    missing = []
    for path, name in refs:
        file = ROOT / path
        if not file.is_file() or name not in _tests_in(file):
            missing.append(f"{path}::{name}")
    assert missing == [], "docs/security.md names tests that do not exist: " + ", ".join(missing)


def test_every_security_and_reliability_test_is_in_the_doc():
    named = {f"{p}::{n}" for p, n in referenced()}
    unlisted = []
    for folder in ("tests/security", "tests/reliability"):
        for file in sorted((ROOT / folder).glob("test_*.py")):
            if file.name == Path(__file__).name:
                continue
            rel = file.relative_to(ROOT).as_posix()
            unlisted += [f"{rel}::{n}" for n in sorted(_tests_in(file)) if f"{rel}::{n}" not in named]
    assert unlisted == [], "add these to docs/security.md (threat, control, test): " + ", ".join(unlisted)


def test_the_checker_can_fail(tmp_path):
    """The existence check is not vacuous: a made-up name is reported missing."""
    assert "test_does_not_exist" not in _tests_in(ROOT / "tests/security/test_api_attacks.py")
    assert "test_forged_or_foreign_keycloak_tokens_are_refused" in _tests_in(ROOT / "tests/security/test_api_attacks.py")
