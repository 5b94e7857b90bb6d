"""Checker effort, measured (issue 16.6): a batch of 10 mixed release requests with real tables from the
``sdc`` wrappers on the synthetic sick-leave data, two checkers deciding it in Chromium, and the counts
of what it took: page views, clicks, comments typed, and the share of files whose automatic verdict the
checkers accepted unchanged.

Two ways of deciding the same kind of batch, measured in the same run:

- ``one-click``: the request page's one-click buttons ("Approve", "Return with suggested table");
- ``baseline``: the flow before them: vote form (choice, comment, "Cast vote"), "Submit my review",
  and the decision form (comment, "Approve and release" / "Return to researcher"), with no suggested
  table for the researcher.

What is counted, per checker and file: *page views* are the request pages the checker loads up to and
including the one they make the deciding click on (the confirmation page after it is not counted: the
file is decided by then); *clicks* are every click on the page (opening a folded table, a radio button,
a button); *comments* are the text boxes the checker must type in. Moving between requests (the queue
page and its link) is counted apart, the same for both flows.

Used by ``tests/browser/test_checker_effort.py`` (asserts the goals) and ``bench/bench_checker_effort.py``
(prints the figures against the baseline).
"""

from __future__ import annotations

import functools
import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from sqlalchemy import create_engine, select

GOAL = ("Goal: a clean file decided in one page view (one click); a failing file returned in one click "
        "with the suggested table attached for the researcher.")
CHECKERS = ("ui-chris", "ui-cora")
# what the automatic verdict proposes, as a vote
PROPOSED = {"pass": "approve", "fail": "changes_requested"}


@dataclass
class Item:
    request_id: str
    name: str
    kind: str  # clean | failing | unverifiable | rounding
    verdict: str


@dataclass
class Effort:
    views: int = 0
    clicks: int = 0
    comments: int = 0


@dataclass
class FileFigures:
    name: str
    kind: str
    verdict: str
    per_checker: dict[str, Effort] = field(default_factory=dict)
    votes: dict[str, str] = field(default_factory=dict)
    accepted_unchanged: bool = False
    suggestion_attached: bool = False


@dataclass
class FlowFigures:
    flow: str
    files: list[FileFigures]
    queue_views: int = 0
    navigation_clicks: int = 0
    seconds: float = 0.0  # wall time of the two checkers in the browser (a machine's, not a person's)

    def by_kind(self) -> dict[str, dict[str, float]]:
        out: dict[str, dict[str, float]] = {}
        for kind in ("clean", "failing", "rounding", "unverifiable"):
            fs = [f for f in self.files if f.kind == kind]
            efforts = [e for f in fs for e in f.per_checker.values()]
            if not efforts:
                continue
            out[kind] = {
                "files": len(fs),
                "max_views": max(e.views for e in efforts),
                "max_clicks": max(e.clicks for e in efforts),
                "mean_views": sum(e.views for e in efforts) / len(efforts),
                "mean_clicks": sum(e.clicks for e in efforts) / len(efforts),
                "comments": sum(e.comments for e in efforts),
                "suggestions_attached": sum(f.suggestion_attached for f in fs),
            }
        return out

    @property
    def total_views(self) -> int:
        return sum(e.views for f in self.files for e in f.per_checker.values()) + self.queue_views

    @property
    def total_clicks(self) -> int:
        return sum(e.clicks for f in self.files for e in f.per_checker.values()) + self.navigation_clicks

    @property
    def accepted_share(self) -> float:
        return sum(f.accepted_unchanged for f in self.files) / len(self.files)


# ------------------------------------------------------------------------------------------ the batch

@functools.cache
def _data():
    from provisioning.synth.generate import generate

    data = generate(employees=3000, seed=14)
    return data.staff, data.sick_leave


