"""What a file really is, judged by its content (magic bytes), not by its name; image metadata removal."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

ARCHIVE_MAGIC: dict[bytes, str] = {
    b"\x1f\x8b": "gzip",
    b"BZh": "bzip2",
    b"\xfd7zXZ\x00": "xz",
    b"7z\xbc\xaf\x27\x1c": "7z",
    b"Rar!\x1a\x07": "rar",
    b"\x28\xb5\x2f\xfd": "zstd",
}
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
PDF_MAGIC = b"%PDF-"
PARQUET_MAGIC = b"PAR1"
ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")
# PNG chunks that carry pixels or are needed to show them; everything else (tEXt, iTXt, zTXt, eXIf, tIME,
# and private chunks) is dropped on release.
PNG_KEEP_CHUNKS = frozenset({b"IHDR", b"PLTE", b"IDAT", b"IEND", b"tRNS", b"gAMA", b"cHRM", b"sRGB", b"iCCP",
                             b"sBIT", b"pHYs"})
OTHER_IMAGE_MAGIC = (b"\xff\xd8\xff", b"GIF8", b"II*\x00", b"MM\x00*")  # JPEG, GIF, TIFF


class Sniffed:
    __slots__ = ("file_type", "archive", "detail")

    def __init__(self, file_type: str, archive: str | None = None, detail: str = ""):
        self.file_type = file_type
        self.archive = archive
        self.detail = detail


def _looks_like_text(head: bytes) -> str | None:
    if b"\x00" in head:
        return None
    try:
        return head.decode("utf-8")
    except UnicodeDecodeError as exc:
        # a multi-byte character cut at the end of the sample is still text
        if exc.start >= len(head) - 3:
            return head[: exc.start].decode("utf-8", errors="ignore")
    # Windows-1252 (Excel's "CSV" in Norway): accept when it is printable text once decoded
    text = head.decode("cp1252", errors="replace")
    printable = sum(ch.isprintable() or ch in "\r\n\t" for ch in text)
    return text if printable >= 0.98 * len(text) else None


def _delimited(text: str, sep: str) -> bool:
    lines = [ln for ln in text.splitlines()[:50] if ln.strip()]
    if len(lines) < 2:
        return False
    counts = [ln.count(sep) for ln in lines[:-1] or lines]  # the sample may cut the last line
    return counts[0] >= 1 and min(counts) >= 1 and max(counts) - min(counts) <= max(1, counts[0] // 4)


def sniff(path: Path, declared_name: str) -> Sniffed:
    """Identify ``path`` by content; the declared name only decides between text flavours."""
    with open(path, "rb") as fh:
        head = fh.read(65536)
    suffix = Path(declared_name).suffix.lower().lstrip(".")
    for magic, kind in ARCHIVE_MAGIC.items():
        if head.startswith(magic):
            return Sniffed("unknown", archive=kind)
    if len(head) > 262 and head[257:262] == b"ustar":
        return Sniffed("unknown", archive="tar")
    if head.startswith(PNG_MAGIC):
        return Sniffed("png")
    if head.startswith(PDF_MAGIC):
        return Sniffed("pdf")
    if head.startswith(PARQUET_MAGIC):
        return Sniffed("parquet")
    if head.startswith(OTHER_IMAGE_MAGIC):
        return Sniffed("unknown", detail="an image format other than PNG")
    if head.startswith(ZIP_MAGIC):
        try:
            with zipfile.ZipFile(path) as zf:
                names = set(zf.namelist())
        except zipfile.BadZipFile:
            return Sniffed("unknown", archive="zip")
        if "[Content_Types].xml" in names and any(n.startswith("xl/") for n in names):
            if any(n.lower().endswith(".bin") and "vbaproject" in n.lower() for n in names):
                return Sniffed("unknown", detail="an Excel workbook with macros")
            return Sniffed("xlsx")
        return Sniffed("unknown", archive="zip")
    text = _looks_like_text(head)
    if text is None:
        return Sniffed("unknown", detail="binary content of an unknown type")
    stripped = text.lstrip("\ufeff \t\r\n")
    if stripped.startswith("{") and suffix == "ipynb" or (stripped.startswith("{") and '"nbformat"' in text):
        try:
            doc = json.loads(Path(path).read_text(encoding="utf-8"))
            if isinstance(doc, dict) and "cells" in doc and "nbformat" in doc:
                return Sniffed("ipynb")
        except (ValueError, UnicodeDecodeError):
            pass
    low = stripped[:2000].lower()
    if low.startswith("<?xml") and "<svg" in low or low.startswith("<svg"):
        return Sniffed("svg")
    if suffix in ("tsv", "tab") and _delimited(text, "\t"):
        return Sniffed("tsv")
    if suffix == "csv":
        # any text is a valid CSV (a single column has no delimiter); what matters is that it is text
        return Sniffed("tsv") if _delimited(text, "\t") and not _delimited(text, ",") else Sniffed("csv")
    if suffix in ("md", "markdown"):
        return Sniffed("md")
    if suffix == "json" or stripped[:1] in ("[", "{"):
        return Sniffed("txt", detail="json")  # text; the checks read the table it may hold (text_tables)
    if suffix in ("csv", "tsv") and _delimited(text, "\t"):
        return Sniffed("tsv")
    if suffix not in ("csv", "tsv") and (_delimited(text, ",") and suffix != "txt"):
        return Sniffed("csv")
    return Sniffed("txt")


def png_metadata_chunks(data: bytes) -> list[str]:
    return [t.decode("latin-1") for t, _ in _png_chunks(data) if t not in PNG_KEEP_CHUNKS]


def _png_chunks(data: bytes):
    import struct
    import zlib

    if not data.startswith(PNG_MAGIC):
        raise ValueError("not a PNG file")
    pos = len(PNG_MAGIC)
    while pos + 8 <= len(data):
        (length,) = struct.unpack(">I", data[pos:pos + 4])
        ctype = data[pos + 4:pos + 8]
        end = pos + 12 + length
        if end > len(data):
            raise ValueError("truncated PNG chunk")
        chunk = data[pos:end]
        crc = struct.unpack(">I", chunk[-4:])[0]
        if zlib.crc32(chunk[4:-4]) & 0xFFFFFFFF != crc:
            raise ValueError(f"PNG chunk {ctype!r} has a bad checksum")
        yield ctype, chunk
        pos = end
        if ctype == b"IEND":
            return
    raise ValueError("the PNG has no end chunk (truncated or not a PNG)")


def strip_image_metadata(path: Path) -> bytes:
    """The PNG at ``path`` without metadata chunks (text, EXIF, time, private chunks): pixels unchanged.

    Chunks are copied byte for byte rather than re-encoded, so the image is exactly what the checkers saw.
    """
    data = Path(path).read_bytes()
    out = io.BytesIO()
    out.write(PNG_MAGIC)
    for ctype, chunk in _png_chunks(data):
        if ctype in PNG_KEEP_CHUNKS:
            out.write(chunk)
    return out.getvalue()
