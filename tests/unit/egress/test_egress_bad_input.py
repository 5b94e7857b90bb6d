"""Bad input: each answered with a clear 4xx in the one error shape, and nothing stored."""

from __future__ import annotations

import base64
import io
import json
import time
import zipfile
from pathlib import Path

import jwt
import pytest
from sqlalchemy import func, select

from egress_review.models import FileVersion, ReleaseRequest, RequestFile
from tests.unit.egress.egress_factories import SAFE_CSV, TOKEN_KEY, project_token

pytestmark = pytest.mark.unit


def _auth(user="alice", project="alpha"):
    return {"Authorization": f"Bearer {project_token(user, project)}"}


def _stored(env) -> dict[str, int]:
    with env.svc.sessions() as s:
        counts = {m.__name__: s.execute(select(func.count()).select_from(m)).scalar_one()
                  for m in (ReleaseRequest, RequestFile, FileVersion)}
    root = env.settings.base_dir
    for sub in ("quarantine/blobs", "quarantine/tmp", "scratch"):
        d = root / sub
        counts[sub] = len(list(d.iterdir())) if d.exists() else 0
    return counts


def _error(r, status):
    assert r.status_code == status, r.text
    body = r.json()
    assert set(body) == {"error"} and body["error"]["message"] and body["error"]["code"]
    return body["error"]


@pytest.fixture
def draft(client):
    r = client.post("/api/v1/requests", json={}, headers=_auth())
    assert r.status_code == 201, r.text
    return r.json()["id"]


def _add(client, req_id, name, **extra):
    return client.post(f"/api/v1/requests/{req_id}/files",
                       json={"name": name, "context": "c", "controls": "k", **extra}, headers=_auth())


def _upload(client, req_id, name, data: bytes):
    f = _add(client, req_id, name)
    assert f.status_code == 201, f.text
    return client.put(f"/api/v1/requests/{req_id}/files/{f.json()['id']}/content", content=data,
                      headers={**_auth(), "Content-Type": "application/octet-stream"})


@pytest.mark.parametrize("name", [
    "../etc/passwd.csv", "a/b.csv", "a\\b.csv", "..", ".hidden.csv", "x\x00.csv", "tab\tle.csv", "line\n.csv",
    "evil\u202ecsv.txt", "zero\u200bwidth.csv", "-rf.csv", "x" * 300 + ".csv", "noext", "script.sh", "data.zip",
])
def test_unsafe_file_names_are_refused(env, client, draft, name):
    before = _stored(env)
    r = _add(client, draft, name)
    assert 400 <= r.status_code < 500
    _error(r, r.status_code)
    assert _stored(env) == before


def _xlsx_bytes() -> bytes:
    import openpyxl

    wb = openpyxl.Workbook()
    wb.active.append(["district", "days"])
    wb.active.append(["Grefsen", 120])
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def _zip(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buf.getvalue()


PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
)

BAD_CONTENT = {
    "empty": ("t.csv", b"", 422),
    "png declared as csv": ("t.csv", PNG, 415),
    "csv declared as png": ("t.png", SAFE_CSV.encode(), 415),
    "ragged csv": ("t.csv", b"a,b\n1,2\n3\n", 422),
    "unterminated quote": ("t.csv", b'a,b\n"1,2\n', 422),
    "binary in csv": ("t.csv", b"a,b\n1,\x00\n", 415),
    "latin-1 csv": ("t.csv", "a,b\nTrøgstad,1\n".encode("latin-1"), 415),
    "zip posing as csv": ("t.csv", _zip({"x.csv": b"a\n1\n"}), 415),
    "gzip posing as txt": ("t.txt", b"\x1f\x8b\x08\x00" + b"\x00" * 20, 415),
    "random bytes as xlsx": ("t.xlsx", b"PK\x03\x04" + b"\x00" * 100, 422),
    "zip that is not a workbook": ("t.xlsx", _zip({"a.txt": b"hello"}), 415),
    "xlsx zip bomb": ("t.xlsx", _zip({"[Content_Types].xml": b"<x/>", "xl/workbook.xml": b"<x/>",
                                      "xl/worksheets/sheet1.xml": b" " * 50_000_000}), 413),
    "truncated xlsx": ("t.xlsx", _xlsx_bytes()[:-200], 422),
    "bad json": ("t.json", b"{not json", 422),
    "svg with entities": ("t.svg", b'<?xml version="1.0"?><!DOCTYPE s [<!ENTITY a "aaaa">]><svg>&a;</svg>', 415),
    "pdf without eof": ("t.pdf", b"%PDF-1.4\n1 0 obj\n", 422),
    "not parquet": ("t.parquet", b"PAR1garbage", 422),
}


