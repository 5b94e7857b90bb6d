"""An extract disguised as a text output must not pass the automatic checks (issue 13.2, attacked):
one ``key=value`` record per line, fields one space apart, or the whole file base64/hex encoded. The
checkers still review every file, but a ``pass`` tells a careless checker there is nothing to see."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from egress_review.checks.api import check_file
from tests.testbed.content_routes import planted_extract

pytestmark = pytest.mark.unit

DATA, _ = planted_extract(400)
LINES = DATA.decode().splitlines()
HEADER = LINES[0].split(",")
ROWS = [ln.split(",") for ln in LINES[1:]]

DISGUISES = {
    "key=value records": "\n".join(" ".join(f"{h}={v}" for h, v in zip(HEADER, r)) for r in ROWS),
    "key: value records": "\n".join(", ".join(f"{h}: {v}" for h, v in zip(HEADER, r)) for r in ROWS),
    "one space apart": "\n".join(" ".join(r) for r in ROWS),
    "base64": base64.b64encode(DATA).decode(),
    "base64 wrapped at 76": base64.encodebytes(DATA).decode(),
    "hex in a Markdown block": "Results\n\n```\n" + DATA.hex() + "\n```\n",
    "base64 in JSON": json.dumps({"note": "model", "blob": base64.b64encode(DATA).decode()}),
}


def _verdict(tmp_path: Path, text: str, ext: str) -> tuple[str, set[str]]:
    path = tmp_path / f"out.{ext}"
    path.write_text(text)
    report = check_file(path, declared_name=path.name)
    return report.verdict, {f.rule for f in report.flags}


@pytest.mark.parametrize("ext", ["txt", "md", "json"])
@pytest.mark.parametrize("disguise", sorted(DISGUISES))
def test_a_disguised_extract_fails(tmp_path, disguise, ext):
    verdict, rules = _verdict(tmp_path, DISGUISES[disguise], ext)
    assert verdict == "fail", (disguise, ext, rules)


@pytest.mark.parametrize("text", [
    "The model converged after 12 iterations.\nR squared was 0.41 on the held-out part.\n"
    "Districts with fewer than ten people were merged before fitting.\n",
    "sha256 of the input: " + "ab" * 32 + "\nrows: 42109\nrun at 2026-12-04\n",
    "district employees\nGrefsen 120\nSagene 340\nFrogner 415\n",
])
def test_plain_results_still_pass_or_go_to_review(tmp_path, text):
    verdict, rules = _verdict(tmp_path, text, "txt")
    assert verdict != "fail" and "encoded" not in rules and "record_level" not in rules, (verdict, rules)
