"""Re-identification risk of an extract: k-anonymity over the quasi-identifiers, l-diversity of each
sensitive column, and the records most at risk. Figures are per record, the way pycanon computes them,
so the two can be compared; the report also says how many distinct people the smallest class holds
when the extract has a pseudonym column."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

_NA = "∅"  # missing values form their own class (an attacker sees "missing" too)


def _classes(df: pd.DataFrame, qis: Sequence[str]) -> pd.core.groupby.DataFrameGroupBy:
    keys = df[list(qis)].astype("string").fillna(_NA)
    return keys.groupby(list(qis), sort=False, observed=True, dropna=False)


def risk_report(
    df: pd.DataFrame,
    quasi_identifiers: Sequence[str],
    sensitive: Sequence[str] = (),
    *,
    min_k: int,
    min_l: int = 2,
    top: int = 20,
    person_column: str | None = None,
) -> dict[str, Any]:
    records = len(df)
    qis = [c for c in quasi_identifiers if c in df.columns]
    summary: dict[str, Any] = {"records": records, "quasi_identifiers": qis, "policy_min_k": min_k, "policy_min_l": min_l}
    if records == 0:
        summary.update(k=0, classes=0, classes_below_k=0, records_below_k=0, share_below_k=0.0, meets_k=True)
        return {"summary": summary, "l_diversity": {}, "highest_risk": [], "class_sizes": {}}
    if not qis:
        class_id = pd.Series(0, index=df.index)
    else:
        class_id = _classes(df, qis).ngroup()
    sizes = class_id.map(class_id.value_counts())
    counts = class_id.value_counts()
    k = int(counts.min())
    below = counts[counts < min_k]
    summary.update(
        k=k,
        classes=int(counts.size),
        classes_below_k=int(below.size),
        records_below_k=int(below.sum()),
        share_below_k=round(float(below.sum()) / records, 6),
        meets_k=k >= min_k,
    )
    if person_column and person_column in df.columns:
        people = df.groupby(class_id.to_numpy(), sort=False)[person_column].nunique()
        summary["k_people"] = int(people.min())

    l_div: dict[str, Any] = {}
    for col in sensitive:
        if col not in df.columns:
            continue
        distinct = df[col].astype("string").fillna(_NA).groupby(class_id.to_numpy(), sort=False).nunique()
        l_div[col] = {
            "l": int(distinct.min()),
            "classes_below_l": int((distinct < min_l).sum()),
            "records_in_classes_below_l": int(counts.reindex(distinct[distinct < min_l].index).sum()),
        }

    order = sizes.sort_values(kind="stable").index[:top]
    risky = df.loc[order, qis + [c for c in sensitive if c in df.columns]].astype("string").fillna(_NA)
    highest = [
        {"row": int(i), "class_size": int(sizes[i]), "risk": round(1 / int(sizes[i]), 4), **row}
        # an extract without quasi-identifier or sensitive columns still lists its rows (with no values)
        for i, row in zip(order, risky.to_dict("records") if len(risky.columns) else [{} for _ in order], strict=True)
    ]
    histogram = counts.value_counts().sort_index()
    small = {str(int(s)): int(n) for s, n in histogram.items() if s < max(min_k, 2) * 2}
    return {"summary": summary, "l_diversity": l_div, "highest_risk": highest, "class_sizes": small}


def to_markdown(report: dict[str, Any], title: str) -> str:
    s = report["summary"]
    lines = [
        f"# Re-identification risk: {title}",
        "",
        f"- Records: **{s['records']:,}**",
        f"- Quasi-identifiers: {', '.join(s['quasi_identifiers']) or '(none)'}",
        f"- Smallest equivalence class (k): **{s['k']}** (policy minimum {s['policy_min_k']}: "
        f"{'met' if s['meets_k'] else '**NOT met**'})",
        f"- Classes: {s['classes']:,}; below k: {s['classes_below_k']:,} holding {s['records_below_k']:,} records "
        f"({s['share_below_k']:.2%})",
    ]
    if "k_people" in s:
        lines.append(f"- Smallest class in distinct people: {s['k_people']}")
    if report["l_diversity"]:
        lines += ["", "## l-diversity", "", "| sensitive column | l | classes below l | records in them |", "|---|---|---|---|"]
        for col, d in report["l_diversity"].items():
            lines.append(f"| {col} | {d['l']} | {d['classes_below_l']} | {d['records_in_classes_below_l']} |")
    if report["class_sizes"]:
        lines += ["", "## Small classes", "", "| class size | classes |", "|---|---|"]
        lines += [f"| {size} | {n} |" for size, n in report["class_sizes"].items()]
    if report["highest_risk"]:
        cols = [c for c in report["highest_risk"][0] if c not in ("row",)]
        lines += ["", "## Highest-risk records", "", "| row | " + " | ".join(cols) + " |", "|---" * (len(cols) + 1) + "|"]
        for r in report["highest_risk"]:
            lines.append(f"| {r['row']} | " + " | ".join(str(r[c]).replace("|", "/") for c in cols) + " |")
    return "\n".join(lines) + "\n"


def write_report(report: dict[str, Any], folder: Path, name: str, title: str) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = [folder / f"{name}.risk.json", folder / f"{name}.risk.md"]
    paths[0].write_text(json.dumps(report, indent=2, ensure_ascii=False, default=str), encoding="utf-8")
    paths[1].write_text(to_markdown(report, title), encoding="utf-8")
    return paths
