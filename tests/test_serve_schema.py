"""Schemathesis against the prediction service's own OpenAPI description: generated requests (valid and invalid) to
every route; none may get a 500, and every refusal carries a message."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, settings

from fedpm.service.app import create_app
from tests.serve_helpers import WINDOW
from tests.test_serve import service_for, world  # noqa: F401 - the world fixture

pytestmark = pytest.mark.usefixtures("snapshot")


@pytest.fixture
def api_schema(world, ctx):
    env, machine, cfg = world
    env.finalize(1.0)
    machine.stream(WINDOW + 2)
    service = service_for(cfg, ctx)
    service.refresh()
    return schemathesis.openapi.from_asgi("/openapi.json", create_app(service))


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_generated_request_gets_a_server_error(case):
    response = case.call()

    assert response.status_code < 500, (case.method, case.formatted_path, case.body, response.text[:300])
    if response.status_code >= 400:
        assert response.json()["error"], response.text
