"""Re-run the notebook a submitted request carries, before review (``notebooks.reexecute``).

For each turn of a submitted request that carries a notebook, one run: claimed with a lease (a
crashed worker's run is taken again), the notebook decrypted from quarantine, run in a fresh
locked-down container (:mod:`.container`) on the project's extracts, each output it re-creates
compared with the submitted one (:mod:`.compare`), and the outcome recorded with an audit event.
Checkers see "matches", "does not match" (a fail) or "failed to run"; they cannot vote before.

It needs the Docker API, which the egress service does not have in the compose stack, so it runs on
its own where the hub runs: ``python -m egress_review.notebooks.worker`` (settings from the
environment, as the service's; the image from ``notebooks.image`` or ``SANDKASSE_NOTEBOOK_IMAGE``).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from sqlalchemy import or_, select, update
from sqlalchemy.exc import IntegrityError

from egress_review.audit import SYSTEM
from egress_review.models import ReleaseRequest
from egress_review.notebooks import compare
from egress_review.notebooks.container import NotebookContainer, RunResult
from egress_review.notebooks.models import DONE, FAILED, PENDING, NotebookRun
from egress_review.notebooks.runs import notebook_of, reason_context, run_of
from egress_review.states import FileKind, RequestState
from sandkasse.audit import utcnow

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Output:
    file_id: str
    name: str
    kind: str
    sha256: str


@dataclass(frozen=True)
class Claim:
    run_id: str
    request_id: str
    project: str
    notebook: tuple[str, str, bytes]  # blob, version id, wrapped key
    outputs: tuple[Output, ...]
    attempts: int


def schedule(svc) -> int:
    """One pending run for each submitted request with a notebook that has none for its turn."""
    if not svc.policy.notebooks.reexecute:
        return 0
    made = 0
    with svc.read_sessions() as session:
        ids = list(session.execute(select(ReleaseRequest.id).where(ReleaseRequest.state == RequestState.SUBMITTED))
                   .scalars())
        session.rollback()
    for rid in ids:
        with svc.sessions() as session:
            req = session.get(ReleaseRequest, rid)
            nb = notebook_of(req) if req is not None else None
            if nb is None or run_of(session, req) is not None:
                session.rollback()
                continue
            session.add(NotebookRun(request_id=rid, turn=req.turn, notebook_version_id=nb[1].id, status=PENDING))
            try:
                session.commit()
                made += 1
            except IntegrityError:  # another worker made it first
                session.rollback()
    return made


def _claimable(svc):
    cutoff = utcnow() - timedelta(seconds=svc.policy.notebooks.lease_seconds)
    return (NotebookRun.status == PENDING, or_(NotebookRun.claimed_at.is_(None), NotebookRun.claimed_at < cutoff))


def claim(svc, run_id: str) -> Claim | None:
    with svc.sessions() as session:
        won = session.execute(
            update(NotebookRun).where(NotebookRun.id == run_id, *_claimable(svc))
            .values(claimed_at=utcnow(), attempts=NotebookRun.attempts + 1)
            .execution_options(synchronize_session=False)
        ).rowcount
        if won != 1:
            session.rollback()
            return None
        run = session.get(NotebookRun, run_id)
        req = session.get(ReleaseRequest, run.request_id)
        v = next((v for f in req.files for v in f.versions if v.id == run.notebook_version_id), None)
        outputs = tuple(Output(f.id, f.name, f.current_version.detected_type, f.current_version.sha256)
                        for f in req.files
                        if f.kind == FileKind.OUTPUT and not f.withdrawn and f.current_version is not None)
        c = Claim(run.id, req.id, req.project, (v.blob, v.id, v.wrapped_key), outputs, run.attempts)
        session.commit()
    return c


def judge(svc, c: Claim, result: RunResult) -> tuple[str, dict, str]:
    """(run status, per-output outcome, reason to seal)."""
    if not result.ran:
        reason = result.error or "the notebook did not run to the end"
        if result.skipped:
            reason += "; " + "; ".join(f"{n}: {why}" for n, why in list(result.skipped.items())[:10])
        return FAILED, {}, reason
    outcome, whys = {}, {}
    for o in c.outputs:
        status, why = compare.compare(svc, o.name, o.kind, o.sha256, result.files.get(o.name))
        if o.name in result.skipped and status == compare.MISSING:
            why = f"{o.name} was handed back as {result.skipped[o.name]}"
        outcome[o.file_id] = {"name": o.name, "status": status}
        whys[o.file_id] = why
    return DONE, outcome, json.dumps(whys)


def record(svc, c: Claim, status: str, outcome: dict, reason: str) -> None:
    with svc.sessions() as session:
        run = session.get(NotebookRun, c.run_id)
        if run is None or run.status != PENDING:
            session.rollback()
            return
        run.status = status
        run.outcome = json.dumps(outcome, sort_keys=True)
        run.reason_sealed = svc.store.seal(reason_context(run.id), reason.encode()) if reason else None
        run.finished_at = utcnow()
        run.claimed_at = None
        svc.audit.record(session, SYSTEM, "notebook.reexecuted", "notebook_run", run.id,
                         {"request": c.request_id, "status": status,
                          "outputs": {v["name"]: v["status"] for v in outcome.values()}, "attempt": c.attempts})
        session.commit()


def _extract_dir(project: str) -> Path | None:
    from provisioning import api

    try:
        path = api.extract_dir(project)
    except Exception:  # noqa: BLE001 - no folder: the notebook runs without /data and says so
        return None
    return path if path.is_dir() else None


def execute(svc, c: Claim, container: NotebookContainer,
            extract_dir_of: Callable[[str], Path | None] = _extract_dir) -> str:
    """Run one claimed notebook and record what it made; returns the run's status."""
    if c.attempts > svc.policy.notebooks.max_attempts:
        status, outcome, reason = FAILED, {}, f"the re-execution failed {c.attempts - 1} times"
    else:
        blob, version_id, key = c.notebook
        notebook = b"".join(svc.store.read(blob, version_id, key))
        result = container.run(notebook, extract_dir_of(c.project),
                               labels={"org.sandkasse.project": c.project, "org.sandkasse.request": c.request_id})
        status, outcome, reason = judge(svc, c, result)
    record(svc, c, status, outcome, reason)
    return status


