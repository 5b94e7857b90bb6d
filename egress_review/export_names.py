"""File names for exported results: readable names from the call that made the table
(``crosstab_unit_gender.csv``), and the checks a name given by the researcher must pass.

Standard library only: the researcher client uses it in the notebook image, where nothing but
pandas (and what the client itself needs) may be assumed.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

MAX_STEM = 80
_NOT_WORD = re.compile(r"[^\w.-]+")
_DEFAULT_SUFFIX = ".csv"
TABLE_SUFFIXES = (".csv", ".tsv", ".xlsx", ".parquet")


def slug(text: object) -> str:
    """``text`` as a file-name part: word characters (æ, ø, å kept), dots and dashes; the rest becomes ``_``."""
    out = _NOT_WORD.sub("_", unicodedata.normalize("NFC", str(text)).strip().lower()).strip("_.")
    return re.sub(r"_+", "_", out)


def call_name(command: str, *parts: Iterable[object] | object) -> str:
    """``crosstab_unit_gender`` from ``call_name("crosstab", ["unit"], ["gender"])``: the command, then
    the names of its variables in the order they were given; unnamed ones are left out."""
    words = [slug(command)]
    for part in parts:
        items = part if isinstance(part, (list, tuple)) else [part]
        words += [s for s in (slug(x) for x in items if x is not None and str(x) != "") if s]
    return "_".join(words)[:MAX_STEM].rstrip("_")


def check_name(name: str) -> str:
    """A name the researcher gave: a plain file name, no folders, not hidden; returned stripped."""
    name = str(name).strip()
    if not name or name in (".", "..") or name.startswith(".") or "/" in name or "\\" in name or "\x00" in name:
        raise ValueError(f"{name!r} is not a plain file name (no folders, not starting with a dot)")
    return name


def table_file_name(name: str) -> str:
    """``name`` with a table suffix: one of :data:`TABLE_SUFFIXES` is kept, anything else gets ``.csv``."""
    name = check_name(name)
    return name if name.lower().endswith(TABLE_SUFFIXES) else name + _DEFAULT_SUFFIX


def unique(names: Iterable[str]) -> list[str]:
    """The names in order, the second ``x.csv`` becoming ``x_2.csv`` (names compare case-insensitively)."""
    seen: set[str] = set()
    out = []
    for name in names:
        stem, dot, suffix = name.rpartition(".") if "." in name else (name, "", "")
        candidate, n = name, 1
        while candidate.lower() in seen:
            n += 1
            candidate = f"{stem}_{n}{dot}{suffix}" if dot else f"{name}_{n}"
        seen.add(candidate.lower())
        out.append(candidate)
    return out
