"""The gate before anything is stored: is the file name safe, and is the content what its name says?

Every refusal raises :class:`IntakeError` with a message for the researcher; the caller answers 4xx
and discards the upload. Types are decided by content, never by the extension alone.
"""

from __future__ import annotations

import codecs
import csv
import json
import re
import unicodedata
import zipfile
from pathlib import Path
from xml.etree import ElementTree

from egress_review.policy import UploadPolicy

EXTENSIONS = {
    ".csv": "csv",
    ".tsv": "tsv",
    ".xlsx": "xlsx",
    ".parquet": "parquet",
    ".png": "png",
    ".svg": "svg",
    ".pdf": "pdf",
    ".txt": "txt",
    ".md": "md",
    ".json": "json",
    ".ipynb": "ipynb",  # supporting only: the notebook a table was made with (egress_review.notebooks)
}

# A release folder holds the released files and the manifest that signs them (egress_review.release).
RESERVED_NAMES = frozenset({"manifest.json"})

_ARCHIVE_MAGIC = {
    b"PK\x03\x04": "zip archive",
    b"PK\x05\x06": "zip archive",
    b"\x1f\x8b": "gzip archive",
    b"BZh": "bzip2 archive",
    b"\xfd7zXZ\x00": "xz archive",
    b"7z\xbc\xaf\x27\x1c": "7-zip archive",
    b"Rar!": "rar archive",
    b"(\xb5/\xfd": "zstd archive",
}


class IntakeError(ValueError):
    """The upload is refused; ``status`` is the HTTP status to answer with."""

    def __init__(self, message: str, status: int = 422) -> None:
        super().__init__(message)
        self.status = status


def check_name(name: str, policy: UploadPolicy) -> str:
    """The file's type from its (safe) name; refuse traversal, separators, control characters."""
    if not name or len(name) > policy.max_name_chars:
        raise IntakeError(f"file name must be 1 to {policy.max_name_chars} characters")
    if unicodedata.normalize("NFC", name) != name:
        raise IntakeError("file name must be in Unicode NFC form")
    bad = [c for c in name if unicodedata.category(c) in {"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"}]
    if bad:
        raise IntakeError(f"file name contains a control or invisible character ({ord(bad[0]):#x})")
    if "/" in name or "\\" in name or name in {".", ".."} or ".." in name.split("."):
        raise IntakeError("file name must be a plain name, without folders or '..'")
    if name.startswith((".", "-", " ")) or name.endswith((" ", ".")):
        raise IntakeError("file name must not start with '.', '-' or a space, nor end with a space or '.'")
    if name.lower() in RESERVED_NAMES:
        raise IntakeError(f"{name!r} is the name of the signed release manifest; give the file another name")
    kind = EXTENSIONS.get(Path(name).suffix.lower())
    if kind is None or kind not in policy.allowed_types:
        allowed = ", ".join(sorted(e for e, k in EXTENSIONS.items() if k in policy.allowed_types))
        raise IntakeError(f"type of {name!r} is not allowed (allowed: {allowed})", status=415)
    return kind


def check_content(path: Path, declared: str, policy: UploadPolicy) -> None:
    """Refuse content that is not the declared type, or malformed, or an archive or zip bomb."""
    with path.open("rb") as fh:
        head = fh.read(512)
    if not head:
        raise IntakeError("the file is empty")
    if declared != "xlsx":
        for magic, what in _ARCHIVE_MAGIC.items():
            if head.startswith(magic):
                raise IntakeError(f"archives are not allowed (this is a {what})", status=415)
    _CHECKS[declared](path, head, policy)


def _text(path: Path, what: str) -> None:
    decoder = codecs.getincrementaldecoder("utf-8")()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(65536), b""):
            if b"\x00" in block:
                raise IntakeError(f"this is not a {what} file (it contains binary data)", status=415)
            try:
                decoder.decode(block)
            except UnicodeDecodeError as exc:
                raise IntakeError(f"this is not a UTF-8 {what} file: {exc.reason}", status=415) from exc
    try:
        decoder.decode(b"", final=True)
    except UnicodeDecodeError as exc:
        raise IntakeError(f"this is not a UTF-8 {what} file: it ends inside a character", status=415) from exc


