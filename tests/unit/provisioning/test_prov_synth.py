import numpy as np
import pytest

from provisioning.synth import fnr, generate
from provisioning.synth.generate import SICK_LEAVE_ROLES, STAFF_ROLES

pytestmark = pytest.mark.unit


@pytest.fixture(scope="module")
def data():
    return generate(employees=15000, seed=2026)


def test_organisation_matches_the_seed(data):
    units = data.units
    assert units.council_area.nunique() == 8
    assert units.service_area.nunique() == 19
    assert (units.employees > 0).sum() >= 200
    assert 1 <= ((units.employees > 0) & (units.employees < 5)).sum()
    assert len(data.staff) == 15000
    assert data.staff.national_id.is_unique


def test_sick_leave_rates_are_realistic(data):
    assert 0.08 <= data.sick_leave_rate() <= 0.10
    by_unit = data.sick_leave_rate("unit")
    assert (by_unit >= 0.18).sum() >= 3, "some units should be near 20 %"
    assert (by_unit < 0.06).sum() >= 10, "and many well below the average"


def test_episodes_are_consistent(data):
    ep = data.sick_leave
    assert (ep.end_date >= ep.start_date).all()
    assert ((ep.end_date - ep.start_date).dt.days + 1 == ep.days).all()
    self_cert = ep[ep.certification == "self-certified"]
    assert self_cert.days.max() <= 3
    assert set(ep.national_id) <= set(data.staff.national_id)
    assert set(SICK_LEAVE_ROLES) == set(ep.columns)
    assert set(STAFF_ROLES) == set(data.staff.columns)


def test_national_ids_are_valid_and_encode_gender(data):
    sample = data.staff.sample(2000, random_state=1)
    assert all(fnr.is_valid(x) for x in sample.national_id)
    female_digit_even = sample.national_id.str[8].astype(int) % 2 == 0
    assert (female_digit_even == (sample.gender == "female")).all()
    born = sample.birth_date.dt.strftime("%d%m%y")
    assert (sample.national_id.str[:6] == born).all()


def test_a_single_changed_digit_is_always_detected():
    rng = np.random.default_rng(5)
    births = np.array(["1980-02-29", "2001-12-31", "1959-06-15"], dtype="datetime64[D]")
    for number in fnr.generate(births, np.array([True, False, True]), rng):
        for pos in range(11):
            for d in "0123456789":
                if d != number[pos]:
                    assert not fnr.is_valid(number[:pos] + d + number[pos + 1:])


def test_same_seed_same_data_and_other_seed_other_data():
    a, b, c = generate(800, seed=7), generate(800, seed=7), generate(800, seed=8)
    assert a.sick_leave.equals(b.sick_leave)
    assert not a.staff.national_id.equals(c.staff.national_id)


def test_scales_by_employees_and_years():
    small = generate(2000, seed=1, years=3)
    assert small.sick_leave.start_date.dt.year.nunique() == 3
    assert len(small.sick_leave) > 3 * 2000  # ~2.5 episodes per employee and year
