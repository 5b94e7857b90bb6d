"""Generate the synthetic staff register and sick-leave episodes, vectorised with numpy so that
millions of episodes take seconds. Same seed and size, same data."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from provisioning.synth import fnr, people
from provisioning.synth.organisation import HOTSPOTS, SERVICE_AREAS, units

# Column roles, used when the files are registered as datasets (see provisioning.demo).
STAFF_ROLES: dict[str, str] = {
    "national_id": "direct_identifier",
    "first_name": "direct_identifier",
    "last_name": "direct_identifier",
    "address": "direct_identifier",
    "postcode": "quasi_identifier",
    "post_town": "quasi_identifier",
    "birth_date": "quasi_identifier",
    "gender": "quasi_identifier",
    "council_area": "quasi_identifier",
    "service_area": "quasi_identifier",
    "unit": "quasi_identifier",
    "job_title": "quasi_identifier",
    "employment_pct": "quasi_identifier",
    "employed_from": "other",
    "contracted_days": "other",
}
SICK_LEAVE_ROLES: dict[str, str] = {
    **{k: v for k, v in STAFF_ROLES.items() if k not in ("employed_from", "contracted_days", "post_town")},
    "start_date": "other",
    "end_date": "other",
    "days": "other",
    "certification": "other",
    "diagnosis_group": "sensitive",
}

_PART_TIME = np.array([100, 80, 75, 60, 50, 40, 20])
_PART_TIME_P_CARE = np.array([0.36, 0.18, 0.12, 0.12, 0.12, 0.06, 0.04])
_PART_TIME_P_OTHER = np.array([0.72, 0.10, 0.05, 0.05, 0.04, 0.02, 0.02])
_SHORT_DOCTOR = (4, 17)  # doctor-certified episodes: 70 % short ...
_LONG_DOCTOR_LOG = (3.6, 0.75)  # ... 30 % long (log-normal, median ~37 days)
_MEAN_DOCTOR_DAYS = 21.0  # expected length of a doctor-certified episode after clipping (calibrated)
_SELF_PER_YEAR = 1.3
_SELF_DAYS = (np.array([1, 2, 3]), np.array([0.45, 0.30, 0.25]))


@dataclass
class SickLeaveData:
    staff: pd.DataFrame
    sick_leave: pd.DataFrame
    units: pd.DataFrame  # one row per unit: areas, employees, target rate

    def sick_leave_rate(self, by: str | None = None) -> pd.Series | float:
        """Share of contracted days lost (days weighted by employment percentage), as Statistics Norway defines it."""
        years = self.sick_leave["start_date"].dt.year.nunique() or 1
        lost = self.sick_leave.assign(w=self.sick_leave["days"] * self.sick_leave["employment_pct"] / 100)
        if by is None:
            return float(lost["w"].sum() / (self.staff["contracted_days"].sum() * years))
        num = lost.groupby(by, observed=True)["w"].sum()
        den = self.staff.groupby(by, observed=True)["contracted_days"].sum() * years
        return (num.reindex(den.index, fill_value=0) / den).rename("sick_leave_rate")


def _cat(values: np.ndarray, categories) -> pd.Categorical:  # noqa: ANN001
    return pd.Categorical.from_codes(values, categories=list(categories))


def generate(employees: int = 15000, seed: int = 2026, years: int = 1, first_year: int = 2025) -> SickLeaveData:
    if employees < 1 or years < 1:
        raise ValueError("employees and years must be at least 1")
    rng = np.random.default_rng(seed)
    unit_list = units()
    n_units = len(unit_list)
    tiny = np.array([u.tiny for u in unit_list])

    # Unit sizes: tiny units 1-4 people, the others share the rest by their typical size.
    sizes = np.zeros(n_units, dtype=np.int64)
    sizes[tiny] = rng.integers(1, 5, tiny.sum()) if employees >= 500 else 0
    weights = np.array([u.service_area.unit_size for u in unit_list], dtype=float) * rng.lognormal(0, 0.35, n_units)
    weights[tiny] = 0
    sizes += rng.multinomial(employees - sizes.sum(), weights / weights.sum())
    unit_of = rng.permutation(np.repeat(np.arange(n_units), sizes))
    n = employees

    sa_index = {s.name: i for i, s in enumerate(SERVICE_AREAS)}
    unit_sa = np.array([sa_index[u.service_area.name] for u in unit_list])
    sa_of = unit_sa[unit_of]
    council_names = sorted({s.council_area for s in SERVICE_AREAS})
    sa_council = np.array([council_names.index(s.council_area) for s in SERVICE_AREAS])

    # Unit sick-leave rates: service-area level with unit variation; hotspots near 20 %.
    unit_rate = np.array([u.service_area.sick_rate for u in unit_list]) * rng.lognormal(0, 0.18, n_units)
    hot = np.array([u.name in HOTSPOTS for u in unit_list])
    unit_rate[hot] = rng.uniform(0.185, 0.21, hot.sum())

    female_share = np.array([s.female_share for s in SERVICE_AREAS])[sa_of]
    female = rng.random(n) < female_share
    age = rng.normal(44, 11, n)
    outside = (age < 19) | (age >= 67)
    # Redraw rather than clip: clipping would pile people onto one birth date and exhaust its numbers.
    age[outside] = rng.uniform(19, 67, outside.sum())
    mid_year = np.datetime64(f"{first_year}-07-01")
    birth = mid_year - (age * 365.25).astype("timedelta64[D]")
    national_id = fnr.generate(birth, female, rng)

    titles = sorted({t for s in SERVICE_AREAS for t, _ in s.titles})
    title_of = np.zeros(n, dtype=np.int64)
    pct_of = np.zeros(n, dtype=np.int64)
    for i, s in enumerate(SERVICE_AREAS):
        idx = np.flatnonzero(sa_of == i)
        names, probs = zip(*s.titles, strict=True)
        p = np.array(probs) / sum(probs)
        title_of[idx] = np.array([titles.index(t) for t in names])[rng.choice(len(names), idx.size, p=p)]
        care = s.council_area in ("Health and care", "Social services") or s.name == "Kindergartens"
        pct_of[idx] = _PART_TIME[rng.choice(len(_PART_TIME), idx.size, p=_PART_TIME_P_CARE if care else _PART_TIME_P_OTHER)]
    managers = np.isin(np.array(titles)[title_of], ["Unit manager", "Head teacher", "Head of kindergarten", "Department leader"])
    pct_of[managers] = 100

    first = np.where(female, rng.integers(0, len(people.FEMALE), n), len(people.FEMALE) + rng.integers(0, len(people.MALE), n))
    last = rng.integers(0, len(people.SURNAMES), n)
    street = rng.integers(0, len(people.STREETS), n)
    house = rng.integers(1, 160, n)
    letter = np.where(rng.random(n) < 0.2, np.array(list("ABCD"))[rng.integers(0, 4, n)], "")
    address = np.char.add(np.char.add(np.char.add(np.array(people.STREETS)[street], " "), house.astype(str)), letter)
    pc_codes = np.array([p[0] for p in people.POSTCODES])
    pc_weights = np.array([p[2] for p in people.POSTCODES], dtype=float)
    post_of = rng.choice(len(pc_codes), n, p=pc_weights / pc_weights.sum())
    tenure = np.minimum(rng.exponential(9, n), age - 18)
    employed_from = mid_year - (tenure * 365.25).astype("timedelta64[D]")

    staff = pd.DataFrame(
        {
            "national_id": national_id,
            "first_name": _cat(first, people.FEMALE + people.MALE),
            "last_name": _cat(last, people.SURNAMES),
            "address": address,
            "postcode": _cat(post_of, pc_codes),
            "post_town": pd.Categorical(np.array([p[1] for p in people.POSTCODES])[post_of]),
            "birth_date": birth.astype("datetime64[s]"),
            "gender": _cat(female.astype(int), ["male", "female"]),
            "council_area": _cat(sa_council[sa_of], council_names),
            "service_area": _cat(sa_of, [s.name for s in SERVICE_AREAS]),
            "unit": _cat(unit_of, [u.name for u in unit_list]),
            "job_title": _cat(title_of, titles),
            "employment_pct": pct_of,
            "employed_from": employed_from.astype("datetime64[s]"),
            "contracted_days": np.round(365 * pct_of / 100, 1),
        }
    )

    episodes = _episodes(rng, unit_rate[unit_of], n, years, first_year)
    person = episodes.pop("person")
    sick_leave = pd.concat(
        [staff.iloc[person][[c for c in SICK_LEAVE_ROLES if c in staff.columns]].reset_index(drop=True), episodes], axis=1
    )
    sick_leave = sick_leave.sort_values(["start_date", "national_id"], kind="stable").reset_index(drop=True)

    unit_table = pd.DataFrame(
        {
            "council_area": [u.council_area for u in unit_list],
            "service_area": [u.service_area.name for u in unit_list],
            "unit": [u.name for u in unit_list],
            "employees": sizes,
            "tiny": tiny,
            "target_rate": np.round(unit_rate, 4),
        }
    )
    return SickLeaveData(staff=staff, sick_leave=sick_leave, units=unit_table)


def _episodes(rng: np.random.Generator, rate: np.ndarray, n: int, years: int, first_year: int) -> pd.DataFrame:
    """Self- and doctor-certified episodes per person and year; each person's expected days lost follow
    their unit's rate times a personal frailty (most people are rarely absent, a few are often)."""
    frailty = rng.gamma(0.6, 1 / 0.6, n)
    parts = []
    for y in range(years):
        year = first_year + y
        start_of_year = np.datetime64(f"{year}-01-01")
        year_days = int((np.datetime64(f"{year + 1}-01-01") - start_of_year).astype(int))
        n_self = rng.poisson(_SELF_PER_YEAR * (0.5 + 0.5 * np.minimum(frailty, 3)))
        doctor_days = np.maximum(rate * year_days * frailty - _SELF_PER_YEAR * 1.8, 0)
        n_doc = rng.poisson(doctor_days / _MEAN_DOCTOR_DAYS)
        for count, doctor in ((n_self, False), (n_doc, True)):
            person = np.repeat(np.arange(n), count)
            m = person.size
            if doctor:
                long = rng.random(m) < 0.3
                days = np.where(
                    long,
                    np.clip(rng.lognormal(*_LONG_DOCTOR_LOG, m), _SHORT_DOCTOR[1], 365).astype(np.int64),
                    rng.integers(*_SHORT_DOCTOR, m),
                )
                diag_names, diag_p = zip(*people.DIAGNOSIS_GROUPS, strict=True)
                diagnosis = rng.choice(len(diag_names), m, p=np.array(diag_p) / sum(diag_p))
            else:
                days = rng.choice(_SELF_DAYS[0], m, p=_SELF_DAYS[1])
                diagnosis = np.full(m, len(people.DIAGNOSIS_GROUPS))
            # More episodes start in winter (respiratory infections).
            doy = np.arange(year_days)
            season = 1 + 0.35 * np.cos(2 * np.pi * (doy - 20) / year_days)
            start_day = rng.choice(year_days, m, p=season / season.sum())
            end_day = np.minimum(start_day + days - 1, year_days - 1)
            parts.append(
                pd.DataFrame(
                    {
                        "person": person,
                        "start_date": (start_of_year + start_day.astype("timedelta64[D]")).astype("datetime64[s]"),
                        "end_date": (start_of_year + end_day.astype("timedelta64[D]")).astype("datetime64[s]"),
                        "days": end_day - start_day + 1,
                        "certification": np.full(m, 1 if doctor else 0),
                        "diagnosis_group": diagnosis,
                    }
                )
            )
    out = pd.concat(parts, ignore_index=True)
    out["certification"] = _cat(out["certification"].to_numpy(), ["self-certified", "doctor-certified"])
    out["diagnosis_group"] = _cat(
        out["diagnosis_group"].to_numpy(), [d for d, _ in people.DIAGNOSIS_GROUPS] + [people.SELF_CERTIFIED_DIAGNOSIS]
    )
    return out


def write(data: SickLeaveData, out: Path, formats: tuple[str, ...] = ("parquet", "csv")) -> dict[str, Path]:
    """Write ``staff``, ``sick_leave`` and ``units`` tables; returns the Parquet paths by table name."""
    out.mkdir(parents=True, exist_ok=True)
    paths: dict[str, Path] = {}
    for name, frame in (("staff", data.staff), ("sick_leave", data.sick_leave), ("units", data.units)):
        if "parquet" in formats:
            paths[name] = out / f"{name}.parquet"
            frame.to_parquet(paths[name], index=False)
        if "csv" in formats:
            frame.to_csv(out / f"{name}.csv", index=False, date_format="%Y-%m-%d")
    return paths
