import pytest

from provisioning import transformations
from provisioning.declarative import status_path
from provisioning.errors import ProvisioningError
from provisioning.lifecycle import TRANSITIONS
from provisioning.models import ColumnRole, ProjectStatus
from provisioning.policy import ProvisioningPolicy, load
from sandkasse.policy import PolicyError

pytestmark = pytest.mark.unit
S = ProjectStatus


def test_every_status_has_its_transitions_and_closed_is_final():
    assert set(TRANSITIONS) == set(ProjectStatus)
    assert TRANSITIONS[S.closed] == frozenset()
    assert all(S.closed in targets for status, targets in TRANSITIONS.items() if status is not S.closed)


def test_status_paths_follow_the_table():
    assert status_path(S.draft, S.active) == [S.approved, S.active]
    assert status_path(S.suspended, S.active) == [S.active]
    with pytest.raises(ProvisioningError):
        status_path(S.active, S.draft)
    with pytest.raises(ProvisioningError):
        status_path(S.closed, S.active)


def test_direct_identifiers_can_never_be_kept():
    with pytest.raises(ProvisioningError):
        transformations.check_allowed("national_id", ColumnRole.direct_identifier, "keep")
    transformations.check_allowed("national_id", ColumnRole.direct_identifier, "pseudonymise")
    with pytest.raises(ProvisioningError):
        transformations.normalise("encrypt")
    assert transformations.normalise("Generalize:Age10") == "generalise:age10"


def test_policy_file_is_what_the_code_reads(tmp_path):
    policy = load()
    assert isinstance(policy, ProvisioningPolicy) and policy.risk.min_k >= 2
    bad = tmp_path / "p.yaml"
    bad.write_text("version: 1\nrisk: {min_k: 0}\n")
    with pytest.raises(PolicyError):
        load(bad)
