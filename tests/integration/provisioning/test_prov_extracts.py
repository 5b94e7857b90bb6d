import hashlib
import json
import stat
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import func, select

from provisioning import api, service
from provisioning.errors import KeyDestroyed, ProvisioningError, RiskBelowThreshold
from provisioning.extracts import build_project_extracts
from provisioning.keys import project_key, scrub_destroyed_keys
from provisioning.models import Dataset, Project, ProvisioningAuditEvent
from provisioning.pseudonymise import pseudonym
from sandkasse.db import session_scope
from tests.integration.provisioning.prov_factories import OPEN_DAY, SAFE_GRANT, make_project

pytestmark = pytest.mark.integration


def build(factory, slug):
    with session_scope(factory) as s:
        build_project_extracts(s, service.get_project(s, slug), actor="anne")


def test_extract_holds_only_granted_columns_of_filtered_rows(catalogue, synth_dir):
    grant = {"national_id": "pseudonymise", "birth_date": "generalise:age10", "unit": "keep", "start_date": "generalise:month",
             "days": "keep", "diagnosis_group": "keep", "first_name": "drop"}
    make_project(catalogue, "edu", {"ingrid": "lead"}, {"sick-leave": grant}, {"sick-leave": 'council_area == "Education" and days >= 3'})
    build(catalogue, "edu")

    folder = api.extract_dir("edu")
    source = pd.read_parquet(synth_dir / "sick_leave.parquet")
    wanted = source[(source.council_area == "Education") & (source.days >= 3)]
    expected_columns = ["national_id", "age_band", "unit", "start_date", "days", "diagnosis_group"]
    for name in ("sick-leave.parquet", "sick-leave.csv"):
        path = folder / name
        frame = pd.read_parquet(path) if name.endswith("parquet") else pd.read_csv(path)
        assert list(frame.columns) == expected_columns
        assert len(frame) == len(wanted)
        assert stat.S_IMODE(path.stat().st_mode) == 0o444
    csv = (folder / "sick-leave.csv").read_text()
    assert not any(fnr in csv for fnr in wanted.national_id.head(200))
    assert not any(name in csv for name in ("Ellingsen", "Kattemvegen"))
    frame = pd.read_parquet(folder / "sick-leave.parquet")
    assert set(frame.age_band) <= {f"{a}-{a + 9}" for a in range(10, 80, 10)}
    assert frame.start_date.str.fullmatch(r"\d{4}-\d{2}").all()
    assert set(frame.unit) == set(wanted.unit.astype(str))

    with session_scope(catalogue) as s:
        (info,) = api.project_datasets(s, "edu")
        assert [c.name for c in info.columns] == expected_columns
        assert sorted(info.extract_files) == ["sick-leave.csv", "sick-leave.parquet"]
        extract = service.get_project(s, "edu").extracts[0]
        digests = json.loads(extract.sha256)
        assert digests["sick-leave.csv"] == hashlib.sha256((folder / "sick-leave.csv").read_bytes()).hexdigest()
    report = json.loads((folder.parent / "reports" / "sick-leave.risk.json").read_text())
    assert report["summary"]["records"] == len(wanted)
    assert report["summary"]["quasi_identifiers"] == ["age_band", "unit"]


def test_pseudonyms_are_stable_within_a_project_and_unlinkable_across(catalogue, synth_dir):
    both = {"sick-leave": SAFE_GRANT, "staff": {"national_id": "pseudonymise", "gender": "keep"}}
    make_project(catalogue, "alpha", {"ingrid": "lead"}, both)
    make_project(catalogue, "beta", {"jonas": "lead"}, {"sick-leave": SAFE_GRANT})
    build(catalogue, "alpha")
    first = pd.read_parquet(api.extract_dir("alpha") / "sick-leave.parquet")
    build(catalogue, "alpha")
    again = pd.read_parquet(api.extract_dir("alpha") / "sick-leave.parquet")
    build(catalogue, "beta")
    other = pd.read_parquet(api.extract_dir("beta") / "sick-leave.parquet")
    staff = pd.read_parquet(api.extract_dir("alpha") / "staff.parquet")

    assert first.national_id.tolist() == again.national_id.tolist()
    assert set(first.national_id).isdisjoint(set(other.national_id))
    # the same person has the same pseudonym in both of the project's datasets
    assert set(first.national_id) <= set(staff.national_id)

    source = pd.read_parquet(synth_dir / "sick_leave.parquet", columns=["national_id"])
    with session_scope(catalogue) as s:
        key = project_key(s, service.get_project(s, "alpha"), create=False)
    assert first.national_id.tolist() == [pseudonym(v, key) for v in source.national_id]
    # without the key: neither a plain hash nor a keyed hash under a guessed key reproduces them
    plain = {hashlib.sha256(v.encode()).hexdigest()[:16] for v in source.national_id.head(500)}
    assert plain.isdisjoint(set(first.national_id))


