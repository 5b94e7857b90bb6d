"""The researcher's client, used inside the notebook container (stdlib + httpx + pandas only).

    from egress_review.client import request_export, status
    request_export({"days_by_district.csv": result}, context="Sick-leave days by district", controls="n>=10, rounded")
    status()

Reads ``SANDKASSE_EGRESS_URL`` and ``SANDKASSE_EGRESS_TOKEN`` (the project token the hub put into
this server's environment). The service checks the files beside its API after they are stored;
``request_export`` waits (bounded by ``wait_seconds``) and shows the automatic verdicts.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

import httpx

from egress_review import export_names as naming

__all__ = ["EgressClient", "ExportError", "ExportResult", "request_export", "request_export_acro", "status",
           "suggestions"]

PENDING = "pending"
URL_ENV = "SANDKASSE_EGRESS_URL"
TOKEN_ENV = "SANDKASSE_EGRESS_TOKEN"
# Set only by the re-execution container (egress_review.notebooks.runner): request_export writes the
# files it would send into this folder, under the names it would send them with, and sends nothing.
REEXECUTION_OUT_ENV = "SANDKASSE_REEXECUTION_OUT"
NOTEBOOK_CONTEXT = "the notebook these outputs were made with, as saved when they were exported"
NOTEBOOK_CONTROLS = "supporting file for the checkers: never leaves"


class ExportError(RuntimeError):
    """The service refused, or could not be reached; the message says why."""


@dataclass
class FileVerdict:
    name: str
    verdict: str
    flags: list[str] = field(default_factory=list)
    unverifiable: list[str] = field(default_factory=list)


@dataclass
class ExportResult:
    request_id: str
    state: str
    files: list[FileVerdict]

    def __str__(self) -> str:
        lines = [f"Release request {self.request_id}: {self.state}"]
        for f in self.files:
            lines.append(f"  {f.name}: automatic checks say {f.verdict.upper()}")
            lines += [f"    - {m}" for m in f.flags[:20]]
            if len(f.flags) > 20:
                lines.append(f"    ... and {len(f.flags) - 20} more")
            lines += [f"    ? {m}" for m in f.unverifiable]
        lines.append("Output checkers will review it; nothing leaves before they approve.")
        return "\n".join(lines)

    __repr__ = __str__


def _message(response: httpx.Response) -> str:
    try:
        return response.json()["error"]["message"]
    except (ValueError, KeyError, TypeError):
        return response.text[:500] or response.reason_phrase


class EgressClient:
    def __init__(self, url: str | None = None, token: str | None = None, timeout: float = 300.0) -> None:
        url = url or os.environ.get(URL_ENV)
        token = token or os.environ.get(TOKEN_ENV)
        if not url or not token:
            raise ExportError(f"set {URL_ENV} and {TOKEN_ENV} (the hub does this in your notebook server)")
        self._http = httpx.Client(
            base_url=url.rstrip("/"), headers={"Authorization": f"Bearer {token}"}, timeout=timeout
        )

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> EgressClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise ExportError(f"cannot reach the egress service: {exc}") from exc
        if response.status_code >= 400:
            raise ExportError(f"{response.status_code}: {_message(response)}")
        return response.json()

    def create_request(self, title: str = "", idempotency_key: str | None = None) -> dict:
        return self._call("POST", "/api/v1/requests", json={"title": title},
                          headers={"Idempotency-Key": idempotency_key or uuid.uuid4().hex})

    def add_file(self, request_id: str, path: Path, *, name: str | None = None, kind: str = "output",
                 context: str = "", controls: str = "", sidecar: dict | None = None) -> dict:
        f = self.create_file(request_id, name or path.name, kind=kind, context=context, controls=controls,
                             sidecar=sidecar)
        with path.open("rb") as fh:
            return self.upload_version(request_id, f["id"], fh, path.stat().st_size)

    def create_file(self, request_id: str, name: str, *, kind: str = "output", context: str = "",
                    controls: str = "", sidecar: dict | None = None) -> dict:
        """A file entry in a draft request; its bytes follow with :meth:`upload_version`."""
        return self._call("POST", f"/api/v1/requests/{request_id}/files",
                          json={"name": name, "kind": kind, "context": context, "controls": controls, "sidecar": sidecar})

    def upload_version(self, request_id: str, file_id: str, fh: BinaryIO, size: int) -> dict:
        """Send an open file as the file's next version (a returned request's files take new versions)."""
        # A file object is streamed by httpx, so large outputs never sit in memory.
        return self._call("PUT", f"/api/v1/requests/{request_id}/files/{file_id}/content", content=fh,
                          headers={"Content-Type": "application/octet-stream", "Content-Length": str(size)})

    def withdraw(self, request_id: str) -> dict:
        return self._call("POST", f"/api/v1/requests/{request_id}/withdraw")

    def submit(self, request_id: str) -> dict:
        return self._call("POST", f"/api/v1/requests/{request_id}/submit")

    def requests(self, page_size: int = 100) -> list[dict]:
        return self._call("GET", "/api/v1/requests", params={"mine": "true", "page_size": page_size})["items"]

    def request(self, request_id: str) -> dict:
        return self._call("GET", f"/api/v1/requests/{request_id}")

    def suggestions(self, request_id: str) -> list[dict]:
        """The suggested tables the checkers attached when they returned the request (metadata)."""
        return self._call("GET", f"/api/v1/requests/{request_id}/suggestions")

    def suggestion(self, request_id: str, file_id: str) -> bytes:
        """A file's latest suggested table (CSV): readable from inside the project's sandbox only."""
        try:
            response = self._http.get(f"/api/v1/requests/{request_id}/files/{file_id}/suggestion")
        except httpx.HTTPError as exc:
            raise ExportError(f"cannot reach the egress service: {exc}") from exc
        if response.status_code >= 400:
            raise ExportError(f"{response.status_code}: {_message(response)}")
        return response.content

    def wait_for_checks(self, request_id: str, wait_seconds: float = 120.0) -> dict:
        """The request once no live file's automatic checks are pending (or as it is after ``wait_seconds``)."""
        deadline = time.monotonic() + wait_seconds
        delay = 0.2
        while True:
            req = self.request(request_id)
            pending = [f for f in req["files"] if not f["withdrawn"] and (f["current_version"] or {}).get("verdict") == PENDING]
            if not pending or time.monotonic() >= deadline:
                return req
            time.sleep(min(delay, max(0.0, deadline - time.monotonic())))
            delay = min(delay * 1.5, 2.0)


