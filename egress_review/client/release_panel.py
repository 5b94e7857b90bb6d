"""What JupyterLab's "Request release" extension asks of the egress service, on the notebook server.

The browser names files in the home and gets back a view of the researcher's requests; the project
token stays in this process (``EgressClient`` reads it from the server's environment) and never
appears in a view. A view carries what the side panel shows: states, automatic verdicts and their
messages, the checkers' decisions and shared comments; never a file's content. Standard library and
httpx only (the rule of ``egress_review.client``); the Jupyter handlers are ``hub.request_release``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from typing import Any

from egress_review import export_names as naming
from egress_review.client import EgressClient, ExportError
from egress_review.client.home_files import HomeFile, OutsideHome, open_in_home

__all__ = ["Home", "request_release", "new_version", "resubmit", "my_requests", "request_view", "check_id"]

MAX_FILES = 50
MAX_FLAGS = 20
MAX_LISTED = 20
_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
SIDECAR_SUFFIX = ".sdc.json"


class Home:
    """Where the browser's paths are resolved (``base``, the Jupyter root) and confined (``root``)."""

    def __init__(self, root: str, base: str | None = None, data_mounts: Sequence[str] = ()) -> None:
        self.root, self.base, self.data_mounts = root, base or root, tuple(data_mounts)

    def open(self, name: str) -> HomeFile:
        return open_in_home(self.root, name, base=self.base, data_mounts=self.data_mounts)

    def sidecar(self, f: HomeFile) -> dict | None:
        """The sidecar ``egress_review.sdc`` wrote next to a table, confined like the table."""
        try:
            side = open_in_home(self.root, f.relative + SIDECAR_SUFFIX, data_mounts=self.data_mounts)
        except OutsideHome:
            return None
        try:
            return json.loads(side.fh.read(5_000_000))
        except ValueError:
            return None
        finally:
            side.close()


def check_id(value: str) -> str:
    """Ids go into the egress service's URL paths: nothing but an id may pass."""
    if not _ID.match(value or ""):
        raise ExportError(f"{value!r} is not a request or file id")
    return value


def _paths(names: Iterable[str]) -> list[str]:
    out = [str(n).strip() for n in names if str(n).strip()]
    if len(out) > MAX_FILES:
        raise ExportError(f"at most {MAX_FILES} files in one request")
    return out


def request_release(client: EgressClient, home: Home, outputs: Sequence[str], *, context: str, controls: str,
                    supporting: Sequence[str] = (), title: str = "") -> dict[str, Any]:
    """Quarantine the named files (outputs and supporting files) in one new request and submit it."""
    outputs, supporting = _paths(outputs), _paths(supporting)
    if not outputs:
        raise ExportError("choose at least one file to release")
    if not context.strip() or not controls.strip():
        raise ExportError("context (what the output is) and controls (what makes it safe) are both required")
    opened: list[tuple[HomeFile, str]] = []
    try:
        # Every path is checked before anything is created: a refused path leaves no draft behind.
        for kind, names in (("output", outputs), ("supporting", supporting)):
            for name in names:
                opened.append((home.open(name), kind))
        try:
            names = naming.unique([naming.check_name(f.name) for f, _ in opened])
        except ValueError as exc:
            raise ExportError(str(exc)) from None
        req = client.create_request(title=title.strip()[:200])
        try:
            for (f, kind), name in zip(opened, names):
                sidecar = home.sidecar(f) if kind == "output" else None
                created = client.create_file(req["id"], name, kind=kind, context=context, controls=controls,
                                             sidecar=sidecar)
                client.upload_version(req["id"], created["id"], f.fh, f.size)
            client.submit(req["id"])
        except ExportError:
            try:
                client.withdraw(req["id"])  # no half-made draft in the researcher's list
            except ExportError:
                pass
            raise
    finally:
        for f, _ in opened:
            f.close()
    return request_view(client.request(req["id"]))


def new_version(client: EgressClient, home: Home, request_id: str, file_id: str, path: str, *,
                resubmit_now: bool = True) -> dict[str, Any]:
    """Send ``path`` as the next version of a returned request's file (and send the request back)."""
    detail = client.request(check_id(request_id))
    if "resubmit" not in detail.get("allowed_actions", []):
        raise ExportError(f"the request is {detail['state']}; new versions go only into a returned request")
    target = next((f for f in detail["files"] if f["id"] == check_id(file_id) and not f["withdrawn"]), None)
    if target is None:
        raise ExportError("no such file in this request")
    f = home.open(path)
    try:
        client.upload_version(request_id, file_id, f.fh, f.size)
    finally:
        f.close()
    if resubmit_now:
        client.submit(request_id)
    return request_view(client.request(request_id))


def resubmit(client: EgressClient, request_id: str) -> dict[str, Any]:
    client.submit(check_id(request_id))
    return request_view(client.request(request_id))


def my_requests(client: EgressClient, limit: int = MAX_LISTED) -> list[dict[str, Any]]:
    """The researcher's latest requests in this project, newest first, as the panel shows them."""
    rows = sorted(client.requests(), key=lambda r: r["created_at"], reverse=True)
    return [request_view(client.request(r["id"])) for r in rows[:limit] if r["state"] != "withdrawn"]


def _messages(report: dict[str, Any]) -> list[str]:
    flags = [str(f.get("message") or f.get("rule")) for f in report.get("flags") or [] if isinstance(f, dict)]
    out = flags[:MAX_FLAGS] + ([f"... and {len(flags) - MAX_FLAGS} more"] if len(flags) > MAX_FLAGS else [])
    return out + [f"not verified: {u}" for u in report.get("unverifiable") or []][:MAX_FLAGS]


def request_view(detail: dict[str, Any]) -> dict[str, Any]:
    """The panel's view of one request: built field by field, so nothing else of the answer (and no
    credential) passes to the browser."""
    names = {f["id"]: f["name"] for f in detail["files"]}
    files = []
    comments = []
    for f in detail["files"]:
        version = f.get("current_version") or {}
        files.append({
            "id": f["id"], "name": f["name"], "kind": f["kind"], "withdrawn": bool(f["withdrawn"]),
            "verdict": version.get("verdict", "pending"), "version": version.get("number", 0),
            "decision": f.get("decision", "pending"), "messages": _messages(version.get("check_report") or {}),
        })
        for v in f.get("votes") or []:
            if v.get("visibility") == "shared" and str(v.get("comment") or "").strip():
                comments.append({"from": "checker", "file": f["name"], "text": v["comment"], "turn": None,
                                 "at": v["created_at"]})
    for c in detail.get("comments") or []:
        if c.get("visibility") != "shared" and c.get("author_role") != "researcher":
            continue
        comments.append({"from": "you" if c.get("author_role") == "researcher" else "checker",
                         "file": names.get(c.get("file_id") or ""), "text": c["text"], "turn": c.get("turn"),
                         "at": c["created_at"]})
    comments.sort(key=lambda c: c["at"])
    return {
        "id": detail["id"], "title": detail.get("title") or "", "state": detail["state"], "owner": detail["owner"],
        "turn": detail["turn"], "created_at": detail["created_at"], "updated_at": detail["updated_at"],
        "can_resubmit": "resubmit" in detail.get("allowed_actions", []),
        "files": files, "comments": comments,
    }
