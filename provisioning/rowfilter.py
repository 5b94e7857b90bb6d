"""Row filters of entitlements: a small, safe expression language turned into a pandas mask.

Filters are written like ``council_area == "Health and care" and employment_pct >= 50``. Only column
names, literals, comparisons (``== != < <= > >= in not in``), ``and``/``or``/``not`` and parentheses are
allowed; the expression is parsed with :mod:`ast` and never evaluated, so an entitlement cannot run code
(unlike ``DataFrame.query``)."""

from __future__ import annotations

import ast
import operator
from collections.abc import Iterable

from typing import TYPE_CHECKING

from provisioning.errors import ProvisioningError

if TYPE_CHECKING:  # pandas is imported where filters are applied: checking one needs only ast
    import numpy as np
    import pandas as pd

_COMPARE = {
    ast.Eq: operator.eq,
    ast.NotEq: operator.ne,
    ast.Lt: operator.lt,
    ast.LtE: operator.le,
    ast.Gt: operator.gt,
    ast.GtE: operator.ge,
}


class RowFilterError(ProvisioningError):
    pass


def _literal(node: ast.AST, text: str):  # noqa: ANN202
    try:
        return ast.literal_eval(node)
    except ValueError as exc:
        raise RowFilterError(f"row filter {text!r}: right-hand side must be a literal value") from exc


def _check(node: ast.AST, text: str, columns: set[str]) -> set[str]:
    """Validate the tree and return the column names it uses."""
    if isinstance(node, ast.BoolOp):
        used: set[str] = set()
        for value in node.values:
            used |= _check(value, text, columns)
        return used
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
        return _check(node.operand, text, columns)
    if isinstance(node, ast.Compare) and len(node.ops) == 1:
        if not isinstance(node.left, ast.Name):
            raise RowFilterError(f"row filter {text!r}: the left side of a comparison must be a column name")
        if node.left.id not in columns:
            raise RowFilterError(f"row filter {text!r}: unknown column {node.left.id!r}")
        op = type(node.ops[0])
        if op not in _COMPARE and op not in (ast.In, ast.NotIn):
            raise RowFilterError(f"row filter {text!r}: operator not allowed")
        value = _literal(node.comparators[0], text)
        if op in (ast.In, ast.NotIn) and not isinstance(value, (list, tuple, set)):
            raise RowFilterError(f"row filter {text!r}: 'in' needs a list of values")
        return {node.left.id}
    raise RowFilterError(
        f"row filter {text!r}: only comparisons of a column with a literal, joined by and/or/not, are allowed"
    )


def parse(text: str, columns: Iterable[str]) -> ast.Expression:
    try:
        tree = ast.parse(text, mode="eval")
    except SyntaxError as exc:
        raise RowFilterError(f"row filter {text!r} is not a valid expression: {exc.msg}") from exc
    _check(tree.body, text, set(columns))
    return tree


def validate(text: str, columns: Iterable[str]) -> set[str]:
    tree = parse(text, columns)
    return _check(tree.body, text, set(columns))


def _mask(node: ast.AST, df: pd.DataFrame) -> pd.Series:
    if isinstance(node, ast.BoolOp):
        masks = [_mask(v, df) for v in node.values]
        out = masks[0]
        for m in masks[1:]:
            out = (out & m) if isinstance(node.op, ast.And) else (out | m)
        return out
    if isinstance(node, ast.UnaryOp):
        return ~_mask(node.operand, df)
    assert isinstance(node, ast.Compare) and isinstance(node.left, ast.Name)
    column = df[node.left.id]
    value = ast.literal_eval(node.comparators[0])
    op = type(node.ops[0])
    if op in (ast.In, ast.NotIn):
        result = column.isin(list(value))
        result = result if op is ast.In else ~result
    else:
        import pandas as pd

        if pd.api.types.is_datetime64_any_dtype(column) and isinstance(value, str):
            value = pd.Timestamp(value)
        result = _COMPARE[op](column, value)
    # SQL-like three-valued logic: a comparison with a missing value is unknown, and "not unknown" is
    # still unknown, so a row with a missing value is never selected by accident.
    return result.astype("boolean").mask(column.isna())


def mask(text: str | None, df: pd.DataFrame) -> np.ndarray | None:
    """Boolean array of the rows matching the filter, or None when there is no filter."""
    if not text:
        return None
    tree = parse(text, df.columns)
    return _mask(tree.body, df).fillna(False).to_numpy(dtype=bool)


def apply(text: str | None, df: pd.DataFrame) -> pd.DataFrame:
    """Rows of ``df`` matching the filter (all rows when there is none)."""
    selected = mask(text, df)
    return df if selected is None else df.loc[selected]
