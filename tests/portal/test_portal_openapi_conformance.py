"""The portal's open-data OpenAPI document matches what the portal does (schemathesis, bounded).

Every documented operation gets derandomized generated requests against a
demo instance (real SQLite, real search index); see ``tests/openapi_kit.py``.
"""

from __future__ import annotations

from tests.openapi_kit import conformance_failures


def test_every_documented_operation_behaves_as_documented(portal_env):
    operations, failures = conformance_failures(portal_env.app, examples=25)
    assert operations >= 12 and failures == {}


def test_a_405_names_the_allowed_methods(portal_env):
    r = portal_env.client().post("/api/v1/states")
    assert r.status_code == 405 and r.get_json()["error"]["code"] == "method_not_allowed"
    assert "GET" in r.headers["Allow"]
