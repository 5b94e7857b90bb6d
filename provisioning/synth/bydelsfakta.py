"""Bydelsfakta-style count tables (Oslo's district facts) rebuilt from the synthetic population
register, in the long form ``sandkasse publication check`` reads: one column per dimension, one
``count`` column of true counts (every combination listed, zeros included)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

Band = tuple[int, int | None]  # inclusive; None: open upwards


def band_label(band: Band) -> str:
    lo, hi = band
    return f"{lo}+" if hi is None else f"{lo}-{hi}"


def age_table(population: pd.DataFrame, by: list[str], bands: list[Band]) -> pd.DataFrame:
    """Residents per ``by`` and age band (sub-districts listed under their own district only)."""
    frames = []
    places = population[by].drop_duplicates() if by else pd.DataFrame(index=[0])
    for band in bands:
        lo, hi = band
        inside = population[(population.age >= lo) & (population.age <= (hi if hi is not None else 10**6))]
        n = inside.groupby(by, observed=True).size().rename("count") if by else pd.Series([len(inside)], name="count")
        t = places.merge(n.reset_index(), on=by, how="left") if by else n.to_frame()
        t.insert(len(by), "age", band_label(band))
        frames.append(t)
    out = pd.concat(frames, ignore_index=True)
    out["count"] = out["count"].fillna(0).astype(int)
    return out.sort_values([*by, "age"], kind="stable").reset_index(drop=True)


TABLES: dict[str, tuple[list[str], list[Band]]] = {
    # The talk's table: the oldest residents per sub-district ("8 people aged 100 in Grefsen").
    "aged-100-by-sub-district": (["district", "sub_district"], [(100, None)]),
    # Published series: the elderly per sub-district ...
    "aged-90-plus-by-sub-district": (["district", "sub_district"], [(90, None)]),
    # ... and a later table whose difference with it is exactly the residents aged 100+.
    "aged-90-99-by-sub-district": (["district", "sub_district"], [(90, 99)]),
    "age-groups-by-district": (["district"], [(0, 17), (18, 66), (67, 79), (80, 89), (90, None)]),
}


def build_tables(population: pd.DataFrame) -> dict[str, pd.DataFrame]:
    return {name: age_table(population, by, bands) for name, (by, bands) in TABLES.items()}


def write_tables(population: pd.DataFrame, out: Path) -> dict[str, Path]:
    out.mkdir(parents=True, exist_ok=True)
    paths = {}
    for name, frame in build_tables(population).items():
        paths[name] = out / f"{name}.csv"
        frame.to_csv(paths[name], index=False)
    return paths
