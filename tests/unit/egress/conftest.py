from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from tests.unit.egress.egress_factories import Env, make_env


@pytest.fixture
def env(tmp_path) -> Env:
    e = make_env(tmp_path)
    yield e
    e.svc.close()


@pytest.fixture
def client(env: Env) -> TestClient:
    from egress_review.app import create_app

    app = create_app(env.settings)
    with TestClient(app) as c:
        yield c
    app.state.egress.close()
