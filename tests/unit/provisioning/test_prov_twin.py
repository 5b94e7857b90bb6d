"""The synthetic twin of an asked extract: same columns, dtypes, category sets and transformations as
the real extract; labelled synthetic; its rows match real rows on the quasi-identifiers no more often
than independent draws do (measured and printed)."""

import math

import pandas as pd
import pytest

from provisioning.applications.assessment import extract_as_asked
from provisioning.applications.twin import independent_draws, is_synthetic, make_twin, match_rate, write_twin
from provisioning.policy import current
from tests.unit.provisioning.application_data import START, metas, synth_files  # noqa: F401 - fixtures

pytestmark = pytest.mark.unit

GRANT = {"national_id": "pseudonymise", "first_name": "drop", "birth_date": "generalise:age10", "gender": "keep",
         "service_area": "keep", "unit": "keep", "job_title": "keep", "employment_pct": "keep",
         "start_date": "generalise:month", "end_date": "keep", "days": "keep", "certification": "keep",
         "diagnosis_group": "keep"}
QIS = ["age_band", "gender", "unit", "job_title", "employment_pct"]


def files(frame: pd.DataFrame, folder, name: str, twin: bool) -> pd.DataFrame:
    """Write as the extract builder or the twin writer does, and read back as a notebook would."""
    folder.mkdir(parents=True, exist_ok=True)
    if twin:
        write_twin(frame, folder, name, formats=("parquet",))
    else:
        frame.to_parquet(folder / f"{name}.parquet", index=False)
    return pd.read_parquet(folder / f"{name}.parquet")


def assert_same_shape(twin: pd.DataFrame, real: pd.DataFrame, pseudonyms: set[str]) -> None:
    assert list(twin.columns) == list(real.columns)
    # dtypes by name ("category", "int64", "datetime64[ms]", ...); category sets compared below, except a
    # pseudonym column's, whose categories are the pseudonyms themselves
    assert {c: str(t) for c, t in twin.dtypes.items()} == {c: str(t) for c, t in real.dtypes.items()}
    for column in real.columns:
        if isinstance(real[column].dtype, pd.CategoricalDtype):
            assert twin[column].cat.categories.dtype == real[column].cat.categories.dtype, column
            if column not in pseudonyms:
                assert list(twin[column].cat.categories) == list(real[column].cat.categories), column


@pytest.fixture(scope="module")
def real(metas):
    source = pd.read_parquet(metas["sick-leave"].source, columns=list(GRANT))
    frame, _ = extract_as_asked(source, metas["sick-leave"], GRANT, reference=START, policy=current())
    return source, frame


@pytest.mark.parametrize("marginals", ["none", "noisy"])
def test_twin_has_the_real_extracts_columns_dtypes_and_categories(metas, real, tmp_path, marginals):
    source, frame = real
    meta = metas["sick-leave"].model_copy(update={"twin": metas["sick-leave"].twin.model_copy(update={"marginals": marginals})})
    twin, described = make_twin(meta, GRANT, reference=START, source=source, seed=7)
    assert [d["name"] for d in described] == list(frame.columns)
    a = files(twin, tmp_path / "twin", "sick-leave", twin=True)
    b = files(frame, tmp_path / "real", "sick-leave", twin=False)
    assert_same_shape(a, b, pseudonyms={"national_id"})
    assert a["age_band"].cat.categories.tolist() == ["10-19", "20-29", "30-39", "40-49", "50-59", "60-69"]
    assert len(a) == len(b) == metas["sick-leave"].rows
    # values drawn for a person's identifier never come from the data
    assert not set(a.national_id) & set(b.national_id)


def test_twin_is_labelled_synthetic_under_the_real_file_names(metas, tmp_path):
    twin, _ = make_twin(metas["staff"], {"national_id": "pseudonymise", "gender": "keep"}, reference=START, rows=50, seed=1)
    written = write_twin(twin, tmp_path, "staff", application="app-1")
    assert sorted(p.name for p in written) == ["staff.csv", "staff.parquet"]
    assert is_synthetic(tmp_path / "staff.parquet") and twin.attrs["synthetic"]
    assert "not real data" in (tmp_path / "SYNTHETIC-TWIN.md").read_text()
    real_like = tmp_path / "plain.parquet"
    twin.to_parquet(real_like)
    assert not is_synthetic(real_like)


