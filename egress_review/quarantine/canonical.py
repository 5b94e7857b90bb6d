"""The canonical form of an uploaded file: its bytes rebuilt from the parsed content, one function per
type, so that what the checkers review and what a release ships carry nothing the parsers (and so the
previews and the checks) do not show: no metadata, comments, hidden sheets, trailing chunks, scripts,
nor information hidden in a choice of quoting or line endings.

The rebuild runs at intake (:mod:`egress_review.upload`), before the version is stored: the stored
version *is* the canonical file, its SHA-256 is what the checks, the previews and the checkers see, and
the release ships those exact bytes under that hash. Every rebuild is deterministic and idempotent
(``rebuild(rebuild(x)) == rebuild(x)``), which :func:`is_canonical` uses at release time to refuse a
stored version that was not rebuilt. A type that cannot be rebuilt (PDF) is refused as an output unless
the egress policy says otherwise. Refusals raise :class:`IntakeError` with a message for the researcher.
"""

from __future__ import annotations

import csv
import io
import os
import re
import warnings
import zipfile
from collections.abc import Callable
from pathlib import Path
from xml.etree import ElementTree

from egress_review.quarantine.intake import IntakeError, parse_svg

# Types whose bytes are kept as uploaded: UTF-8 text already checked at intake (what the checker reads
# is every byte of it), and PDF when the policy lets one through (see ``uploads.pdf_outputs``).
KEPT_AS_UPLOADED = frozenset({"txt", "md", "pdf"})


# ------------------------------------------------------------------------------------------- CSV / TSV


def _sniff_delimiter(text: str, declared: str) -> str:
    """The delimiter the check engine will read the file with (``checks.tables.read_table_files``)."""
    if declared == "tsv":
        return "\t"
    try:
        return csv.Sniffer().sniff(text[:20000], delimiters=",;\t").delimiter
    except csv.Error:
        return ","


def _parse_rows(text: str, delimiter: str) -> list[list[str]]:
    return [row for row in csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True) if row]


def rebuild_delimited(data: bytes, declared: str) -> bytes:
    """CSV/TSV re-serialised from the parsed rows: UTF-8 without BOM, ``\\n`` line ends, minimal
    quoting, no blank lines; the same form pandas' ``to_csv`` writes."""
    text = data.decode("utf-8-sig")
    rows: list[list[str]] | None = None
    # the delimiter the checks will read with; else the one intake validated the file with
    for delimiter in dict.fromkeys((_sniff_delimiter(text, declared), "\t" if declared == "tsv" else ",")):
        try:
            rows = _parse_rows(text, delimiter)
        except csv.Error:
            continue
        if len({len(r) for r in rows}) <= 1:
            break
        rows = None
    if rows is None:
        raise IntakeError(f"malformed {declared.upper()}: rows have different numbers of fields")
    out = io.StringIO(newline="")
    csv.writer(out, delimiter=delimiter, lineterminator="\n", quoting=csv.QUOTE_MINIMAL).writerows(rows)
    return out.getvalue().encode("utf-8")


# ------------------------------------------------------------------------------------------------ XLSX

_FIXED_ZIP_TIME = (1980, 1, 1, 0, 0, 0)
_FIXED_DOC_TIME = "2000-01-01T00:00:00Z"
_DOC_TIME = re.compile(rb"(<dcterms:(?:created|modified)[^>]*>)[^<]*(</dcterms:)")


def rebuild_xlsx(data: bytes) -> bytes:
    """A new workbook holding the cell values of the visible sheets only: no formulas (their cached
    values instead), comments, pivot caches, customXml, embedded objects, images, defined names,
    hidden sheets, hidden rows or columns, styles or document properties."""
    import openpyxl

    try:
        src = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True, keep_links=False)
    except Exception as exc:  # openpyxl raises many types for broken workbooks
        raise IntakeError(f"malformed XLSX: {exc.__class__.__name__}: {exc}") from exc
    out = openpyxl.Workbook(write_only=True)
    try:
        visible = [ws for ws in src.worksheets if getattr(ws, "sheet_state", "visible") == "visible"]
        if not visible:
            raise IntakeError("the workbook has no visible sheet")
        for ws in visible:
            ws.reset_dimensions()  # read every row there is, not the range the file claims (as pandas does)
            target = out.create_sheet(title=ws.title)
            for row in ws.iter_rows(values_only=True):
                target.append(list(row))
    finally:
        src.close()
    out.properties.creator = ""
    buf = io.BytesIO()
    out.save(buf)
    return _repack(buf.getvalue())


