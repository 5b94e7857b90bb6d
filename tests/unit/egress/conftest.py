from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from tests.unit.egress.egress_factories import Env, app_client, make_env


@pytest.fixture
def env(tmp_path) -> Env:
    e = make_env(tmp_path)
    yield e
    e.svc.close()


@pytest.fixture
def client(env: Env) -> TestClient:
    with app_client(env.settings) as c:
        yield c
