from datetime import date

import pandas as pd
import pytest

from provisioning.extracts import transform
from provisioning.policy import current

pytestmark = pytest.mark.unit
REF = date(2026, 3, 15)


def test_age_bands_count_birthdays_at_the_reference_date():
    born = pd.Series(pd.to_datetime(["1986-03-15", "1986-03-16", "2000-01-01", None, "1957-12-31"]))
    ten = transform(born, "generalise:age10", None, current(), REF)
    five = transform(born, "generalise:age5", None, current(), REF)
    # 40 on the day itself, still 39 a day later
    assert ten.tolist()[:3] == ["40-49", "30-39", "20-29"] and pd.isna(ten[3]) and ten[4] == "60-69"
    assert five.tolist()[:3] == ["40-44", "35-39", "25-29"]
    assert transform(pd.Series([17, 64]), "generalise:age10", None, current(), REF).tolist() == ["10-19", "60-69"]


def test_dates_coarsen_to_month_and_year():
    days = pd.Series(pd.to_datetime(["2025-01-31", "2025-12-01"]))
    assert transform(days, "generalise:month", None, current(), REF).tolist() == ["2025-01", "2025-12"]
    assert transform(days, "generalise:year", None, current(), REF).tolist() == [2025, 2025]
    assert transform(days, "keep", None, current(), REF) is days