def _repack(data: bytes) -> bytes:
    """The same zip with fixed timestamps (openpyxl stamps the time of saving): the same cells give
    the same bytes, so a rebuild of a rebuilt workbook is unchanged."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            body = src.read(info.filename)
            if info.filename == "docProps/core.xml":
                body = _DOC_TIME.sub(rb"\g<1>" + _FIXED_DOC_TIME.encode() + rb"\g<2>", body)
            dst.writestr(zipfile.ZipInfo(info.filename, date_time=_FIXED_ZIP_TIME), body,
                         compress_type=zipfile.ZIP_DEFLATED)
    return out.getvalue()


# --------------------------------------------------------------------------------------------- Parquet


def rebuild_parquet(data: bytes) -> bytes:
    """The table rewritten as one row group, without key-value metadata (file, schema or field level,
    pandas' and Arrow's included) or statistics beyond what the writer derives from the values."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(pa.BufferReader(data))
    except Exception as exc:
        raise IntakeError(f"malformed Parquet: {exc}") from exc
    schema = pa.schema([f.remove_metadata() for f in table.schema])
    table = pa.Table.from_arrays(table.columns, schema=schema).combine_chunks()
    out = pa.BufferOutputStream()
    pq.write_table(table, out, row_group_size=max(table.num_rows, 1), store_schema=False,
                   write_statistics=False, compression="zstd")
    return out.getvalue().to_pybytes()


# ------------------------------------------------------------------------------------------------- PNG

_PNG_MODES = {"1": "L", "L": "L", "LA": "LA", "RGB": "RGB", "RGBA": "RGBA"}


def rebuild_png(data: bytes) -> bytes:
    """The first frame's pixels encoded afresh: no text, EXIF, ICC profile, time, private or animation
    chunks, nor bytes after the end chunk."""
    from PIL import Image

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as img:
                img.seek(0)
                img.load()
                mode = _PNG_MODES.get(img.mode)
                if mode is None:  # palette, 16-bit, ...: keep what is drawn, including transparency
                    transparent = img.mode in ("P", "PA") and "transparency" in img.info or img.mode == "PA"
                    mode = "RGBA" if transparent else "RGB"
                pixels = img.convert(mode) if mode != img.mode else img.copy()
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise IntakeError(f"the PNG has too many pixels: {exc}", status=413) from exc
    except Exception as exc:
        raise IntakeError(f"malformed PNG: {exc}") from exc
    clean = Image.frombytes(pixels.mode, pixels.size, pixels.tobytes())
    buf = io.BytesIO()
    clean.save(buf, format="PNG")
    return buf.getvalue()


# ------------------------------------------------------------------------------------------------- SVG

SVG_NS = "http://www.w3.org/2000/svg"
XLINK_NS = "http://www.w3.org/1999/xlink"
# Drawing elements only: no script, foreignObject, image, a, iframe, animation, metadata, title, desc
# (text a viewer of the image never sees), nor any element outside the SVG namespace.
_SVG_ELEMENTS = frozenset({
    "svg", "g", "defs", "symbol", "use", "path", "rect", "circle", "ellipse", "line", "polyline", "polygon",
    "text", "tspan", "clipPath", "mask", "linearGradient", "radialGradient", "stop", "pattern", "marker",
    "style",
})
_SVG_ATTRIBUTES = frozenset({
    "id", "class", "style", "transform", "viewBox", "preserveAspectRatio", "version", "width", "height",
    "x", "y", "x1", "y1", "x2", "y2", "cx", "cy", "r", "rx", "ry", "d", "points", "dx", "dy", "rotate",
    "fill", "fill-opacity", "fill-rule", "stroke", "stroke-width", "stroke-opacity", "stroke-linecap",
    "stroke-linejoin", "stroke-dasharray", "stroke-dashoffset", "stroke-miterlimit", "opacity", "clip-path",
    "clip-rule", "mask", "font-family", "font-size", "font-weight", "font-style", "text-anchor",
    "dominant-baseline", "alignment-baseline", "offset", "stop-color", "stop-opacity", "gradientUnits",
    "gradientTransform", "spreadMethod", "fx", "fy", "patternUnits", "patternTransform", "markerWidth",
    "markerHeight", "refX", "refY", "orient", "markerUnits", "marker-start", "marker-mid", "marker-end",
    "clipPathUnits", "maskUnits", "textLength", "lengthAdjust", "visibility", "display", "color", "type",
    "href", "letter-spacing", "word-spacing", "text-decoration", "vector-effect", "shape-rendering",
})
# References may only point inside the document; CSS may not load anything.
_EXTERNAL_REF = re.compile(r"url\(\s*['\"]?\s*(?!#)|@import|expression\s*\(|javascript:", re.IGNORECASE)


