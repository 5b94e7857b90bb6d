"""Plain-words explanations for flags, one sentence each, with the cell's coordinates."""

from __future__ import annotations

from egress_review.checks.policy import DisclosurePolicy


def where(row: str | None, column: str | None) -> str:
    if row is not None and column is not None and column != "":
        return f"cell ({row}, {column})"
    if row is not None:
        return f"row {row}"
    if column is not None:
        return f"column {column}"
    return "the file"


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else f"{x:.4g}"


def cell_message(rule: str, row: str, column: str, policy: DisclosurePolicy, *, count: float | None = None,
                 unit: str = "people", share: float | None = None, ratio: float | None = None,
                 negatives: float | None = None, missing: float | None = None) -> str:
    at = where(row, column)
    if rule == "threshold":
        if not unit:
            return f"{at} shows a count of {_num(count or 0)}; the minimum is {policy.threshold.min_count}"
        return f"{at} has {_num(count or 0)} {unit}; the minimum is {policy.threshold.min_count}"
    if rule == "zero":
        return (f"{at} is zero, which tells the reader that nobody in this group has this combination; "
                "suppress it, or ask the checkers to accept it as a structural zero")
    if rule == "nk":
        return (f"{at} is dominated: its {policy.nk.n} largest contributors make up {share:.0%} of the total; "
                f"the limit is {policy.nk.k:.0%}")
    if rule == "p_percent":
        return (f"{at} is dominated: the contributors other than the two largest add up to {ratio:.1%} of the "
                f"largest, so the second-largest could estimate the largest to within {policy.p_percent.p:.0%}")
    if rule == "negative":
        return (f"{at} includes {_num(negatives or 0)} negative values, so dominance cannot be judged; "
                "a checker must look at it")
    if rule == "missing":
        return f"{at} silently left out {_num(missing or 0)} missing values"
    return f"{at} fails the {rule} rule"
