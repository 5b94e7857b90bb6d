"""A synthetic population register of Oslo (district, sub-district, age, gender): one row per resident,
no real person. Oslo's fifteen districts with some of their sub-districts; Grefsen (Nordre Aker) holds
the handful of people aged 100 or more that the Bydelsfakta example is about ("8 people aged 100 in
Grefsen"), a few other sub-districts one or two. Same seed and size, same register."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

# district -> sub-districts (a selection of Oslo's delbydeler)
DISTRICTS: dict[str, tuple[str, ...]] = {
    "Gamle Oslo": ("Grønland", "Tøyen", "Kampen", "Vålerenga", "Ensjø", "Helsfyr"),
    "Grünerløkka": ("Grünerløkka vest", "Grünerløkka øst", "Sofienberg", "Sinsen", "Hasle"),
    "Sagene": ("Bjølsen", "Sagene", "Iladalen", "Torshov"),
    "St. Hanshaugen": ("Bislett", "Ila", "Fagerborg", "St. Hanshaugen"),
    "Frogner": ("Frogner", "Majorstuen", "Bygdøy", "Uranienborg"),
    "Ullern": ("Skøyen", "Ullern", "Lilleaker", "Montebello"),
    "Vestre Aker": ("Røa", "Vinderen", "Slemdal", "Holmenkollen"),
    "Nordre Aker": ("Ullevål hageby", "Tåsen", "Nordberg", "Kringsjå", "Korsvoll", "Grefsen", "Kjelsås"),
    "Bjerke": ("Veitvet", "Årvoll", "Risløkka"),
    "Grorud": ("Romsås", "Grorud", "Ammerud"),
    "Stovner": ("Vestli", "Haugenstua", "Fossum"),
    "Alna": ("Furuset", "Trosterud", "Lindeberg", "Tveita", "Hellerud"),
    "Østensjø": ("Bøler", "Manglerud", "Oppsal", "Abildsø"),
    "Nordstrand": ("Lambertseter", "Nordstrand", "Ljan"),
    "Søndre Nordstrand": ("Holmlia", "Mortensrud", "Bjørndal"),
}
# Sub-districts with a nursing home: more of the oldest residents live there.
ELDERLY_HOMES = ("Grefsen", "Vinderen", "Lambertseter", "Manglerud")
# Residents aged 100 or more, placed by hand (elsewhere nobody reaches 100).
CENTENARIANS = {"Grefsen": 8, "Vinderen": 2, "Ljan": 1, "Kjelsås": 1}
POPULATION = "Oslo residents 1 January 2026 (synthetic)"
ROLES: dict[str, str] = {
    "person_id": "direct_identifier",
    "district": "quasi_identifier",
    "sub_district": "quasi_identifier",
    "age": "quasi_identifier",
    "gender": "quasi_identifier",
}


def _age_weights() -> np.ndarray:
    """Ages 0-99 roughly like Oslo's: many young adults, thinning out after 70."""
    age = np.arange(100)
    w = np.where(age < 20, 1.0, np.where(age < 40, 1.45, np.where(age < 67, 1.05, 1.05 * np.exp(-(age - 67) / 9))))
    return w / w.sum()


def generate_population(residents: int = 60_000, seed: int = 2026) -> pd.DataFrame:
    if residents < 1000:
        raise ValueError("the population register needs at least 1000 residents")
    rng = np.random.default_rng(seed)
    subs = [(d, s) for d, ss in DISTRICTS.items() for s in ss]
    weights = rng.lognormal(0, 0.3, len(subs))
    where = rng.choice(len(subs), residents, p=weights / weights.sum())
    age = rng.choice(100, residents, p=_age_weights())
    # nursing homes: a share of each home's sub-district gets an age of 85-99
    for name in ELDERLY_HOMES:
        idx = np.flatnonzero(where == next(i for i, (_, s) in enumerate(subs) if s == name))
        old = rng.choice(idx, max(1, idx.size // 25), replace=False)
        age[old] = rng.integers(85, 100, old.size)
    extra = [(next(i for i, (_, s) in enumerate(subs) if s == name), 100 + rng.integers(0, 4)) for name, n in
             CENTENARIANS.items() for _ in range(n)]
    where = np.concatenate([where, np.array([w for w, _ in extra], dtype=where.dtype)])
    age = np.concatenate([age, np.array([a for _, a in extra], dtype=age.dtype)])
    n = where.size
    female = rng.random(n) < np.where(age >= 80, 0.68, 0.5)
    order = rng.permutation(n)
    return pd.DataFrame({
        "person_id": [f"P{i:07d}" for i in range(1, n + 1)],
        "district": pd.Categorical(np.array([d for d, _ in subs])[where[order]], categories=list(DISTRICTS)),
        "sub_district": pd.Categorical(np.array([s for _, s in subs])[where[order]], categories=[s for _, s in subs]),
        "age": age[order].astype(np.int64),
        "gender": pd.Categorical(np.where(female[order], "female", "male"), categories=["male", "female"]),
    })


def write_population(frame: pd.DataFrame, out: Path) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    path = out / "population.parquet"
    frame.to_parquet(path, index=False)
    frame.to_csv(out / "population.csv", index=False)
    return path


def write_demo_population(out: Path, residents: int = 60_000, seed: int = 2026) -> Path:
    """The demo's register and, under ``bydelsfakta/``, the tables to try ``sandkasse publication`` on."""
    from provisioning.synth.bydelsfakta import write_tables

    frame = generate_population(residents, seed)
    path = write_population(frame, out)
    write_tables(frame, out / "bydelsfakta")
    return path