def make_batch(ui, tmp: Path, tag: str) -> list[Item]:
    """Ten requests of project ui-study by ui-rita, one table each, exported with the researcher client:
    4 clean (protected, rounded), 3 failing (raw tables, cells under the threshold or dominated),
    2 unverifiable (plain pandas tables without the wrappers' sidecar), 1 with unrounded counts."""
    import pandas as pd

    from egress_review.checks import load_disclosure_policy
    from egress_review.client import request_export
    from egress_review.sdc import crosstab, pivot_table
    # The wrappers' own rounding is off (as in the policy shipped); the service of this test has the
    # rounding rule on, so a table is rounded only where the researcher asked for it (round=True).
    base = load_disclosure_policy()
    policy = base.model_copy(update={"rounding": base.rounding.model_copy(update={"enabled": False})})
    staff, ep = _data()
    out = tmp / tag
    out.mkdir(parents=True, exist_ok=True)
    plan: list[tuple[str, str, object]] = []

    def sdc_file(name, result, *, protected=True):
        path = out / name
        result.export(path, protected=protected)
        return path

    def plain(name, frame: pd.DataFrame):
        path = out / name
        frame.to_csv(path)
        return path

    plan += [
        ("staff_by_unit_gender.csv", "clean", sdc_file("staff_by_unit_gender.csv", crosstab(
            staff.unit, staff.gender, entity=staff.national_id, round=True, policy=policy))),
        ("staff_by_area_gender.csv", "clean", sdc_file("staff_by_area_gender.csv", crosstab(
            staff.service_area, staff.gender, entity=staff.national_id, round=True, policy=policy))),
        ("absent_by_diagnosis_gender.csv", "clean", sdc_file("absent_by_diagnosis_gender.csv", crosstab(
            ep.diagnosis_group, ep.gender, entity=ep.national_id, round=True, policy=policy))),
        ("absent_by_area_certification.csv", "clean", sdc_file("absent_by_area_certification.csv", crosstab(
            ep.service_area, ep.certification, entity=ep.national_id, round=True, policy=policy))),
        ("mean_days_by_area_gender.csv", "failing", sdc_file("mean_days_by_area_gender.csv", pivot_table(
            ep, values="days", index="service_area", columns="gender", aggfunc="mean", entity="national_id",
            policy=policy), protected=False)),
        ("staff_by_unit_gender_raw.csv", "failing", sdc_file("staff_by_unit_gender_raw.csv", crosstab(
            staff.unit, staff.gender, entity=staff.national_id, policy=policy), protected=False)),
        ("absent_by_diagnosis_area.csv", "failing", sdc_file("absent_by_diagnosis_area.csv", crosstab(
            ep.diagnosis_group, ep.service_area, entity=ep.national_id, policy=policy), protected=False)),
        ("mean_days_by_area.csv", "unverifiable", plain("mean_days_by_area.csv",
                                                        ep.groupby("service_area", observed=True)[["days"]].mean().round(1))),
        ("mean_employment_by_area.csv", "unverifiable", plain(
            "mean_employment_by_area.csv", staff.groupby("service_area", observed=True)[["employment_pct"]].mean().round(1))),
        ("staff_by_area_gender_unrounded.csv", "rounding", sdc_file("staff_by_area_gender_unrounded.csv", crosstab(
            staff.service_area, staff.gender, entity=staff.national_id, policy=policy))),
    ]
    items = []
    with ui.client("ui-rita") as client:
        for name, kind, path in plan:
            sent = request_export({name: path}, context=f"{kind} table of the effort batch ({tag})",
                                  controls="sdc wrappers, entity-level" if kind != "unverifiable" else "group means",
                                  title=f"Effort batch {tag}: {name}", client=client, show=False)
            assert sent.state == "submitted", sent
            items.append(Item(sent.request_id, name, kind, sent.files[0].verdict))
    return items


# --------------------------------------------------------------------------------------- the playing

