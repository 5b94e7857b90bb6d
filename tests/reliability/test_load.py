"""Load: 50 researchers submit and 10 checkers review and approve at the same time, against the real
service (uvicorn on a loopback port, PostgreSQL), for a bounded time. Every submission the service
acknowledged must be stored and findable; every decision it acknowledged must be recorded; nothing
fails. Prints counts, p50/p99 latency per operation and throughput."""

from __future__ import annotations

import statistics
import threading
import time
from collections import Counter, defaultdict

import httpx
import pytest

from tests.reliability.conftest import CHECKERS, table
from tests.reliability.test_faults import _state
from tests.security.helpers import LiveEgress, egress_settings_for, project_headers, provision

pytestmark = pytest.mark.reliability

RESEARCHERS = 50
PROJECTS = 5
SUBMIT_SECONDS = 15.0  # researchers submit for this long ...
DRAIN_SECONDS = 30.0  # ... then checkers get this long to finish the queue
MAX_PER_RESEARCHER = 4  # and each researcher submits at most this many


class Recorder:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.latency: dict[str, list[float]] = defaultdict(list)
        self.errors: list[str] = []
        self.submitted: set[str] = set()
        self.reviews: set[tuple[str, str]] = set()
        self.approved: set[str] = set()
        self.races = 0
        self.researchers_active = RESEARCHERS

    def call(self, client: httpx.Client, op: str, method: str, path: str, ok=(200,), race=(), **kw):
        t0 = time.perf_counter()
        try:
            r = client.request(method, path, **kw)
        except httpx.HTTPError as exc:
            with self.lock:
                self.errors.append(f"{op}: {type(exc).__name__}: {exc}")
            return None
        dt = time.perf_counter() - t0
        with self.lock:
            self.latency[op].append(dt)
            if r.status_code in race:
                self.races += 1
                return None
            if r.status_code not in ok:
                self.errors.append(f"{op}: {r.status_code} {r.text[:200]}")
                return None
        return r


def _researcher(url: str, h: dict, rec: Recorder, stop: float, seed: int) -> None:
    try:
        _submit_until(url, h, rec, stop, seed)
    finally:
        with rec.lock:
            rec.researchers_active -= 1


def _submit_until(url: str, h: dict, rec: Recorder, stop: float, seed: int) -> None:
    with httpx.Client(base_url=url, headers=h, timeout=120, trust_env=False) as c:
        for n in range(MAX_PER_RESEARCHER):
            if time.monotonic() > stop:
                return
            r = rec.call(c, "create", "POST", "/api/v1/requests", ok=(201,), json={"title": f"load {seed}-{n}"})
            if r is None:
                return
            req = r.json()["id"]
            f = rec.call(c, "add file", "POST", f"/api/v1/requests/{req}/files", ok=(201,),
                         json={"name": "table.csv", "context": "counts by district", "controls": "all cells >= 10"})
            if f is None:
                return
            up = rec.call(c, "upload 20 kB", "PUT", f"/api/v1/requests/{req}/files/{f.json()['id']}/content",
                          content=table(700, seed=seed * 100 + n), headers={"Content-Type": "application/octet-stream"})
            if up is None:
                return
            if rec.call(c, "submit", "POST", f"/api/v1/requests/{req}/submit") is not None:
                with rec.lock:
                    rec.submitted.add(req)


