""""View code" in a real browser (Chromium via Playwright, real Keycloak login): a checker reads the
code of the notebook an output was made with beside the output; script written in a cell and HTML
in its outputs never run; the researcher's Keycloak login outside the sandbox sees neither.

Runs after test_egress_ui.py (file order), whose queue test counts the requests waiting."""

from __future__ import annotations

import json

import pytest

from tests.browser.conftest import OTHER_PROJECT, SCREENSHOTS, EgressUI

pytestmark = pytest.mark.browser

CODE = ("import pandas as pd\n"
        "t = pd.read_csv('/data/sick_leave.csv').groupby('district').size()\n"
        "# <script>window.__cell_ran = 1</script>\n"
        "request_export({'by_district.csv': t}, context='people by district', controls='n >= 10')")
NOTEBOOK = {"nbformat": 4, "nbformat_minor": 5, "metadata": {},
            "cells": [{"cell_type": "code", "metadata": {}, "execution_count": 1, "source": CODE,
                       "outputs": [{"output_type": "display_data", "metadata": {},
                                    "data": {"text/html": "<img src=x onerror='window.__output_ran = 1'>",
                                             "text/plain": "ROW-OF-THE-DATA"}}]}]}


@pytest.fixture(scope="module")
def with_notebook(egress_ui: EgressUI, tmp_path_factory) -> str:
    from egress_review.client import request_export

    tmp = tmp_path_factory.mktemp("view-code")
    table = tmp / "by_district.csv"
    table.write_text("district,people\nGrefsen,120\nSagene,340\n")
    nb = tmp / "analysis.ipynb"
    nb.write_text(json.dumps(NOTEBOOK))
    with egress_ui.client("ui-otto", OTHER_PROJECT) as client:
        done = request_export([table], context="people by district", controls="n >= 10", notebook=nb,
                              title="With its notebook", client=client, show=False)
    return done.request_id


def test_checker_reads_the_code_beside_the_output_and_nothing_in_it_runs(login, with_notebook):
    chris = login("ui-chris", f"/requests/{with_notebook}")
    page = chris.page
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    section = page.locator("section[data-file='by_district.csv']")
    assert section.locator("table").count() >= 1  # the output itself
    view = section.locator("details.view-code")
    view.locator("summary").click()
    code = view.locator(".code-cells li.cell-code pre").first
    assert code.is_visible()
    assert "<script>window.__cell_ran = 1</script>" in code.inner_text()  # the text, shown as text
    assert "1 output(s) not shown" in view.inner_text()
    assert view.locator("img, script, iframe").count() == 0
    assert "ROW-OF-THE-DATA" not in page.content()
    assert page.evaluate("[window.__cell_ran, window.__output_ran]") == [None, None] and not dialogs
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    section.screenshot(path=str(SCREENSHOTS / "view-code.png"))


def test_the_researchers_login_outside_the_sandbox_sees_no_code(login, with_notebook):
    otto = login("ui-otto", f"/requests/{with_notebook}")
    text = otto.page.content()
    assert "analysis.ipynb" in text  # names and sizes, as for every file
    assert "View code" not in text and "read_csv" not in text
