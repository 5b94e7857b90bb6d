"""Release: signed manifest, verification failing on a changed byte, downloads for members only."""

from __future__ import annotations

import hashlib
import json

import pytest
from typer.testing import CliRunner

from egress_review.models import Release
from egress_review.release.verify_cli import verify_release
from egress_review.states import RequestState
from tests.unit.egress.egress_factories import SAFE_CSV, project_token

pytestmark = pytest.mark.unit


def _release(env, req_id) -> Release:
    from sqlalchemy import select

    with env.svc.sessions() as s:
        rel = s.execute(select(Release).where(Release.request_id == req_id)).scalar_one()
        _ = rel.files
        return rel


def test_manifest_verifies_and_names_files_hashes_approvers(env):
    req_id = env.make_request(RequestState.RELEASED)
    rel = _release(env, req_id)
    folder = env.svc.release_dir / "alpha" / rel.id
    manifest = folder / "manifest.json"
    doc = json.loads(manifest.read_text())["manifest"]
    assert doc["files"][0]["name"] == "table.csv"
    assert doc["files"][0]["sha256"] == hashlib.sha256(SAFE_CSV.encode()).hexdigest()
    assert doc["approvers"] == ["chris", "cora"] and doc["project"] == "alpha" and doc["released_at"]
    assert verify_release(manifest, [folder / "table.csv"], env.settings.public_key_path) == []
    assert (folder / "table.csv").read_bytes() == SAFE_CSV.encode()


def test_changed_byte_fails_verification(env, tmp_path):
    req_id = env.make_request(RequestState.RELEASED)
    rel = _release(env, req_id)
    folder = env.svc.release_dir / "alpha" / rel.id
    changed = tmp_path / "table.csv"
    data = bytearray((folder / "table.csv").read_bytes())
    data[5] ^= 1
    changed.write_bytes(bytes(data))
    assert any("SHA-256" in p for p in verify_release(folder / "manifest.json", [changed], env.settings.public_key_path))
    doc = json.loads((folder / "manifest.json").read_text())
    doc["manifest"]["approvers"] = ["mallory"]
    forged = tmp_path / "manifest.json"
    forged.write_text(json.dumps(doc))
    assert any("signature" in p for p in verify_release(forged, [folder / "table.csv"], env.settings.public_key_path))


def test_sandkasse_verify_release_command(env, tmp_path, monkeypatch):
    from sandkasse.cli import app

    req_id = env.make_request(RequestState.RELEASED)
    rel = _release(env, req_id)
    folder = env.svc.release_dir / "alpha" / rel.id
    monkeypatch.setenv("SANDKASSE_RELEASE_PUBLIC_KEY_FILE", str(env.settings.public_key_path))
    runner = CliRunner()
    ok = runner.invoke(app, ["verify-release", str(folder / "manifest.json"), str(folder / "table.csv")])
    assert ok.exit_code == 0, ok.output
    bad = tmp_path / "table.csv"
    bad.write_bytes((folder / "table.csv").read_bytes() + b"\n")
    res = runner.invoke(app, ["verify-release", str(folder / "manifest.json"), str(bad)])
    assert res.exit_code == 1


def test_download_only_for_members_after_release_and_audited(env, client):
    req_id = env.make_request(RequestState.RELEASED)
    rel = _release(env, req_id)
    url = f"/api/v1/releases/{rel.id}/files/table.csv"
    alice = {"Authorization": f"Bearer {project_token('alice', 'alpha')}"}
    anna = {"Authorization": f"Bearer {project_token('anna', 'alpha')}"}
    bob = {"Authorization": f"Bearer {project_token('bob', 'beta')}"}
    r = client.get(url, headers=anna)
    assert r.status_code == 200 and r.content == SAFE_CSV.encode()
    assert r.headers["x-sandkasse-sha256"] == hashlib.sha256(SAFE_CSV.encode()).hexdigest()
    assert client.get(url, headers=bob).status_code == 404
    assert client.get(f"/api/v1/releases/{rel.id}/manifest", headers=bob).status_code == 404
    assert client.get(f"/api/v1/releases/{rel.id}/manifest", headers=alice).status_code == 200
    from sqlalchemy import select

    from egress_review.models import EgressAuditEvent

    with env.svc.sessions() as s:
        downloads = list(s.execute(select(EgressAuditEvent).where(EgressAuditEvent.action == "release.download")).scalars())
    assert [d.actor for d in downloads] == ["anna"]


def test_nothing_downloadable_before_release(env, client):
    req_id = env.make_request(RequestState.REVIEWED)
    alice = {"Authorization": f"Bearer {project_token('alice', 'alpha')}"}
    r = client.get("/api/v1/releases", headers=alice)
    assert r.status_code == 200 and r.json()["total"] == 0
    assert not list(env.svc.release_dir.rglob("table.csv"))
    assert req_id


def test_release_key_endpoint_serves_the_verifying_key(env, client):
    r = client.get("/api/v1/release-key")
    assert r.status_code == 200 and r.content == env.settings.public_key_path.read_bytes()


def test_crash_between_approval_and_release_is_finished_on_restart(env):
    req_id = env.make_request(RequestState.APPROVED)
    assert env.get(req_id).state == "approved"
    from egress_review.app import recover

    recover(env.svc)
    assert env.get(req_id).state == "released"
    assert _release(env, req_id).files[0].name == "table.csv"


def _png_with_metadata() -> bytes:
    import io

    from PIL import Image, PngImagePlugin

    info = PngImagePlugin.PngInfo()
    info.add_text("Author", "Ingrid Lund, employee 12345678901")
    buf = io.BytesIO()
    Image.new("RGB", (4, 4), (200, 30, 30)).save(buf, format="PNG", pnginfo=info)
    return buf.getvalue()


def test_released_png_leaves_without_its_metadata(env):
    png = _png_with_metadata()
    assert b"Ingrid Lund" in png
    req_id = env.make_request(RequestState.RELEASED, files={"plot.png": png})
    rel = _release(env, req_id)
    folder = env.svc.release_dir / "alpha" / rel.id
    released = (folder / "plot.png").read_bytes()
    assert b"Ingrid Lund" not in released and released.startswith(b"\x89PNG")
    from PIL import Image

    assert Image.open(folder / "plot.png").getpixel((0, 0)) == (200, 30, 30)  # the approved pixels
    doc = json.loads((folder / "manifest.json").read_text())["manifest"]
    assert doc["files"][0]["sha256"] == hashlib.sha256(released).hexdigest()
    assert verify_release(folder / "manifest.json", [folder / "plot.png"], env.settings.public_key_path) == []