def _flags(report: dict) -> tuple[list[str], list[str]]:
    flags = [str(f.get("message") or f.get("rule")) for f in report.get("flags", []) if isinstance(f, dict)]
    unverifiable = [str(u) for u in report.get("unverifiable", []) or []]
    return flags, unverifiable


def _named_items(items: Mapping[str, Any] | Sequence[Any] | Any) -> list[tuple[str | None, Any]]:
    """``{name: item}``, a list of items or one item, as (name or None, item) pairs."""
    if isinstance(items, Mapping):
        return [(str(name), item) for name, item in items.items()]
    if isinstance(items, (str, os.PathLike)) or hasattr(items, "export"):
        return [(None, items)]
    return [(None, item) for item in items]


def _materialise(items: list[tuple[str | None, Any]], workdir: Path) -> list[tuple[Path, str, dict | None]]:
    """(file, name it is sent under, sidecar): paths as given, a checked result from ``egress_review.sdc``
    exported with its sidecar under its name (given here, ``result.name``, or made from its call)."""
    out: list[tuple[Path, str, dict | None]] = []
    for i, (name, item) in enumerate(items, 1):
        try:
            name = None if name is None else naming.check_name(name)
        except ValueError as exc:
            raise ExportError(str(exc)) from None
        if isinstance(item, (str, os.PathLike)):
            path = Path(item)
            if not path.is_file():
                raise ExportError(f"{path} is not a file")
            # A table written by SDCResult.export() has its sidecar next to it.
            sidecar_path = path.with_name(path.name + ".sdc.json")
            sidecar = json.loads(sidecar_path.read_text()) if sidecar_path.is_file() else None
            out.append((path, name or path.name, sidecar))
        elif hasattr(item, "export"):
            if name is not None:
                file_name = naming.table_file_name(name)
            else:
                file_name = getattr(item, "file_name", None) or naming.table_file_name(getattr(item, "name", None) or f"table_{i}")
            folder = workdir / str(i)  # one folder per item: two results may share a name until unique() below
            folder.mkdir()
            table_path, sidecar_path = item.export(folder / file_name)
            out.append((Path(table_path), file_name, json.loads(Path(sidecar_path).read_text())))
        else:
            raise ExportError(f"cannot export {type(item).__name__}: give a file path or a result from egress_review.sdc")
    names = naming.unique([n for _, n, _ in out])
    return [(path, n, sidecar) for (path, _, sidecar), n in zip(out, names)]