@pytest.mark.parametrize("case", list(BAD_CONTENT))
def test_bad_content_is_refused_and_nothing_stored(env, client, draft, case):
    name, data, status = BAD_CONTENT[case]
    before = _stored(env)
    r = _upload(client, draft, name, data)
    _error(r, status)
    after = _stored(env)
    assert after["FileVersion"] == before["FileVersion"] == 0
    assert after["quarantine/blobs"] == after["quarantine/tmp"] == after["scratch"] == 0


def test_good_content_of_each_type_is_accepted(env, client, draft):
    ok = {"t.csv": SAFE_CSV.encode(), "t.xlsx": _xlsx_bytes(), "t.png": PNG, "t.txt": "Hei, verden\n".encode(),
          "t.md": b"# Result\n", "t.json": b'{"a": 1}',
          "t.svg": b'<svg xmlns="http://www.w3.org/2000/svg"></svg>', "t.tsv": b"a\tb\n1\t2\n"}
    for name, data in ok.items():
        r = _upload(client, draft, name, data)
        assert r.status_code == 200, (name, r.text)
    # a PDF cannot be rebuilt from its content: a supporting document only, never an output (policy)
    f = _add(client, draft, "notes.pdf", kind="supporting")
    r = client.put(f"/api/v1/requests/{draft}/files/{f.json()['id']}/content", content=b"%PDF-1.4\n%%EOF\n",
                   headers={**_auth(), "Content-Type": "application/octet-stream"})
    assert r.status_code == 200, r.text
    assert _upload(client, draft, "t.pdf", b"%PDF-1.4\n%%EOF\n").status_code == 415
    assert _stored(env)["FileVersion"] == len(ok) + 1


def test_over_cap_file_is_refused_while_streaming(env, client, draft, tmp_path):
    env_policy = tmp_path / "egress.yaml"
    text = (Path(__file__).resolve().parents[3] / "policies" / "egress.yaml").read_text()
    env_policy.write_text(text.replace("max_file_bytes: 104857600", "max_file_bytes: 1000"))
    from egress_review.policy import load_egress_policy

    client.app.state.egress.policy = load_egress_policy(env_policy)
    f = _add(client, draft, "big.csv").json()

    def body():  # chunked, no Content-Length: the cap must hold while the bytes arrive
        yield b"a,b\n"
        for _ in range(100):
            yield b"1,2\n" * 10

    r = client.put(f"/api/v1/requests/{draft}/files/{f['id']}/content", content=body(),
                   headers={**_auth(), "Content-Type": "application/octet-stream"})
    _error(r, 413)
    r = client.put(f"/api/v1/requests/{draft}/files/{f['id']}/content", content=b"a,b\n" + b"1,2\n" * 500,
                   headers={**_auth(), "Content-Type": "application/octet-stream"})
    _error(r, 413)
    assert _stored(env)["FileVersion"] == 0 and _stored(env)["quarantine/tmp"] == 0


def test_unknown_fields_are_refused(env, client, draft):
    before = _stored(env)
    _error(client.post("/api/v1/requests", json={"title": "x", "project": "beta"}, headers=_auth()), 422)
    _error(_add(client, draft, "t.csv", approved=True), 422)
    assert _stored(env) == before


def test_oversized_json_is_refused(env, client, draft):
    before = _stored(env)
    big = {"name": "t.csv", "context": "x" * 2_000_000, "controls": "k"}
    _error(client.post(f"/api/v1/requests/{draft}/files", json=big, headers=_auth()), 413)

    def chunked():
        yield b'{"title": "'
        for _ in range(300):
            yield b"y" * 10_000
        yield b'"}'

    _error(client.post("/api/v1/requests", content=chunked(), headers={**_auth(), "Content-Type": "application/json"}), 413)
    assert _stored(env) == before


