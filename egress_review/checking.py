"""The automatic disclosure checks of stored versions, run beside the API rather than inside the
upload call: an upload is made durable and answered with the verdict ``pending``; the checks follow.

Each pending version is *claimed* with a lease in the database (so two service processes never both
check it and a crashed one's work is taken over when the lease expires), decrypted to a private
scratch file, checked by :mod:`egress_review.autocheck`, and its verdict and sealed report are written
with a ``file.checked`` audit event in one transaction. :class:`CheckQueue` schedules this: uploads
announce their version at once, and a periodic sweep picks up whatever a crash or another replica left.
Checkers cannot vote on a file whose checks are still pending (:func:`egress_review.review.vote`).
"""

from __future__ import annotations

import asyncio
import logging
import tempfile
import uuid
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from fastapi.concurrency import run_in_threadpool
from sqlalchemy import or_, select, update

from egress_review.audit import SYSTEM
from egress_review.autocheck import PENDING, CheckInput, CheckOutcome, run_checks, unavailable
from egress_review.models import FileVersion, Release, ReleasedFile
from egress_review.neighbours import Neighbour, decrypt_neighbours, unreleased_neighbours
from egress_review.service import EgressService
from egress_review.submission import get_request, seal_report, sidecar_context
from sandkasse.audit import utcnow

log = logging.getLogger(__name__)

_TABLES = (".csv", ".tsv", ".xlsx", ".parquet")


@dataclass(frozen=True)
class Claim:
    """What a worker needs to check one version, read when it took the lease."""

    version_id: str
    file_id: str
    request_id: str
    project: str
    name: str
    blob: str
    wrapped_key: bytes
    sidecar: str | None
    attempts: int
    released: tuple[Path, ...]
    pending: tuple[Neighbour, ...] = ()


def _lease_expired(svc: EgressService):
    cutoff = utcnow() - timedelta(seconds=svc.policy.uploads.check_lease_seconds)
    return or_(FileVersion.check_claimed_at.is_(None), FileVersion.check_claimed_at < cutoff)


def claim(svc: EgressService, version_id: str) -> Claim | None:
    """Take the lease on a pending version; None when it is checked already or another worker has it."""
    with svc.sessions() as session:
        taken = session.execute(
            update(FileVersion)
            .where(FileVersion.id == version_id, FileVersion.verdict == PENDING, _lease_expired(svc))
            .values(check_claimed_at=utcnow(), check_attempts=FileVersion.check_attempts + 1)
            .execution_options(synchronize_session=False)
        ).rowcount
        if taken != 1:
            session.rollback()
            return None
        v = session.get(FileVersion, version_id)
        f = v.file
        req = f.request
        released = session.execute(
            select(ReleasedFile.path).join(Release).where(Release.project == req.project)
        ).scalars()
        out = Claim(
            version_id=v.id, file_id=f.id, request_id=req.id, project=req.project, name=f.name, blob=v.blob,
            wrapped_key=v.wrapped_key, sidecar=v.sidecar, attempts=v.check_attempts,
            released=tuple(Path(x) for x in released if x.lower().endswith(_TABLES) and Path(x).exists()),
            pending=unreleased_neighbours(session, f.id, req.id, req.project, svc.policy.uploads.check_in_process_max_bytes),
        )
        session.commit()
    return out


def _scratch_copy(svc: EgressService, c: Claim) -> Path:
    # a fresh name per attempt: a retry after a crash never meets the earlier attempt's file
    path = svc.store.scratch / f"{c.version_id}-{uuid.uuid4().hex}{Path(c.name).suffix.lower()}"
    svc.store.decrypt_to(c.blob, c.version_id, c.wrapped_key, path)
    return path


def _sidecar_copy(svc: EgressService, c: Claim) -> Path | None:
    if not c.sidecar:
        return None
    fd, name = tempfile.mkstemp(dir=svc.store.scratch, suffix=".sidecar.json")
    with open(fd, "w", encoding="utf-8") as fh:
        fh.write(svc.store.unseal(sidecar_context(c.file_id), c.sidecar).decode())
    return Path(name)