def running_notebook() -> Path | None:
    """The notebook this kernel runs for: ipykernel's ``__session__`` (from jupyter_server's
    ``JPY_SESSION_NAME``), else that variable itself; an absolute path, or relative to the working
    folder or the home folder. None outside a notebook (a script, ``sandkasse-export``)."""
    main = sys.modules.get("__main__")
    for candidate in (getattr(main, "__session__", None), os.environ.get("JPY_SESSION_NAME")):
        if not isinstance(candidate, str) or not candidate.endswith(".ipynb"):
            continue
        path = Path(candidate)
        for where in ([path] if path.is_absolute() else [Path.cwd() / path, Path.home() / path]):
            if where.is_file():
                return where
    return None


def _replayable(sidecar: dict | None) -> bool:
    return bool(sidecar and sidecar.get("replay"))


def _notebook_to_attach(notebook: str | os.PathLike | bool | None, files: list[tuple[Path, str, dict | None]],
                        show: bool) -> Path | None:
    """The notebook to attach as a supporting file: the one given, or (``None``: automatic) the running
    one when an output is not replayable from its sidecar (a figure, a file, a table the wrappers could
    not describe), so the checkers can read the code and a policy can re-run it."""
    if notebook is False:
        return None
    if notebook is not None and notebook is not True:
        path = Path(notebook)
        if path.suffix.lower() != ".ipynb" or not path.is_file():
            raise ExportError(f"notebook={str(notebook)!r} is not a notebook file (.ipynb)")
        return path
    if notebook is None and all(_replayable(sidecar) for _, _, sidecar in files):
        return None
    found = running_notebook()
    if found is None:
        why = ("cannot tell which notebook is running (no __session__ or JPY_SESSION_NAME): "
               "pass notebook='analysis.ipynb' (or notebook=False)")
        if notebook is True:
            raise ExportError(why)
        if show:
            unreplayable = ", ".join(n for _, n, sc in files if not _replayable(sc))
            print(f"Note: {unreplayable} cannot be made again from the data by the checkers, and no notebook was "
                  f"attached: {why}")
    return found


def _write_instead(files: list[tuple[Path, str, dict | None]], folder: Path, show: bool) -> ExportResult:
    """In a re-execution container: the files as they would have been sent, nothing sent."""
    for path, name, _ in files:
        shutil.copyfile(path, folder / name)
    result = ExportResult("re-execution", "re-executed", [FileVerdict(n, "not sent") for _, n, _ in files])
    if show:
        print(result)
    return result


def request_export(
    paths_or_results: Mapping[str, Any] | Sequence[Any] | Any,
    context: str,
    controls: str,
    *,
    supporting: Sequence[str | os.PathLike] = (),
    notebook: str | os.PathLike | bool | None = None,
    title: str = "",
    client: EgressClient | None = None,
    show: bool = True,
    wait_seconds: float = 120.0,
) -> ExportResult:
    """Put outputs into quarantine for review and submit them; returns (and prints) the verdicts.

    ``paths_or_results``: ``{"sick_days_by_area.csv": result, "figure.png": "fig.png"}`` names each file;
    in a list, a result goes under its ``name`` (or one made from its call, ``crosstab_unit_gender.csv``)
    and a file under its own name.

    ``notebook``: when an output cannot be made again from its sidecar (``None``, the default), the
    running notebook, as last saved, goes with the request as a supporting file that never leaves: the
    checkers read its code, and the policy may have it re-run before review. A path attaches that
    notebook; ``True`` always attaches the running one; ``False`` never attaches one."""
    items = _named_items(paths_or_results)
    if not context.strip() or not controls.strip():
        raise ExportError("context (what the output is) and controls (what makes it safe) are both required")
    out_dir = os.environ.get(REEXECUTION_OUT_ENV)
    if out_dir and client is None:
        with tempfile.TemporaryDirectory(prefix="sandkasse-export-") as tmp:
            return _write_instead(_materialise(items, Path(tmp)), Path(out_dir), show)
    own = client is None
    client = client or EgressClient()
    try:
        with tempfile.TemporaryDirectory(prefix="sandkasse-export-") as tmp:
            files = _materialise(items, Path(tmp))
            attach = _notebook_to_attach(notebook, files, show)
            req = client.create_request(title=title)
            outputs = []
            for path, name, sidecar in files:
                up = client.add_file(req["id"], path, name=name, context=context, controls=controls, sidecar=sidecar)
                outputs.append(up["file"]["id"])
            for path in supporting:
                p = Path(path)
                client.add_file(req["id"], p, kind="supporting", context=context, controls=controls)
            if attach is not None:
                # read once, now: the checkers and a re-execution see the notebook as it was at export
                snapshot = Path(tmp) / "notebook.ipynb"
                shutil.copyfile(attach, snapshot)
                try:
                    own_name = naming.check_name(attach.name)
                except ValueError:
                    own_name = "notebook.ipynb"
                name = naming.unique([*(n for _, n, _ in files), *(Path(x).name for x in supporting), own_name])[-1]
                client.add_file(req["id"], snapshot, name=name, kind="supporting",
                                context=NOTEBOOK_CONTEXT, controls=NOTEBOOK_CONTROLS)
                if show:
                    print(f"Attached {attach.name} as last saved (save it first to include recent changes): the "
                          "checkers read its code; it never leaves.")
            done = client.submit(req["id"])
            done = client.wait_for_checks(req["id"], wait_seconds)
    finally:
        if own:
            client.close()
    return _export_result(done, outputs, wait_seconds, show)


