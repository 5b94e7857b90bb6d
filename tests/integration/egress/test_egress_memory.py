"""Streamed uploads: a 1 GiB upload keeps the service under 200 MiB and its memory flat. The service
runs as its own uvicorn process on loopback, as deployed (checks in worker processes); its peak
resident memory (VmHWM) is read from /proc after the upload.

Size: SANDKASSE_EGRESS_RSS_TEST_MB (default 1024)."""

from __future__ import annotations

import os
import time
from pathlib import Path

import httpx
import pytest

from tests.testbed.egress_process import egress_process
from tests.unit.egress.egress_factories import PROJECTS, egress_settings, project_token, provision

pytestmark = pytest.mark.reliability

LIMIT_MB = 200
# What streaming must guarantee: receiving the upload adds at most this much to the service's memory.
GROWTH_LIMIT_MB = 32
SIZE_MB = int(os.environ.get("SANDKASSE_EGRESS_RSS_TEST_MB", "1024"))
# The data libraries belong in the check workers; the service itself never maps them.
DATA_LIBRARIES = ("pandas", "pyarrow", "numpy", "opendp")  # opendp: the DP worker (egress_review/dp_service)
LINE = b"Sykefravaer i kommunen er stabilt over perioden; se tabell 3 for detaljer.\n"


def _vm(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) // 1024  # MiB
    raise AssertionError(field)


def test_large_upload_keeps_service_memory_flat(tmp_path):
    settings = egress_settings(tmp_path, check_workers=2)
    policy = settings.egress_policy_file
    policy.write_text(policy.read_text().replace("max_file_bytes: 104857600", f"max_file_bytes: {(SIZE_MB + 1) << 20}"))
    provision(settings.effective_database_url, PROJECTS)
    with egress_process(settings, tmp_path / "service.log", policy_file=policy) as (base, proc):
        h = {"Authorization": f"Bearer {project_token('alice', 'alpha')}"}
        with httpx.Client(base_url=base, headers=h, timeout=900) as c:
            rid = c.post("/api/v1/requests", json={}).json()["id"]
            # One small upload first: whatever the upload path loads on first use is a one-time cost,
            # not memory that grows with the upload.
            warm = c.post(f"/api/v1/requests/{rid}/files", json={"name": "warm.txt", "context": "c", "controls": "k"}).json()["id"]
            assert c.put(f"/api/v1/requests/{rid}/files/{warm}/content", content=LINE * 100,
                         headers={"Content-Type": "application/octet-stream"}).status_code == 200
            idle = _vm(proc.pid, "VmRSS")
            fid = c.post(f"/api/v1/requests/{rid}/files", json={"name": "big.txt", "context": "c", "controls": "k"}).json()["id"]
            total = (SIZE_MB << 20) // len(LINE) * len(LINE)

            def body():
                block = LINE * ((1 << 20) // len(LINE) + 1)
                sent = 0
                while sent < total:
                    piece = block[: total - sent]
                    sent += len(piece)
                    yield piece

            t = time.perf_counter()
            r = c.put(f"/api/v1/requests/{rid}/files/{fid}/content", content=body(),
                      headers={"Content-Type": "application/octet-stream"})
            elapsed = time.perf_counter() - t
            assert r.status_code == 200, r.text
            assert r.json()["version"]["size"] == total
        peak = _vm(proc.pid, "VmHWM")
        print(f"\nupload {total >> 20} MiB in {elapsed:.1f} s; service RSS idle {idle} MiB, peak {peak} MiB, "
              f"growth {peak - idle} MiB (target: peak < {LIMIT_MB} MiB; growth/upload = "
              f"{(peak - idle) / (total >> 20):.3f})")
        assert peak - idle < GROWTH_LIMIT_MB, f"service grew by {peak - idle} MiB while receiving {total >> 20} MiB"
        assert peak < LIMIT_MB, f"service peaked at {peak} MiB"
        maps = Path(f"/proc/{proc.pid}/maps").read_text()
        assert not [lib for lib in DATA_LIBRARIES if f"/{lib}/" in maps], "the service loaded data libraries itself"
        blob = max((settings.quarantine_dir / "blobs").iterdir(), key=lambda p: p.stat().st_size)
        assert blob.stat().st_size > total  # stored whole (encrypted, with per-chunk tags)
