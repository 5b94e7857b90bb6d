"""The DP mechanisms' noise matches epsilon (or rho) and the contribution bound.

OpenDP draws its noise from the operating system's CSPRNG and offers no seed (a seedable sampler
would let whoever knows the seed remove the noise), so the test fixes the seed of the data and of
nothing else, takes a large sample and uses tolerances of about six standard errors: a correct
mechanism fails it with probability below 1e-8, a mechanism calibrated for one row per person
instead of ``k`` (noise k times too small) fails it always."""

from __future__ import annotations

import math
import statistics

import pytest

from egress_review.dp_service import compute
from tests.unit.egress.dp_fixtures import PEOPLE, ROWS_EACH, sick_leave_frame

SAMPLES = 2000


def _draws(meas, data, n: int = SAMPLES) -> list[float]:
    return [float(meas(data)) for _ in range(n)]


@pytest.mark.parametrize(("epsilon", "k"), [(1.0, 1), (0.5, 3)])
def test_count_noise_scale_is_k_over_epsilon(epsilon, k):
    data = ["x"] * 100
    meas, scale = compute.count_measurement("epsilon", epsilon, k)
    assert scale == pytest.approx(k / epsilon, rel=1e-6)
    assert meas.map(k) <= epsilon + 1e-9
    draws = [d - 100 for d in _draws(meas, data)]
    # discrete Laplace with scale t: P(x) ~ q^|x|, q = exp(-1/t), E|X| = 2q / (1 - q^2), sd(X) < t*sqrt(2)
    q = math.exp(-1 / scale)
    assert abs(statistics.fmean(draws)) < 6 * math.sqrt(2) * scale / math.sqrt(SAMPLES)
    mad = statistics.fmean(abs(d) for d in draws)
    assert mad == pytest.approx(2 * q / (1 - q * q), rel=0.12)


def test_zcdp_count_sigma_is_k_over_sqrt_2rho():
    k, rho = 4, 0.5
    meas, scale = compute.count_measurement("rho", rho, k)
    assert scale == pytest.approx(k / math.sqrt(2 * rho), rel=1e-6)
    draws = [d - 10 for d in _draws(meas, ["x"] * 10)]
    assert statistics.pstdev(draws) == pytest.approx(scale, rel=0.1)


def test_sum_scale_covers_k_rows_at_the_bound():
    _, scale = compute.dp_sum([1.0, 2.0], (0.0, 50.0), "epsilon", 1.0, 3)
    assert scale == pytest.approx(3 * 50 / 1.0, rel=1e-3)


def test_contribution_bounding_keeps_at_most_k_rows_per_person():
    frame = sick_leave_frame()
    for k in (1, 2):
        kept = compute.bound_contributions(frame, "national_id", k)
        assert kept.groupby("national_id").size().max() == k
        assert len(kept) == PEOPLE * k


def test_answer_is_noisy_around_the_bounded_count():
    """End to end through answer(): with max_rows=1 the count is around PEOPLE, not PEOPLE * ROWS_EACH,
    and its interval has the promised width."""
    frame = sick_leave_frame()
    plan = {"kind": "count", "entity": "national_id", "columns": [], "measure": "epsilon", "amount": 1.0,
            "max_rows": 1}
    values = [compute.answer(plan, frame)["value"] for _ in range(40)]
    out = compute.answer(plan, frame)
    assert out["scale"] == pytest.approx(1.0)
    assert compute.answer({**plan, "max_rows": 3, "amount": 0.5}, frame)["scale"] == pytest.approx(6.0)
    assert out["high"] - out["low"] == pytest.approx(2 * out["accuracy"])
    assert abs(statistics.fmean(values) - PEOPLE) < 6 * math.sqrt(2) / math.sqrt(40) + 1
    assert ROWS_EACH > 1 and len(set(values)) > 1  # noisy, not the raw count every time


def test_histogram_has_every_declared_cell_and_only_those():
    frame = sick_leave_frame()
    domain = ["Musculoskeletal (L)", "Psychological (P)", "Cardiovascular (K)"]  # K absent, Other not listed
    plan = {"kind": "histogram", "entity": "national_id", "columns": ["diagnosis_group"], "categories": [domain],
            "measure": "epsilon", "amount": 1.0, "max_rows": 1}
    out = compute.answer(plan, frame)
    assert [c["diagnosis_group"] for c in out["cells"]] == domain
    assert out["scale"] == pytest.approx(1.0)
    assert compute.answer({**plan, "max_rows": 2, "measure": "rho", "amount": 0.5}, frame)["scale"] == pytest.approx(2.0)
    assert abs(out["cells"][2]["value"]) < 30  # the absent category is pure noise around 0
