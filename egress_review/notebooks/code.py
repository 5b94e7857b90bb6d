"""A notebook's code, read as data (pure: bytes in, values out; nothing of it is ever run here).

The checkers' "View code" shows the code cells (their text, escaped by the template) and only the
*number* of outputs each cell had: outputs can hold HTML and script, and rows of data. A re-execution
gets :func:`code_only`: the cells without outputs or metadata, so the container's input is small and
carries nothing from the earlier run."""

from __future__ import annotations

import json
from dataclasses import dataclass

MAX_CELLS = 2000


class NotNotebook(ValueError):
    pass


@dataclass(frozen=True)
class CodeCell:
    number: int  # position among the notebook's cells, from 1
    kind: str  # code | markdown | raw
    source: str
    execution_count: int | None
    outputs: int


def _source(cell: dict) -> str:
    src = cell.get("source", "")
    if isinstance(src, list):
        return "".join(x for x in src if isinstance(x, str))
    return src if isinstance(src, str) else ""


# Characters that make code read otherwise than it runs ("Trojan Source": bidirectional overrides that
# reorder a line, zero-width characters that join or hide): shown to the checkers as visible marks.
_HIDDEN = {c: f"\u27e8U+{c:04X}\u27e9" for c in (
    0x061C, 0x200B, 0x200C, 0x200D, 0x200E, 0x200F, 0x202A, 0x202B, 0x202C, 0x202D, 0x202E,
    0x2060, 0x2066, 0x2067, 0x2068, 0x2069, 0xFEFF)}


def _load(data: bytes) -> dict:
    try:
        nb = json.loads(data.decode("utf-8-sig"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise NotNotebook(f"not a notebook: {exc}") from None
    if not isinstance(nb, dict) or not isinstance(nb.get("cells"), list):
        raise NotNotebook("not a notebook: no cells")
    # the checkers' view and the re-run take the same cells: none may run that the view leaves out
    if len(nb["cells"]) > MAX_CELLS:
        raise NotNotebook(f"the notebook has {len(nb['cells'])} cells, more than {MAX_CELLS}")
    return nb


def cells(data: bytes) -> list[CodeCell]:
    """The notebook's cells in order (code and Markdown as text; outputs only counted)."""
    out = []
    for i, cell in enumerate(_load(data)["cells"], 1):
        if not isinstance(cell, dict):
            continue
        kind = str(cell.get("cell_type", ""))
        if kind not in ("code", "markdown", "raw"):
            continue
        count = cell.get("execution_count")
        outputs = cell.get("outputs")
        out.append(CodeCell(i, kind, _source(cell).translate(_HIDDEN), count if isinstance(count, int) else None,
                            len(outputs) if isinstance(outputs, list) else 0))
    return out


def code_only(data: bytes) -> bytes:
    """The notebook (nbformat 4) with its code cells and nothing else: no outputs, attachments or metadata."""
    nb = _load(data)
    kept = [{"cell_type": "code", "metadata": {}, "execution_count": None, "outputs": [], "source": _source(c)}
            for c in nb["cells"] if isinstance(c, dict) and c.get("cell_type") == "code"]
    slim = {"nbformat": 4, "nbformat_minor": 5, "cells": kept,
            "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}}}
    for i, cell in enumerate(slim["cells"]):
        cell["id"] = f"cell-{i}"
    return json.dumps(slim, ensure_ascii=False).encode("utf-8")
