"""Pseudonymisation throughput on 10 million sick-leave episode rows.

Prints rows/s of the keyed pseudonymisation of the national identity number column, and the time of a
full extract step (read Parquet, pseudonymise, write Parquet) against a plain pandas read + write of the
same file measured in the same run, as a ratio. The episode file is generated once with the synthetic
generator and cached under ``var/cache/bench/``.

    .venv/bin/python bench/bench_pseudonymise.py [--rows 10000000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import pandas as pd

from provisioning.pseudonymise import pseudonymise_series
from provisioning.synth import generate
from sandkasse.keys import generate_key
from sandkasse.settings import get_settings

TARGET_ROWS_PER_S = 1_000_000  # the requirement


def episode_file(rows: int) -> Path:
    path = get_settings().cache_dir / "bench" / f"sick-leave-{rows}.parquet"
    if path.exists():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    employees, years = max(1000, rows // 11), 4  # about 2.8 episodes per employee and year
    t = time.perf_counter()
    episodes = generate(employees=employees, seed=1, years=years).sick_leave
    while len(episodes) < rows:  # top up with a further year if the draw came out short
        years += 1
        episodes = generate(employees=employees, seed=1, years=years).sick_leave
    episodes.head(rows).to_parquet(path, index=False)
    print(f"generated {rows:,} episodes of {employees:,} employees in {time.perf_counter() - t:.1f} s -> {path}")
    return path


def timed(fn) -> tuple[float, object]:  # noqa: ANN001
    t = time.perf_counter()
    out = fn()
    return time.perf_counter() - t, out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    source = episode_file(args.rows)
    key = generate_key()
    baseline, extract, hashing = [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "out.parquet"
        for _ in range(args.repeat):
            t_base, _ = timed(lambda: pd.read_parquet(source).to_parquet(out, index=False))
            baseline.append(t_base)

            t0 = time.perf_counter()
            frame = pd.read_parquet(source)
            t_hash, pseudonyms = timed(lambda f=frame: pseudonymise_series(f["national_id"], key))
            frame["national_id"] = pseudonyms
            frame.to_parquet(out, index=False)
            extract.append(time.perf_counter() - t0)
            hashing.append(t_hash)
        distinct = frame["national_id"].nunique()
    rows = args.rows
    best_hash, best_extract, best_base = min(hashing), min(extract), min(baseline)
    print(f"rows: {rows:,} ({distinct:,} distinct identifiers), best of {args.repeat} runs")
    print(f"pseudonymise national_id: {best_hash:.2f} s = {rows / best_hash:,.0f} rows/s "
          f"(target {TARGET_ROWS_PER_S:,} rows/s: {'met' if rows / best_hash >= TARGET_ROWS_PER_S else 'NOT met'}); "
          f"median {statistics.median(hashing):.2f} s")
    print(f"read + pseudonymise + write: {best_extract:.2f} s = {rows / best_extract:,.0f} rows/s")
    print(f"plain pandas read + write of the same file: {best_base:.2f} s = {rows / best_base:,.0f} rows/s")
    print(f"ratio extract step / plain read+write: {best_extract / best_base:.2f}x "
          f"(pseudonymisation adds {best_extract - best_base:+.2f} s)")


if __name__ == "__main__":
    main()
