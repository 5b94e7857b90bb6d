"""The cell rules, evaluated on per-cell statistics with numpy (no loop over cells).

Both sides use this module: the notebook wrappers (statistics computed from microdata) and the server
re-check (statistics read from the export's sidecar, or from the table itself when there is none), so a
cell gets the same verdict wherever it is judged.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from egress_review.checks.policy import DisclosurePolicy

# Order in which rule names appear in an outcome cell ("threshold; zero").
RULE_ORDER: tuple[str, ...] = (
    "threshold", "zero", "nk", "p_percent", "negative", "missing", "dof",
    "identifier", "record_level", "differencing",
)

# Which cell rules apply to which aggregate, following the statbarn ontology ACRO 1.0.2 uses:
# frequencies and order statistics reveal class membership (zeros matter); linear aggregates can be
# dominated by one contributor. Standard deviations are judged by their count like every other cell
# (ACRO's own DoF mask for them marks nearly every cell, see docs/disclosure-rules.md).
AGG_RULES: dict[str, frozenset[str]] = {
    "count": frozenset({"threshold", "zero"}),
    "size": frozenset({"threshold", "zero"}),
    "sum": frozenset({"threshold", "nk", "p_percent", "negative", "missing"}),
    "mean": frozenset({"threshold", "nk", "p_percent", "negative", "missing"}),
    "median": frozenset({"threshold", "zero", "missing"}),
    "min": frozenset({"threshold", "zero", "missing"}),
    "max": frozenset({"threshold", "zero", "missing"}),
    "mode": frozenset({"zero", "missing"}),
    "std": frozenset({"threshold", "missing"}),
    "var": frozenset({"threshold", "missing"}),
    "nunique": frozenset({"threshold", "zero"}),
}
LINEAR_AGGS = frozenset({"sum", "mean"})


def agg_name(aggfunc: object) -> str:
    """Canonical name of a pandas aggfunc (None means a frequency table)."""
    if aggfunc is None:
        return "count"
    if isinstance(aggfunc, str):
        name = aggfunc
    else:
        name = getattr(aggfunc, "__name__", str(aggfunc))
    name = {"len": "count", "amax": "max", "amin": "min", "average": "mean", "nanmean": "mean",
            "nansum": "sum", "agg_mode": "mode"}.get(name, name)
    return name


def rules_for(agg: str) -> frozenset[str]:
    if agg not in AGG_RULES:
        raise ValueError(f"aggregate {agg!r} is not supported by the disclosure checks; "
                         f"use one of {sorted(AGG_RULES)}")
    return AGG_RULES[agg]


@dataclass
class CellStats:
    """Per-cell statistics of a table, flattened in row-major order over the table's cells.

    ``count`` is the number of statistical units (distinct entities when an entity column was given,
    rows otherwise); ``top`` holds the largest contributions per cell (per entity when given),
    descending, NaN-padded, shape (cells, m).
    """

    count: np.ndarray
    agg: np.ndarray  # aggregate name per cell (object array of str)
    total: np.ndarray | None = None
    top: np.ndarray | None = None
    negative: np.ndarray | None = None
    missing: np.ndarray | None = None
    extra: dict = field(default_factory=dict)


def evaluate(stats: CellStats, policy: DisclosurePolicy) -> dict[str, np.ndarray]:
    """Return rule name -> boolean mask over cells for every enabled cell rule that some cell fails."""
    count = np.asarray(stats.count, dtype=float)
    aggs = np.asarray(stats.agg, dtype=object)
    applies = {rule: np.zeros(count.shape, dtype=bool) for rule in RULE_ORDER}
    for agg in pd.unique(aggs):  # hash-based: sorting 100,000 Python strings is the slow part otherwise
        sel = aggs == agg
        for rule in rules_for(str(agg)):
            applies[rule] |= sel
    masks: dict[str, np.ndarray] = {}

    if policy.threshold.enabled:
        masks["threshold"] = applies["threshold"] & (np.nan_to_num(count, nan=0.0) < policy.threshold.min_count)
    if policy.zero.enabled:
        masks["zero"] = applies["zero"] & (np.nan_to_num(count, nan=0.0) == 0)

    negative = np.zeros(count.shape, dtype=bool)
    if stats.negative is not None:
        negative = applies["negative"] & (np.nan_to_num(np.asarray(stats.negative, dtype=float)) > 0)
        if policy.negative.enabled:
            masks["negative"] = negative

    if stats.top is not None and stats.total is not None:
        top = np.asarray(stats.top, dtype=float)
        total = np.asarray(stats.total, dtype=float)
        top0 = np.nan_to_num(top, nan=0.0)
        # Dominance is undefined where a contribution is negative: those cells (and only those) go to a
        # checker through the negative rule.
        dominance_ok = ~negative
        if policy.nk.enabled:
            n = policy.nk.n
            if top.shape[1] < n:
                raise ValueError(f"the statistics keep {top.shape[1]} largest contributions; the NK rule needs {n}")
            top_n = top0[:, :n].sum(axis=1)
            with np.errstate(divide="ignore", invalid="ignore"):
                share = np.where(total > 0, top_n / np.where(total > 0, total, 1.0), 0.0)
            masks["nk"] = applies["nk"] & dominance_ok & (share >= policy.nk.k)
        if policy.p_percent.enabled:
            if top.shape[1] < 2:
                raise ValueError("the p% rule needs the two largest contributions")
            top1, top2 = top0[:, 0], top0[:, 1]
            rest = np.nan_to_num(total, nan=0.0) - top1 - top2
            with np.errstate(divide="ignore", invalid="ignore"):
                ratio = np.where(top1 > 0, rest / np.where(top1 > 0, top1, 1.0), np.inf)
            # Floating-point sums can leave a tiny negative remainder for 1-2 contributors.
            masks["p_percent"] = applies["p_percent"] & dominance_ok & (top1 > 0) & (ratio < policy.p_percent.p)
    if policy.missing.enabled and stats.missing is not None:
        masks["missing"] = applies["missing"] & (np.nan_to_num(np.asarray(stats.missing, dtype=float)) > 0)
    return {rule: mask for rule, mask in masks.items() if mask.any()}


def outcome_strings(masks: dict[str, np.ndarray], size: int) -> np.ndarray:
    """'; '-joined failing rule names per cell ('' where safe), built from a bit code per cell."""
    names = [r for r in RULE_ORDER if r in masks] + sorted(r for r in masks if r not in RULE_ORDER)
    code = np.zeros(size, dtype=np.int64)
    for bit, name in enumerate(names):
        code |= masks[name].reshape(-1).astype(np.int64) << bit
    uniques, inverse = np.unique(code, return_inverse=True)
    labels = np.array(["; ".join(n for b, n in enumerate(names) if u >> b & 1) for u in uniques], dtype=object)
    return labels[inverse.reshape(-1)]


def severity_verdict(rules_failed: set[str], policy: DisclosurePolicy) -> str:
    if any(policy.severity_of(r) == "fail" for r in rules_failed):
        return "fail"
    return "review" if rules_failed else "pass"
