"""Automatic disclosure checks of one uploaded file, via the check engine (:mod:`egress_review.checks`).

The report (the engine's ``FileReport`` as JSON) is stored with the file version, so checkers and the
researcher see the same verdict the service computed. Large files are checked in a child process so
that a big table cannot push the service's own memory up; small ones in process, which is fast.
"""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

VERDICTS = ("pass", "review", "fail")
PENDING = "pending"  # a stored version whose checks have not run yet (egress_review.checking)
# Worst last: a known fail outranks checks still running, which outrank a review.
VERDICT_ORDER = {"pass": 0, "review": 1, PENDING: 2, "fail": 3}


@dataclass
class CheckInput:
    path: Path
    declared_name: str
    sidecar: Path | None = None
    identifier_values: set[str] = field(default_factory=set)
    non_identifier_values: set[str] = field(default_factory=set)  # quasi-identifier values: never identifiers
    # With these the worker looks the project's identifier values up itself: reading the source data
    # would otherwise grow the service's own memory by the size of the identifier columns.
    project: str | None = None
    database_url: str | None = None
    released_tables: list[Path] = field(default_factory=list)
    # (name, where, path) of tables that may still leave (egress_review.neighbours)
    pending_tables: list[tuple[str, str, Path]] = field(default_factory=list)
    entitled_row_count: int | None = None
    person_level: bool = True
    policy: Any = None  # the engine's DisclosurePolicy, loaded once by the service
    # where the project's extracts are (default: provisioning's folder for ``project``), for the replay
    extract_dir: Path | None = None


@dataclass
class CheckOutcome:
    verdict: str
    report: dict[str, Any]

    @property
    def report_json(self) -> str:
        return json.dumps(self.report, sort_keys=True, default=str)

    @property
    def redacted_json(self) -> str:
        """The report without anything that quotes the file's content (messages, suggested table)."""
        flags = [
            {k: f.get(k) for k in ("rule", "severity", "row", "column")}
            for f in self.report.get("flags", [])
            if isinstance(f, dict)
        ]
        return json.dumps(
            {"verdict": self.verdict, "file_type": self.report.get("file_type"), "flags": flags,
             "unverifiable": list(self.report.get("unverifiable", []) or []), "redacted": True},
            sort_keys=True, default=str,
        )


def unavailable(reason: str) -> CheckOutcome:
    # No automatic verdict is never a pass: the file goes to the checkers marked as unchecked.
    return CheckOutcome(
        "review",
        {"verdict": "review", "flags": [], "unverifiable": [f"automatic checks unavailable: {reason}"]},
    )


class CheckRunner:
    """Runs the checks in a small pool of worker processes: the engine is CPU-bound pandas code, and
    in the service's own process it would hold the interpreter lock for the length of every check,
    stalling every other request. Files above ``in_process_max_bytes`` get a fresh child process of
    their own, so their memory is returned when it exits."""

    def __init__(self, workers: int, in_process_max_bytes: int) -> None:
        self.workers = workers
        self.in_process_max_bytes = in_process_max_bytes
        self._pool = None
        self._lock = threading.Lock()

    def _executor(self):
        with self._lock:
            if self._pool is None:
                import multiprocessing
                from concurrent.futures import ProcessPoolExecutor

                # spawn, not fork: the service has threads, and a forked copy of a lock is a deadlock
                self._pool = ProcessPoolExecutor(
                    self.workers, mp_context=multiprocessing.get_context("spawn"), initializer=_die_with_parent
                )
            return self._pool

    def run(self, item: CheckInput) -> CheckOutcome:
        if self.workers <= 0:
            return run_checks(item, self.in_process_max_bytes)
        try:
            if item.path.stat().st_size > self.in_process_max_bytes:
                return _run_in_child(item)
            return self._executor().submit(_run_guarded, item).result(timeout=600)
        except Exception as exc:
            from concurrent.futures.process import BrokenProcessPool

            if isinstance(exc, BrokenProcessPool):
                with self._lock:
                    self._pool = None  # a worker died (e.g. out of memory): start afresh next time
            log.exception("automatic checks failed on %s", item.declared_name)
            return unavailable(f"{exc.__class__.__name__}: {exc}")

    async def run_async(self, item: CheckInput) -> CheckOutcome:
        """Like :meth:`run`, awaiting the worker process instead of blocking a thread."""
        import asyncio

        if self.workers <= 0 or item.path.stat().st_size > self.in_process_max_bytes:
            from fastapi.concurrency import run_in_threadpool

            return await run_in_threadpool(self.run, item)
        try:
            future = self._executor().submit(_run_guarded, item)
            return await asyncio.wait_for(asyncio.wrap_future(future), timeout=600)
        except Exception as exc:
            from concurrent.futures.process import BrokenProcessPool

            if isinstance(exc, BrokenProcessPool):
                with self._lock:
                    self._pool = None
            log.exception("automatic checks failed on %s", item.declared_name)
            return unavailable(f"{exc.__class__.__name__}: {exc}")

    def warm(self) -> None:
        """Start the workers and load the engine now, in the background, not on the first upload."""
        if self.workers > 0:
            pool = self._executor()
            threading.Thread(target=lambda: [f.result() for f in [pool.submit(_warm) for _ in range(self.workers)]],
                             daemon=True).start()

    def close(self) -> None:
        with self._lock:
            if self._pool is not None:
                self._pool.shutdown(wait=False, cancel_futures=True)
                self._pool = None


