"""File-level checks: type by content, size cap, archives, image metadata, notebooks, record-level data,
differencing against released tables, and the command line."""

from __future__ import annotations

import gzip
import io
import json
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image, PngImagePlugin

from egress_review.checks import CheckContext, check_file, strip_image_metadata
from egress_review.checks.filetypes import png_metadata_chunks
from egress_review.checks.identifiers import generate_national_id
from egress_review.checks.policy import DisclosurePolicy

pytestmark = pytest.mark.unit
POLICY = DisclosurePolicy()
SAFE = "bydel,K,M\nGrefsen,40,35\nSagene,22,31\n"


def write(tmp: Path, name: str, data: bytes | str) -> Path:
    p = tmp / name
    p.write_bytes(data.encode() if isinstance(data, str) else data)
    return p


def png_bytes(meta: dict[str, str] | None = None) -> bytes:
    img = Image.new("RGB", (8, 8), (200, 30, 30))
    info = PngImagePlugin.PngInfo()
    for k, v in (meta or {}).items():
        info.add_text(k, v)
    buf = io.BytesIO()
    img.save(buf, format="PNG", pnginfo=info)
    return buf.getvalue()


def test_safe_csv_passes_without_flags(tmp_path):
    r = check_file(write(tmp_path, "t.csv", SAFE), declared_name="t.csv", policy=POLICY,
                   context=CheckContext(person_level=False))
    assert (r.verdict, r.file_type, r.flags) == ("pass", "csv", [])
    assert r.cell_outcome == [["", ""], ["", ""]]


def test_type_is_judged_by_content_not_name(tmp_path):
    r = check_file(write(tmp_path, "t.csv", png_bytes()), declared_name="t.csv", policy=POLICY)
    assert r.file_type == "png"
    assert any(f.rule == "file_type" and "content is PNG" in f.message for f in r.flags)
    elf = check_file(write(tmp_path, "x.csv", b"\x7fELF\x02\x01\x01" + bytes(200)), declared_name="x.csv",
                     policy=POLICY)
    assert elf.verdict == "fail" and elf.file_type == "unknown" and elf.flags[0].rule == "file_type"
    jpg = check_file(write(tmp_path, "x.png", b"\xff\xd8\xff\xe0\x00\x10JFIF" + bytes(100)), declared_name="x.png",
                     policy=POLICY)
    assert jpg.verdict == "fail" and "other than PNG" in jpg.flags[0].message


@pytest.mark.parametrize("kind", ["zip", "gzip", "tar"])
def test_archives_are_refused_whatever_their_name(tmp_path, kind):
    buf = io.BytesIO()
    if kind == "zip":
        with zipfile.ZipFile(buf, "w") as zf:
            zf.writestr("a.csv", SAFE)
    elif kind == "gzip":
        buf.write(gzip.compress(SAFE.encode()))
    else:
        with tarfile.open(fileobj=buf, mode="w") as tf:
            data = SAFE.encode()
            info = tarfile.TarInfo("a.csv")
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    r = check_file(write(tmp_path, "innocent.csv", buf.getvalue()), declared_name="innocent.csv", policy=POLICY)
    assert r.verdict == "fail" and r.flags[0].rule == "archive" and kind in r.flags[0].message


def test_size_cap(tmp_path):
    small = POLICY.model_copy(update={"files": POLICY.files.model_copy(update={"max_bytes": 10})})
    r = check_file(write(tmp_path, "t.csv", SAFE), declared_name="t.csv", policy=small)
    assert r.verdict == "fail" and r.flags[0].rule == "size"


def test_png_metadata_is_stripped_pixels_kept(tmp_path):
    p = write(tmp_path, "fig.png", png_bytes({"Author": "kari.nordmann@oslo.kommune.no", "Source": "/home/kari"}))
    assert {"tEXt"} <= set(png_metadata_chunks(p.read_bytes()))
    clean = strip_image_metadata(p)
    assert png_metadata_chunks(clean) == []
    assert b"kari" not in clean
    a = np.asarray(Image.open(p).convert("RGB"))
    b = np.asarray(Image.open(io.BytesIO(clean)).convert("RGB"))
    assert (a == b).all()
    r = check_file(p, declared_name="fig.png", policy=POLICY)
    assert r.verdict == "review" and r.unverifiable == ["image_content"]


