import pandas as pd
import pytest

from provisioning import rowfilter

pytestmark = pytest.mark.unit

DF = pd.DataFrame({"area": ["a", "b", "c", "a"], "n": [1, 5, 10, None], "d": pd.to_datetime(["2025-01-01", "2025-06-01", "2025-12-01", None])})


@pytest.mark.parametrize(
    ("expr", "rows"),
    [
        ('area == "a"', [0, 3]),
        ("n >= 5", [1, 2]),
        ('area in ["a", "c"] and not n > 5', [0]),
        ('area == "b" or n == 10', [1, 2]),
        ('d >= "2025-06-01"', [1, 2]),
        ('area not in ("a",)', [1, 2]),
    ],
)
def test_selects_rows(expr, rows):
    assert rowfilter.apply(expr, DF).index.tolist() == rows


@pytest.mark.parametrize(
    "expr",
    ['__import__("os").system("id")', "area.str.len() > 1", "n + 1 > 2", "nope == 1", "area == other", "n in 5", "lambda: 1", "n >"],
)
def test_refuses_anything_but_comparisons_with_literals(expr):
    with pytest.raises(rowfilter.RowFilterError):
        rowfilter.validate(expr, DF.columns)


def test_no_filter_keeps_everything():
    assert rowfilter.apply(None, DF) is DF