class Meter:
    """One checker's page with the counts of what they do on it."""

    def __init__(self, page) -> None:
        self.page = page
        self.effort = Effort()

    def view(self, url: str) -> None:
        self.page.goto(url)
        self.effort.views += 1

    def click(self, locator, *, navigates: bool = False, deciding: bool = False) -> None:
        """``navigates``: the click loads a page (a form post); unless it is the ``deciding`` click, the
        checker goes on on that page, which counts as a page view."""
        locator.click()
        self.effort.clicks += 1
        if navigates:
            self.page.wait_for_load_state()
            if not deciding:
                self.effort.views += 1

    def type(self, locator, text: str) -> None:
        locator.fill(text)
        self.effort.comments += 1

    def take(self) -> Effort:
        out, self.effort = self.effort, Effort()
        return out


def _section(page, name: str):
    return page.locator(f"section.file[data-file='{name}']")


def _open_folded(m: Meter, name: str) -> None:
    """An unverifiable table is folded into one line: the checker opens it to read it."""
    summary = _section(m.page, name).locator("details > summary").first
    if summary.count():
        m.click(summary)


def play_one_click(m: Meter, item: Item, last: bool) -> None:
    sec = _section(m.page, item.name)
    if item.kind in ("failing", "rounding"):
        m.click(sec.locator("form.quick button[value=return_suggested]"), navigates=True, deciding=True)
    else:
        if item.kind == "unverifiable":
            _open_folded(m, item.name)
        m.click(sec.locator("form.quick button[value=approve]"), navigates=True, deciding=True)
    text = m.page.inner_text("main")
    if last:
        assert ("returned to the researcher" in text) if item.kind in ("failing", "rounding") else \
            ("the files are released" in text), text[:400]
    else:
        assert "waits for the other checker" in text, text[:400]


def play_baseline(m: Meter, item: Item, last: bool) -> None:
    page = m.page
    sec = _section(page, item.name)
    form = sec.locator("form.vote")
    if item.kind == "unverifiable":
        _open_folded(m, item.name)
    if item.kind in ("failing", "rounding"):
        m.click(form.locator("input[value=changes_requested]"))
        m.type(form.locator("textarea[name=comment]"), "Please suppress/round the flagged cells and resubmit.")
    m.click(form.locator("button[type=submit]"), navigates=True)
    assert "Your vote is saved" in page.inner_text("main")
    review = page.locator("section.actions form button:has-text('Submit my review')")
    m.click(review, navigates=True, deciding=not last)
    assert "Your review is submitted" in page.inner_text("main")
    if last:
        if item.kind in ("failing", "rounding"):
            m.type(page.locator("#dec-comment"), "Please suppress/round the flagged cells and resubmit.")
            m.click(page.locator("button[name=action][value=return]"), navigates=True, deciding=True)
            assert page.inner_text("#state").strip() == "returned"
        else:
            m.click(page.locator("button[name=action][value=approve]"), navigates=True, deciding=True)
            assert page.inner_text("#state").strip() == "released"


def play(browser, ui, items: list[Item], flow: str, screenshot: Path | None = None) -> FlowFigures:
    """Both checkers decide every request of ``items``: from the queue, the request's link, then the
    request page as ``flow`` does it."""
    from tests.browser.conftest import LoggedIn

    started = time.monotonic()
    files = {i.request_id: FileFigures(i.name, i.kind, i.verdict) for i in items}
    fig = FlowFigures(flow, list(files.values()))
    step = play_one_click if flow == "one-click" else play_baseline
    for n, who in enumerate(CHECKERS):
        session = LoggedIn(browser, ui, who).login("/queue")
        try:
            m = Meter(session.page)
            fig.queue_views += 1
            for item in items:
                if n == 0 and screenshot is not None and item.kind == "failing" and not screenshot.exists():
                    m.page.goto(ui.url + f"/requests/{item.request_id}")
                    m.page.screenshot(path=str(screenshot), full_page=False)
                    m.page.goto(ui.url + "/queue")
                link = m.page.locator(f"#queue tr[data-request='{item.request_id}'] a").first
                link.click()  # from the queue to the request: navigation, counted apart
                m.page.wait_for_load_state()
                fig.navigation_clicks += 1
                m.effort.views += 1
                step(m, item, last=(n == len(CHECKERS) - 1))
                files[item.request_id].per_checker[who] = m.take()
                m.page.goto(ui.url + "/queue")
                fig.queue_views += 1
        finally:
            session.close()
    fig.seconds = time.monotonic() - started
    _outcomes(ui, fig, files)
    return fig