def test_replayed_submission_is_refused(env, client):
    h = {**_auth(), "Idempotency-Key": "export-2026-11-24-0001"}
    first = client.post("/api/v1/requests", json={}, headers=h)
    assert first.status_code == 201
    before = _stored(env)
    err = _error(client.post("/api/v1/requests", json={}, headers=h), 409)
    assert err["detail"]["request_id"] == first.json()["id"]
    assert _stored(env) == before
    req_id = first.json()["id"]
    f = _upload(client, req_id, "t.csv", SAFE_CSV.encode())
    assert f.status_code == 200
    assert client.post(f"/api/v1/requests/{req_id}/submit", headers=_auth()).status_code == 200
    _error(client.post(f"/api/v1/requests/{req_id}/submit", headers=_auth()), 409)


def _forge(claims: dict, key: bytes = TOKEN_KEY.encode(), alg="HS256", headers=None) -> str:
    return jwt.encode(claims, key, algorithm=alg, headers=headers)


def _claims(**over):
    now = int(time.time())
    base = {"iss": "sandkasse-hub", "aud": "sandkasse-egress-project", "sub": "alice", "project": "alpha",
            "iat": now, "exp": now + 600, "jti": "j1"}
    base.update(over)
    return base


def _alg_none(claims) -> str:
    enc = lambda d: base64.urlsafe_b64encode(json.dumps(d).encode()).rstrip(b"=").decode()  # noqa: E731
    return f"{enc({'alg': 'none', 'typ': 'JWT'})}.{enc(claims)}."


BAD_TOKENS = {
    "expired": lambda: _forge(_claims(iat=int(time.time()) - 1000, exp=int(time.time()) - 10)),
    "wrong key": lambda: _forge(_claims(), key=b"an-attacker-key-that-is-long-enough-32"),
    "alg none": lambda: _alg_none(_claims()),
    "wrong audience": lambda: _forge(_claims(aud="sandkasse-hub")),
    "wrong issuer": lambda: _forge(_claims(iss="someone")),
    "lifetime beyond policy": lambda: _forge(_claims(exp=int(time.time()) + 10 * 86400)),
    "tampered payload": lambda: (lambda t: t.split(".")[0] + "." + base64.urlsafe_b64encode(
        json.dumps(_claims(project="beta")).encode()).rstrip(b"=").decode() + "." + t.split(".")[2])(_forge(_claims())),
    "garbage": lambda: "not-a-token",
    "keycloak-looking forgery": lambda: jwt.encode({"iss": "http://127.0.0.1:9/realms/sandkasse", "sub": "x",
                                                    "exp": int(time.time()) + 60}, "k" * 32, algorithm="HS256"),
}


@pytest.mark.parametrize("case", list(BAD_TOKENS))
def test_bad_tokens_are_refused(env, client, case):
    before = _stored(env)
    r = client.post("/api/v1/requests", json={}, headers={"Authorization": f"Bearer {BAD_TOKENS[case]()}"})
    _error(r, 401)
    assert r.headers.get("www-authenticate") == "Bearer"
    assert _stored(env) == before


def test_missing_token_is_refused(client):
    _error(client.get("/api/v1/requests"), 401)
    _error(client.get("/api/v1/requests", headers={"Authorization": "Basic YTpi"}), 401)


def test_token_of_a_non_member_is_refused(env, client):
    _error(client.post("/api/v1/requests", json={}, headers=_auth("bob", "alpha")), 403)
    assert _stored(env)["ReleaseRequest"] == 0


def test_suspended_project_token_stops_working(env, client):
    h = _auth()
    assert client.get("/api/v1/requests", headers=h).status_code == 200
    from provisioning import service
    from sandkasse.db import make_engine, make_sessionmaker, session_scope

    engine = make_engine(env.settings.effective_database_url)
    with session_scope(make_sessionmaker(engine)) as s:
        service.suspend(s, "alpha", actor="dpo", reason="audit")
    engine.dispose()
    _error(client.get("/api/v1/requests", headers=h), 403)
    _error(client.post("/api/v1/requests", json={}, headers=h), 403)