def record(svc: EgressService, c: Claim, outcome: CheckOutcome) -> str | None:
    """Store the verdict and the sealed report with their audit event; None if no longer pending."""
    with svc.sessions() as session:
        get_request(session, c.request_id)  # its row first, then the audit head (see egress_review.db.sessions)
        v = session.get(FileVersion, c.version_id)
        if v is None or v.verdict != PENDING:
            session.rollback()
            return None
        v.verdict = outcome.verdict
        v.check_report = outcome.redacted_json
        v.check_report_sealed, v.check_cells_sealed = seal_report(svc.store, v.id, outcome.report)
        v.checked_at = utcnow()
        v.check_claimed_at = None
        svc.audit.record(
            session, SYSTEM, "file.checked", "file_version", v.id,
            {"request": c.request_id, "file": c.file_id, "name": c.name, "verdict": outcome.verdict,
             "flags": len(outcome.report.get("flags", []) or []), "attempt": c.attempts},
        )
        session.commit()
    svc.metrics.uploads.labels(outcome.verdict).inc()
    return outcome.verdict


async def _run(svc: EgressService, item: CheckInput) -> CheckOutcome:
    if svc.checker is not None:
        # awaited, not waited for in a thread: a queue of checks must not use up the threads that
        # every request needs
        return await svc.checker.run_async(item)
    return await run_in_threadpool(run_checks, item, svc.policy.uploads.check_in_process_max_bytes)


async def check_version(svc: EgressService, version_id: str) -> str | None:
    """Claim, check and record one pending version; returns its verdict (None: not ours to check)."""
    c = await run_in_threadpool(claim, svc, version_id)
    if c is None:
        return None
    scratch = sidecar = None
    neighbours: list[tuple[str, str, Path]] = []
    try:
        if c.attempts > svc.policy.uploads.check_max_attempts:
            outcome = unavailable(f"the checks failed {c.attempts - 1} times on this file")
        else:
            scratch = await run_in_threadpool(_scratch_copy, svc, c)
            sidecar = await run_in_threadpool(_sidecar_copy, svc, c)
            neighbours = await run_in_threadpool(decrypt_neighbours, svc.store, c.pending)
            outcome = await _run(svc, CheckInput(
                path=scratch, declared_name=c.name, sidecar=sidecar, project=c.project,
                database_url=svc.settings.effective_database_url, released_tables=list(c.released),
                pending_tables=neighbours,
                policy=svc.disclosure_policy,
            ))
        return await run_in_threadpool(record, svc, c, outcome)
    finally:
        for path in (scratch, sidecar, *(p for _, _, p in neighbours)):
            if path is not None:
                path.unlink(missing_ok=True)


def pending_versions(svc: EgressService, limit: int = 200) -> list[str]:
    """Pending versions nobody holds a live lease on, oldest first."""
    with svc.read_sessions() as session:
        ids = list(session.execute(
            select(FileVersion.id).where(FileVersion.verdict == PENDING, _lease_expired(svc))
            .order_by(FileVersion.created_at).limit(limit)
        ).scalars())
        session.rollback()
    return ids


class CheckQueue:
    """Runs :func:`check_version` for pending versions on the service's event loop, as many at a
    time as there are check workers."""

    def __init__(self, svc: EgressService) -> None:
        self.svc = svc
        self._queue: asyncio.Queue[str] | None = None
        self._queued: set[str] = set()
        self._tasks: list[asyncio.Task] = []

    @property
    def running(self) -> bool:
        return bool(self._tasks)

    def announce(self, version_id: str) -> None:
        """A new pending version: check it as soon as a worker is free (the sweep would find it too)."""
        if self._queue is not None and version_id not in self._queued:
            self._queued.add(version_id)
            self._queue.put_nowait(version_id)

    async def start(self) -> None:
        self._queue = asyncio.Queue()
        concurrency = max(1, self.svc.policy.uploads.check_workers)
        self._tasks = [asyncio.create_task(self._consume(), name=f"egress-check-{i}") for i in range(concurrency)]
        self._tasks.append(asyncio.create_task(self._sweep(), name="egress-check-sweep"))

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []
        self._queue = None
        self._queued.clear()

    async def _consume(self) -> None:
        assert self._queue is not None
        while True:
            version_id = await self._queue.get()
            try:
                await check_version(self.svc, version_id)
            except asyncio.CancelledError:
                raise
            except Exception:  # the lease runs out and the sweep retries it; this worker carries on
                log.exception("checking version %s failed", version_id)
            finally:
                self._queued.discard(version_id)

    async def _sweep(self) -> None:
        while True:
            try:
                for version_id in await run_in_threadpool(pending_versions, self.svc):
                    self.announce(version_id)
            except asyncio.CancelledError:
                raise
            except Exception:  # a database hiccup: try again on the next round
                log.exception("looking for unchecked versions failed")
            await asyncio.sleep(self.svc.policy.uploads.check_sweep_seconds)
