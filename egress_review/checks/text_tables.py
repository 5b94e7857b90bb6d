"""The table inside a text output: a CSV renamed ``.txt``, a printed DataFrame, a Markdown table, JSON
records. Text outputs get the same table checks (record-level, thresholds) as table files: a renamed
extract must not pass because of its name."""

from __future__ import annotations

import csv
import io
import json
import re
from collections import Counter

import pandas as pd

_MD_RULE = re.compile(r"^\s*\|?\s*:?-{3,}:?\s*(\|\s*:?-{3,}:?\s*)*\|?\s*$")
_MIN_LINES = 3
_MAX_JSON_BYTES = 50_000_000


def _frame(rows: list[list[str]]) -> pd.DataFrame | None:
    """The rows with the most common number of fields (>= 2) as a frame, when they are most lines."""
    if len(rows) < _MIN_LINES:
        return None
    counts = Counter(len(r) for r in rows)
    width, n = counts.most_common(1)[0]
    if width < 2 or n < _MIN_LINES or n < 0.8 * len(rows):
        return None
    body = [r for r in rows if len(r) == width]
    header = [str(x).strip() for x in body[0]]
    header = [h if h else f"column {i + 1}" for i, h in enumerate(header)]
    header = [h if header.index(h) == i else f"{h} ({i + 1})" for i, h in enumerate(header)]
    return pd.DataFrame([[str(x).strip() for x in r] for r in body[1:]], columns=header, dtype=str)


_PAIR = re.compile(r"([A-Za-z_][\w.-]{0,63})\s*[=:]\s*(\"[^\"]*\"|'[^']*'|[^\s,;]+)")


def _key_value_frame(lines: list[str]) -> pd.DataFrame | None:
    """One record per line as ``key=value`` (or ``key: value``) pairs, the same keys on most lines: a
    log-style dump of rows is a table too."""
    records = []
    for ln in lines:
        pairs = _PAIR.findall(ln)
        if len(pairs) >= 2:
            records.append({k: v.strip("\"'") for k, v in pairs})
    if len(records) < _MIN_LINES or len(records) < 0.8 * len(lines):
        return None
    keys, n = Counter(tuple(r) for r in records).most_common(1)[0]
    if n < 0.8 * len(records):
        return None
    return _frame([list(keys)] + [[r[k] for k in keys] for r in records if tuple(r) == keys])


# A run of base64 or hex this long is data no checker can read, not prose, a table or a hash; so are
# consecutive lines of it (base64 wrapped at 64 or 76 characters).
_ENCODED_MIN = 256
_ENCODED = re.compile(r"[A-Za-z0-9+/=_-]{%d,}" % _ENCODED_MIN)
_ENCODED_LINE = re.compile(r"[A-Za-z0-9+/=_-]{40,}")


def encoded_runs(text: str) -> int:
    """Characters of the text in long base64/hex-like runs (an encoded file hidden in a text output)."""
    total = sum(len(m.group(0)) for m in _ENCODED.finditer(text))
    run = 0
    for ln in [*text.splitlines(), ""]:
        ln = ln.strip()
        if _ENCODED_LINE.fullmatch(ln) and len(ln) < _ENCODED_MIN:
            run += len(ln)
            continue
        if run >= _ENCODED_MIN:
            total += run
        run = 0
    return total


def _json_frame(doc: object) -> pd.DataFrame | None:
    try:
        if isinstance(doc, dict) and isinstance(doc.get("data"), list) and isinstance(doc.get("columns"), list):
            frame = pd.DataFrame(doc["data"], columns=doc["columns"])  # pandas orient="split"
        elif isinstance(doc, list) and doc and all(isinstance(x, dict) for x in doc):
            frame = pd.DataFrame(doc)  # records
        elif isinstance(doc, list) and len(doc) > 1 and all(isinstance(x, list) for x in doc):
            frame = pd.DataFrame(doc[1:], columns=[str(c) for c in doc[0]])
        elif isinstance(doc, dict) and doc and all(isinstance(v, (list, dict)) for v in doc.values()):
            frame = pd.DataFrame(doc)  # columns of lists, or pandas orient="columns"/"index"
        else:
            return None
    except (ValueError, TypeError):
        return None
    if frame.empty or frame.shape[1] < 1:
        return None
    if not isinstance(frame.index, pd.RangeIndex):
        frame = frame.reset_index()
    frame.columns = [str(c) for c in frame.columns]
    return frame.astype(str).where(frame.notna(), "")


def table_in_text(text: str) -> pd.DataFrame | None:
    """The table a text output holds, as strings with the first row as header; None if it holds none."""
    stripped = text.lstrip("\ufeff \t\r\n")
    if stripped[:1] in ("[", "{") and len(text) <= _MAX_JSON_BYTES:
        try:
            frame = _json_frame(json.loads(stripped))
        except ValueError:
            frame = None
        if frame is not None:
            return frame
    lines = [ln for ln in text.splitlines() if ln.strip()]
    if len(lines) < _MIN_LINES:
        return None
    piped = [ln for ln in lines if ln.lstrip().startswith("|")]
    if len(piped) >= _MIN_LINES:  # a Markdown table
        rows = [[c for c in ln.strip().strip("|").split("|")] for ln in piped if not _MD_RULE.match(ln)]
        frame = _frame(rows)
        if frame is not None:
            return frame
    for sep in (",", ";", "\t", "|"):
        if sum(sep in ln for ln in lines) >= 0.8 * len(lines):
            frame = _frame(list(csv.reader(io.StringIO("\n".join(lines)), delimiter=sep)))
            if frame is not None:
                return frame
    frame = _key_value_frame(lines)
    if frame is not None:
        return frame
    # a printed table (DataFrame.to_string, a report): columns padded with two or more spaces; the
    # header of a printed DataFrame lacks the index column
    rows = [re.split(r"\s{2,}", ln.strip()) for ln in lines]
    width = Counter(len(r) for r in rows[1:]).most_common(1)[0][0] if len(rows) > 1 else 0
    if width >= 2 and len(rows[0]) not in (width, width - 1):
        rows[0] = lines[0].split()  # short headers may be one space apart
    if width >= 2 and len(rows[0]) == width - 1:
        rows[0] = [""] + rows[0]
    frame = _frame(rows)
    if frame is not None:
        return frame
    # fields one space apart ("PSN1 Grefsen F32 3"): only where every line has the same number of them,
    # which prose lines hardly ever do
    single = [ln.split() for ln in lines]
    if len({len(r) for r in single}) == 1:
        return _frame(single)
    return None
