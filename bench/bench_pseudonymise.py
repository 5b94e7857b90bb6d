"""Pseudonymisation throughput on 10 million sick-leave episode rows.

Prints (1) rows/s of the keyed pseudonymisation of the national identity number column as the extract
builder does it (Arrow column from Parquet → HMAC-SHA256 pseudonyms as a pandas column), and (2) the time of the whole
extract step (the builder's own ``minimised_frame``: read, pseudonymise, assemble, then write Parquet)
against a plain pandas read + write of the same file, measured in the same run, as a ratio.
Wall-clock and CPU time are both printed: on a shared machine the CPU figure is the steadier one.
The episode file is generated once with the synthetic generator and cached under ``var/cache/bench/``.

    .venv/bin/python bench/bench_pseudonymise.py [--rows 10000000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from datetime import date
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq

from provisioning.extracts import minimised_frame
from provisioning.models import ColumnRole, Dataset, DatasetColumn, Entitlement, EntitlementColumn
from provisioning.policy import current
from provisioning.pseudonymise import pseudonymise_to_series
from provisioning.synth import generate
from provisioning.synth.generate import SICK_LEAVE_ROLES
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


def entitlement_for(source: Path) -> Entitlement:
    """Every column kept except the national identity number, which is pseudonymised (not stored: the
    extract code runs on these objects exactly as on rows from the database)."""
    dataset = Dataset(name="bench", source=str(source),
                      columns=[DatasetColumn(name=c, role=ColumnRole(r)) for c, r in SICK_LEAVE_ROLES.items()])
    columns = [EntitlementColumn(column_name=c, transformation="pseudonymise" if c == "national_id" else "keep")
               for c in pq.read_schema(source).names]
    return Entitlement(dataset=dataset, columns=columns, row_filter=None)


def measure(fn) -> tuple[float, float]:  # noqa: ANN001
    wall, cpu = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - wall, time.process_time() - cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    source = episode_file(args.rows)
    rows = pq.ParquetFile(source).metadata.num_rows
    key, policy = generate_key(), current()
    ent = entitlement_for(source)
    ids = pq.read_table(source, columns=["national_id"]).column(0)
    distinct = len(ids.unique())
    hashing, extract, baseline = [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "out.parquet"

        def extract_step() -> None:
            frame, _ = minimised_frame(ent, key, policy, date(2026, 1, 1))
            frame.to_parquet(out, index=False)

        for _ in range(args.repeat):
            hashing.append(measure(lambda: pseudonymise_to_series(ids, key, policy.pseudonymisation.hex_chars)))
            baseline.append(measure(lambda: pd.read_parquet(source).to_parquet(out, index=False)))
            extract.append(measure(extract_step))
    (h_wall, h_cpu), (e_wall, e_cpu), (b_wall, b_cpu) = (min(x) for x in (hashing, extract, baseline))
    print(f"rows: {rows:,} ({distinct:,} distinct national identity numbers); best of {args.repeat} runs")
    print(f"pseudonymise: {h_wall:.2f} s wall = {rows / h_wall:,.0f} rows/s; {h_cpu:.2f} s CPU = {rows / h_cpu:,.0f} rows/CPU-s "
          f"(target {TARGET_ROWS_PER_S:,} rows/s: {'met' if rows / h_wall >= TARGET_ROWS_PER_S else 'NOT met'})")
    print(f"extract step (read + pseudonymise + write): {e_wall:.2f} s wall = {rows / e_wall:,.0f} rows/s; {e_cpu:.2f} s CPU")
    print(f"plain pandas read + write of the same file: {b_wall:.2f} s wall = {rows / b_wall:,.0f} rows/s; {b_cpu:.2f} s CPU")
    print(f"ratio extract step / plain read+write: {e_wall / b_wall:.2f}x wall, {e_cpu / b_cpu:.2f}x CPU")


if __name__ == "__main__":
    main()