def _outcomes(ui, fig: FlowFigures, files: dict[str, FileFigures]) -> None:
    """From the service's database: each checker's final vote on each file, whether it is what the
    automatic verdict proposed, and whether a suggested table went back to the researcher."""
    from egress_review.models import FileVersion, RequestFile, ReturnSuggestion, Vote

    engine = create_engine(ui.database_url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                select(RequestFile.request_id, Vote.reviewer, Vote.decision, Vote.attach_suggestion, FileVersion.verdict)
                .join(Vote, Vote.file_id == RequestFile.id)
                .join(FileVersion, FileVersion.id == Vote.version_id)
                .where(RequestFile.request_id.in_(list(files)))
            ).all()
            attached = set(conn.execute(select(ReturnSuggestion.request_id)
                                        .where(ReturnSuggestion.request_id.in_(list(files)))).scalars())
    finally:
        engine.dispose()
    for request_id, reviewer, decision, attach, verdict in rows:
        f = files[request_id]
        f.votes[reviewer] = decision + (" + suggested table" if attach else "")
    for request_id, f in files.items():
        proposed = PROPOSED.get(f.verdict)
        # "accepted unchanged": every checker cast the vote the automatic verdict proposes ("review"
        # proposes none: the checks could not decide, a checker had to)
        f.suggestion_attached = request_id in attached
        f.accepted_unchanged = proposed is not None and len(f.votes) == len(CHECKERS) and all(
            v.split(" + ")[0] == proposed for v in f.votes.values())


# -------------------------------------------------------------------------------------------- report

def report(flows: list[FlowFigures]) -> str:
    lines = [GOAL, ""]
    header = f"{'flow':<10} {'file kind':<13} {'files':>5} {'views/checker':>14} {'clicks/checker':>15} " \
             f"{'comments':>8} {'suggested table':>16}"
    lines.append(header)
    lines.append("-" * len(header))
    for fl in flows:
        for kind, k in fl.by_kind().items():
            lines.append(f"{fl.flow:<10} {kind:<13} {k['files']:>5} {k['mean_views']:>6.1f} (max {k['max_views']})"
                         f" {k['mean_clicks']:>6.1f} (max {k['max_clicks']}) {k['comments']:>8} "
                         f"{k['suggestions_attached']:>9}/{k['files']}")
    lines.append("")
    for fl in flows:
        lines.append(f"{fl.flow:<10} whole batch (2 checkers, 10 files): {fl.total_views} page views "
                     f"({fl.queue_views} of the queue), {fl.total_clicks} clicks ({fl.navigation_clicks} to open "
                     f"requests), {fl.seconds:.0f} s in the browser; automatic verdict accepted unchanged for "
                     f"{sum(f.accepted_unchanged for f in fl.files)}/{len(fl.files)} files ({fl.accepted_share:.0%})")
    return "\n".join(lines)


def dump(flows: list[FlowFigures], path: Path) -> None:
    path.write_text(json.dumps([{"flow": f.flow, "queue_views": f.queue_views,
                                 "navigation_clicks": f.navigation_clicks, "files": [asdict(x) for x in f.files],
                                 "by_kind": f.by_kind(), "accepted_share": f.accepted_share,
                                 "total_views": f.total_views, "total_clicks": f.total_clicks, "seconds": f.seconds} for f in flows],
                               indent=2))
