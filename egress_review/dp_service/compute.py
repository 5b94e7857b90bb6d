"""The DP computation itself, run in a worker process beside the data (never in the service's own
process: it loads pandas, pyarrow and OpenDP). The raw aggregate exists only inside the OpenDP
measurement; what this module returns is the noisy answer, its confidence interval and the
parameters of the mechanism.

Contribution bounding: rows are shuffled and at most ``max_rows`` rows per entity are kept, so adding
or removing one person changes the input by at most ``max_rows`` rows (symmetric distance
``d_in = max_rows``). Every OpenDP measurement is then calibrated for that ``d_in`` and the chosen
``epsilon`` (Laplace noise, pure DP) or ``rho`` (Gaussian noise, zero-concentrated DP).
"""

from __future__ import annotations

import itertools
import secrets
from typing import Any

import opendp.prelude as dp
import pandas as pd

dp.enable_features("contrib")

ALPHA = 0.05
_SEP = "\x1f"


def bound_contributions(frame: pd.DataFrame, entity: str, max_rows: int) -> pd.DataFrame:
    """At most ``max_rows`` rows per entity, chosen at random (not the first ones, which could depend
    on how the extract was sorted)."""
    shuffled = frame.sample(frac=1.0, random_state=secrets.randbits(32))
    return shuffled.groupby(entity, sort=False, observed=True).head(max_rows)


def _noise(measure: str):  # noqa: ANN202 - an OpenDP constructor
    if measure == "epsilon":
        return dp.m.then_laplace
    return dp.m.then_gaussian


def _calibrate(make, d_in: int, amount: float):  # noqa: ANN001, ANN202
    scale = dp.binary_search_param(make, d_in=d_in, d_out=amount)
    return make(scale), scale


def _accuracy(measure: str, scale: float, integer: bool) -> float:
    if measure == "epsilon":
        f = dp.discrete_laplacian_scale_to_accuracy if integer else dp.laplacian_scale_to_accuracy
    else:
        f = dp.discrete_gaussian_scale_to_accuracy if integer else dp.gaussian_scale_to_accuracy
    return float(f(scale, ALPHA))


def mechanism_name(measure: str, integer: bool) -> str:
    base = "Laplace" if measure == "epsilon" else "Gaussian"
    return f"{'discrete ' if integer else ''}{base}"


def _strings(values: pd.Series) -> list[str]:
    return values.astype("string").fillna("").tolist()


def count_measurement(measure: str, amount: float, d_in: int):  # noqa: ANN201 - an OpenDP measurement
    space = dp.vector_domain(dp.atom_domain(T=str)), dp.symmetric_distance()
    return _calibrate(lambda s: dp.t.make_count(*space) >> _noise(measure)(s), d_in, amount)


def dp_count(values: list[str], measure: str, amount: float, d_in: int) -> tuple[int, float]:
    meas, scale = count_measurement(measure, amount, d_in)
    return int(meas(values)), scale


def dp_counts(values: list[str], categories: list[str], measure: str, amount: float, d_in: int) -> tuple[list[int], float]:
    space = dp.vector_domain(dp.atom_domain(T=str)), dp.symmetric_distance()
    mo = dp.L1Distance[int] if measure == "epsilon" else dp.L2Distance[int]

    def make(s: float):  # noqa: ANN202
        return dp.t.make_count_by_categories(*space, categories=categories, null_category=False, MO=mo) >> _noise(measure)(s)

    meas, scale = _calibrate(make, d_in, amount)
    return [int(x) for x in meas(values)], scale


def dp_sum(values: list[float], bounds: tuple[float, float], measure: str, amount: float, d_in: int) -> tuple[float, float]:
    space = dp.vector_domain(dp.atom_domain(T=float, nan=False)), dp.symmetric_distance()

    def make(s: float):  # noqa: ANN202
        return dp.t.make_clamp(*space, bounds=(float(bounds[0]), float(bounds[1]))) >> dp.t.then_sum() >> _noise(measure)(s)

    meas, scale = _calibrate(make, d_in, amount)
    return float(meas(values)), scale


def answer(query: dict[str, Any], frame: pd.DataFrame) -> dict[str, Any]:
    """The noisy answer to one validated query (see egress_review.dp_service.queries.Plan)."""
    kind, measure, amount, k = query["kind"], query["measure"], float(query["amount"]), int(query["max_rows"])
    rows = bound_contributions(frame, query["entity"], k)
    out: dict[str, Any] = {"kind": kind, "measure": measure, "amount": amount, "max_rows": k, "alpha": ALPHA}
    if kind == "count":
        value, scale = dp_count(_strings(rows[query["entity"]]), measure, amount, k)
        acc = _accuracy(measure, scale, True)
        out.update(value=value, low=value - acc, high=value + acc, scale=scale, accuracy=acc,
                   mechanism=mechanism_name(measure, True))
    elif kind in ("histogram", "crosstab"):
        cols, domains = query["columns"], query["categories"]
        if kind == "histogram":
            values, cells = _strings(rows[cols[0]]), [(c,) for c in domains[0]]
        else:
            values = [a + _SEP + b for a, b in zip(_strings(rows[cols[0]]), _strings(rows[cols[1]]), strict=True)]
            cells = list(itertools.product(*domains))
        counts, scale = dp_counts(values, [_SEP.join(c) for c in cells], measure, amount, k)
        acc = _accuracy(measure, scale, True)
        out.update(columns=cols, scale=scale, accuracy=acc, mechanism=mechanism_name(measure, True),
                   cells=[{**dict(zip(cols, c, strict=True)), "value": v, "low": v - acc, "high": v + acc}
                          for c, v in zip(cells, counts, strict=True)])
    elif kind == "sum":
        col, bounds = query["columns"][0], tuple(query["bounds"])
        values = pd.to_numeric(rows[col], errors="coerce").dropna().astype(float).tolist()
        value, scale = dp_sum(values, bounds, measure, amount, k)
        acc = _accuracy(measure, scale, False)
        out.update(value=value, low=value - acc, high=value + acc, scale=scale, accuracy=acc, bounds=list(bounds),
                   mechanism=mechanism_name(measure, False))
    elif kind == "mean":
        # half the budget to a bounded sum, half to a count of the same (clamped, non-missing) rows
        col, bounds = query["columns"][0], tuple(query["bounds"])
        present = rows[pd.to_numeric(rows[col], errors="coerce").notna()]
        total, s_scale = dp_sum(pd.to_numeric(present[col]).astype(float).tolist(), bounds, measure, amount / 2, k)
        n, n_scale = dp_count(_strings(present[query["entity"]]), measure, amount / 2, k)
        s_acc, n_acc = _accuracy(measure, s_scale, False), _accuracy(measure, n_scale, True)
        value = min(max(total / n, bounds[0]), bounds[1]) if n > 0 else None
        # both intervals hold with probability >= 1 - 2*alpha; the ratio's extremes over them
        lo_n = n - n_acc
        if value is None or lo_n <= 0:
            low, high = bounds[0], bounds[1]
        else:
            ratios = [s / c for s in (total - s_acc, total + s_acc) for c in (lo_n, n + n_acc)]
            low, high = max(min(ratios), bounds[0]), min(max(ratios), bounds[1])
        out.update(value=value, low=low, high=high, scale=s_scale, count_scale=n_scale, bounds=list(bounds),
                   alpha=2 * ALPHA, mechanism=f"{mechanism_name(measure, False)} sum / {mechanism_name(measure, True)} count")
    else:
        raise ValueError(f"unknown query kind {kind!r}")
    return out