def _delimited(delimiter: str, what: str):
    def check(path: Path, head: bytes, policy: UploadPolicy) -> None:
        _text(path, what)
        with path.open(encoding="utf-8-sig", newline="") as fh:
            reader = csv.reader(fh, delimiter=delimiter, strict=True)
            try:
                header = next(reader, None)
                if not header or all(not c.strip() for c in header):
                    raise IntakeError(f"malformed {what}: no header row")
                for row in reader:
                    if row and len(row) != len(header):
                        raise IntakeError(
                            f"malformed {what}: line {reader.line_num} has {len(row)} fields, the header has {len(header)}"
                        )
            except csv.Error as exc:
                raise IntakeError(f"malformed {what}: line {reader.line_num}: {exc}") from exc

    return check


def _xlsx(path: Path, head: bytes, policy: UploadPolicy) -> None:
    if not head.startswith(b"PK\x03\x04"):
        raise IntakeError("this is not an XLSX workbook", status=415)
    try:
        with zipfile.ZipFile(path) as zf:
            infos = zf.infolist()
            if len(infos) > policy.xlsx_max_members:
                raise IntakeError(f"XLSX has {len(infos)} parts (limit {policy.xlsx_max_members})", status=413)
            total = sum(i.file_size for i in infos)
            if total > policy.xlsx_max_uncompressed_bytes:
                raise IntakeError("XLSX unpacks to more than the allowed size (zip bomb?)", status=413)
            for info in infos:
                if info.file_size > policy.xlsx_max_compression_ratio * max(info.compress_size, 1):
                    raise IntakeError(f"XLSX part {info.filename!r} is compressed suspiciously well (zip bomb?)", status=413)
            names = {i.filename for i in infos}
            if "[Content_Types].xml" not in names or "xl/workbook.xml" not in names:
                raise IntakeError("this is a zip archive, not an XLSX workbook", status=415)
            if any(n.lower().endswith(("vbaproject.bin", ".bin")) for n in names):
                raise IntakeError("workbooks with macros or embedded binaries are not allowed", status=415)
            _xlsx_declared_size(zf, policy)
    except zipfile.BadZipFile as exc:
        raise IntakeError(f"malformed XLSX: {exc}") from exc
    import openpyxl  # only for workbooks

    try:
        with path.open("rb") as fh:
            wb = openpyxl.load_workbook(fh, read_only=True, data_only=True)
            try:
                for ws in wb.worksheets:
                    for _ in ws.iter_rows(max_row=1):
                        pass
            finally:
                wb.close()
    except Exception as exc:  # openpyxl raises many types for broken workbooks
        raise IntakeError(f"malformed XLSX: {exc.__class__.__name__}: {exc}") from exc


def _check_table_size(what: str, rows: int, cells: int, policy: UploadPolicy) -> None:
    if rows > policy.table_max_rows:
        raise IntakeError(f"{what} has {rows} rows (limit {policy.table_max_rows})", status=413)
    if cells > policy.table_max_cells:
        raise IntakeError(f"{what} has {cells} cells (limit {policy.table_max_cells})", status=413)


_DIMENSION = re.compile(rb"<(?:\w+:)?dimension\s+ref=\"\$?([A-Z]{1,3})\$?(\d+)(?::\$?([A-Z]{1,3})\$?(\d+))?\"")
_ROW_TAG = re.compile(rb"<(?:\w{1,16}:)?row[\s>/]")
_CELL_TAG = re.compile(rb"<(?:\w{1,16}:)?c[\s>/]")


def _column_number(letters: bytes) -> int:
    n = 0
    for ch in letters:
        n = n * 26 + ch - 64
    return n


def _xlsx_declared_size(zf: zipfile.ZipFile, policy: UploadPolicy) -> None:
    """Each sheet's size from what the workbook itself says (the ``<dimension>`` element) and from
    the row and cell elements it holds (a dimension can lie), streamed from the zip: before pandas or
    openpyxl build anything in memory."""
    for info in zf.infolist():
        if not (info.filename.startswith("xl/worksheets/") and info.filename.endswith(".xml")):
            continue
        rows = cells = 0
        dimension = None
        tail = b""
        with zf.open(info) as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                data = tail + block
                if dimension is None:
                    dimension = _DIMENSION.search(data)
                # count the tags that start before the last few bytes; those are scanned again next time
                limit = max(len(data) - 32, 0)
                rows += sum(1 for m in _ROW_TAG.finditer(data) if m.start() < limit)
                cells += sum(1 for m in _CELL_TAG.finditer(data) if m.start() < limit)
                tail = data[limit:]
                _check_table_size(f"XLSX sheet {info.filename!r}", rows, cells, policy)
        rows += len(_ROW_TAG.findall(tail))
        cells += len(_CELL_TAG.findall(tail))
        _check_table_size(f"XLSX sheet {info.filename!r}", rows, cells, policy)
        if dimension is not None and dimension.group(3):
            declared_rows = int(dimension.group(4)) - int(dimension.group(2)) + 1
            declared_cols = _column_number(dimension.group(3)) - _column_number(dimension.group(1)) + 1
            _check_table_size(f"XLSX sheet {info.filename!r}", declared_rows, declared_rows * declared_cols, policy)