def test_svg_with_script_fails_and_text_is_scanned(tmp_path):
    svg = '<svg xmlns="http://www.w3.org/2000/svg"><text>kontakt ola@example.no</text><script>x()</script></svg>'
    r = check_file(write(tmp_path, "f.svg", svg), declared_name="f.svg", policy=POLICY)
    assert r.file_type == "svg" and r.verdict == "fail"
    assert {f.rule for f in r.flags} == {"identifier", "file_type"}


def test_text_and_markdown_identifier_scan(tmp_path):
    fnr = generate_national_id(np.random.default_rng(5))
    r = check_file(write(tmp_path, "notes.md", f"# Funn\n\nPasient {fnr} hadde 12 dager.\n"),
                   declared_name="notes.md", policy=POLICY)
    assert r.file_type == "md" and r.verdict == "fail"
    assert r.flags[0].rule == "identifier" and fnr not in r.flags[0].message
    project = check_file(write(tmp_path, "n.txt", "Ansatt Per Hansen i Sagene\n"), declared_name="n.txt",
                         policy=POLICY, context=CheckContext(identifier_values={"Per Hansen"}))
    assert project.verdict == "fail" and "direct-identifier column" in project.flags[0].message


def test_identifier_inside_a_table_cell(tmp_path):
    fnr = generate_national_id(np.random.default_rng(9))
    r = check_file(write(tmp_path, "t.csv", f"id,dager\n{fnr},12\nother,30\n"), declared_name="t.csv",
                   policy=POLICY)
    assert any(f.rule == "identifier" for f in r.flags) and r.verdict == "fail"


def test_xlsx_and_parquet_are_read_as_tables(tmp_path):
    df = pd.DataFrame({"bydel": ["Grefsen", "Sagene"], "K": [40, 4], "M": [35, 31]})
    x = tmp_path / "t.xlsx"
    df.to_excel(x, index=False)
    q = tmp_path / "t.parquet"
    df.to_parquet(q, index=False)
    for path in (x, q):
        r = check_file(path, declared_name=path.name, policy=POLICY, context=CheckContext(person_level=False))
        assert r.file_type == path.suffix[1:]
        assert [(f.rule, f.row, f.column) for f in r.flags] == [("threshold", "Sagene", "K")]
        assert "cell (Sagene, K) shows a count of 4; the minimum is 10" == r.flags[0].message


def test_margins_in_a_plain_csv_get_secondary_suppression(tmp_path):
    text = "bydel,K,M,All\nGrefsen,40,35,75\nSagene,4,31,35\nFrogner,20,22,42\nAll,64,88,152\n"
    r = check_file(write(tmp_path, "t.csv", text), declared_name="t.csv", policy=POLICY,
                   context=CheckContext(person_level=False))
    safe = pd.read_csv(io.StringIO(r.suggested_csv), index_col=0)
    assert safe.isna().sum().sum() == 4 and np.isnan(safe.loc["Sagene", "K"])
    # a hand-suppressed file that can still be recomputed is caught
    leaky = "bydel,K,M,All\nGrefsen,40,35,75\nSagene,,31,35\nAll,44,66,110\n"
    r2 = check_file(write(tmp_path, "l.csv", leaky), declared_name="l.csv", policy=POLICY,
                    context=CheckContext(person_level=False))
    assert any("can be worked out" in f.message and f.row == "Sagene" for f in r2.flags)