def pending_runs(svc) -> list[str]:
    with svc.read_sessions() as session:
        ids = list(session.execute(select(NotebookRun.id).where(*_claimable(svc)).order_by(NotebookRun.created_at))
                   .scalars())
        session.rollback()
    return ids


def run_once(svc, container: NotebookContainer,
             extract_dir_of: Callable[[str], Path | None] = _extract_dir) -> dict[str, str]:
    """Schedule, then run every pending run this worker can claim; {run id: status}."""
    schedule(svc)
    done = {}
    for run_id in pending_runs(svc):
        c = claim(svc, run_id)
        if c is None:
            continue
        try:
            done[run_id] = execute(svc, c, container, extract_dir_of)
        except Exception:  # the lease runs out and a later round takes it again
            log.exception("re-executing the notebook of request %s failed", c.request_id)
    return done


def container_for(svc, docker_client, image: str | None = None) -> NotebookContainer:
    from hub.policy import security_policy

    pol = svc.policy.notebooks
    image = image or pol.image or os.environ.get("SANDKASSE_NOTEBOOK_IMAGE", "")
    if not image:
        raise SystemExit("no notebook image: set notebooks.image in policies/egress.yaml or SANDKASSE_NOTEBOOK_IMAGE")
    return NotebookContainer(docker_client, image, security_policy(), timeout_seconds=pol.timeout_seconds,
                             cell_timeout_seconds=pol.cell_timeout_seconds, max_output_bytes=pol.max_output_bytes)


def main(argv: list[str] | None = None) -> int:
    import docker

    from egress_review.service import build_service
    from egress_review.settings import EgressSettings

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=0, help="stop after this many rounds (0: run until killed)")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO)
    svc = build_service(EgressSettings(), migrate=False)
    container = container_for(svc, docker.APIClient(base_url=os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock")))
    rounds = 0
    try:
        while not args.rounds or rounds < args.rounds:
            run_once(svc, container)
            rounds += 1
            if not args.rounds or rounds < args.rounds:
                time.sleep(svc.policy.notebooks.sweep_seconds)
    finally:
        svc.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