def test_activation_is_refused_below_k_until_an_admin_overrides(catalogue):
    make_project(catalogue, "units", {"ingrid": "lead"}, {"sick-leave": {"national_id": "pseudonymise", "unit": "keep", "days": "keep"}})
    with pytest.raises(RiskBelowThreshold, match="smallest equivalence class"):
        with session_scope(catalogue) as s:
            service.activate(s, "units", actor="anne", reason="go")
    with session_scope(catalogue) as s:
        assert service.get_project(s, "units").status.value == "approved"
    assert not api.extract_dir("units").exists() or not any(api.extract_dir("units").iterdir())

    build(catalogue, "units")
    with pytest.raises(ProvisioningError, match="not a registered admin"):
        with session_scope(catalogue) as s:
            service.record_risk_override(s, "units", "sick-leave", actor="ola", reason="looks fine")
    with pytest.raises(ProvisioningError, match="reason"):
        with session_scope(catalogue) as s:
            service.record_risk_override(s, "units", "sick-leave", actor="anne", reason=" ")
    with session_scope(catalogue) as s:
        service.record_risk_override(s, "units", "sick-leave", actor="anne", reason="tiny units needed for the study; output checking covers them")
    with session_scope(catalogue) as s:
        service.activate(s, "units", actor="anne", reason="go")
    with session_scope(catalogue) as s:
        events = {e.action: json.loads(e.detail) for e in s.execute(select(ProvisioningAuditEvent)).scalars()}
        assert events["risk.override"]["reason"].startswith("tiny units")
        assert events["project.activate"]["risk_overrides"][0]["override_by"] == "anne"


def test_closing_destroys_the_key_and_the_extracts(catalogue):
    make_project(catalogue, "short", {"ingrid": "lead", "ola": "researcher"}, {"sick-leave": SAFE_GRANT})
    with session_scope(catalogue) as s:
        service.activate(s, "short", actor="anne", reason="approved")
    with session_scope(catalogue) as s:
        assert api.can_access_project(s, "ola", "short", on=OPEN_DAY)
        assert project_key(s, service.get_project(s, "short"), create=False)
    assert (api.extract_dir("short") / "sick-leave.parquet").exists()

    with session_scope(catalogue) as s:
        wrapped = service.get_project(s, "short").key.wrapped
        service.close(s, "short", actor="anne", reason="study finished")
    engine = catalogue.kw["bind"]
    scrub_destroyed_keys(engine)
    if engine.dialect.name == "sqlite":  # not even the database files still hold the wrapped key
        db = Path(engine.url.database)
        stored = b"".join(p.read_bytes() for p in db.parent.glob(db.name + "*"))
        assert len(wrapped) > 40 and wrapped not in stored
    with session_scope(catalogue) as s:
        project = service.get_project(s, "short")
        assert project.key.wrapped is None and project.key.destroyed_at is not None
        with pytest.raises(KeyDestroyed):
            project_key(s, project)
        assert not api.can_access_project(s, "ola", "short", on=OPEN_DAY)
        assert api.stoppable_servers(s, [("ola", "short")], on=OPEN_DAY) == [("ola", "short")]
        close = [e for e in s.execute(select(ProvisioningAuditEvent)).scalars() if e.action == "project.close"][0]
        assert json.loads(close.detail)["key_destroyed"] is True and close.actor == "anne"
        with pytest.raises(ProvisioningError):
            build_project_extracts(s, project)
    assert not api.extract_dir("short").exists()


def _counts(factory):
    with session_scope(factory) as s:
        return {m.__name__: s.scalar(select(func.count()).select_from(m)) for m in (Dataset, Project, ProvisioningAuditEvent)}


@pytest.mark.parametrize(
    ("action", "message"),
    [
        (lambda s: service.grant(s, "bad", "sick-leave", {"national_id": "pseudonymise", "salary": "keep"}), "no column 'salary'"),
        (lambda s: service.grant(s, "bad", "payroll", {"x": "keep"}), "no dataset named 'payroll'"),
        (lambda s: service.grant(s, "bad", "sick-leave", {"days": "keep"}, row_filter="bonus > 1"), "unknown column 'bonus'"),
        (lambda s: service.grant(s, "bad", "sick-leave", {"days": "encrypt"}), "unknown transformation"),
        (lambda s: service.update_project(s, "bad", end_date=s.info["start"].replace(year=2020)), "before start date"),
        (lambda s: service.create_dataset(s, name="d2", source=s.info["src"], columns={"national_id": "direct_identifier", "nope": "other"}), "columns not in"),
        (lambda s: service.create_dataset(s, name="d3", source=s.info["src"], columns={"days": "secret"}), "unknown role"),
        (lambda s: service.add_member(s, "bad", "ola", "owner"), "unknown member role"),
        (lambda s: service.activate(s, "bad"), "cannot become active"),
    ],
)
def test_bad_input_is_refused_and_changes_nothing(catalogue, synth_dir, action, message):
    make_project(catalogue, "bad", {"ingrid": "lead"}, {}, status="draft")
    before = _counts(catalogue)
    with pytest.raises(ProvisioningError, match=message):
        with session_scope(catalogue) as s:
            s.info.update(start=service.get_project(s, "bad").start_date, src=synth_dir / "sick_leave.parquet")
            service.add_member(s, "bad", "extra", "researcher", actor="anne")  # a change that must be rolled back
            action(s)
    assert _counts(catalogue) == before
    with session_scope(catalogue) as s:
        assert set(api.get_project(s, "bad").members) == {"ingrid"}
