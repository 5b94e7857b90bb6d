"""Egress service under load, on loopback only, bounded in count and time.

50 researchers (each a project token, as from inside their notebook) create, upload a ~100 kB table
and submit; 10 output checkers (real Keycloak tokens) list their queue, vote, submit reviews and
approve. Each backend (SQLite, and PostgreSQL on a throw-away cluster) runs two scenarios:

- paced: all 60 clients active through the run, like people: each researcher's exports come at
  random times within --window seconds (each export's four calls back to back, as request_export
  makes them); a checker reads a request for --checker-think seconds before voting.
- burst: all 60 start at the same instant and never pause. In a closed loop like that the mean
  latency is clients / throughput whatever the service does (Little's law), so this one measures
  capacity (calls/s) and how the service holds up past it (nothing lost or failed).

Printed: p50/p99 latency per call, throughput, and submitted vs stored vs decided (zero lost).
Baselines measured in the same run: the check engine alone on the same table, and the same calls
made by one client alone (the "solo" column; latencies are given as ratios to it).

    .venv/bin/python bench/bench_egress.py [--researchers 50] [--reviewers 10] [--per-researcher 2]
        [--time-limit 180] [--backends sqlite,postgresql] [--scenarios paced,burst]

Needs Keycloak (the test bed's instance on 127.0.0.1:8181 is started if not running) and the
PostgreSQL binaries. The service runs as a separate uvicorn process, stopped at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import os
import random
import secrets
import shutil
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import defaultdict
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from egress_review.identity.project_token import issue_project_token  # noqa: E402
from sandkasse.stack.process import free_port  # noqa: E402

KEYCLOAK_PORT = int(os.environ.get("SANDKASSE_TEST_KEYCLOAK_PORT", "8181"))


def make_table(rows: int, seed: int) -> bytes:
    rng = random.Random(seed)
    lines = ["district,age_group,sex,days,people"]
    for i in range(rows):  # one row per (district, age group, sex), as in a real aggregated table
        lines.append(f"district_{i // 18},{20 + 5 * (i % 9)}-{24 + 5 * (i % 9)},{'KM'[(i // 9) % 2]},"
                     f"{rng.randint(500, 5000)},{rng.randint(10, 400)}")
    return ("\n".join(lines) + "\n").encode()


def table_of_size(kb: int, seed: int) -> bytes:
    rows = 100
    while len(make_table(rows, seed)) < kb * 1000:
        rows *= 2
    lo, hi = rows // 2, rows
    while lo < hi:
        mid = (lo + hi) // 2
        if len(make_table(mid, seed)) < kb * 1000:
            lo = mid + 1
        else:
            hi = mid
    return make_table(lo, seed)


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    s = sorted(values)
    return s[min(len(s) - 1, int(round(q / 100 * (len(s) - 1))))]


class Recorder:
    def __init__(self) -> None:
        self.lat: dict[str, list[float]] = defaultdict(list)
        self.failures: dict[str, int] = defaultdict(int)
        self.benign: dict[str, int] = defaultdict(int)
        self.errors: list[str] = []
        self.t0 = time.perf_counter()
        self.slowest: list[tuple[float, float, str]] = []  # (latency, start since t0, kind)

    async def call(self, client: httpx.AsyncClient, kind: str, method: str, url: str, *,
                   benign: tuple[int, ...] = (), **kw) -> httpx.Response | None:
        t = time.perf_counter()
        try:
            r = await client.request(method, url, **kw)
        except httpx.HTTPError as exc:
            self.failures[kind] += 1
            self.errors.append(f"{kind}: {exc!r}")
            return None
        took = time.perf_counter() - t
        self.lat[kind].append(took)
        self.slowest = sorted(self.slowest + [(took, t - self.t0, kind)], reverse=True)[:5]
        if r.status_code >= 400:
            if r.status_code in benign:
                self.benign[kind] += 1
            else:
                self.failures[kind] += 1
                self.errors.append(f"{kind}: {r.status_code} {r.text[:200]}")
            return None
        return r


_TLS = ssl.create_default_context()  # built once: building one per simulated user stalls the generator


def user_client(base: str, headers: dict[str, str]) -> httpx.AsyncClient:
    """One simulated user's HTTP client (plain HTTP on loopback; the TLS context is never used)."""
    return httpx.AsyncClient(base_url=base, headers=headers, timeout=60, verify=_TLS, trust_env=False)