def _svg_name(tag: str) -> str | None:
    if tag.startswith("{" + SVG_NS + "}"):
        return tag[len(SVG_NS) + 2:]
    return None


def _attr_name(key: str) -> str | None:
    if key == "{" + XLINK_NS + "}href":
        return "href"
    return key if not key.startswith("{") and key in _SVG_ATTRIBUTES else None


def _copy_svg(src: ElementTree.Element, name: str) -> ElementTree.Element:
    node = ElementTree.Element(name)  # unqualified: the root declares the SVG namespace as the default
    for key, value in src.attrib.items():
        attr = _attr_name(key)
        if attr is None or _EXTERNAL_REF.search(value):
            continue
        if attr == "href" and not value.startswith("#"):
            continue
        node.set(attr, value)
    if name in ("text", "tspan", "style"):
        node.text = src.text
    for child in src:
        child_name = _svg_name(child.tag) if isinstance(child.tag, str) else None
        if child_name in _SVG_ELEMENTS and not (child_name == "style" and _EXTERNAL_REF.search(child.text or "")):
            copied = _copy_svg(child, child_name)
            if name in ("text", "tspan"):
                copied.tail = child.tail
            node.append(copied)
    return node


def rebuild_svg(data: bytes) -> bytes:
    """The drawing rebuilt element by element from an allow-list: scripts, event handlers, foreign
    objects, images, links, external references, comments, metadata and unknown namespaces dropped."""
    root = parse_svg(data.decode("utf-8-sig"))
    if _svg_name(root.tag) != "svg":
        raise IntakeError("this is not an SVG image in the SVG namespace", status=415)
    clean = _copy_svg(root, "svg")
    # the xlink namespace is not needed: href is written as the SVG 2 attribute
    clean.set("xmlns", SVG_NS)
    body = ElementTree.tostring(clean, encoding="unicode", short_empty_elements=True)
    return ('<?xml version="1.0" encoding="utf-8"?>\n' + body + "\n").encode("utf-8")


# ------------------------------------------------------------------------------------------------ JSON


def rebuild_json(data: bytes) -> bytes:
    """Parsed and written again: a duplicate key (which readers resolve differently) is refused."""
    import json

    def no_duplicates(pairs):
        keys = [k for k, _ in pairs]
        if len(keys) != len(set(keys)):
            raise IntakeError("JSON with a duplicate key is not allowed")
        return dict(pairs)

    try:
        value = json.loads(data.decode("utf-8-sig"), object_pairs_hook=no_duplicates)
    except (ValueError, RecursionError) as exc:
        raise IntakeError(f"malformed JSON: {exc}") from exc
    return (json.dumps(value, ensure_ascii=False, indent=2) + "\n").encode("utf-8")


# ------------------------------------------------------------------------------------------------- all

REBUILDERS: dict[str, Callable[[bytes], bytes]] = {
    "csv": lambda b: rebuild_delimited(b, "csv"),
    "tsv": lambda b: rebuild_delimited(b, "tsv"),
    "xlsx": rebuild_xlsx,
    "parquet": rebuild_parquet,
    "png": rebuild_png,
    "svg": rebuild_svg,
    "json": rebuild_json,
    "ipynb": rebuild_json,  # a supporting file (never released): re-serialised like any JSON
}


def rebuild(kind: str, data: bytes) -> bytes:
    """The canonical bytes of a file of type ``kind`` (already through intake's content check)."""
    if kind in KEPT_AS_UPLOADED:
        return data
    fn = REBUILDERS.get(kind)
    if fn is None:
        raise IntakeError(f"files of type {kind} cannot be rebuilt for release", status=415)
    return fn(data)


def rebuild_file(kind: str, src: Path, dst: Path) -> None:
    """:func:`rebuild` from file to file (the form a worker process runs, see :mod:`egress_review.bounded`)."""
    data = rebuild(kind, src.read_bytes())
    with os.fdopen(os.open(dst, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb") as out:
        out.write(data)


def is_canonical(kind: str, data: bytes) -> bool:
    """Whether ``data`` is its own rebuild: true for every version stored since intake rebuilds."""
    try:
        return rebuild(kind, data) == data
    except IntakeError:
        return False
