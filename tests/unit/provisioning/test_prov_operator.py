"""The operator of an accountable decision comes from the operating system, not from text the caller
types: LOGNAME/USER and --actor cannot put another person's name on a risk override."""

from __future__ import annotations

import os
import pwd

import pytest

from provisioning.errors import ProvisioningError
from provisioning.operator import accountable_operator, os_operator

pytestmark = pytest.mark.unit


def test_operator_is_the_real_user_id_whatever_the_environment_says(monkeypatch):
    monkeypatch.setenv("LOGNAME", "anne")
    monkeypatch.setenv("USER", "anne")
    me = os_operator()
    assert me.uid == os.getuid() and me.username == pwd.getpwuid(os.getuid()).pw_name.lower()
    assert accountable_operator(None) == me
    assert accountable_operator(me.username.upper()) == me


def test_a_claimed_actor_naming_someone_else_is_refused():
    with pytest.raises(ProvisioningError, match="cannot name someone else"):
        accountable_operator("anne-the-admin")
