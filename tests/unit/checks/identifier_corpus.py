"""Safe tables and planted identifiers from the synthetic sick-leave data, for measuring the identifier
scan's precision and recall (tests/unit/checks/test_identifier_precision.py, bench/bench_identifiers.py).

Safe tables are what researchers export: counts by unit, gender, service area, job title, post town,
start date, month, year range, time of day, postcode; some cells suppressed. Planted tables are safe
tables with one direct identifier written into one cell, in the ways it is written in practice.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import pandas as pd

from provisioning.synth.generate import STAFF_ROLES, generate
from provisioning.synth.organisation import NEIGHBOURHOODS


@dataclass(frozen=True)
class Corpus:
    identifier_values: frozenset[str]  # what provisioning.api.identifier_values returns for the project
    quasi_values: frozenset[str]  # what provisioning.api.quasi_identifier_values returns
    staff: pd.DataFrame


@lru_cache(maxsize=2)
def corpus(employees: int = 1500, seed: int = 2026) -> Corpus:
    data = generate(employees=employees, seed=seed)
    staff = data.staff
    direct = {c for c, r in STAFF_ROLES.items() if r == "direct_identifier"}
    quasi = {c for c, r in STAFF_ROLES.items() if r == "quasi_identifier"}
    values = lambda cols: frozenset(str(v) for c in cols for v in staff[c].dropna().unique())  # noqa: E731
    return Corpus(values(direct), values(quasi), staff)


def _date_label(rng: np.random.Generator) -> str:
    day = pd.Timestamp("2019-01-01") + pd.Timedelta(days=int(rng.integers(0, 7 * 365)))
    fmt = rng.choice(["%Y-%m-%d", "%d.%m.%Y", "%Y%m%d", "%Y-%m", "%d/%m/%Y", "%Y-%m-%d %H:%M"])
    return day.strftime(str(fmt))


def _label(kind: str, rng: np.random.Generator, staff: pd.DataFrame) -> str:
    pick = lambda col: str(staff[col].iloc[int(rng.integers(0, len(staff)))])  # noqa: E731
    if kind == "date":
        return _date_label(rng)
    if kind == "year_range":
        a = int(rng.integers(2010, 2024))
        return f"{a}{rng.choice(['-', '–', ' - '])}{a + int(rng.integers(1, 7))}"
    if kind == "time":
        h = int(rng.integers(0, 23))
        return f"{h:02d}:{int(rng.choice([0, 15, 30, 45])):02d}" + (f"-{h + 1:02d}:00" if rng.random() < 0.5 else "")
    if kind == "postcode":
        return pick("postcode") + (" " + pick("post_town") if rng.random() < 0.5 else "")
    if kind == "neighbourhood":  # the place a unit is named after: Berg, Lade, Moholt (some are surnames)
        return str(rng.choice(NEIGHBOURHOODS))
    if kind == "postcode_count":  # a postcode and a count written in one cell
        return f"{pick('postcode')} {int(rng.integers(10, 9999))}"
    return pick(kind)


LABEL_KINDS = ("unit", "neighbourhood", "service_area", "council_area", "job_title", "post_town", "gender", "date", "year_range",
               "time", "postcode", "postcode_count")


def safe_table(rng: np.random.Generator, c: Corpus) -> list[list[str]]:
    """A header and rows of strings: labels from the quasi-identifier columns or dates, counts, blanks."""
    kind = str(rng.choice(LABEL_KINDS))
    second = str(rng.choice(["gender", "service_area", "year_range", "date", "none"]))
    n_rows = int(rng.integers(3, 25))
    labels = list(dict.fromkeys(_label(kind, rng, c.staff) for _ in range(n_rows)))
    if second == "none":
        cols = ["count"]
    else:
        cols = list(dict.fromkeys(_label(second, rng, c.staff) for _ in range(int(rng.integers(2, 5)))))
    rows = [[kind] + cols + ["Total"]]
    for lab in labels:
        counts = rng.integers(0, 400, len(cols))
        cells = ["" if x < 10 else str(x) for x in counts]  # suppressed cells stay blank
        rows.append([lab] + cells + [str(int(counts.sum()))])
    return rows


def _phone(rng: np.random.Generator) -> str:
    d = str(int(rng.integers(2, 10))) + "".join(str(x) for x in rng.integers(0, 10, 7))
    return str(rng.choice([d, f"{d[:2]} {d[2:4]} {d[4:6]} {d[6:]}", f"{d[:3]} {d[3:5]} {d[5:]}",
                           f"+47 {d[:2]} {d[2:4]} {d[4:6]} {d[6:]}", f"+47{d}", f"0047 {d[:3]} {d[3:5]} {d[5:]}"]))


PLANT_KINDS = ("national_id", "national_id_spaced", "email", "phone", "full_name", "full_name_in_text", "address",
               "surname_cell", "first_name_cell")


def planted(rng: np.random.Generator, c: Corpus, ignore: set[str]) -> tuple[list[list[str]], str, str]:
    """A safe table with one identifier in one cell: (table, plant kind, planted text).

    Name words that are also quasi-identifier words (``ignore``: a surname that is a place) are not
    planted alone: alone they are not identifying, and the scan deliberately lets them pass."""
    rows = safe_table(rng, c)
    person = c.staff.iloc[int(rng.integers(0, len(c.staff)))]
    kind = str(rng.choice(PLANT_KINDS))
    first, last = str(person.first_name), str(person.last_name)
    if kind in ("surname_cell", "first_name_cell"):
        pool = [str(v) for v in c.staff["last_name" if kind == "surname_cell" else "first_name"].unique()
                if len(str(v)) >= 4 and str(v).casefold() not in ignore]
        text = pool[int(rng.integers(0, len(pool)))]
    else:
        text = {
            "national_id": str(person.national_id),
            "national_id_spaced": f"{person.national_id[:6]} {person.national_id[6:]}",
            "email": f"{first}.{last}@trondheim.kommune.no".lower().replace("ø", "o").replace("å", "a"),
            "phone": _phone(rng),
            "full_name": f"{first} {last}",
            "full_name_in_text": f"case of {first} {last} (see note)",
            "address": str(person.address),
        }[kind]
    i = int(rng.integers(1, len(rows)))
    j = int(rng.integers(0, len(rows[0])))
    rows[i][j] = text
    return rows, kind, text


def as_csv(rows: list[list[str]]) -> str:
    import csv
    import io

    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows(rows)
    return buf.getvalue()


def as_text(rows: list[list[str]]) -> str:
    """The table printed as text (what df.to_string() or a report gives): cells padded with spaces."""
    width = [max(len(r[j]) for r in rows) for j in range(len(rows[0]))]
    return "\n".join("  ".join(cell.ljust(w) for cell, w in zip(r, width)).rstrip() for r in rows)