def test_record_level_data_is_refused(tmp_path):
    rng = np.random.default_rng(0)
    micro = pd.DataFrame({"person": [f"a{x:08x}" for x in rng.choice(10**8, 200, replace=False)],
                          "bydel": rng.choice(["Grefsen", "Sagene"], 200), "dager": rng.integers(1, 30, 200)})
    p = tmp_path / "m.csv"
    micro.to_csv(p, index=False)
    r = check_file(p, declared_name="m.csv", policy=POLICY)
    assert r.verdict == "fail"
    assert any(f.rule == "record_level" and "person" in f.message for f in r.flags)
    # most counts equal to one
    ones = pd.DataFrame({"code": [f"k{i}" for i in range(60)], "n": [1] * 50 + [12] * 10})
    ones.to_csv(p, index=False)
    assert any("are 1" in f.message for f in check_file(p, declared_name="m.csv", policy=POLICY).flags)
    # row count close to the entitled extract
    big = pd.DataFrame({"bydel": [f"b{i}" for i in range(900)], "n": [15] * 900})
    big.to_csv(p, index=False)
    r3 = check_file(p, declared_name="m.csv", policy=POLICY, context=CheckContext(entitled_row_count=1000))
    assert any("of the 1000 rows" in f.message for f in r3.flags)
    # a genuine table with many named rows is not record-level
    named = pd.DataFrame({"kommune": [f"Kommune {i}" for i in range(80)], "n": rng.integers(10, 500, 80)})
    named.to_csv(p, index=False)
    assert not any(f.rule == "record_level" for f in check_file(p, declared_name="m.csv", policy=POLICY).flags)


def test_differencing_against_released_tables(tmp_path):
    released = write(tmp_path, "r.csv", "alder,K,M\n18-66,120,110\n67+,40,38\n")
    overlap = write(tmp_path, "n.csv", "alder,K,M\n18-67,123,110\n68+,37,38\n")
    ctx = CheckContext(released_tables=[released], person_level=False)
    r = check_file(overlap, declared_name="n.csv", policy=POLICY, context=ctx)
    diff = [f for f in r.flags if f.rule == "differencing"]
    assert diff and diff[0].row == "18-67" and diff[0].column == "K" and "the difference, 3" in diff[0].message
    assert r.verdict == "fail"
    same = write(tmp_path, "s.csv", "alder,K,M\n18-66,120,110\n67+,40,38\n")
    assert check_file(same, declared_name="s.csv", policy=POLICY, context=ctx).verdict == "pass"
    # another year of the same table moves both ways: not a nested population
    other_year = write(tmp_path, "y.csv", "alder,K,M\n18-66,124,107\n67+,36,41\n")
    assert check_file(other_year, declared_name="y.csv", policy=POLICY, context=ctx).verdict == "pass"


def notebook(cells: list[dict]) -> str:
    return json.dumps({"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": cells})


def test_notebook_outputs_are_checked_one_by_one(tmp_path):
    fnr = generate_national_id(np.random.default_rng(2))
    html = pd.DataFrame({"K": [40, 3], "M": [35, 31]}, index=pd.Index(["Grefsen", "Sagene"], name="bydel")).to_html()
    nb = notebook([
        {"cell_type": "code", "source": "print(x)", "metadata": {}, "execution_count": 1,
         "outputs": [{"output_type": "stream", "name": "stdout", "text": [f"fant {fnr}\n"]}]},
        {"cell_type": "code", "source": "df", "metadata": {}, "execution_count": 2,
         "outputs": [{"output_type": "execute_result", "execution_count": 2, "metadata": {},
                      "data": {"text/html": html, "text/plain": "..."}}]},
        {"cell_type": "code", "source": "plot", "metadata": {}, "execution_count": 3,
         "outputs": [{"output_type": "display_data", "metadata": {}, "data": {"image/png": "iVBORw0KGgo="}}]},
    ])
    p = write(tmp_path, "a.ipynb", nb)
    r = check_file(p, declared_name="a.ipynb", policy=POLICY)
    assert r.file_type == "ipynb" and r.verdict == "fail"
    ident = [f for f in r.flags if f.rule == "identifier"]
    assert ident and ident[0].message.lower().startswith("cell 1, output 1")
    small = [f for f in r.flags if f.rule == "threshold"]
    assert small and small[0].message.startswith("cell 2, output 1: cell (Sagene, K)")
    assert "image_content" in r.unverifiable
    refuse = POLICY.model_copy(update={"files": POLICY.files.model_copy(update={"notebooks": "refuse"})})
    r2 = check_file(p, declared_name="a.ipynb", policy=refuse)
    assert r2.verdict == "fail" and [f.rule for f in r2.flags] == ["notebook"]