def _die_with_parent() -> None:
    """A worker must not outlive the service (a killed service would otherwise leave orphans). The
    parent is watched by polling: PR_SET_PDEATHSIG fires when the *thread* that spawned the worker
    ends, and the pool spawns from whichever request thread submits."""
    import os
    import time

    parent = os.getppid()
    # Checks are background work: answering API calls comes first on a busy machine.
    os.nice(10)

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1.0)
        os._exit(0)

    threading.Thread(target=watch, daemon=True).start()


def _warm() -> None:
    import egress_review.checks  # noqa: F401 - import pandas and the engine once per worker


def _run_guarded(item: CheckInput) -> CheckOutcome:
    try:
        return _run_in_process(item)
    except Exception as exc:
        return unavailable(f"{exc.__class__.__name__}: {exc}")


def run_checks(item: CheckInput, in_process_max_bytes: int) -> CheckOutcome:
    try:
        if item.path.stat().st_size > in_process_max_bytes:
            return _run_in_child(item)
        return _run_in_process(item)
    except Exception as exc:  # the engine is another team's code: never let it take the upload down
        log.exception("automatic checks failed on %s", item.declared_name)
        return unavailable(f"{exc.__class__.__name__}: {exc}")


def _run_in_process(item: CheckInput) -> CheckOutcome:
    try:
        from egress_review.checks import CheckContext, PendingTable, check_file
    except ImportError as exc:
        return unavailable(str(exc))
    identifiers, non_identifiers = (item.identifier_values, item.non_identifier_values) if item.identifier_values \
        else _project_identifiers(item.database_url, item.project)
    context = CheckContext(
        identifier_values=identifiers, non_identifier_values=non_identifiers,
        released_tables=item.released_tables,
        pending_tables=[PendingTable(name=n, where=w, path=p) for n, w, p in item.pending_tables],
        entitled_row_count=item.entitled_row_count,
        person_level=item.person_level,
    )
    replayed = _replay(item)
    if replayed is not None:
        context.replay = replayed.note
    try:
        # a reproduced table is checked with the replay's statistics, not the researcher's
        sidecar = replayed.sidecar if replayed is not None and replayed.sidecar is not None else item.sidecar
        report = check_file(item.path, declared_name=item.declared_name, sidecar=sidecar, context=context,
                            policy=item.policy)
    finally:
        if replayed is not None and replayed.sidecar is not None:
            replayed.sidecar.unlink(missing_ok=True)
    data = report.model_dump(mode="json")
    return CheckOutcome(_verdict(data), data)


def _replay(item: CheckInput):  # noqa: ANN202 - egress_review.replay.Replayed, imported lazily
    """Replay a wrapper-made table from the project's extract (None: no sidecar, or replays are off)."""
    if item.sidecar is None or item.path.suffix.lower() not in (".csv", ".tsv", ".xlsx", ".parquet"):
        return None
    if item.policy is not None and not item.policy.replay.enabled:
        return None
    extract_dir = item.extract_dir
    if extract_dir is None and item.project:
        from provisioning import api

        try:
            extract_dir = api.extract_dir(item.project)
        except Exception:  # noqa: BLE001 - no folder for this project: the replay says so
            extract_dir = None
    if extract_dir is None and not item.project:
        return None
    from egress_review.replay import replay_table

    try:
        return replay_table(item.path, item.sidecar, extract_dir, item.path.parent)
    except Exception as exc:  # noqa: BLE001 - a broken replay must not stop the checks themselves
        log.exception("replaying %s failed", item.declared_name)
        from egress_review.checks.replay import NOT_REPLAYABLE, ReplayNote
        from egress_review.replay import Replayed

        return Replayed(ReplayNote(status=NOT_REPLAYABLE, detail=f"the replay failed ({exc.__class__.__name__})"))


_engines: dict[str, Any] = {}
_engines_lock = threading.Lock()


def _project_identifiers(database_url: str | None, project: str | None) -> tuple[set[str], set[str]]:
    """The project's direct-identifier values and its quasi-identifier values (the scan's negative list),
    from provisioning (which caches the source columns)."""
    if not database_url or not project:
        return set(), set()
    from sandkasse.db import make_engine, make_sessionmaker

    from egress_review import projects

    with _engines_lock:
        if database_url not in _engines:
            _engines[database_url] = make_sessionmaker(make_engine(database_url))
        sessions = _engines[database_url]
    with sessions() as session:
        values = projects.identifier_values(session, project)
        ignore = projects.quasi_identifier_values(session, project)
        session.rollback()
    return values, ignore


def _run_in_child(item: CheckInput) -> CheckOutcome:
    # The child sees no identifier values or earlier releases: the reviewer is told what is missing.
    cmd = [sys.executable, "-m", "egress_review.checks", str(item.path), "--name", item.declared_name, "--json"]
    if item.sidecar is not None:
        cmd += ["--sidecar", str(item.sidecar)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    if proc.returncode not in (0, 1, 2) or not proc.stdout.strip():
        return unavailable(f"check process exited {proc.returncode}: {proc.stderr.strip()[-500:]}")
    data = json.loads(proc.stdout)
    data.setdefault("unverifiable", [])
    data["unverifiable"].append("large file checked without project identifiers, earlier releases or other unreleased tables")
    return CheckOutcome(_verdict(data), data)


def load_engine_policy() -> Any:
    """The check engine's disclosure policy, read once at start-up (None: the engine reads it itself)."""
    try:
        from egress_review.checks import load_disclosure_policy

        return load_disclosure_policy()
    except Exception:  # a broken policy file must show up in every report, not stop the service
        log.exception("cannot load the disclosure policy")
        return None


def _verdict(data: dict[str, Any]) -> str:
    verdict = str(data.get("verdict", "review"))
    return verdict if verdict in VERDICTS else "review"
