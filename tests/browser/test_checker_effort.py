"""Checker effort, measured (issue 16.6): two checkers decide a batch of 10 mixed requests (clean,
failing with a suggested table, unverifiable, unrounded counts) in Chromium, once with the one-click
buttons and once the way it was done before (the baseline), on a service whose policy has the rounding
rule on. The figures are printed; the goals are asserted: a clean file decided in one page view and one
click per checker, a failing file returned in one click with the suggested table attached, which the
researcher then reads from inside the sandbox only. See tests/browser/checker_effort.py for what is counted."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import httpx
import pytest

from sandkasse.settings import REPO_ROOT
from tests.browser import checker_effort as effort
from tests.browser.conftest import SCREENSHOTS, serve_egress

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def rounding_ui(keycloak, egress_ui, tmp_path_factory):
    """A second egress service (same Keycloak users) whose disclosure policy publishes counts rounded to 5."""
    tmp = tmp_path_factory.mktemp("effort-ui")
    policies = tmp / "policies"
    shutil.copytree(REPO_ROOT / "policies", policies)
    text = (policies / "disclosure.yaml").read_text()
    on = text.replace("rounding:             # counts must be published rounded; totals must be the sums of the rounded cells\n  enabled: false",
                      "rounding:\n  enabled: true", 1)
    assert on != text, "the rounding section of policies/disclosure.yaml moved: adapt this fixture"
    (policies / "disclosure.yaml").write_text(on)
    with serve_egress(keycloak, tmp, egress_ui.users, {"SANDKASSE_POLICIES_DIR": str(policies)}) as ui:
        yield ui


def test_a_batch_of_ten_is_decided_with_one_view_and_one_click_per_file(browser, keycloak, rounding_ui, tmp_path):
    ui = rounding_ui
    started = time.monotonic()
    new_items = effort.make_batch(ui, tmp_path, "one-click")
    base_items = effort.make_batch(ui, tmp_path, "baseline")
    print(f"\nthe two batches of 10 requests made and checked in {time.monotonic() - started:.0f} s")
    verdicts = {(i.kind, i.verdict) for i in new_items}
    assert verdicts == {("clean", "pass"), ("failing", "fail"), ("unverifiable", "review"), ("rounding", "fail")}, \
        [(i.name, i.kind, i.verdict) for i in new_items]

    shot = SCREENSHOTS / "one_click_review.png"
    shot.unlink(missing_ok=True)
    new = effort.play(browser, ui, new_items, "one-click", screenshot=shot)
    base = effort.play(browser, ui, base_items, "baseline")
    print("\n" + effort.report([new, base]))
    if out := os.environ.get("SANDKASSE_EFFORT_JSON"):
        effort.dump([new, base], Path(out))

    k = new.by_kind()
    # the goals
    assert k["clean"]["max_views"] == 1 and k["clean"]["max_clicks"] == 1, k["clean"]
    for kind in ("failing", "rounding"):
        assert k[kind]["max_clicks"] == 1 and k[kind]["max_views"] == 1 and k[kind]["comments"] == 0, k[kind]
        assert k[kind]["suggestions_attached"] == k[kind]["files"], k[kind]
    assert k["unverifiable"]["max_clicks"] == 2  # the folded table is opened before approving
    # every file but the two the checks could not decide: the same checkers' judgement in both flows
    assert new.accepted_share == base.accepted_share == 0.8
    # the baseline did the same work with more, and returned no suggested table
    b = base.by_kind()
    assert b["clean"]["max_views"] == 3 and b["failing"]["comments"] > 0 and b["failing"]["suggestions_attached"] == 0
    assert new.total_clicks < base.total_clicks and new.total_views < base.total_views
    assert shot.exists()

    # the researcher: outside the sandbox the returned request shows that a suggestion is attached,
    # never its cells; from inside (project token) the client reads the rounded table
    rounding = next(i for i in new_items if i.kind == "rounding")
    from egress_review.client import suggestions
    from tests.browser.conftest import LoggedIn

    rita = LoggedIn(browser, ui, "ui-rita").login(f"/requests/{rounding.request_id}")
    try:
        page = rita.page
        attached = page.inner_text("section.attached")
        assert rounding.name in attached and "suggestions(" in attached
        page.screenshot(path=str(SCREENSHOTS / "returned_with_suggestion.png"), full_page=False)
        main = page.inner_text("main")
    finally:
        rita.close()
    with ui.client("ui-rita") as client:
        tables = suggestions(rounding.request_id, client=client, show=False)
        meta = client.suggestions(rounding.request_id)
    table = tables[rounding.name]
    counts = table.to_numpy().ravel()
    counts = counts[~(counts != counts)]  # blanks out
    assert len(counts) > 5 and all(c % 5 == 0 for c in counts)  # rounded to 5, as the policy says
    shown = [str(int(c)) for c in counts if c > 100]
    assert not any(f",{c}" in main for c in shown)  # no cell value on the outside page
    file_id = meta[0]["file_id"]
    # the researcher's own Keycloak token (a login from anywhere) lists the suggestion but cannot read it
    bearer = {"Authorization": "Bearer " + keycloak.token("ui-rita", ui.users["ui-rita"].password)["access_token"]}
    listed = httpx.get(ui.url + f"/api/v1/requests/{rounding.request_id}/suggestions", headers=bearer, timeout=30)
    assert listed.status_code == 200 and listed.json()[0]["name"] == rounding.name
    r = httpx.get(ui.url + f"/api/v1/requests/{rounding.request_id}/files/{file_id}/suggestion", headers=bearer,
                  timeout=30)
    assert r.status_code == 403 and not any(f",{c}" in r.text for c in shown)