def _match_figures(twin: pd.DataFrame, frame: pd.DataFrame) -> tuple[float, float, float]:
    rate = match_rate(twin, frame, QIS)
    chance = match_rate(independent_draws(frame, QIS, len(twin), seed=3), frame, QIS)
    margin = 4 * math.sqrt(chance * (1 - chance) / len(twin)) + 0.01
    return rate, chance, margin


@pytest.mark.parametrize("marginals", ["none", "noisy"])
def test_twin_rows_match_real_rows_no_more_than_chance(metas, real, marginals):
    """Match rate on the quasi-identifiers (age band, gender, unit, job title, employment %): twin
    rows found among the real rows, against rows drawn independently from the real marginals."""
    source, frame = real
    meta = metas["sick-leave"].model_copy(update={"twin": metas["sick-leave"].twin.model_copy(update={"marginals": marginals})})
    twin, _ = make_twin(meta, GRANT, reference=START, source=source, seed=11)
    rate, chance, margin = _match_figures(twin, frame)
    print(f"\ntwin ({marginals} marginals): {rate:.2%} of {len(twin):,} rows match a real row on {'+'.join(QIS)}; "
          f"independent draws from the real marginals: {chance:.2%} (allowed up to {chance + margin:.2%})")
    assert rate <= chance + margin


def test_control_removed_a_twin_that_resamples_real_rows_is_caught(metas, real):
    """The measure can fail: a "twin" made by resampling real rows (what a leaking generator does)
    matches far above chance."""
    _, frame = real
    leaky = frame.sample(n=len(frame), replace=True, random_state=5).reset_index(drop=True)
    rate, chance, margin = _match_figures(leaky, frame)
    print(f"\nresampled real rows: {rate:.2%} match; chance {chance:.2%}")
    assert rate == 1.0 and rate > chance + margin


def test_an_applications_twins_are_written_for_each_dataset(metas, tmp_path):
    from provisioning.applications.twin import write_application_twins
    from tests.unit.provisioning.application_data import application

    content = application({"staff": {"national_id": "pseudonymise", "gender": "keep", "employed_from": "generalise:year"},
                           "sick-leave": {"national_id": "pseudonymise", "days": "keep", "address": "drop"}})
    written = write_application_twins(content, metas, tmp_path, application="APP-1", seed=2)
    assert {p.name for paths in written.values() for p in paths} == {
        "staff.parquet", "staff.csv", "sick-leave.parquet", "sick-leave.csv"}
    staff = pd.read_parquet(tmp_path / "staff.parquet")
    assert list(staff.columns) == ["national_id", "gender", "employed_from"]
    assert str(staff.employed_from.dtype) == "Int64" and staff.employed_from.between(1980, 2025).all()
    assert is_synthetic(tmp_path / "sick-leave.parquet")


def test_twins_made_again_and_again_cannot_be_averaged_back_to_the_true_marginals(metas, real, monkeypatch):
    """Attack (curious applicant): each twin drew fresh Laplace noise, and its scale followed the columns
    asked for, so an applicant making twin after twin (a draft application each time, one or two columns)
    could average the noise away, or solve two scales for the true counts of a rare diagnosis group.
    Every twin of the same data now gets the same noisy marginal, whatever else is asked."""
    from provisioning.applications import twin as twin_module

    source, _ = real
    meta = metas["sick-leave"].model_copy(update={"twin": metas["sick-leave"].twin.model_copy(update={"marginals": "noisy"})})
    monkeypatch.setattr(twin_module, "twin_noise_key", lambda: b"\x07" * 32, raising=False)  # the master key's stand-in
    seen: list = []
    real_weights = twin_module._noisy_weights

    def spy(counts, *args):
        out = real_weights(counts, *args)
        seen.append((tuple(counts), tuple(out)))
        return out

    monkeypatch.setattr(twin_module, "_noisy_weights", spy)
    weights = []
    for grant in ({"diagnosis_group": "keep"}, {"diagnosis_group": "keep"}, {"diagnosis_group": "keep", "gender": "keep"}):
        seen.clear()
        make_twin(meta, grant, reference=START, source=source[list(grant)], rows=200)  # no seed: as in production
        weights.append(seen[0])
    assert weights[0][0] == weights[1][0] == weights[2][0]  # the same true counts of diagnosis_group
    assert weights[0][1] == weights[1][1] == weights[2][1]  # and the same noisy weights every time
    assert weights[0][1] != tuple(c / sum(weights[0][0]) for c in weights[0][0])  # noisy, not the true shares
