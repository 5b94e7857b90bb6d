"""Open-data tables as sets of cells, their protection for the open web, and differencing against
everything the organisation has already published (pure: no I/O; the register is read by
``egress_review.publishing``).

A cell is a set of (dimension, category) pairs and a count of one population (e.g. "Oslo residents
1 January 2026"). A category is a label ("Grefsen") or a numeric range ("90-99", "100+"); a total
("Total", "I alt", "Alle") means the dimension is summed over, so it is dropped from the cell.

Cell A *contains* cell B when every dimension of A is also in B with a category inside A's (B may have
more dimensions): "Grefsen, 90+" contains "Grefsen, 90-99" and "Grefsen, 90-99, women". Whoever has A
and the published cells of a table inside A knows A minus their sum: the people in A those cells leave
out. If that is between 1 and the threshold, the pair isolates a small group. Only cells that are
actually published count (a suppressed cell is not known outside), and true counts are compared (the
noise of cell-key perturbation is too small to rely on).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import functools
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from egress_review.checks.differencing import _as_range as _parse_range

TOTAL_LABELS = frozenset({"total", "totalt", "i alt", "alle", "all", "sum", "alle aldre", "all ages", "begge kjønn",
                          "both sexes", "hele oslo"})

Coords = tuple[tuple[str, str], ...]


@functools.lru_cache(maxsize=100_000)
def _as_range(label: str) -> tuple[float, float] | None:
    # "90-99", "100+", "under 18", "67": the same parser as the release differencing check
    return _parse_range(label) if " / " not in label else None


def canonical(coords: Mapping[str, object] | Iterable[tuple[str, object]]) -> Coords:
    """Sorted (dimension, category) pairs with blanks trimmed and totals dropped: the cell's identity."""
    items = coords.items() if isinstance(coords, Mapping) else coords
    out = []
    for dim, value in items:
        label = " ".join(str(value).split())
        if label.casefold() not in TOTAL_LABELS:
            out.append((str(dim).strip(), label))
    return tuple(sorted(out))


def population_key(population: str) -> str:
    """The identity of a population label: blanks and case do not make another population (the register
    and the noise would otherwise treat "oslo residents 2026" as new, with nothing to compare and fresh noise)."""
    return unicodedata.normalize("NFKC", " ".join(str(population).split())).casefold()


@functools.lru_cache(maxsize=100_000)
def identity(coords: Coords) -> Coords:
    """A cell's identity for differencing and noise: the case of a dimension or label does not make
    another cell ("Grefsen" and "GREFSEN" are one group of people)."""
    def fold(text: str) -> str:  # "Kjelsås" typed with a combining ring is the same place
        return unicodedata.normalize("NFKC", text).casefold()

    return tuple(sorted((fold(d), fold(v)) for d, v in coords))


def coords_key(coords: Coords) -> str:
    return json.dumps([list(p) for p in coords], ensure_ascii=False, separators=(",", ":"))


def coords_from_key(key: str) -> Coords:
    return tuple((str(d), str(v)) for d, v in json.loads(key))


def describe(coords: Coords) -> str:
    return ", ".join(f"{d}={v}" for d, v in coords) or "everyone"


@dataclass(frozen=True)
class Cell:
    coords: Coords
    count: int  # the true count; never published as such


@dataclass(frozen=True)
class PublishedCell:
    coords: Coords
    count: int
    value: int | None  # what the public sees; None: suppressed


@dataclass(frozen=True)
class PublishedTable:
    name: str
    cells: tuple[PublishedCell, ...]


# _inside, _overlap, contains and disjoint compare identities (see :func:`identity`)
def _inside(inner: str, outer: str) -> bool:
    if inner == outer:
        return True
    a, b = _as_range(inner), _as_range(outer)
    return a is not None and b is not None and b[0] <= a[0] and a[1] <= b[1]


def _overlap(a: str, b: str) -> bool:
    if a == b:
        return True
    ra, rb = _as_range(a), _as_range(b)
    return ra is not None and rb is not None and ra[0] <= rb[1] and rb[0] <= ra[1]


