"""The quarantine store: no plaintext at rest, authenticated chunks, atomic uploads, immutable versions."""

from __future__ import annotations

import io
import os
from pathlib import Path

import anyio
import pytest
from sqlalchemy import func, select

from egress_review.models import FileVersion
from egress_review.quarantine.crypto import BlobCorrupt, ChunkEncryptor, decrypt_chunks
from egress_review.quarantine.store import QuarantineStore
from egress_review.states import RequestState
from egress_review.upload import receive_file
from tests.unit.egress.egress_factories import researcher

pytestmark = pytest.mark.unit

MARKER = "Plaintext-Marker-Grefsen-0123456789"


def _all_bytes_under(root: Path) -> list[tuple[Path, bytes]]:
    return [(p, p.read_bytes()) for p in root.rglob("*") if p.is_file()]


def test_store_holds_no_plaintext(env):
    table = ("district,days,note\n" + "".join(f"{MARKER}-{i},{100 + i},{MARKER}\n" for i in range(2000))).encode()
    req_id = env.make_request(RequestState.SUBMITTED, files={"marker.csv": table})
    files = _all_bytes_under(env.settings.quarantine_dir)
    assert files, "nothing was stored"
    for path, data in files:
        assert MARKER.encode() not in data, f"plaintext found in {path}"
        assert b"district" not in data
    # the scratch copies used by the checks are gone too
    assert list(env.settings.scratch_dir.iterdir()) == []
    # the database holds no content either (only hash, size and the wrapped key)
    db = Path(env.settings.effective_database_url.removeprefix("sqlite:///"))
    for p in [db, *db.parent.glob(db.name + "-wal")]:
        assert MARKER.encode() not in p.read_bytes()
    # and the service can still read it back exactly
    req = env.get(req_id)
    v = req.files[0].current_version
    assert b"".join(env.svc.store.read(v.blob, v.id, v.wrapped_key)) == table


def test_blob_files_are_private_and_read_only(env):
    req_id = env.make_request(RequestState.DRAFT)
    v = env.get(req_id).files[0].current_version
    mode = (env.settings.quarantine_dir / "blobs" / v.blob).stat().st_mode & 0o777
    assert mode == 0o400
    assert (env.settings.quarantine_dir / "blobs").stat().st_mode & 0o077 == 0


@pytest.mark.parametrize("size", [1, 65535, 65536, 65537, 200_000])
def test_chunked_encryption_round_trip(size):
    key, data = os.urandom(32), os.urandom(size)
    out = io.BytesIO()
    enc = ChunkEncryptor(key, b"v1", out)
    for i in range(0, size, 7000):
        enc.update(data[i : i + 7000])
    enc.finish()
    assert b"".join(decrypt_chunks(key, b"v1", io.BytesIO(out.getvalue()))) == data


def _sealed(data: bytes, key: bytes, aad=b"v1") -> bytes:
    out = io.BytesIO()
    enc = ChunkEncryptor(key, aad, out)
    enc.update(data)
    enc.finish()
    return out.getvalue()


