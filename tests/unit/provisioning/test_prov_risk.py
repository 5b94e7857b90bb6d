import numpy as np
import pandas as pd
import pytest
from pycanon import anonymity

from provisioning.risk import risk_report, to_markdown
from provisioning.synth import generate

pytestmark = pytest.mark.unit


@pytest.fixture(scope="module")
def extract():
    data = generate(3000, seed=11).sick_leave
    age = (2025 - data.birth_date.dt.year) // 10 * 10
    return pd.DataFrame(
        {
            "age_band": age.astype(str),
            "gender": data.gender.astype(str),
            "service_area": data.service_area.astype(str),
            "unit": data.unit.astype(str),
            "diagnosis_group": data.diagnosis_group.astype(str),
            "certification": data.certification.astype(str),
        }
    )


@pytest.mark.parametrize(
    "qis", [["age_band", "gender"], ["age_band", "gender", "service_area"], ["unit"], ["age_band", "gender", "unit"]]
)
def test_k_and_l_agree_with_pycanon(extract, qis):
    report = risk_report(extract, qis, ["diagnosis_group", "certification"], min_k=5, min_l=2)
    assert report["summary"]["k"] == anonymity.k_anonymity(extract, qis)
    for col in ("diagnosis_group", "certification"):
        assert report["l_diversity"][col]["l"] == anonymity.l_diversity(extract, qis, [col])


def test_counts_classes_and_records_below_k(extract):
    qis = ["age_band", "gender", "unit"]
    report = risk_report(extract, qis, [], min_k=5, top=10)
    sizes = extract.groupby(qis).size()
    s = report["summary"]
    assert s["classes"] == len(sizes)
    assert s["classes_below_k"] == int((sizes < 5).sum())
    assert s["records_below_k"] == int(sizes[sizes < 5].sum())
    assert s["meets_k"] == bool(sizes.min() >= 5)
    top = report["highest_risk"]
    assert len(top) == 10 and top[0]["class_size"] == sizes.min()
    assert [r["class_size"] for r in top] == sorted(r["class_size"] for r in top)
    assert "Smallest equivalence class (k): **%d**" % sizes.min() in to_markdown(report, "t")


def test_a_table_that_is_k_anonymous_passes():
    df = pd.DataFrame({"a": np.repeat(["x", "y"], 6), "s": ["p", "q"] * 6})
    report = risk_report(df, ["a"], ["s"], min_k=5)
    assert report["summary"]["k"] == 6 and report["summary"]["meets_k"]
    assert report["l_diversity"]["s"]["l"] == 2