def _parquet(path: Path, head: bytes, policy: UploadPolicy) -> None:
    if not head.startswith(b"PAR1"):
        raise IntakeError("this is not a Parquet file", status=415)
    import pyarrow.parquet as pq

    try:
        # reading the footer validates the file, and says how big it is before anything is decoded
        meta = pq.ParquetFile(path).metadata
    except Exception as exc:
        raise IntakeError(f"malformed Parquet: {exc}") from exc
    _check_table_size("the Parquet file", meta.num_rows, meta.num_rows * max(meta.num_columns, 1), policy)
    expanded = sum(meta.row_group(i).total_byte_size for i in range(meta.num_row_groups))
    if expanded > policy.parquet_max_uncompressed_bytes:
        raise IntakeError(f"the Parquet file unpacks to {expanded} bytes (limit {policy.parquet_max_uncompressed_bytes})",
                          status=413)


def _png(path: Path, head: bytes, policy: UploadPolicy) -> None:
    if not head.startswith(b"\x89PNG\r\n\x1a\n"):
        raise IntakeError("this is not a PNG image", status=415)
    from PIL import Image

    try:
        with Image.open(path) as img:
            img.verify()
    except Exception as exc:
        raise IntakeError(f"malformed PNG: {exc}") from exc


def _pdf(path: Path, head: bytes, policy: UploadPolicy) -> None:
    if not head.startswith(b"%PDF-"):
        raise IntakeError("this is not a PDF document", status=415)
    with path.open("rb") as fh:
        fh.seek(max(0, path.stat().st_size - 2048))
        if b"%%EOF" not in fh.read():
            raise IntakeError("malformed PDF: no end-of-file marker")


def parse_svg(text: str) -> ElementTree.Element:
    """The SVG's root element; no DOCTYPE or entities (billion laughs, external entities)."""
    if "<!DOCTYPE" in text.upper() or "<!ENTITY" in text.upper():
        raise IntakeError("SVG with a DOCTYPE or entities is not allowed", status=415)
    try:
        root = ElementTree.fromstring(text)
    except ElementTree.ParseError as exc:
        raise IntakeError(f"malformed SVG: {exc}") from exc
    if not root.tag.endswith("svg"):
        raise IntakeError("this XML file is not an SVG image", status=415)
    return root


def _svg(path: Path, head: bytes, policy: UploadPolicy) -> None:
    _text(path, "SVG")
    parse_svg(path.read_text(encoding="utf-8-sig"))


def _plain(what: str):
    def check(path: Path, head: bytes, policy: UploadPolicy) -> None:
        _text(path, what)

    return check


def _json(path: Path, head: bytes, policy: UploadPolicy) -> None:
    _text(path, "JSON")
    try:
        with path.open(encoding="utf-8") as fh:
            json.load(fh)
    except (ValueError, RecursionError) as exc:
        raise IntakeError(f"malformed JSON: {exc}") from exc


def _ipynb(path: Path, head: bytes, policy: UploadPolicy) -> None:
    _json(path, head, policy)
    with path.open(encoding="utf-8") as fh:
        nb = json.load(fh)
    if not isinstance(nb, dict) or not isinstance(nb.get("cells"), list) or not isinstance(nb.get("nbformat"), int):
        raise IntakeError("this is not a Jupyter notebook (no nbformat and cells)", status=415)


_CHECKS = {
    "csv": _delimited(",", "CSV"),
    "tsv": _delimited("\t", "TSV"),
    "xlsx": _xlsx,
    "parquet": _parquet,
    "png": _png,
    "svg": _svg,
    "pdf": _pdf,
    "txt": _plain("text"),
    "md": _plain("Markdown"),
    "json": _json,
    "ipynb": _ipynb,
}

