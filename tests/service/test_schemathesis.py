"""schemathesis against the live server's OpenAPI spec: generated requests to every
operation (valid and invalid) never answer 5xx, and 2xx bodies match the spec.
Bounded: a fixed number of examples per operation, no deadline per example."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, settings

pytestmark = pytest.mark.slow
MAX_EXAMPLES = 15


@pytest.fixture(scope="session")
def api_schema(server):
    return schemathesis.openapi.from_url(f"{server.url}/openapi.json")


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@settings(max_examples=MAX_EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck),
          derandomize=True)
def test_no_server_errors(case, server):
    from schemathesis import checks

    # the key with the followers scope, so the raw-follower route is exercised too
    case.call_and_validate(headers={"Authorization": f"Bearer {server.keys['full']}"},
                           checks=[checks.not_a_server_error, checks.response_schema_conformance],
                           timeout=30)