async def researcher(rec: Recorder, base: str, token: str, tables: list[bytes], submitted: list[str],
                     gaps: list[float] | None = None) -> None:
    """One notebook: each export is create, add, upload, submit back to back (as request_export does),
    after ``gaps[k]`` seconds of the researcher's own work."""
    h = {"Authorization": f"Bearer {token}"}
    async with user_client(base, h) as c:
        for k, data in enumerate(tables):
            if gaps:
                await asyncio.sleep(gaps[k])
            r = await rec.call(c, "create", "POST", "/api/v1/requests", json={"title": "bench"},
                               headers={"Idempotency-Key": uuid.uuid4().hex})
            if r is None:
                continue
            rid = r.json()["id"]
            f = await rec.call(c, "add_file", "POST", f"/api/v1/requests/{rid}/files",
                               json={"name": "table.csv", "context": "sick-leave days by district",
                                     "controls": "people >= 10 in every cell"})
            if f is None:
                continue
            up = await rec.call(c, "upload_100kB", "PUT", f"/api/v1/requests/{rid}/files/{f.json()['id']}/content",
                                content=data, headers={"Content-Type": "application/octet-stream"})
            if up is None:
                continue
            s = await rec.call(c, "submit", "POST", f"/api/v1/requests/{rid}/submit")
            if s is not None:
                submitted.append(rid)


async def reviewer(rec: Recorder, base: str, token: str, me: str, index: int, n: int, done: asyncio.Event,
                   deadline: float, think: float = 0.0) -> None:
    """One checker: looks at the queue, reads a request (``think`` seconds, on average), votes on its
    outputs, submits the review; approves reviewed requests; looks again after ``think`` when idle."""
    h = {"Authorization": f"Bearer {token}"}
    async with user_client(base, h) as c:
        while not done.is_set() and time.monotonic() < deadline:
            worked = False
            q = await rec.call(c, "list_queue", "GET", "/api/v1/requests", params={"to_review": "true", "page_size": 20})
            items = q.json()["items"] if q is not None else []
            random.shuffle(items)
            for item in items[:2]:
                rid = item["id"]
                d = await rec.call(c, "get_request", "GET", f"/api/v1/requests/{rid}")
                if d is None or d.json()["state"] != "submitted":
                    continue
                if think:
                    await asyncio.sleep(random.uniform(0.5, 1.5) * think)
                for f in d.json()["files"]:
                    if f["kind"] == "output":
                        await rec.call(c, "vote", "PUT", f"/api/v1/requests/{rid}/files/{f['id']}/vote",
                                       json={"decision": "approve"}, benign=(409,))
                await rec.call(c, "submit_review", "POST", f"/api/v1/requests/{rid}/reviews", benign=(409, 422))
                worked = True
            # decisions are shared out by request id so two checkers rarely race for the same one
            rv = await rec.call(c, "list_reviewed", "GET", "/api/v1/requests", params={"state": "reviewed", "page_size": 50})
            for item in (rv.json()["items"] if rv is not None else []):
                if int(item["id"], 16) % n == index:
                    await rec.call(c, "approve_release", "POST", f"/api/v1/requests/{item['id']}/approve", json={},
                                   benign=(409,))
                    worked = True
            if not worked:
                await asyncio.sleep(max(0.2, think))


def start_service(env: dict[str, str], port: int, log: Path, workers: int) -> subprocess.Popen:
    proc = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "egress_review.app:create_app", "--factory", "--host", "127.0.0.1",
         "--port", str(port), "--log-level", "warning", "--no-access-log", "--workers", str(workers),
         "--timeout-graceful-shutdown", "5"],
        env=env, cwd=REPO, stdout=log.open("w"), stderr=subprocess.STDOUT,
        start_new_session=True,  # its own process group: the teardown stops the workers and their checkers too
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"the service exited: see {log}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200:
                return proc
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    stop_service(proc)
    raise SystemExit(f"the service did not answer within 60 s: see {log}")


def stop_service(proc: subprocess.Popen) -> None:
    import signal

    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(20)
    except subprocess.TimeoutExpired:
        pass
    except ProcessLookupError:
        return
    try:
        os.killpg(proc.pid, signal.SIGKILL)  # whatever of the group is still there
    except ProcessLookupError:
        pass
    proc.wait(5)


