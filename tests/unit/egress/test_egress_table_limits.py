"""Tables that expand (issue 13.5): a Parquet file or workbook whose declared size exceeds the policy's
limits is refused at upload from its footer / zip directory / sheet XML, before pandas, openpyxl or
pyarrow decode it; and previews parse files in a worker process under an address-space limit."""

from __future__ import annotations

import io
import re
import zipfile

import pytest

from egress_review import bounded
from egress_review.quarantine.intake import IntakeError
from egress_review.states import RequestState
from egress_review.web import preview

pytestmark = pytest.mark.unit


def _limits(env, **update) -> None:
    env.svc.policy = env.svc.policy.model_copy(
        update={"uploads": env.svc.policy.uploads.model_copy(update=update)})


@pytest.fixture
def no_decoding(monkeypatch):
    """Fail the test if the service process decodes table content (the footer may be read)."""
    import pandas as pd
    import pyarrow.parquet as pq

    def refuse(*a, **k):
        raise AssertionError("table content decoded before the size check")

    for mod, name in ((pd, "read_parquet"), (pd, "read_excel"), (pq, "read_table")):
        monkeypatch.setattr(mod, name, refuse)


def _parquet(rows: int) -> bytes:
    import pyarrow as pa
    import pyarrow.parquet as pq

    buf = io.BytesIO()
    pq.write_table(pa.table({"district": ["Grefsen"] * rows, "days": list(range(rows))}), buf)
    return buf.getvalue()


def test_parquet_over_the_row_or_cell_limit_is_refused_from_its_footer(env, no_decoding):
    _limits(env, table_max_rows=100, table_max_cells=150)
    with pytest.raises(IntakeError, match="101 rows") as exc:
        env.make_request(RequestState.DRAFT, files={"t.parquet": _parquet(101)})
    assert exc.value.status == 413
    with pytest.raises(IntakeError, match="160 cells"):
        env.make_request(RequestState.DRAFT, files={"t.parquet": _parquet(80)})


def test_parquet_that_unpacks_beyond_the_byte_limit_is_refused(env, no_decoding):
    _limits(env, parquet_max_uncompressed_bytes=10_000)
    with pytest.raises(IntakeError, match="unpacks to"):
        env.make_request(RequestState.DRAFT, files={"t.parquet": _parquet(5000)})


def _xlsx(rows: int, dimension: str | None = None) -> bytes:
    import openpyxl

    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["district", "days"])
    for i in range(rows):
        ws.append(["Grefsen", i])
    buf = io.BytesIO()
    wb.save(buf)
    if dimension is None:
        return buf.getvalue()
    out = io.BytesIO()  # the workbook declares another size than it holds
    with zipfile.ZipFile(buf) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            body = src.read(info.filename)
            if info.filename == "xl/worksheets/sheet1.xml":
                body = re.sub(rb'<dimension ref="[^"]*"', f'<dimension ref="{dimension}"'.encode(), body)
            dst.writestr(info.filename, body)
    return out.getvalue()


def test_xlsx_declaring_a_huge_sheet_is_refused_before_it_is_read(env, no_decoding, monkeypatch):
    import openpyxl

    monkeypatch.setattr(openpyxl, "load_workbook", lambda *a, **k: (_ for _ in ()).throw(AssertionError("read")))
    _limits(env, table_max_rows=1000, table_max_cells=100_000)
    with pytest.raises(IntakeError, match="rows") as exc:
        env.make_request(RequestState.DRAFT, files={"t.xlsx": _xlsx(3, dimension="A1:B5000000")})
    assert exc.value.status == 413
    with pytest.raises(IntakeError, match="cells"):
        env.make_request(RequestState.DRAFT, files={"t.xlsx": _xlsx(3, dimension="A1:XFD900")})


def test_xlsx_whose_dimension_understates_its_rows_is_refused_by_its_row_elements(env, no_decoding):
    _limits(env, table_max_rows=1000)
    with pytest.raises(IntakeError, match="rows"):
        env.make_request(RequestState.DRAFT, files={"t.xlsx": _xlsx(1500, dimension="A1:B2")})


def test_tables_within_the_limits_are_accepted(env):
    _limits(env, table_max_rows=1000, table_max_cells=10_000)
    files = {"t.xlsx": _xlsx(900), "t.parquet": _parquet(900)}
    req = env.get(env.make_request(RequestState.DRAFT, files=files))
    # both stored in quarantine as the tables they are, not only let through the size check
    assert {f.name: [v.detected_type for v in f.versions] for f in req.files} == {"t.xlsx": ["xlsx"], "t.parquet": ["parquet"]}


def test_a_worker_over_its_memory_limit_fails_alone():
    pool = bounded.BoundedPool(512 * 1024 * 1024)
    try:
        with pytest.raises(bounded.OverMemoryLimit):
            pool.run(bytearray, 1024 * 1024 * 1024)
        assert pool.run(len, b"still serving") == 13  # a fresh worker after the failure
    finally:
        pool.close()


def test_a_preview_that_expands_beyond_the_memory_limit_is_offered_for_download(env):
    """A Parquet file a few hundred KiB on disk whose table takes far more memory as strings: the
    preview's worker hits its address-space limit; the web process carries on."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    rows = 20_000_000
    _limits(env, table_max_rows=10 * rows, table_max_cells=10 * rows, parquet_max_uncompressed_bytes=1 << 34)
    words = pa.DictionaryArray.from_arrays(pa.array(np.zeros(rows, dtype=np.int32)), pa.array(["Grefsen-" * 3]))
    buf = io.BytesIO()
    pq.write_table(pa.table({"district": words}), buf)
    assert len(buf.getvalue()) < 1 << 20
    from tests.unit.egress.egress_factories import researcher

    req_id = env.make_request(RequestState.DRAFT)
    env.store_file(researcher("alice", "alpha"), req_id, "big.parquet", buf.getvalue(), check=False)
    _limits(env, parse_memory_bytes=512 * 1024 * 1024)
    version = next(f for f in env.get(req_id).files if f.name == "big.parquet").current_version
    shown = preview.build(env.svc, version, {}, max_bytes=1 << 30, max_rows=10)
    assert (shown.kind, shown.note) == ("download", "too_large")


def test_a_png_bomb_is_refused_by_the_rebuild_worker_with_its_status(env):
    """Pillow only warns below twice its pixel limit; the rebuild (in the worker) refuses, and the
    refusal reaches the researcher as 413."""
    import struct
    import zlib

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)

    side = 10_000  # 100 Mpixel of one grey level, ~100 KiB compressed: past Pillow's bomb warning
    compressor = zlib.compressobj(9)
    row = b"\x00" + b"\x00" * side
    body = b"".join(compressor.compress(row) for _ in range(side)) + compressor.flush()
    png = (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0))
           + chunk(b"IDAT", body) + chunk(b"IEND", b""))
    assert len(png) < 1 << 20
    with pytest.raises(IntakeError) as exc:
        env.make_request(RequestState.DRAFT, files={"bomb.png": png})
    assert exc.value.status == 413
