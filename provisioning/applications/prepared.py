"""What the TRE prepares when an application is submitted, wired into :mod:`provisioning.applications.hooks`:
the automatic pre-assessment (computed on the real source data, kept as aggregate figures only), the DPIA
draft made from it on demand, and the synthetic twin the applicant's sandbox opens.

``<var_dir>/applications/<id>/assessment.json`` is a cache, rewritten on each (re)submission and recomputed
(with the twin) when missing or when the application changed since (a dataset owner's other transformation); ``<var_dir>/twins/app-<id[:20]>/`` holds the twin's files, read-only, swapped in whole. The folder's root is given by the session (:data:`VAR_DIR_KEY` in ``session.info``, set
by the portal); a session without it prepares nothing, so the workflow's own tests stay pure."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import tempfile
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session

from provisioning.applications import hooks

if TYPE_CHECKING:  # pandas and friends load only when something is computed
    from provisioning.applications.assessment import PreAssessment

log = logging.getLogger(__name__)

VAR_DIR_KEY = "sandkasse.applications.var_dir"
# the key the twins' noisy marginals are drawn under (from the service's master key; see twin.twin_noise_key)
NOISE_KEY = "sandkasse.applications.twin_noise_key"
ASSESSMENT_FILE = "assessment.json"
_FILE_MODE = 0o444


def application_dir(var_dir: Path, app_id: str) -> Path:
    if not app_id.isalnum():  # ids are uuid hex; anything else never names a folder
        raise ValueError(f"invalid application id {app_id!r}")
    return Path(var_dir) / "applications" / app_id


# JupyterHub names a server with at most 30 characters: the workspace takes 80 bits of the application id
WORKSPACE_ID_CHARS = 20


def workspace_of(app_id: str) -> str:
    """The twin's workspace name (the hub's server name): ``app-`` and the id's first 20 hex digits."""
    return f"app-{app_id[:WORKSPACE_ID_CHARS]}"


def twin_dir(var_dir: Path, app_id: str) -> Path:
    """Kept under the workspace's name, so the hub finds it without asking for the application."""
    return Path(var_dir) / "twins" / workspace_of(application_dir(var_dir, app_id).name)


@dataclass(frozen=True)
class Prepared:
    """The pre-assessment as the DPO's page shows it: figures, or why they could not be computed."""

    assessment: PreAssessment | None
    error: str = ""
    computed_at: str = ""


def _var_dir(session: Session) -> Path | None:
    value = session.info.get(VAR_DIR_KEY)
    return Path(value) if value else None


def _catalogue(session: Session) -> dict[str, Any]:
    from provisioning.catalogue_meta import load_catalogue

    return {m.name: m for m in load_catalogue(session)}


def _content_hash(app: Any) -> str:
    return hashlib.sha256(app.content.encode()).hexdigest()


def compute(session: Session, app: Any) -> dict[str, Any]:
    """The pre-assessment of ``app`` as stored: ``{"assessment": ..., "error": ...}``. A failure (a source file
    missing, say) is kept as its type and message only: never a value from the data."""
    from provisioning.applications import permissions as perm
    from provisioning.applications.assessment import pre_assess_from_catalogue

    now = datetime.now(timezone.utc).isoformat()
    try:
        found = pre_assess_from_catalogue(session, perm.content_of(app))
        return {"assessment": found.model_dump(mode="json"), "error": "", "computed_at": now, "content": _content_hash(app)}
    except Exception as exc:  # noqa: BLE001 - the submission stands; the DPO sees why the figures are missing
        log.warning("pre-assessment of application %s failed: %s", app.id, exc)
        return {"assessment": None, "error": type(exc).__name__, "computed_at": now, "content": _content_hash(app)}


def _write_json(path: Path, data: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".assessment.", suffix=".json")
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump(data, fh)
    os.replace(tmp, path)


def build_twin(session: Session, app: Any, var_dir: Path) -> Path | None:
    """Write the application's twin into a fresh folder and swap it in (a running sandbox keeps the old
    files until it restarts). Returns the folder, or None when no twin could be made."""
    from provisioning.applications import permissions as perm
    from provisioning.applications.twin import write_application_twins

    target = twin_dir(var_dir, app.id)
    target.parent.mkdir(parents=True, exist_ok=True)
    fresh = Path(tempfile.mkdtemp(dir=target.parent, prefix=".twin."))
    try:
        write_application_twins(perm.content_of(app), _catalogue(session), fresh, application=app.id,
                                 noise_key=session.info.get(NOISE_KEY))
        for f in fresh.iterdir():
            f.chmod(_FILE_MODE)
        fresh.chmod(0o755)  # the sandbox's user (not the service's) reads it through a read-only mount
        old = target.parent / f".old.{fresh.name}"
        if target.exists():
            target.rename(old)
        fresh.rename(target)
        shutil.rmtree(old, ignore_errors=True)
        return target
    except Exception as exc:  # noqa: BLE001 - no twin (e.g. a CSV source) must not stop the submission
        log.warning("synthetic twin of application %s failed: %s", app.id, exc)
        shutil.rmtree(fresh, ignore_errors=True)
        return None


def on_submitted(session: Session, app: Any) -> None:
    var_dir = _var_dir(session)
    if var_dir is None:
        return
    _write_json(application_dir(var_dir, app.id) / ASSESSMENT_FILE, compute(session, app))
    build_twin(session, app, var_dir)


def _stored(session: Session, app: Any) -> dict[str, Any] | None:
    var_dir = _var_dir(session)
    if var_dir is None:
        return None
    path = application_dir(var_dir, app.id) / ASSESSMENT_FILE
    stored = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None
    if stored is not None and stored.get("content") == _content_hash(app):
        return stored
    if app.submitted_at is None:
        return stored
    # submitted before the figures were wired in, or changed since (a dataset owner approved another
    # transformation): the figures and the twin follow what is now asked
    stored = compute(session, app)
    _write_json(path, stored)
    build_twin(session, app, var_dir)
    return stored


def assess(session: Session, app: Any) -> Prepared | None:
    from provisioning.applications.assessment import PreAssessment

    stored = _stored(session, app)
    if stored is None:
        return None
    found = stored.get("assessment")
    return Prepared(PreAssessment.model_validate(found) if found else None, stored.get("error", ""),
                    stored.get("computed_at", ""))


def dpia_draft(session: Session, app: Any) -> tuple[str, bytes] | None:
    """The DPIA draft (Markdown, PDF) from the application, the catalogue and the stored figures."""
    from provisioning.applications import permissions as perm
    from provisioning.applications.dpia_draft import draft

    prepared = assess(session, app)
    if prepared is None or prepared.assessment is None:
        return None
    return draft(perm.content_of(app), prepared.assessment, _catalogue(session), reference=app.id)


def dpia_markdown(session: Session, app: Any) -> str | None:
    made = dpia_draft(session, app)
    return made[0] if made else None


def wire() -> None:
    hooks.assess = assess
    hooks.dpia_markdown = dpia_markdown
    hooks.on_submitted = on_submitted
