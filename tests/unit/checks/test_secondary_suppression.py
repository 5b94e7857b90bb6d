"""Secondary suppression, verified by an attacker: for every suppressed cell, linear programming finds the
smallest and largest value consistent with everything published (cells, row and column totals, counts
not negative). No suppressed cell may come out as a single value, and no cell that failed a rule may be
bracketed more narrowly than the policy's ``min_interval``."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.optimize import linprog

from egress_review import sdc
from egress_review.checks.policy import DisclosurePolicy
from egress_review.checks.suppression import find_recomputable, protect

pytestmark = pytest.mark.unit
POLICY = DisclosurePolicy()


def attack(published: np.ndarray) -> dict[tuple[int, int], tuple[float, float]]:
    """Bounds of every blank (NaN) cell of a table whose last row and column are totals."""
    R, C = published.shape
    unknown = [tuple(c) for c in np.argwhere(np.isnan(published))]
    pos = {c: k for k, c in enumerate(unknown)}
    A, b = [], []
    known = np.nan_to_num(published)

    def equation(cells_plus, cells_minus):
        row = np.zeros(len(unknown))
        rhs = 0.0
        for c in cells_plus:
            if c in pos:
                row[pos[c]] += 1
            else:
                rhs -= known[c]
        for c in cells_minus:
            if c in pos:
                row[pos[c]] -= 1
            else:
                rhs += known[c]
        A.append(row)
        b.append(rhs)

    for r in range(R):
        equation([(r, c) for c in range(C - 1)], [(r, C - 1)])
    for c in range(C):
        equation([(r, c) for r in range(R - 1)], [(R - 1, c)])
    A, b = np.array(A), np.array(b)
    bounds = {}
    for cell, k in pos.items():
        obj = np.zeros(len(unknown))
        obj[k] = 1
        lo = linprog(obj, A_eq=A, b_eq=b, bounds=(0, None), method="highs")
        hi = linprog(-obj, A_eq=A, b_eq=b, bounds=(0, None), method="highs")
        assert lo.status == 0 and hi.status in (0, 3)
        bounds[cell] = (lo.fun, np.inf if hi.status == 3 else -hi.fun)
    return bounds


def random_table(seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    R, C = int(rng.integers(2, 7)), int(rng.integers(2, 6))
    n = int(rng.integers(80, 600))
    pr = rng.dirichlet(np.ones(R) * 0.6)
    pc = rng.dirichlet(np.ones(C) * 0.6)
    return pd.DataFrame({"a": rng.choice([f"r{i}" for i in range(R)], n, p=pr),
                         "b": rng.choice([f"c{j}" for j in range(C)], n, p=pc)})


def test_no_suppressed_cell_can_be_recomputed_from_the_margins():
    attacked = tables = narrow = 0
    for seed in range(110):
        df = random_table(seed)
        result = sdc.crosstab(df.a, df.b, margins=True, policy=POLICY)
        published = result.protected.to_numpy(dtype=float)
        true = result.table.to_numpy(dtype=float)
        if not np.isnan(published).any():
            assert result.summary.status == "pass"
            continue
        tables += 1
        for (i, j), (lo, hi) in attack(published).items():
            attacked += 1
            assert lo <= true[i, j] + 1e-6 <= hi + 2e-6
            assert hi - lo >= 1 - 1e-6, f"seed {seed}: cell ({i},{j})={true[i, j]} pinned to [{lo}, {hi}]"
            # a cell that failed a rule keeps at least min_interval of room either way
            if result.outcome.iat[i, j] != "":
                narrow += hi - lo < POLICY.secondary_suppression.min_interval - 1e-6
    assert tables > 50 and attacked > 300
    assert narrow == 0


def test_primary_suppression_alone_would_have_been_recomputable():
    # the attack is able to fail: without secondary suppression, single small cells come straight back
    hits = 0
    for seed in range(40):
        df = random_table(seed)
        result = sdc.crosstab(df.a, df.b, margins=True, policy=POLICY.model_copy(update={
            "secondary_suppression": POLICY.secondary_suppression.model_copy(update={"enabled": False})}))
        published = result.protected.to_numpy(dtype=float)
        if np.isnan(published).any():
            bounds = attack(published)
            hits += any(hi - lo < 1e-6 for lo, hi in bounds.values())
    assert hits > 5


def test_interval_bounds_agree_with_scipy():
    from egress_review.checks.intervals import _simplex_min, cell_bounds

    rng = np.random.default_rng(11)
    for _ in range(150):
        m, n = int(rng.integers(1, 7)), int(rng.integers(1, 10))
        A = rng.integers(-2, 3, (m, n)).astype(float)
        b = A @ rng.integers(0, 5, n).astype(float)
        c = rng.normal(size=n)
        ref = linprog(c, A_eq=A, b_eq=b, bounds=(0, None), method="highs")
        ours = _simplex_min(c, A, b)
        if ref.status == 3:
            assert ours == -np.inf
        else:
            assert ref.status == 0 and np.isclose(ours, ref.fun, atol=1e-6)
    df = random_table(5)
    r = sdc.crosstab(df.a, df.b, margins=True, policy=POLICY)
    published = r.protected.to_numpy(dtype=float)
    hidden = np.isnan(published)
    ours = cell_bounds(r.table.to_numpy(dtype=float), hidden, np.ones(hidden.shape[0], bool),
                       np.ones(hidden.shape[1], bool))
    theirs = attack(published)
    assert ours.keys() == theirs.keys()
    for cell, (lo, hi) in theirs.items():
        assert np.isclose(ours[cell][0], lo, atol=1e-6) and np.isclose(ours[cell][1], hi, atol=1e-6)


def test_bridge_detection_matches_the_linear_algebra():
    rng = np.random.default_rng(3)
    for _ in range(120):
        R, C = int(rng.integers(2, 6)), int(rng.integers(2, 6))
        body = rng.integers(1, 30, size=(R, C)).astype(float)
        full = np.zeros((R + 1, C + 1))
        full[:R, :C] = body
        full[:R, C] = body.sum(1)
        full[R, :C] = body.sum(0)
        full[R, C] = body.sum()
        mask = rng.random(full.shape) < 0.3
        published = np.where(mask, np.nan, full)
        eq = np.ones(R + 1, dtype=bool), np.ones(C + 1, dtype=bool)
        ours = set(find_recomputable(mask, *eq))
        # all cells positive, so "pinned" by LP means exactly determined by the equations
        pinned = {c for c, (lo, hi) in attack(published).items() if hi - lo < 1e-6}
        assert ours == pinned


def test_secondary_cells_are_few_and_explained():
    df = pd.DataFrame({"a": ["x"] * 50 + ["y"] * 60 + ["z"] * 40, "b": ["u"] * 3 + ["w"] * 47 + ["u"] * 30 +
                       ["w"] * 30 + ["u"] * 20 + ["w"] * 20})
    result = sdc.crosstab(df.a, df.b, margins=True, policy=POLICY)
    assert result.outcome.loc["x", "u"] == "threshold"
    sup = result.suppressed.to_numpy()
    assert sup.sum() == 4  # the small cell and a rectangle closing a cycle: (x,u) (x,w) (z,w) (z,u)
    assert "cannot be worked out from the totals" in str(result.summary)
    assert set(result.secondary_reasons) == {("x", "w"), ("z", "w"), ("z", "u")}
    assert result.secondary_reasons[("z", "u")] == "otherwise cell (x, u) could be worked out from the totals"
    assert "cell (z, u) suppressed: otherwise cell (x, u) could be worked out from the totals" in str(result.summary)
    plan = protect(result.table.to_numpy(dtype=float), result.outcome.to_numpy() != "",
                   np.ones(4, dtype=bool), np.ones(3, dtype=bool), 10)
    assert len(plan.reasons) == 3 and all("worked out" in r for r in plan.reasons.values())


@pytest.mark.parametrize("normalize", ["index", "columns", "all"])
@pytest.mark.parametrize("margins", [False, True])
def test_normalised_tables_are_protected_by_their_implicit_totals(normalize, margins):
    # rows of a normalize="index" table add up to 1 whether or not a total is printed, so one hidden
    # proportion in a row would be 1 minus the others; likewise columns and the whole table
    checked = 0
    for seed in range(25):
        df = random_table(seed)
        r = sdc.crosstab(df.a, df.b, normalize=normalize, margins=margins, policy=POLICY)
        sup = r.suppressed.to_numpy()
        if not sup.any():
            continue
        checked += 1
        body = sup[: sup.shape[0] - (margins and normalize != "columns"),
                   : sup.shape[1] - (margins and normalize != "index")]
        if normalize == "index":
            assert all(row.sum() != 1 for row in body), seed
        elif normalize == "columns":
            assert all(col.sum() != 1 for col in body.T), seed
        else:
            assert body.sum() != 1 and all(row.sum() != 1 for row in body) and all(c.sum() != 1 for c in body.T)
        if normalize == "all" and margins:
            published = r.protected.to_numpy(dtype=float)
            assert all(hi - lo > 1e-9 for lo, hi in attack(published).values()), seed
    assert checked > 10
