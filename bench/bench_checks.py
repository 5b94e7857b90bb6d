"""Cost of the disclosure checks, as ratios against baselines measured in the same run.

On 1,000,000 rows of synthetic sick-leave-like microdata (generated here with numpy):
  * ``sdc.crosstab`` with all checks vs plain ``pandas.crosstab`` on the same call (target <= 1.5x);
  * ACRO 1.0.2's ``crosstab`` with its checks vs ours (target >= 10x), also on a 2,400-cell table;
  * the server-side check of a 100,000-cell table file (target < 1 s), without and with a sidecar.

    .venv/bin/python bench/bench_checks.py [--rows 1000000] [--repeat 3] [--no-acro]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from egress_review import sdc
from egress_review.checks import CheckContext, check_file, load_disclosure_policy
from tests.unit.checks.acro_harness import quiet_in_tmp  # the same quiet ACRO runner the agreement tests use

BYDELER = ["Alna", "Bjerke", "Frogner", "Gamle Oslo", "Grorud", "Grünerløkka", "Nordre Aker", "Nordstrand",
           "Sagene", "St. Hanshaugen", "Stovner", "Søndre Nordstrand", "Ullern", "Vestre Aker", "Østensjø"]
ALDER = ["18-29", "30-39", "40-49", "50-59", "60-69"]
DIAGNOSE = list("ABDFKLNPRSTUXYZH")  # ICPC-2 chapters, 16 groups


def microdata(rows: int, seed: int = 1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    people = max(rows // 5, 1)
    person = rng.integers(0, people, rows)
    return pd.DataFrame({
        "person": person,
        "bydel": np.array(BYDELER)[rng.integers(0, len(BYDELER), rows)],
        "aldersgruppe": np.array(ALDER)[rng.choice(len(ALDER), rows, p=[0.15, 0.25, 0.25, 0.22, 0.13])],
        "kjonn": np.array(["K", "M"])[rng.integers(0, 2, rows)],
        "diagnose": np.array(DIAGNOSE)[rng.choice(len(DIAGNOSE), rows, p=np.r_[np.full(15, 0.0665), 0.0025])],
        "dager": rng.gamma(1.5, 9.0, rows).round() + 1,
    })


def best(fn: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def paired(a: Callable[[], object], b: Callable[[], object], repeat: int) -> tuple[float, float]:
    """Best times of ``a`` and ``b`` run alternately, so that load from other processes hits both alike."""
    ta, tb = [], []
    for _ in range(repeat):
        for fn, acc in ((a, ta), (b, tb)):
            t = time.perf_counter()
            fn()
            acc.append(time.perf_counter() - t)
    return min(ta), min(tb)


def big_table_file(tmp: Path, seed: int = 2) -> Path:
    """A 1,000 x 100 count table with some small cells and margins, as a researcher would hand-export it."""
    rng = np.random.default_rng(seed)
    counts = rng.poisson(rng.gamma(2.0, 30.0, size=(999, 99)))
    body = pd.DataFrame(counts, index=[f"område {i:04d}" for i in range(999)],
                        columns=[f"gruppe {j:02d}" for j in range(99)])
    body["All"] = body.sum(axis=1)
    body.loc["All"] = body.sum(axis=0)
    body.index.name = "område"
    path = tmp / "big.csv"
    body.to_csv(path)
    return path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--no-acro", action="store_true")
    args = ap.parse_args()
    policy = load_disclosure_policy()
    df = microdata(args.rows)
    print(f"microdata: {len(df):,} rows, {df.person.nunique():,} people")

    cases = {
        "counts 15x5": ((df.bydel, df.aldersgruppe), {}),
        "counts 15x5, margins": ((df.bydel, df.aldersgruppe), {"margins": True}),
        "counts 240x10 (2,400 cells), margins": (([df.bydel, df.diagnose], [df.aldersgruppe, df.kjonn]),
                                                 {"margins": True}),
        "mean days 15x5, margins": ((df.bydel, df.aldersgruppe), {"values": df.dager, "aggfunc": "mean",
                                                                  "margins": True}),
    }
    print("\nsdc.crosstab with all checks vs pandas.crosstab (target <= 1.5x on counts)")
    for name, (a, kw) in cases.items():
        t_pd, t_us = paired(lambda: pd.crosstab(*a, **kw), lambda: sdc.crosstab(*a, policy=policy, **kw), args.repeat)
        t_ent = best(lambda: sdc.crosstab(*a, entity=df.person, policy=policy, **kw), args.repeat)
        print(f"  {name:40s} pandas {t_pd * 1000:7.1f} ms  ours {t_us * 1000:7.1f} ms  ratio {t_us / t_pd:5.2f}x"
              f"   with entity= {t_ent * 1000:7.1f} ms  ratio {t_ent / t_pd:5.2f}x")

    if not args.no_acro:
        print("\nACRO 1.0.2 crosstab with its checks vs ours (target >= 10x)")
        with quiet_in_tmp():
            from acro import ACRO

            acro = ACRO(suppress=False)
        for name in ("counts 15x5", "counts 240x10 (2,400 cells), margins", "mean days 15x5, margins"):
            a, kw = cases[name]
            with quiet_in_tmp():
                t_acro, t_us = paired(lambda: acro.crosstab(*a, **kw),
                                      lambda: sdc.crosstab(*a, policy=policy, **kw), 2)
            t_pd = best(lambda: pd.crosstab(*a, **kw), args.repeat)
            print(f"  {name:40s} ACRO {t_acro * 1000:8.1f} ms  ours {t_us * 1000:7.1f} ms  "
                  f"ACRO/ours {t_acro / t_us:6.1f}x  (ACRO/pandas {t_acro / t_pd:5.1f}x)")

    print("\nserver-side check of a 100,000-cell table file (target < 1 s)")
    with tempfile.TemporaryDirectory() as tmp:
        path = big_table_file(Path(tmp))
        ctx = CheckContext(person_level=False)
        t_plain = best(lambda: check_file(path, declared_name="big.csv", policy=policy, context=ctx), args.repeat)
        report = check_file(path, declared_name="big.csv", policy=policy, context=ctx)
        failing = sum(c != "" for r in report.cell_outcome or [] for c in r)
        print(f"  without sidecar: {t_plain:6.3f} s  verdict {report.verdict}, {len(report.flags)} flags, "
              f"{failing} failing cells")
        rng = np.random.default_rng(3)
        n = 400_000
        micro = pd.DataFrame({"a": rng.integers(0, 1000, n), "b": rng.integers(0, 100, n),
                              "v": rng.gamma(2.0, 5.0, n), "p": rng.integers(0, n // 3, n)})
        res = sdc.crosstab(micro.a, micro.b, values=micro.v, aggfunc="sum", entity=micro.p, policy=policy)
        table, side = res.export(Path(tmp) / "big_sdc.csv")
        t_side = best(lambda: check_file(table, declared_name="big_sdc.csv", sidecar=side, policy=policy,
                                         context=ctx), args.repeat)
        r2 = check_file(table, declared_name="big_sdc.csv", sidecar=side, policy=policy, context=ctx)
        print(f"  with sidecar ({res.table.size:,} cells, sums with dominance): {t_side:6.3f} s  verdict {r2.verdict}")


if __name__ == "__main__":
    main()