def test_command_line_prints_the_report_as_json(tmp_path):
    p = write(tmp_path, "t.csv", "bydel,K,M\nGrefsen,40,35\nSagene,4,31\n")
    out = subprocess.run([sys.executable, "-m", "egress_review.checks", str(p), "--json"], capture_output=True,
                         text=True, timeout=120, cwd=Path(__file__).parents[3])
    assert out.returncode == 2, out.stderr
    report = json.loads(out.stdout)
    assert report["verdict"] == "fail" and report["cell_outcome"][1][0] == "threshold"
    assert report["flags"][0]["row"] == "Sagene" and report["flags"][0]["column"] == "K"


ODD_FILES = {
    "empty.csv": b"", "header.csv": b"a,b,c\n", "one.csv": b"a\n1\n2\n", "dupcols.csv": b"a,a,b\nx,1,2\ny,3,4\n",
    "semicolon.csv": "bydel;K;M\nGrefsen;40;3\nSagene;12;31\n".encode("cp1252"),
    "latin1.csv": "bydel,K\nBygdøy,4\nÅsen,40\n".encode("latin-1"), "ragged.csv": b"a,b\n1,2,3\n4\n",
    "quotes.csv": b'"a, b",c\n"x, y",5\n', "big.csv": b"g,v\nx,1e308\ny,12\n",
    "minus.csv": "g,v\nx,\u22125\ny,12\n".encode(), "bom.csv": "\ufeffg,v\nx,5\ny,12\n".encode(),
    "crlf.csv": b"g,v\r\nx,5\r\ny,12\r\n", "bad.xlsx": b"PK\x03\x04garbage", "bad.parquet": b"PAR1garbage",
    "bad.png": b"\x89PNG\r\n\x1a\ngarbage", "notjson.ipynb": b"{not json", "bin.dat": bytes(range(256)),
    "widget.ipynb": b'{"nbformat": 4, "cells": [{"cell_type": "code", "source": "", "outputs": [{"output_type": '
                    b'"display_data", "data": {"application/vnd.widget": {}}}]}]}',
    "blanks.csv": b"g,K,M,All\nx,,5,12\ny,3,,20\nAll,10,22,32\n",
}


@pytest.mark.parametrize("name", sorted(ODD_FILES))
def test_odd_files_get_a_report_not_a_crash(tmp_path, name):
    r = check_file(write(tmp_path, name, ODD_FILES[name]), declared_name=name, policy=POLICY,
                   context=CheckContext(person_level=False))
    assert r.verdict in ("pass", "review", "fail")
    expected = {"bad.png": "fail", "bad.parquet": "fail", "bad.xlsx": "fail", "bin.dat": "fail", "empty.csv": "fail",
                "widget.ipynb": "fail", "latin1.csv": "fail", "semicolon.csv": "fail", "minus.csv": "review"}
    if name in expected:
        assert r.verdict == expected[name], r.flags


def test_many_failing_cells_are_capped_with_a_summary_flag(tmp_path):
    rows = "\n".join(f"område {i},{3 + i % 5},{50 + i}" for i in range(300))
    p = write(tmp_path, "t.csv", "område,K,M\n" + rows + "\n")
    cap = POLICY.files.max_flags_per_rule
    r = check_file(p, declared_name="t.csv", policy=POLICY, context=CheckContext(person_level=False))
    threshold = [f for f in r.flags if f.rule == "threshold"]
    assert len(threshold) == cap + 1 and threshold[-1].row is None
    assert threshold[-1].message.startswith(f"{300 - cap} more cells fail the threshold rule")
    assert sum(c == "threshold" for row in r.cell_outcome for c in row) == 300