def provision(url: str, projects: dict[str, dict[str, str]]) -> None:
    from provisioning import db as pdb
    from provisioning import service
    from sandkasse.db import make_engine, make_sessionmaker, session_scope

    engine = make_engine(url)
    pdb.migrate(engine=engine)
    with session_scope(make_sessionmaker(engine)) as s:
        for slug, members in projects.items():
            service.create_open_project(s, slug, members)
    engine.dispose()


def counts(url: str) -> dict[str, int]:
    from sqlalchemy import func, select

    from egress_review.models import ReleaseRequest
    from sandkasse.db import make_engine

    engine = make_engine(url)
    with engine.connect() as conn:
        rows = dict(conn.execute(select(ReleaseRequest.state, func.count()).group_by(ReleaseRequest.state)).all())
    engine.dispose()
    return rows


SCENARIOS = {
    # All clients start at once and never pause: a stress test. In such a closed loop the mean latency
    # is (clients / throughput) whatever the service does (Little's law), so this measures capacity.
    "burst": "all 60 clients at once, no pauses (closed loop: measures capacity)",
    # The same 50 researchers and 10 checkers, all active through the run, paced like people: each
    # researcher's exports come at random times within the window; a checker reads before voting.
    "paced": "exports spread over the window, checkers read before they vote",
}


def run_backend(name: str, url: str, args, kc, checker_tokens: dict[str, str], tables: list[bytes],
                check_baseline: float, scenario: str = "burst") -> dict:
    work = Path(tempfile.mkdtemp(prefix=f"bench-egress-{name}-"))
    token_key = secrets.token_urlsafe(32)
    researchers = [f"bench-r{i:02d}" for i in range(args.researchers)]
    projects = {f"bench-p{p}": {r: "researcher" for r in researchers[p::5]} for p in range(5)}
    provision(url, projects)
    from egress_review.db import migrate

    migrate(url)  # before the workers start, as the deployment's init step does
    env = {**os.environ, "SANDKASSE_DATABASE_URL": url, "SANDKASSE_VAR_DIR": str(work / "var"),
           "SANDKASSE_MASTER_KEY": base64.b64encode(os.urandom(32)).decode(),
           "SANDKASSE_PROJECT_TOKEN_KEY": token_key, "SANDKASSE_KEYCLOAK_URL": kc.url,
           "SANDKASSE_KEYCLOAK_REALM": kc.realm}
    port = free_port()
    proc = start_service(env, port, work / "service.log", args.service_workers)
    base = f"http://127.0.0.1:{port}"
    try:
        project_of = {r: slug for slug, ms in projects.items() for r in ms}
        tokens = {r: issue_project_token(r, project_of[r], token_key.encode(), 3600) for r in researchers}

        # warm-up, not measured: every service worker has started its check processes
        warm = Recorder()

        async def warm_up() -> None:
            await asyncio.gather(*(researcher(warm, base, tokens[r], tables[:1], []) for r in researchers[:4 * args.service_workers]))

        asyncio.run(warm_up())
        if warm.failures:
            print(f"warm-up failures: {dict(warm.failures)} {warm.errors[:2]}")

        # baseline: one researcher alone, same calls
        solo = Recorder()
        solo_ids: list[str] = []
        asyncio.run(researcher(solo, base, tokens[researchers[0]], tables[:3], solo_ids))

        rec = Recorder()
        submitted: list[str] = []

        async def load() -> float:
            done = asyncio.Event()
            deadline = time.monotonic() + args.time_limit
            t0 = time.perf_counter()
            paced = scenario == "paced"
            think = args.checker_think if paced else 0.0
            reviewers = [asyncio.create_task(reviewer(rec, base, checker_tokens[c], c, i, len(checker_tokens), done,
                                                      deadline, think))
                         for i, c in enumerate(checker_tokens)]
            per = args.per_researcher
            rng = random.Random(7)

            def gaps() -> list[float] | None:
                # random arrival times within the window, in order; the gaps between them
                if not paced:
                    return None
                times = sorted(rng.uniform(0, args.window) for _ in range(per))
                return [b - a for a, b in zip([0.0] + times, times)]

            await asyncio.gather(*(researcher(rec, base, tokens[r], tables[i * per:(i + 1) * per] or tables[:per], submitted,
                                              gaps())
                                   for i, r in enumerate(researchers)))
            while time.monotonic() < deadline:
                state = counts(url)
                if state.get("submitted", 0) + state.get("reviewed", 0) + state.get("approved", 0) == 0:
                    break
                await asyncio.sleep(0.5)
            done.set()
            await asyncio.gather(*reviewers)
            return time.perf_counter() - t0

        elapsed = asyncio.run(load())
        final = counts(url)
    finally:
        stop_service(proc)
    return {"name": f"{name}, {scenario}: {SCENARIOS[scenario]}", "scenario": scenario, "clients": args.researchers + args.reviewers, "rec": rec, "solo": solo, "elapsed": elapsed, "submitted": len(submitted),
            "solo_submitted": len(solo_ids), "warm_submitted": 4 * args.service_workers, "attempted": args.researchers * args.per_researcher, "final": final,
            "work": work,
            "check_baseline": check_baseline}


