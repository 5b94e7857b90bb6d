"""The server side of JupyterLab's "Request release" (``egress_review.client.release_panel`` and
``home_files``) against the real egress service over loopback HTTP: a request made from paths in the
home, the panel's view of verdicts and the checkers' return comment, a new version and resubmission;
paths that leave the home are refused before anything is created; no view carries the token."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from egress_review import review
from egress_review.client import EgressClient, ExportError
from egress_review.client.home_files import OutsideHome, open_in_home
from egress_review.client.release_panel import Home, check_id, my_requests, new_version, request_release
from egress_review.states import RequestState, VoteDecision
from tests.testbed.uvicorn_process import app_in_thread
from tests.unit.egress.egress_factories import SAFE_CSV, checker, project_token

pytestmark = pytest.mark.unit


@pytest.fixture
def live(env):
    from egress_review.app import create_app

    with app_in_thread(create_app(env.settings)) as url:
        yield url


@pytest.fixture
def home(tmp_path) -> Path:
    h = tmp_path / "home"
    (h / "results").mkdir(parents=True)
    (h / "results" / "days_by_district.csv").write_text(SAFE_CSV)
    (h / "notes.txt").write_text("how the table was made\n")
    return h


@pytest.fixture
def outside(tmp_path) -> Path:
    o = tmp_path / "outside"
    (o / "data").mkdir(parents=True)
    (o / "data" / "extract.csv").write_text(SAFE_CSV)
    return o


def _token() -> str:
    return project_token("alice", "alpha")


def _wait_checked(client: EgressClient, request_id: str) -> dict:
    return client.wait_for_checks(request_id, 30)


def test_request_from_the_home_then_returned_then_a_new_version_is_resubmitted(env, live, home):
    token = _token()
    with EgressClient(live, token) as client:
        view = request_release(client, Home(str(home)), ["results/days_by_district.csv"], supporting=["notes.txt"],
                               context="Sick-leave days by district", controls="counts of people, all >= 10",
                               title="District table")
        assert view["state"] == "submitted" and view["title"] == "District table"
        assert [(f["name"], f["kind"]) for f in view["files"]] == [("days_by_district.csv", "output"), ("notes.txt", "supporting")]
        request_id = view["id"]
        _wait_checked(client, request_id)

        # Two checkers: one returns the request with a shared comment for the researcher.
        for name in ("chris", "cora"):
            env.vote_all(request_id, name, VoteDecision.CHANGES_REQUESTED, comment="round to the nearest 5")
            env.act(lambda s, r, n=name: review.submit_review(s, env.svc.audit, env.svc.policy, checker(n), r), request_id)
        env.act(lambda s, r: review.return_request(s, env.svc.audit, env.svc.policy, checker("chris"), r,
                                                   "Please round the counts to 5 and send it again."), request_id)

        [returned] = my_requests(client)
        assert returned["state"] == RequestState.RETURNED.value and returned["can_resubmit"]
        assert returned["files"][0]["verdict"] in {"pass", "review", "fail"}
        texts = [c["text"] for c in returned["comments"] if c["from"] == "checker"]
        assert "Please round the counts to 5 and send it again." in texts

        (home / "results" / "days_by_district.csv").write_text("district,days\nGrefsen,120\nSagene,340\nFrogner,415\nSt. Hanshaugen,200\n")
        output = returned["files"][0]["id"]
        again = new_version(client, Home(str(home)), request_id, output, "results/days_by_district.csv")
        assert again["state"] == "submitted" and again["files"][0]["version"] == 2

        # Nothing the panel gets carries the credential.
        assert token not in json.dumps([view, returned, again])


def test_paths_outside_the_home_are_refused_before_anything_is_created(env, live, home, outside):
    (home / "link_to_data").symlink_to(outside / "data")
    (home / "extract.csv").symlink_to(outside / "data" / "extract.csv")
    h = Home(str(home))
    with EgressClient(live, _token()) as client:
        for bad in ["../outside/data/extract.csv", str(outside / "data" / "extract.csv"), "link_to_data/extract.csv",
                    "extract.csv", "results/../../outside/data/extract.csv", "results", ".", "missing.csv"]:
            with pytest.raises(OutsideHome):
                request_release(client, h, [bad], context="c", controls="c")
            # a refused supporting file stops the request as well
            with pytest.raises(OutsideHome):
                request_release(client, h, ["notes.txt"], supporting=[bad], context="c", controls="c")
        assert client.requests() == []


def test_open_in_home_confines_links_mounts_and_special_files(home, outside):
    (home / "inner_link.csv").symlink_to(home / "results" / "days_by_district.csv")
    f = open_in_home(home, "inner_link.csv")
    assert f.relative == "results/days_by_district.csv" and f.fh.read() == SAFE_CSV.encode()
    f.close()
    for bad in ["", "/etc/passwd", "a\0b", "."]:
        with pytest.raises(OutsideHome):
            open_in_home(home, bad)
    os.mkfifo(home / "pipe.csv")
    with pytest.raises(OutsideHome, match="not a regular file"):
        open_in_home(home, "pipe.csv")  # and does not hang
    # The Jupyter root may sit below the home; a path from there still may not leave the home.
    with pytest.raises(OutsideHome):
        open_in_home(home, "../../outside/data/extract.csv", base=home / "results")
    assert open_in_home(home, "days_by_district.csv", base=home / "results").relative == "results/days_by_district.csv"
    # A data mount that is inside the home (a bind mount there would share realpath) is refused.
    with pytest.raises(OutsideHome, match="project's data"):
        open_in_home(home, "results/days_by_district.csv", data_mounts=[str(home / "results")])


def test_ids_cannot_walk_the_egress_api():
    assert check_id("a1b2c3") == "a1b2c3"
    for bad in ["..", "../dp/query", "a/b", "", "x" * 65, "a?b"]:
        with pytest.raises(ExportError):
            check_id(bad)
