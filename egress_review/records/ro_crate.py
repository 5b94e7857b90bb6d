"""A release's provenance as a Five Safes RO-Crate (https://w3id.org/5s-crate/0.4), built with the
``rocrate`` library: the released files, the signed ``manifest.json`` and the ACRO ``results.json``
as data entities; the request as an ``AskAction`` (the researcher asks for the outputs to leave), each
file's automatic disclosure checks as an ``AssessAction`` (``shp:DisclosureCheck``), each checker's
approval as an ``AuthorizeAction``, and the release as an ``AssessAction`` (``shp:SignOff``) by the
service, whose instrument is the signing key.

Only what a project member may read after release goes in: no researcher free text (title, context,
controls, comments), no checkers-only comments, no cell values.
"""

from __future__ import annotations

import json
from pathlib import Path

from rocrate.model.contextentity import ContextEntity
from rocrate.rocrate import ROCrate

from egress_review.models import Release, ReleaseRequest
from egress_review.records.acro_results import CHECKSUMS_DIR, RESULTS_NAME
from egress_review.review import current_votes
from egress_review.states import FileKind

PROFILE = "https://w3id.org/5s-crate/0.4"
SHP = "https://w3id.org/shp#"
COMPLETED = "http://schema.org/CompletedActionStatus"
SERVICE = "#sandkasse-egress-review"
CHECKS = "#sandkasse-disclosure-checks"
MANIFEST_NAME = "manifest.json"


def _person(crate: ROCrate, username: str, role: str) -> ContextEntity:
    ident = f"#person-{username}"
    existing = crate.get(ident)
    if existing is not None:
        return existing
    return crate.add(ContextEntity(crate, ident, properties={"@type": "Person", "name": username,
                                                              "description": role}))


def _iso(value) -> str | None:
    return value.isoformat() if value is not None else None


def build(rel: Release, req: ReleaseRequest) -> ROCrate:
    key_id = str(json.loads(rel.manifest or "{}").get("key_id", "unknown"))
    crate = ROCrate()
    root = crate.root_dataset
    root["name"] = f"Release {rel.id} of project {rel.project}"
    root["description"] = "Outputs released from the Sandkasse trusted research environment after review"
    root["datePublished"] = _iso(rel.released_at)
    root["conformsTo"] = {"@id": PROFILE}
    crate.add(ContextEntity(crate, PROFILE, properties={"@type": "Profile", "name": "Five Safes RO-Crate profile"}))
    project = crate.add(ContextEntity(crate, f"#project-{rel.project}", properties={
        "@type": "Project", "name": rel.project}))
    root["sourceOrganization"] = project
    service = crate.add(ContextEntity(crate, SERVICE, properties={
        "@type": "SoftwareApplication", "name": "Sandkasse egress review"}))
    checks = crate.add(ContextEntity(crate, CHECKS, properties={
        "@type": "SoftwareApplication", "name": "Sandkasse automatic disclosure checks", "isPartOf": service}))
    key = crate.add(ContextEntity(crate, f"#release-key-{key_id}", properties={
        "@type": "DefinedTerm", "name": "Ed25519 release signing key", "identifier": key_id}))

    folder = Path(rel.files[0].path).parent
    released = {rf.file_id: rf for rf in rel.files}
    entities = {}
    for rf in rel.files:
        entities[rf.file_id] = crate.add_file(str(rf.path), dest_path=rf.name, properties={
            "name": rf.name, "contentSize": rf.size, "sha256": rf.sha256})
    records = []
    for name, what in ((MANIFEST_NAME, "Signed release manifest"), (RESULTS_NAME, "ACRO results.json")):
        if (folder / name).is_file():
            records.append(crate.add_file(str(folder / name), dest_path=name, properties={
                "name": name, "description": what, "encodingFormat": "application/json"}))

    # ACRO's checksum files too: the unzipped crate opens in SACRO-Viewer like an ACRO folder
    for path in sorted((folder / CHECKSUMS_DIR).glob("*.txt")):
        crate.add_file(str(path), dest_path=f"{CHECKSUMS_DIR}/{path.name}", properties={"name": path.name})

    requester = _person(crate, req.requester, "researcher")
    mentions = []
    ask = crate.add(ContextEntity(crate, f"#ask-{req.id}", properties={
        "@type": "AskAction", "name": f"Release request {req.id}", "agent": requester,
        "object": list(entities.values()), "startTime": _iso(req.submitted_at or req.created_at),
        "actionStatus": COMPLETED, "identifier": req.id}))
    mentions.append(ask)
    for f in req.files:
        if f.kind != FileKind.OUTPUT or f.id not in released:
            continue
        v = f.current_version
        obj = entities[f.id]
        mentions.append(crate.add(ContextEntity(crate, f"#check-{v.id}", properties={
            "@type": "AssessAction", "additionalType": {"@id": SHP + "DisclosureCheck"},
            "name": f"Automatic disclosure checks of {f.name}: {v.verdict}", "agent": checks, "object": obj,
            "result": v.verdict, "endTime": _iso(v.checked_at), "actionStatus": COMPLETED})))
        for vote in current_votes(f):
            mentions.append(crate.add(ContextEntity(crate, f"#vote-{vote.id}", properties={
                "@type": "AuthorizeAction", "name": f"{vote.reviewer}: {vote.decision} {f.name}",
                "agent": _person(crate, vote.reviewer, "output checker"), "object": obj,
                "result": vote.decision, "endTime": _iso(vote.created_at), "actionStatus": COMPLETED})))
    mentions.append(crate.add(ContextEntity(crate, f"#release-{rel.id}", properties={
        "@type": "AssessAction", "additionalType": {"@id": SHP + "SignOff"},
        "name": f"Release {rel.id}: signed and released", "agent": service, "instrument": key,
        "object": list(entities.values()), "result": records, "endTime": _iso(rel.released_at),
        "actionStatus": COMPLETED})))
    root["mentions"] = mentions
    return crate


def write_zip(rel: Release, req: ReleaseRequest, target: Path) -> Path:
    """The crate as a zip at ``target``."""
    return Path(build(rel, req).write_zip(str(target)))


def export_command(release_id: str, out: str, settings=None) -> int:
    """``sandkasse release-ro-crate RELEASE_ID OUT.zip``: the operator's export, from the database and
    the release area directly (the API route is the one for members and checkers)."""
    from sandkasse.db import make_engine, make_sessionmaker
    from sandkasse.settings import get_settings

    settings = settings or get_settings()
    engine = make_engine(settings.effective_database_url)
    try:
        with make_sessionmaker(engine)() as session:
            rel = session.get(Release, release_id)
            req = None if rel is None else session.get(ReleaseRequest, rel.request_id)
            if rel is None or req is None:
                print(f"no release {release_id}")
                return 1
            write_zip(rel, req, Path(out))
    finally:
        engine.dispose()
    print(f"wrote {out}")
    return 0
