"""A notebook export carrying the extract where only the identifier scan looked (issue 13.2, attacked):
printed rows in a stream or ``text/plain`` output, a Markdown cell, notebook or cell metadata (in no
view a checker reads), an attachment that is no image, base64 anywhere. Each got ``pass``; each fails
now. A clean notebook still passes."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from egress_review.checks.api import check_file
from tests.testbed.content_routes import planted_extract

pytestmark = pytest.mark.unit

DATA, _ = planted_extract(400)
CSV = DATA.decode()
B64 = base64.b64encode(DATA).decode()
KERNEL = {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}}


def _code(outputs: list[dict], metadata: dict | None = None) -> dict:
    return {"cell_type": "code", "id": "c1", "metadata": metadata or {}, "execution_count": 1,
            "source": "print(summary)", "outputs": outputs}


def _md(source: str, metadata: dict | None = None, attachments: dict | None = None) -> dict:
    cell = {"cell_type": "markdown", "id": "m1", "metadata": metadata or {}, "source": source}
    if attachments is not None:
        cell["attachments"] = attachments
    return cell


HIDING_PLACES = {
    "stream output": ([_code([{"output_type": "stream", "name": "stdout", "text": CSV}])], KERNEL),
    "text/plain result": ([_code([{"output_type": "execute_result", "execution_count": 1, "metadata": {},
                                   "data": {"text/plain": CSV}}])], KERNEL),
    "markdown source": ([_md(CSV)], KERNEL),
    "notebook metadata": ([_md("Results")], {**KERNEL, "provenance": {"rows": CSV}}),
    "cell metadata, base64": ([_md("Results", metadata={"blob": B64})], KERNEL),
    "output metadata": ([_code([{"output_type": "display_data", "metadata": {"x": CSV},
                                 "data": {"text/plain": "done"}}])], KERNEL),
    "attachment that is no image": ([_md("see ![](attachment:x.csv)", attachments={"x.csv": {"text/csv": B64}})], KERNEL),
    "base64 in a stream": ([_code([{"output_type": "stream", "name": "stdout", "text": B64}])], KERNEL),
}


def _check(tmp_path: Path, cells: list[dict], metadata: dict):
    path = tmp_path / "analysis.ipynb"
    path.write_text(json.dumps({"nbformat": 4, "nbformat_minor": 5, "metadata": metadata, "cells": cells}))
    return check_file(path, declared_name=path.name)


@pytest.mark.parametrize("place", sorted(HIDING_PLACES))
def test_the_extract_hidden_in_a_notebook_fails(tmp_path, place):
    report = _check(tmp_path, *HIDING_PLACES[place])
    assert report.verdict == "fail", (place, [(f.rule, f.message[:80]) for f in report.flags])


def test_a_clean_notebook_still_passes(tmp_path):
    png = base64.b64encode(b"\x89PNG\r\n\x1a\n" + b"\0" * 64).decode()
    cells = [_code([{"output_type": "stream", "name": "stdout", "text": "model converged; R squared 0.41\n"}],
                   metadata={"tags": ["results"], "collapsed": False}),
             _md("Pasted figure ![](attachment:fig.png)", attachments={"fig.png": {"image/png": png}})]
    report = _check(tmp_path, cells, {**KERNEL, "language_info": {"name": "python", "version": "3.11.2"}})
    assert report.verdict in ("pass", "review"), [(f.rule, f.message) for f in report.flags]
    assert not [f for f in report.flags if f.severity == "fail"]
