"""Differentially private queries from the notebook, answered beside the data by the egress service.

    from egress_review.dp import count, sum_, mean, histogram, crosstab, budget
    histogram("sick-leave", "diagnosis_group", epsilon=0.5)
    mean("sick-leave", "days", epsilon=0.5, bounds=(0, 366), max_rows=5)
    budget()

Nothing is computed here: the query goes to the egress service with the project token, the service
computes it on the project's extract with OpenDP (each person contributing at most ``max_rows``
rows; category domains from the catalogue), spends ``epsilon`` (or ``rho``) from the project's
budget on that dataset, and returns only the noisy answer with a 95 % confidence interval.
Needs httpx; pandas only for :meth:`DPAnswer.to_frame`.
"""

from __future__ import annotations

import csv
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from egress_review.client import EgressClient

__all__ = ["DPAnswer", "budget", "count", "crosstab", "histogram", "mean", "sum_"]


@dataclass
class DPAnswer:
    """A noisy answer: ``value`` (or ``cells`` for histograms and crosstabs), its interval
    ``[low, high]`` at confidence ``1 - alpha``, and the guarantee (``measure``, ``amount``, ``max_rows``)."""

    raw: dict[str, Any] = field(repr=False)

    def __getattr__(self, name: str) -> Any:
        try:
            return self.raw[name]
        except KeyError:
            raise AttributeError(name) from None

    @property
    def guarantee(self) -> str:
        r = self.raw
        return (f"{r['measure']}={r['amount']:g} ({r['mechanism']}), each person at most {r['max_rows']} rows, "
                f"query {r['query_id']}")

    def __str__(self) -> str:
        r = self.raw
        head = f"DP {r['kind']} on {r['dataset']}: {self.guarantee}"
        conf = f"{100 * (1 - r['alpha']):.0f} %"
        if "cells" in r:
            lines = [head, f"  cells with {conf} interval ±{r['accuracy']:.1f}:"]
            lines += [f"  {' / '.join(str(c[k]) for k in r['columns'])}: {c['value']}" for c in r["cells"][:50]]
        else:
            lines = [head, f"  {r['value']} ({conf} interval {r['low']:.2f} to {r['high']:.2f})"]
        b = r.get("budget") or {}
        if b:
            lines.append(f"  budget left: {b['remaining']:g} of {b['total']:g} {b['measure']}")
        return "\n".join(lines)

    __repr__ = __str__

    def to_frame(self):  # noqa: ANN201 - a pandas DataFrame
        import pandas as pd

        if "cells" in self.raw:
            return pd.DataFrame(self.raw["cells"])
        return pd.DataFrame([{k: self.raw.get(k) for k in ("value", "low", "high")}])

    def export(self, path: str | os.PathLike) -> tuple[Path, Path]:
        """Write the table and a sidecar naming the query, for ``egress_review.client.request_export``:
        checkers see the guarantee and can match the table to the audited ``dp.query`` event."""
        path = Path(path)
        rows = self.raw["cells"] if "cells" in self.raw else [{k: self.raw.get(k) for k in ("value", "low", "high")}]
        with path.open("w", newline="", encoding="utf-8") as fh:
            writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)
        sidecar = path.with_name(path.name + ".sdc.json")
        sidecar.write_text(json.dumps({"dp": {k: self.raw.get(k) for k in (
            "query_id", "dataset", "kind", "columns", "measure", "amount", "mechanism", "max_rows", "bounds", "alpha")}}))
        return path, sidecar

    @property
    def name(self) -> str:
        return f"dp_{self.raw['kind']}_{self.raw['query_id'][:8]}"


def _query(dataset: str, kind: str, columns: Sequence[str], epsilon: float | None, rho: float | None,
           bounds: tuple[float, float] | None, max_rows: int | None, client: EgressClient | None) -> DPAnswer:
    body = {"dataset": dataset, "kind": kind, "columns": list(columns), "epsilon": epsilon, "rho": rho,
            "bounds": list(bounds) if bounds is not None else None, "max_rows": max_rows}
    own = client is None
    c = client or EgressClient()
    try:
        return DPAnswer(c._call("POST", "/api/v1/dp/query", json=body))
    finally:
        if own:
            c.close()


def count(dataset: str, *, epsilon: float | None = None, rho: float | None = None, max_rows: int | None = None,
          client: EgressClient | None = None) -> DPAnswer:
    """Number of rows (each person counted at most ``max_rows`` times)."""
    return _query(dataset, "count", [], epsilon, rho, None, max_rows, client)


def sum_(dataset: str, column: str, *, epsilon: float | None = None, rho: float | None = None,
         bounds: tuple[float, float] | None = None, max_rows: int | None = None,
         client: EgressClient | None = None) -> DPAnswer:
    """Sum of ``column``, each row clamped into ``bounds`` (default: the catalogue's)."""
    return _query(dataset, "sum", [column], epsilon, rho, bounds, max_rows, client)


def mean(dataset: str, column: str, *, epsilon: float | None = None, rho: float | None = None,
         bounds: tuple[float, float] | None = None, max_rows: int | None = None,
         client: EgressClient | None = None) -> DPAnswer:
    """Mean of ``column`` (half the budget on a bounded sum, half on a count)."""
    return _query(dataset, "mean", [column], epsilon, rho, bounds, max_rows, client)


def histogram(dataset: str, column: str, *, epsilon: float | None = None, rho: float | None = None,
              max_rows: int | None = None, client: EgressClient | None = None) -> DPAnswer:
    """Counts of ``column`` over the category domain declared in the catalogue."""
    return _query(dataset, "histogram", [column], epsilon, rho, None, max_rows, client)


def crosstab(dataset: str, row: str, column: str, *, epsilon: float | None = None, rho: float | None = None,
             max_rows: int | None = None, client: EgressClient | None = None) -> DPAnswer:
    """Counts over the product of two declared category domains."""
    return _query(dataset, "crosstab", [row, column], epsilon, rho, None, max_rows, client)


def budget(client: EgressClient | None = None) -> list[dict]:
    """The project's privacy budgets: dataset, measure, total, spent, remaining."""
    own = client is None
    c = client or EgressClient()
    try:
        return c._call("GET", "/api/v1/dp/budgets")["items"]
    finally:
        if own:
            c.close()


