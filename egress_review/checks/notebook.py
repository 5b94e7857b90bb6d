"""A notebook's cell outputs, one by one: text, HTML tables (as pandas renders DataFrames), images."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path

import pandas as pd

from egress_review.checks.tables import _frame_from_strings

TEXT_MIME = ("text/plain", "text/markdown", "text/latex")
IMAGE_MIME = ("image/png", "image/jpeg", "image/svg+xml")


@dataclass
class Output:
    where: str  # "cell 3, output 1"
    kind: str  # text | table | image | unsupported
    text: str = ""
    table: pd.DataFrame | None = None


class _TableParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tables: list[list[list[str]]] = []
        self._row: list[str] | None = None
        self._cell: list[str] | None = None
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag == "table":
            self.tables.append([])
        elif tag == "tr" and self.tables:
            self._row = []
        elif tag in ("td", "th") and self._row is not None:
            self._cell = []

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None and self._row is not None:
            self._row.append("".join(self._cell).strip())
            self._cell = None
        elif tag == "tr" and self._row is not None and self.tables:
            self.tables[-1].append(self._row)
            self._row = None

    def handle_data(self, data):
        self.text.append(data)
        if self._cell is not None:
            self._cell.append(data)


def html_tables(html: str) -> tuple[list[pd.DataFrame], str]:
    parser = _TableParser()
    parser.feed(html)
    frames = []
    for rows in parser.tables:
        rows = [r for r in rows if r]
        if len(rows) < 2:
            continue
        width = max(len(r) for r in rows)
        rows = [r + [""] * (width - len(r)) for r in rows]
        header, body = rows[0], rows[1:]
        # pandas puts the index name on its own row (first cell filled, the rest empty): drop it
        body = [r for r in body if any(c for c in r[1:])]
        raw = pd.DataFrame(body, columns=[h or f"column {i}" for i, h in enumerate(header)]).astype(str)
        if raw.columns.duplicated().any():
            raw.columns = [f"{c} ({i})" for i, c in enumerate(raw.columns)]
        frames.append(_frame_from_strings(raw, None))
    return frames, " ".join(parser.text)


def _join(x) -> str:
    return "".join(x) if isinstance(x, list) else str(x)


def _hidden(where: str, value: object) -> Iterator[Output]:
    """Metadata is in the file but in no view a checker reads: checked as text all the same."""
    leaves: list[str] = []
    stack = [value]
    while stack:  # every string in it, its own line breaks kept (a CSV in a string is still rows)
        x = stack.pop()
        if isinstance(x, dict):
            stack.extend(x.values())
        elif isinstance(x, list):
            stack.extend(x)
        elif x is not None:
            leaves.append(str(x))
    if leaves:
        yield Output(where, "text", "\n".join(reversed(leaves)))


def _attachments(where: str, attachments: object) -> Iterator[Output]:
    """Images pasted into a Markdown cell are images; anything else attached cannot be checked."""
    if not isinstance(attachments, dict):
        return
    for name, bundle in attachments.items():
        mimes = list(bundle) if isinstance(bundle, dict) else []
        if mimes and all(m in IMAGE_MIME for m in mimes):
            yield Output(f"{where} attachment {name}", "image", mimes[0])
        else:
            yield Output(f"{where} attachment {name}", "unsupported", ", ".join(mimes) or "unknown")


def notebook_outputs(path: Path) -> Iterator[Output]:
    nb = json.loads(Path(path).read_text(encoding="utf-8"))
    yield from _hidden("notebook metadata", nb.get("metadata"))
    for ci, cell in enumerate(nb.get("cells", []), start=1):
        yield Output(f"cell {ci} source", "text", _join(cell.get("source", "")))
        yield from _hidden(f"cell {ci} metadata", cell.get("metadata"))
        yield from _attachments(f"cell {ci}", cell.get("attachments"))
        for oi, output in enumerate(cell.get("outputs", []) or [], start=1):
            where = f"cell {ci}, output {oi}"
            otype = output.get("output_type")
            yield from _hidden(f"{where} metadata", output.get("metadata"))
            if otype == "stream":
                yield Output(where, "text", _join(output.get("text", "")))
                continue
            if otype == "error":
                yield Output(where, "text", "\n".join(output.get("traceback", [])) + _join(output.get("evalue", "")))
                continue
            data = output.get("data", {}) or {}
            handled = False
            if "text/html" in data:
                frames, text = html_tables(_join(data["text/html"]))
                for frame in frames:
                    yield Output(where, "table", table=frame)
                yield Output(where, "text", text)
                handled = True
            for mime in TEXT_MIME:
                if mime in data and not (handled and mime == "text/plain"):
                    yield Output(where, "text", _join(data[mime]))
                    handled = True
            for mime in IMAGE_MIME:
                if mime in data:
                    yield Output(where, "image", mime)
                    handled = True
            others = [m for m in data if m not in TEXT_MIME + IMAGE_MIME + ("text/html",)]
            if others and not handled:
                yield Output(where, "unsupported", ", ".join(others))