def contains(outer: Coords, inner: Coords) -> bool:
    """``outer`` strictly contains ``inner`` (see the module docstring)."""
    outer, inner = identity(outer), identity(inner)
    if outer == inner:
        return False
    got = dict(inner)
    return all(d in got and _inside(got[d], v) for d, v in outer)


def disjoint(a: Coords, b: Coords) -> bool:
    a, b = identity(a), identity(b)
    other = dict(b)
    return any(d in other and not _overlap(v, other[d]) for d, v in a)


# --- protection -------------------------------------------------------------------------------------

def cell_key_noise(secret: bytes, population: str, coords: Coords, count: int, max_noise: int) -> int:
    """Noise in ``-max_noise..max_noise`` picked by an HMAC of the cell's identity and true count under the
    TRE's secret: the same cell of the same population gets the same noise in every table and every
    republication, so averaging republications learns nothing; the table's name plays no part."""
    msg = "\x1f".join((population_key(population), coords_key(identity(coords)), str(int(count)))).encode()
    digest = hmac.new(secret, msg, hashlib.sha256).digest()
    return int.from_bytes(digest[:8], "big") % (2 * max_noise + 1) - max_noise


def round_to(count: int, base: int) -> int:
    return int((count + base // 2) // base * base)


def protect(cells: Iterable[Cell], *, population: str, threshold: int, method: str, secret: bytes,
            max_noise: int = 2, base: int = 5) -> list[PublishedCell]:
    """Suppress counts 1..threshold-1; perturb (``cell_key``) or round (``rounding``) the others. Zeros stay zero."""
    out = []
    for c in cells:
        n = int(c.count)
        if n == 0:
            value: int | None = 0
        elif n < threshold:
            value = None
        elif method == "rounding":
            value = round_to(n, base)
        else:
            value = max(0, n + cell_key_noise(secret, population, c.coords, n, max_noise))
        out.append(PublishedCell(c.coords, n, value))
    return out


# --- differencing -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Isolation:
    """``outer`` (of table ``outer_table``) minus the published cells ``inner`` of table ``inner_table``
    leaves ``residual`` people: fewer than the threshold but not none."""

    outer_table: str
    outer: Coords
    inner_table: str
    inner: tuple[Coords, ...]
    residual: int

    def explain(self) -> str:
        parts = " + ".join(f"[{describe(c)}]" for c in self.inner[:4]) + (" + ..." if len(self.inner) > 4 else "")
        return (f"{self.outer_table} [{describe(self.outer)}] minus {self.inner_table} {parts} "
                f"isolates {self.residual} people")


class _Index:
    """A table's published cells by their label categories, so a cell is compared only with the cells that
    share its rarest label (a sub-district's cells, not all of Oslo's)."""

    def __init__(self, table: PublishedTable) -> None:
        self.table = table
        self.published = [c for c in table.cells if c.value is not None]
        self.by_label: dict[tuple[str, str], list[PublishedCell]] = {}
        for c in self.published:
            for d, v in identity(c.coords):
                if _as_range(v) is None:
                    self.by_label.setdefault((d, v), []).append(c)

    def candidates(self, outer: Coords) -> list[PublishedCell]:
        # every cell inside ``outer`` carries each of its labels: the shortest list is enough
        lists = [self.by_label.get((d, v), []) for d, v in identity(outer) if _as_range(v) is None]
        return min(lists, key=len) if lists else self.published


def _residuals(outer_name: str, outer: PublishedCell, inner: _Index, threshold: int) -> list[Isolation]:
    if outer.value is None:
        return []
    inside = [c for c in inner.candidates(outer.coords) if contains(outer.coords, c.coords)]
    found = []

    def small(cells: list[PublishedCell]) -> None:
        rest = outer.count - sum(c.count for c in cells)
        if 0 < rest < threshold:
            found.append(Isolation(outer_name, outer.coords, inner.table.name, tuple(c.coords for c in cells), rest))

    # Cells of one table with the same dimensions and no overlap partition part of ``outer``: their sum
    # leaves the smallest rest (leaving out a published cell adds 0 or at least the threshold). Cells that
    # overlap (a table with "90+" and "95+") are subtracted one at a time.
    groups: dict[tuple[str, ...], list[PublishedCell]] = {}
    for c in inside:
        groups.setdefault(tuple(d for d, _ in identity(c.coords)), []).append(c)
    for group in groups.values():
        if all(disjoint(a.coords, b.coords) for i, a in enumerate(group) for b in group[i + 1:]):
            small(group)
        else:
            for c in group:
                small([c])
    return found


def _across_tables(outer_name: str, outer: PublishedCell, union: _Index, new_cells: set[Coords],
                   threshold: int) -> list[Isolation]:
    """``outer`` minus published cells of *several* tables ("90+" minus one table's "90-94" and another's
    "95-99"): inside ``outer``, the register's cells of one set of dimensions that do not overlap, the
    largest first; counted only when the new table takes part (as ``outer`` or among the cells)."""
    if outer.value is None:
        return []
    groups: dict[tuple[str, ...], list[PublishedCell]] = {}
    for c in union.candidates(outer.coords):
        if contains(outer.coords, c.coords):
            groups.setdefault(tuple(d for d, _ in identity(c.coords)), []).append(c)
    found = []
    for group in groups.values():
        chosen: list[PublishedCell] = []
        for c in sorted(group, key=lambda c: -c.count):
            if all(disjoint(c.coords, d.coords) for d in chosen):
                chosen.append(c)
        involved = identity(outer.coords) in new_cells or any(identity(c.coords) in new_cells for c in chosen)
        rest = outer.count - sum(c.count for c in chosen)
        if involved and 0 < rest < threshold:
            found.append(Isolation(outer_name, outer.coords, "the register", tuple(c.coords for c in chosen), rest))
    return found


@dataclass
class DifferencingReport:
    isolations: list[Isolation] = field(default_factory=list)
    compared_tables: int = 0


def find_isolations(new: PublishedTable, register: Iterable[PublishedTable], threshold: int,
                    max_findings: int = 200) -> DifferencingReport:
    """Every way ``new`` together with one already published table (or with itself: margins against its
    own cells), or with the cells of several (:func:`_across_tables`), isolates a small group. Combinations
    of old tables alone were checked when the latest of them was published."""
    report = DifferencingReport()
    seen: set[tuple] = set()
    register = list(register)
    new_index = _Index(new)

    def add(isos: list[Isolation]) -> None:
        for iso in isos:
            # the same cells found by the pair and by the several-tables pass are one finding
            key = (iso.outer_table, iso.outer, frozenset(identity(c) for c in iso.inner))
            if key not in seen and len(report.isolations) < max_findings:
                seen.add(key)
                report.isolations.append(iso)

    for old in [new, *register]:
        report.compared_tables += old is not new
        pairs = [(new, new_index)] if old is new else [(new, _Index(old)), (old, new_index)]
        for outer_t, inner in pairs:
            for outer in outer_t.cells:
                add(_residuals(outer_t.name, outer, inner, threshold))
    if register:
        # several tables at once: the published cells of the register and the new table, each cell once
        cells: dict[Coords, PublishedCell] = {}
        for t in (new, *register):
            for c in t.cells:
                cells.setdefault(identity(c.coords), c)
        union = _Index(PublishedTable("the register", tuple(cells.values())))
        new_cells = {identity(c.coords) for c in new.cells if c.value is not None}
        for outer_t in (new, *register):
            for outer in outer_t.cells:
                # an old cell matters only if a new cell lies inside it
                if outer_t is not new and not any(contains(outer.coords, c.coords)
                                                  for c in new_index.candidates(outer.coords)):
                    continue
                add(_across_tables(outer_t.name, outer, union, new_cells, threshold))
    return report