def test_tampering_truncation_and_moving_are_detected():
    key, data = os.urandom(32), os.urandom(200_000)
    blob = _sealed(data, key)
    flipped = bytearray(blob)
    flipped[len(blob) // 2] ^= 1
    with pytest.raises(BlobCorrupt):
        b"".join(decrypt_chunks(key, b"v1", io.BytesIO(bytes(flipped))))
    chunk = 64 * 1024 + 16
    truncated = blob[: 15 + chunk * 2]  # whole chunks dropped off the end
    with pytest.raises(BlobCorrupt):
        b"".join(decrypt_chunks(key, b"v1", io.BytesIO(truncated)))
    with pytest.raises(BlobCorrupt):  # the blob of another version
        b"".join(decrypt_chunks(key, b"v2", io.BytesIO(blob)))


async def _dying_body(data: bytes):
    yield data[:10_000]
    yield data[10_000:20_000]
    raise ConnectionResetError("client went away mid-upload")


def _versions(env) -> int:
    with env.svc.sessions() as s:
        return s.execute(select(func.count()).select_from(FileVersion)).scalar_one()


def test_interrupted_upload_leaves_nothing(env):
    req_id = env.make_request(RequestState.DRAFT)  # one stored file
    req = env.get(req_id)
    before = _versions(env)
    with pytest.raises(ConnectionResetError):
        anyio.run(receive_file, env.svc, researcher("alice", "alpha"), req_id, req.files[0].id,
                  _dying_body(b"a,b\n" + b"1,2\n" * 20_000))
    assert _versions(env) == before
    q = env.settings.quarantine_dir
    assert list((q / "tmp").iterdir()) == [] and list(env.settings.scratch_dir.iterdir()) == []
    assert len(list((q / "blobs").iterdir())) == before
    assert env.get(req_id).files[0].current_version.number == 1


def test_crash_leftovers_are_swept_and_never_count(env):
    """A crash after the blob was renamed but before its row committed leaves an orphan blob: no row
    points at it, so it is not part of any request, and recovery removes it."""
    req_id = env.make_request(RequestState.DRAFT)
    q = env.settings.quarantine_dir
    orphan = q / "blobs" / "deadbeef.skq"
    orphan.write_bytes(b"SKQ1 half a file")
    part = q / "tmp" / "cafe.part"
    part.write_bytes(b"partial")
    old = 1_000_000_000
    os.utime(orphan, (old, old))
    os.utime(part, (old, old))
    from egress_review.app import recover

    recover(env.svc)
    assert not orphan.exists() and not part.exists()
    v = env.get(req_id).files[0].current_version
    assert (q / "blobs" / v.blob).exists(), "a committed blob must survive the sweep"


def test_new_upload_is_a_new_version_and_old_bytes_stay(env):
    req_id = env.make_request(RequestState.DRAFT)
    req = env.get(req_id)
    f = req.files[0]
    v1 = f.current_version
    v1_bytes = (env.settings.quarantine_dir / "blobs" / v1.blob).read_bytes()

    async def body():
        yield b"district,days\nSagene,999\n"

    anyio.run(receive_file, env.svc, researcher("alice", "alpha"), req_id, f.id, body())
    f = env.get(req_id).files[0]
    assert [v.number for v in f.versions] == [1, 2] and f.current_version.number == 2
    assert (env.settings.quarantine_dir / "blobs" / v1.blob).read_bytes() == v1_bytes
    assert f.versions[0].sha256 == v1.sha256 != f.versions[1].sha256


def test_files_are_immutable_once_submitted(env):
    from egress_review.errors import Conflict

    req_id = env.make_request(RequestState.SUBMITTED)
    f = env.get(req_id).files[0]

    async def body():
        yield b"district,days\nSagene,1\n"

    with pytest.raises(Conflict):
        anyio.run(receive_file, env.svc, researcher("alice", "alpha"), req_id, f.id, body())
    assert len(env.get(req_id).files[0].versions) == 1


def test_checks_run_on_upload_and_are_stored(env):
    small = b"district,days\nGrefsen,3\nSagene,340\n"
    req_id = env.make_request(RequestState.DRAFT, files={"small.csv": small})
    v = env.get(req_id).files[0].current_version
    import json

    report = json.loads(v.check_report)
    assert v.verdict in ("review", "fail") and report["verdict"] == v.verdict
    assert report.get("flags") or report.get("unverifiable")


def test_sha256_and_size_are_recorded(env):
    import hashlib

    data = b"district,days\nGrefsen,120\n"
    req_id = env.make_request(RequestState.DRAFT, files={"h.csv": data})
    v = env.get(req_id).files[0].current_version
    assert v.sha256 == hashlib.sha256(data).hexdigest() and v.size == len(data)


def test_store_uses_a_fresh_data_key_per_version(tmp_path):
    store = QuarantineStore(tmp_path / "q", tmp_path / "s", os.urandom(32))

    async def body():
        yield b"same bytes"

    a = anyio.run(store.receive, body(), 100)
    b = anyio.run(store.receive, body(), 100)
    assert a.wrapped_key != b.wrapped_key and a.part.read_bytes() != b.part.read_bytes()


def test_checks_in_worker_processes_give_the_same_report(tmp_path):
    """The service runs the engine in a spawned worker pool; the report must be the engine's own."""
    import json

    from egress_review.autocheck import CheckInput, CheckRunner, run_checks

    table = tmp_path / "t.csv"
    table.write_text("district,days\nGrefsen,3\nSagene,340\n")
    runner = CheckRunner(workers=1, in_process_max_bytes=10_000_000)
    try:
        pooled = runner.run(CheckInput(path=table, declared_name="t.csv"))
    finally:
        runner.close()
    direct = run_checks(CheckInput(path=table, declared_name="t.csv"), 10_000_000)
    assert pooled.verdict == direct.verdict
    assert json.loads(pooled.report_json) == json.loads(direct.report_json)
    assert "automatic checks unavailable" not in pooled.report_json


def test_check_workers_do_not_outlive_a_killed_service(tmp_path):
    import signal
    import subprocess
    import sys
    import time

    table = tmp_path / "t.csv"
    table.write_text("district,days\nGrefsen,30\n")
    script = (
        "import sys, time\n"
        "from pathlib import Path\n"
        "from egress_review.autocheck import CheckInput, CheckRunner\n"
        "r = CheckRunner(1, 10**9)\n"
        f"r.run(CheckInput(path=Path({str(table)!r}), declared_name='t.csv'))\n"
        "print(*[p.pid for p in r._pool._processes.values()], flush=True)\n"
        "time.sleep(60)\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        pids = [int(x) for x in proc.stdout.readline().split()]
        assert pids
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        deadline = time.monotonic() + 10
        alive = pids
        while alive and time.monotonic() < deadline:
            alive = [p for p in pids if Path(f"/proc/{p}").exists() and "Z" not in Path(f"/proc/{p}/stat").read_text().split()[2]]
            time.sleep(0.2)
        assert not alive, f"check workers {alive} outlived the service"
    finally:
        if proc.poll() is None:
            proc.kill()


def test_async_check_in_worker_pool(tmp_path):
    import anyio

    from egress_review.autocheck import CheckInput, CheckRunner

    table = tmp_path / "t.csv"
    table.write_text("district,days\nGrefsen,3\nSagene,340\n")
    runner = CheckRunner(workers=1, in_process_max_bytes=10_000_000)
    try:
        out = anyio.run(runner.run_async, CheckInput(path=table, declared_name="t.csv"))
    finally:
        runner.close()
    assert out.verdict in ("review", "fail") and "automatic checks unavailable" not in out.report_json
