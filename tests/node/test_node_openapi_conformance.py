"""The node's OpenAPI document matches what the node does: schemathesis drives every operation, bounded.

The node app runs in-process (WSGI) on a real provisioned federation and a
real SQLite store; every operation gets derandomized generated requests
with a valid agency token. Checked: no server error, every status code and
content type documented, every JSON body matching its schema, and 405s
naming the allowed methods.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from gcc_link.cli.provision import build
from gcc_link.node.app import create_app
from gcc_link.node.config import load_config
from gcc_link.node.db import prepare_store
from tests.node.nodeharness import free_port_base

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


@schemathesis.serializer("application/jose")
def _jose(ctx, value):  # noqa: ANN001 - schemathesis' serializer signature
    """Compact JWS bodies are text: send generated strings as their UTF-8 bytes."""
    return str(value).encode("utf-8", "surrogatepass")


@pytest.fixture(scope="module")
def node(tmp_path_factory):
    fed = build(Path(tmp_path_factory.mktemp("fuzz")), ["KW", "SA"], free_port_base(2))
    config = load_config(fed.configs["KW"])
    prepare_store(config.data_dir, config.db_url)
    app = create_app(config)
    creds = fed.clients["KW"]["KW/MOI"]
    token = app.test_client().post("/oauth/token", data={"grant_type": "client_credentials"},
                                   auth=(creds["client_id"], creds["client_secret"])).get_json()["access_token"]
    return app, token


def test_every_documented_operation_behaves_as_documented(node):
    app, token = node
    schema = schemathesis.openapi.from_wsgi("/openapi.json", app)
    operations = [op.ok() for op in schema.get_all_operations()]
    assert len(operations) >= 15
    failures: dict[str, str] = {}
    for operation in operations:
        @settings(max_examples=20, deadline=None, derandomize=True, database=None,
                  suppress_health_check=list(HealthCheck))
        @given(case=operation.as_strategy())
        def check(case):
            case.call_and_validate(headers={"Authorization": f"Bearer {token}"}, checks=CHECKS)

        try:
            check()
        except BaseException as exc:  # noqa: BLE001 - collect every operation's failure, then report them all
            if isinstance(exc, (KeyboardInterrupt, SystemExit)):
                raise
            failures[operation.label] = "\n".join(str(exc).splitlines()[:12])
    assert failures == {}


def test_a_405_names_the_allowed_methods(node):
    app, _token = node
    r = app.test_client().delete("/api/v1/messages")
    assert r.status_code == 405 and r.get_json()["error"]["code"] == "method_not_allowed"
    assert set(r.headers["Allow"].replace(" ", "").split(",")) >= {"POST"}
