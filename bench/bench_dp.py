"""Accuracy of the DP queries against epsilon, on the demo's synthetic sick-leave table.

For each query kind (count, sum and mean of sick-leave days, histogram by diagnosis group, crosstab
gender x service area) and each epsilon in 0.1 .. 10, the noisy answers of ``--repeat`` runs are
compared with the exact answer on the full table (so the error includes the bias of keeping at most
``--k`` episodes per person): mean absolute error over cells and runs, and relative error
(sum of absolute errors / sum of absolute exact values). Also the time per query in process
(OpenDP calibration and noise) and once through the worker process the service uses. Writes a PNG.

    .venv/bin/python bench/bench_dp.py [--employees 15000] [--repeat 5] [--k 10] [--out var/bench/dp_accuracy.png]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from egress_review.dp_service import compute  # noqa: E402
from egress_review.dp_service.queries import run_worker  # noqa: E402
from provisioning.dp_catalogue import dp_dataset  # noqa: E402
from provisioning.synth.generate import generate  # noqa: E402

EPSILONS = [0.1, 0.3, 1.0, 3.0, 10.0]


def queries(cat) -> dict[str, dict]:  # noqa: ANN001
    days = list(cat.bounds["days"])
    return {
        "count": {"kind": "count", "columns": []},
        "sum(days)": {"kind": "sum", "columns": ["days"], "bounds": days},
        "mean(days)": {"kind": "mean", "columns": ["days"], "bounds": days},
        "histogram(diagnosis)": {"kind": "histogram", "columns": ["diagnosis_group"],
                                 "categories": [cat.categories["diagnosis_group"]]},
        "crosstab(gender, service area)": {"kind": "crosstab", "columns": ["gender", "service_area"],
                                           "categories": [cat.categories["gender"], cat.categories["service_area"]]},
    }


def exact(frame: pd.DataFrame, q: dict) -> list[float]:
    kind = q["kind"]
    if kind == "count":
        return [float(len(frame))]
    if kind == "sum":
        return [float(frame["days"].clip(*q["bounds"]).sum())]
    if kind == "mean":
        return [float(frame["days"].clip(*q["bounds"]).mean())]
    if kind == "histogram":
        counts = frame[q["columns"][0]].astype(str).value_counts()
        return [float(counts.get(c, 0)) for c in q["categories"][0]]
    counts = frame.groupby([frame[c].astype(str) for c in q["columns"]]).size()
    return [float(counts.get((a, b), 0)) for a in q["categories"][0] for b in q["categories"][1]]


def noisy(out: dict) -> list[float]:
    return [float(c["value"]) for c in out["cells"]] if "cells" in out else [float(out["value"])]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--employees", type=int, default=15000)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--k", type=int, default=10, help="rows (episodes) kept per person")
    ap.add_argument("--out", type=Path, default=Path("var/bench/dp_accuracy.png"))
    args = ap.parse_args()

    cat = dp_dataset("sick-leave")
    frame = generate(employees=args.employees, seed=2026).sick_leave
    frame = frame[["national_id", "gender", "service_area", "diagnosis_group", "days"]]
    for c in ("gender", "service_area", "diagnosis_group"):
        frame[c] = frame[c].astype(str)
    per_person = frame.groupby("national_id").size()
    print(f"{len(frame)} sick-leave episodes of {len(per_person)} people (max {per_person.max()} each); k={args.k}, "
          f"{args.repeat} runs per point")
    kept = per_person.clip(upper=args.k).sum() / len(frame)
    print(f"contribution bounding keeps {kept:.1%} of the episodes (the error floor of counts as epsilon grows)\n")
    print(f"{'query':32} {'epsilon':>7} {'MAE':>10} {'rel. error':>10} {'ms/query':>9}")
    results: dict[str, list[tuple[float, float, float]]] = {}
    for name, q in queries(cat).items():
        truth = exact(frame, q)
        for eps in EPSILONS:
            plan = {**q, "entity": "national_id", "measure": "epsilon", "amount": eps, "max_rows": args.k}
            errors, times = [], []
            for _ in range(args.repeat):
                t0 = time.perf_counter()
                out = compute.answer(plan, frame)
                times.append(time.perf_counter() - t0)
                errors += [abs(a - b) for a, b in zip(noisy(out), truth, strict=True)]
            mae = statistics.fmean(errors)
            rel = sum(errors) / (args.repeat * sum(abs(t) for t in truth))
            ms = 1000 * statistics.median(times)
            results.setdefault(name, []).append((eps, mae, rel))
            print(f"{name:32} {eps:7.1f} {mae:10.2f} {rel:10.2%} {ms:9.1f}")

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "sick-leave.parquet"
        frame.to_parquet(path, index=False)
        plan = {**queries(cat)["histogram(diagnosis)"], "path": str(path), "entity": "national_id",
                "measure": "epsilon", "amount": 1.0, "max_rows": args.k}
        t0 = time.perf_counter()
        asyncio.run(run_worker(plan))
        print(f"\nthrough the worker process (start, read the extract, answer): {time.perf_counter() - t0:.2f} s per query")

    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib not installed: no plot")
        return 0
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for name, pts in results.items():
        ax.plot([p[0] for p in pts], [100 * p[2] for p in pts], marker="o", label=name)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("epsilon (per query)")
    ax.set_ylabel("relative error (%)")
    ax.set_title(f"DP accuracy on the synthetic sick-leave table (k={args.k})")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(args.out, dpi=120)
    print(f"plot: {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