def _checker(url: str, name: str, token: str, index: int, rec: Recorder, stop_submit: float, stop: float) -> None:
    pair = index // 2  # checkers work in pairs; each pair takes its share of the queue
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=30, trust_env=False) as c:
        while time.monotonic() < stop:
            r = rec.call(c, "list queue", "GET", "/api/v1/requests", params={"to_review": "true", "page_size": 200})
            if r is None:
                time.sleep(0.2)
                continue
            mine = [i for i in r.json()["items"] if int(i["id"], 16) % (len(CHECKERS) // 2) == pair]
            if not mine:
                if rec.researchers_active == 0:
                    return  # nothing waits for me, and nothing more will come
                time.sleep(0.2)
                continue
            for item in mine[:5]:
                req = item["id"]
                d = rec.call(c, "open request", "GET", f"/api/v1/requests/{req}")
                if d is None:
                    continue
                for f in d.json()["files"]:
                    rec.call(c, "vote", "PUT", f"/api/v1/requests/{req}/files/{f['id']}/vote",
                             json={"decision": "approve", "comment": "fine"})
                if rec.call(c, "submit review", "POST", f"/api/v1/requests/{req}/reviews") is not None:
                    with rec.lock:
                        rec.reviews.add((req, name))
                    # whoever of the pair finds both reviews in approves (if both do, one gets 409)
                    s = rec.call(c, "open request", "GET", f"/api/v1/requests/{req}")
                    if s is not None and s.json()["state"] == "reviewed" and rec.call(
                            c, "approve + release", "POST", f"/api/v1/requests/{req}/approve", json={}, race=(409,)) is not None:
                        with rec.lock:
                            rec.approved.add(req)


def _pct(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1] if len(values) > 1 else (values or [0])[0]


def test_fifty_researchers_and_ten_checkers(tmp_path, keycloak, token_key, rel_users, postgres_server):
    projects = {f"load{p}": {f"lr{i}": "researcher" for i in range(RESEARCHERS) if i % PROJECTS == p} for p in range(PROJECTS)}
    # PostgreSQL, as in production: many writers at once (SQLite serialises them on one file lock).
    settings = egress_settings_for(tmp_path, keycloak, token_key, database_url=postgres_server.create_database())
    provision(settings.effective_database_url, projects)
    live = LiveEgress(settings, tmp_path / "egress.log", workers=2).start()  # one per core
    tokens = {name: rel_users.token(name) for name in CHECKERS}
    rec = Recorder()
    t0 = time.monotonic()
    stop_submit, stop = t0 + SUBMIT_SECONDS, t0 + SUBMIT_SECONDS + DRAIN_SECONDS
    threads = [threading.Thread(target=_researcher, args=(live.url, project_headers(token_key, f"lr{i}", f"load{i % PROJECTS}"),
                                                           rec, stop_submit, i), daemon=True) for i in range(RESEARCHERS)]
    threads += [threading.Thread(target=_checker, args=(live.url, n, tokens[n], i, rec, stop_submit, stop), daemon=True)
                for i, n in enumerate(CHECKERS)]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join(max(1.0, stop + 120 - time.monotonic()))
        elapsed = time.monotonic() - t0
        stuck = sum(t.is_alive() for t in threads)
    finally:
        live.stop()
    state = _state(settings)
    stored = {r for r, s in state["requests"].items() if s != "draft"}
    released = {r for r, s in state["requests"].items() if s == "released"}
    waiting = Counter(s for r, s in state["requests"].items() if r in rec.submitted and s != "released")
    all_lat = [x for v in rec.latency.values() for x in v]
    lines = [f"load: {RESEARCHERS} researchers, {len(CHECKERS)} checkers, {elapsed:.1f} s "
             f"({SUBMIT_SECONDS:.0f} s submitting + drain)",
             f"  submitted (acknowledged) {len(rec.submitted)}, stored {len(stored & rec.submitted)}, "
             f"reviews {len(rec.reviews)}, decided (approved and released) {len(rec.approved)}, released in store {len(released)}, "
             f"still waiting at the time limit {dict(waiting)}",
             f"  requests {len(all_lat)}, throughput {len(all_lat) / elapsed:.1f} req/s, "
             f"p50 {_pct(all_lat, 50) * 1000:.0f} ms, p99 {_pct(all_lat, 99) * 1000:.0f} ms, errors {len(rec.errors)}, "
             f"approve races (409, expected) {rec.races}"]
    for op, v in sorted(rec.latency.items()):
        lines.append(f"  {op:18s} n={len(v):5d}  p50 {_pct(v, 50) * 1000:7.0f} ms  p99 {_pct(v, 99) * 1000:7.0f} ms")
    lines += [f"  error: {e}" for e in rec.errors[:10]]
    if rec.errors:  # the service's side of the story
        log = (tmp_path / "egress.log").read_text(errors="replace")
        i = log.find("Traceback")
        lines += ["  service log:", log[max(0, i - 500): i + 4000] if i >= 0 else log[-2000:]]
    print("\n" + "\n".join(lines))
    assert stuck == 0, f"{stuck} client threads did not finish in time"
    assert rec.errors == [], rec.errors[:10]
    assert len(rec.submitted) >= RESEARCHERS, "the load never got going"
    assert rec.submitted <= stored, f"lost submissions: {sorted(rec.submitted - stored)[:5]}"
    assert rec.approved <= released, f"acknowledged decisions not recorded: {sorted(rec.approved - released)[:5]}"
    assert {(r, n) for r, n in rec.reviews} <= set(state["reviews"]), "an acknowledged review is missing"
    assert state["blobs_named"] <= state["blobs_on_disk"], "a stored file version lost its bytes"
    assert state["audit_ok"], state["audit"]