def report(res: dict) -> int:
    rec, solo = res["rec"], res["solo"]
    final = res["final"]
    stored = sum(v for k, v in final.items() if k != "draft") - res["warm_submitted"]
    decided = final.get("released", 0) + final.get("returned", 0) + final.get("rejected", 0)
    calls = sum(len(v) for v in rec.lat.values())
    all_lat = [x for v in rec.lat.values() for x in v]
    print(f"\n=== {res['name']} ===")
    print(f"{'call':<16}{'n':>6}{'p50 ms':>9}{'p99 ms':>9}{'max ms':>9}{'solo p50':>10}{'p99/solo':>10}{'fail':>6}{'benign':>8}")
    for kind in sorted(rec.lat):
        v = rec.lat[kind]
        s = solo.lat.get(kind, [])
        sp50 = statistics.median(s) if s else float("nan")
        print(f"{kind:<16}{len(v):>6}{pct(v, 50) * 1e3:>9.1f}{pct(v, 99) * 1e3:>9.1f}{max(v) * 1e3:>9.1f}"
              f"{sp50 * 1e3:>10.1f}{(pct(v, 99) / sp50) if s else float('nan'):>10.1f}"
              f"{rec.failures.get(kind, 0):>6}{rec.benign.get(kind, 0):>8}")
    no_upload = [x for k, v in rec.lat.items() if k != "upload_100kB" for x in v]
    print(f"all calls: n={calls} p50={pct(all_lat, 50) * 1e3:.1f} ms p99={pct(all_lat, 99) * 1e3:.1f} ms; "
          f"without uploads p99={pct(no_upload, 99) * 1e3:.1f} ms; throughput {calls / res['elapsed']:.1f} calls/s "
          f"over {res['elapsed']:.1f} s")
    if calls:
        # Little's law: calls in flight on average = throughput x mean latency. In the burst, latency is
        # that queue's length divided by the capacity, not the time one call takes (see "solo").
        print(f"calls in flight on average: {calls / res['elapsed'] * statistics.mean(all_lat):.1f} "
              f"(throughput x mean latency {statistics.mean(all_lat) * 1e3:.0f} ms) of {res['clients']} clients")
    print("slowest calls: " + ", ".join(f"{k} {took * 1e3:.0f} ms at {at:.1f} s" for took, at, k in rec.slowest))
    up = rec.lat.get("upload_100kB", [])
    print(f"check engine alone on the same table (baseline, in process): {res['check_baseline'] * 1e3:.1f} ms; "
          f"upload p50 / check = {pct(up, 50) / res['check_baseline']:.2f}x (the checks run after the upload answers)")
    print(f"requests: attempted {res['attempted']}, submitted (client saw 200) {res['submitted']}, "
          f"stored beyond draft (incl. {res['solo_submitted']} solo) {stored}, decided {decided}, by state {dict(sorted(final.items()))}")
    lost = res["submitted"] + res["solo_submitted"] - stored
    failed = sum(rec.failures.values())
    print(f"lost: {lost}   failed calls: {failed}" + ("" if not rec.errors else f"   first errors: {rec.errors[:3]}"))
    return lost + failed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--researchers", type=int, default=50)
    parser.add_argument("--reviewers", type=int, default=10)
    parser.add_argument("--per-researcher", type=int, default=2)
    parser.add_argument("--table-kb", type=int, default=100)
    parser.add_argument("--time-limit", type=float, default=180)
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--scenarios", default="paced,burst", help=", ".join(f"{k}: {v}" for k, v in SCENARIOS.items()))
    parser.add_argument("--window", type=float, default=60, help="paced: the researchers' exports fall within this many seconds")
    parser.add_argument("--checker-think", type=float, default=2.0, help="paced: mean seconds a checker reads a request before voting")
    parser.add_argument("--service-workers", type=int, default=1,
                        help="uvicorn worker processes (more than 1 on a 2-core machine made things worse: lock and connection contention)")
    args = parser.parse_args()

    from egress_review.checks import CheckContext, check_file, load_disclosure_policy
    from sandkasse.stack.keycloak_server import ensure_keycloak

    tables = [table_of_size(args.table_kb, seed) for seed in range(args.researchers * args.per_researcher + 3)]
    tmp = Path(tempfile.mkdtemp(prefix="bench-egress-"))
    sample = tmp / "table.csv"
    sample.write_bytes(tables[0])
    policy = load_disclosure_policy()
    check_file(sample, declared_name="table.csv", context=CheckContext(), policy=policy)
    check_times = []
    for _ in range(5):
        t = time.perf_counter()
        check_file(sample, declared_name="table.csv", context=CheckContext(), policy=policy)
        check_times.append(time.perf_counter() - t)
    check_baseline = statistics.median(check_times)

    kc = ensure_keycloak("test", KEYCLOAK_PORT)
    admin = kc.admin()
    checker_tokens = {}
    from keycloak import KeycloakOpenID

    test_client = "sandkasse-test"
    if admin.get_client_id(test_client) is None:
        from tests.testbed.keycloak_fixtures import ensure_test_client

        ensure_test_client(kc)
    oid = KeycloakOpenID(server_url=kc.url, realm_name=kc.realm, client_id=test_client)
    for i in range(args.reviewers):
        user, password = f"bench-checker{i}", secrets.token_urlsafe(16)
        uid = admin.get_user_id(user) or admin.create_user(
            {"username": user, "enabled": True, "firstName": user, "lastName": "Bench",
             "email": f"{user}@sandkasse.invalid", "emailVerified": True}, exist_ok=True)
        admin.set_user_password(uid, password, temporary=False)
        have = {r["name"] for r in admin.get_realm_roles_of_user(uid)}
        if "output-checker" not in have:
            admin.assign_realm_roles(uid, [admin.get_realm_role("output-checker")])
        checker_tokens[user] = oid.token(user, password)["access_token"]

    print(f"machine load average at start: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores "
          "(other work on the machine inflates every figure; the solo columns are measured alongside)")
    print(f"egress load: {args.researchers} researchers x {args.per_researcher} requests "
          f"({len(tables[0]) / 1000:.0f} kB tables), {args.reviewers} checkers, limit {args.time_limit:.0f} s, loopback; "
          f"service: uvicorn --workers {args.service_workers}")
    for backend in args.backends.split(","):
        for scenario in args.scenarios.split(","):
            if scenario not in SCENARIOS:
                raise SystemExit(f"unknown scenario {scenario}")
            try:
                if backend == "sqlite":
                    res = run_backend("SQLite", f"sqlite:///{tmp / f'bench-{scenario}.db'}", args, kc, checker_tokens,
                                      tables, check_baseline, scenario)
                elif backend == "postgresql":
                    from sandkasse.stack.postgres_server import ensure_postgres

                    pg = ensure_postgres(f"bench-{os.getpid()}-{scenario}", free_port(), durable=True)
                    try:
                        res = run_backend("PostgreSQL", pg.create_database(), args, kc, checker_tokens, tables,
                                          check_baseline, scenario)
                    finally:
                        pg.remove()
                else:
                    raise SystemExit(f"unknown backend {backend}")
            except (SystemExit, Exception) as exc:  # one run failing must not hide the others' figures
                print(f"\n=== {backend}, {scenario}: FAILED: {exc}")
                continue
            if report(res):
                print(f"service log kept: {res['work'] / 'service.log'}")
            else:
                shutil.rmtree(res["work"], ignore_errors=True)
    print(f"\nmachine load average at end: {os.getloadavg()[0]:.1f}")
    shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