def _export_result(done: dict, outputs: list[str], wait_seconds: float, show: bool) -> ExportResult:
    """The verdicts of a submitted request's outputs, in the order they were added."""
    by_id = {f["id"]: f for f in done["files"]}
    verdicts = []
    for file_id in outputs:
        f = by_id[file_id]
        version = f["current_version"] or {}
        flags, unverifiable = _flags(version.get("check_report") or {})
        if version.get("verdict") == PENDING:
            unverifiable = [f"the checks were still running after {wait_seconds:g} s; status() shows the verdict later"]
        verdicts.append(FileVerdict(f["name"], version.get("verdict", PENDING), flags, unverifiable))
    result = ExportResult(done["id"], done["state"], verdicts)
    if show:
        print(result)
    return result


def request_export_acro(
    folder: str | os.PathLike,
    context: str = "",
    controls: str = "",
    *,
    title: str = "",
    client: EgressClient | None = None,
    show: bool = True,
    wait_seconds: float = 120.0,
) -> ExportResult:
    """Submit an ACRO output folder (``acro.finalise(folder, "json")``, from Python, R or Stata) for review.

    Each output ACRO wrote goes as an output, described by its ACRO record (command, status, summary,
    exception request) after your ``context`` / ``controls``; ACRO's ``results.json`` and its checker-only
    session summary go as supporting files (they never leave). The checkers see ACRO's outcomes beside
    the service's own checks, which run on every file whatever ACRO said."""
    from egress_review.records.acro_import import AcroFolderError, AcroOutput, describe, read_folder

    try:
        acro = read_folder(folder)
    except AcroFolderError as exc:
        raise ExportError(str(exc)) from None
    own = client is None
    client = client or EgressClient()
    limit = 4900  # the service's max_text_chars is 5000

    def texts(rec: AcroOutput) -> tuple[str, str]:
        ctx, ctl = describe(rec)
        return ("\n".join(x for x in (context.strip(), ctx) if x)[:limit],
                "\n".join(x for x in (controls.strip(), ctl) if x)[:limit])

    try:
        req = client.create_request(title=title or f"ACRO outputs from {Path(folder).name}")
        outputs = []
        for path, rec in acro.outputs:
            ctx, ctl = texts(rec)
            outputs.append(client.add_file(req["id"], path, context=ctx, controls=ctl)["file"]["id"])
        for path, rec in acro.supporting:
            ctx, ctl = texts(rec)
            client.add_file(req["id"], path, kind="supporting", context=ctx, controls=ctl)
        client.add_file(req["id"], acro.results, kind="supporting", context="ACRO's record of this session",
                        controls="evidence for the checkers; never released")
        client.submit(req["id"])
        done = client.wait_for_checks(req["id"], wait_seconds)
    finally:
        if own:
            client.close()
    return _export_result(done, outputs, wait_seconds, show)


def status(*, client: EgressClient | None = None, show: bool = True) -> list[dict]:
    """Your release requests in this project and their states."""
    own = client is None
    client = client or EgressClient()
    try:
        rows = client.requests()
    finally:
        if own:
            client.close()
    if show:
        if not rows:
            print("No release requests yet.")
        for r in rows:
            print(f"{r['id']}  {r['state']:<10} {r['file_count']} file(s)  verdict {r['worst_verdict'] or '-':<7} "
                  f"created {r['created_at'][:16]}  {r['title']}")
    return rows


from egress_review.client.suggested import suggestions  # noqa: E402 - uses EgressClient above
