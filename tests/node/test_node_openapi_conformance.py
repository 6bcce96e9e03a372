"""The node's OpenAPI document matches what the node does: schemathesis drives every operation, bounded.

The node app runs in-process (WSGI) on a real provisioned federation and a
real SQLite store (the ``inprocess_node`` fixture); every operation gets
derandomized generated requests with a valid agency token (see
``tests/openapi_kit.py``), and 405s name the allowed methods.
"""

from __future__ import annotations

from tests.openapi_kit import conformance_failures


def test_every_documented_operation_behaves_as_documented(inprocess_node):
    app, headers = inprocess_node
    operations, failures = conformance_failures(app, headers)
    assert operations >= 15 and failures == {}


def test_the_batch_send_is_documented_with_the_configured_cap(inprocess_node):
    """Documented, so the run above drives it; its cap is the node's ``max_batch_messages``."""
    app, _headers = inprocess_node
    doc = app.test_client().get("/openapi.json").get_json()
    op = doc["paths"]["/api/v1/messages:batch"]["post"]
    schema = op["requestBody"]["content"]["application/json"]["schema"]
    assert schema["properties"]["messages"]["maxItems"] == app.extensions["gcc_link"].config.max_batch_messages
    assert op["security"] == [{"oauth2": ["messages:send"]}] and "202" in op["responses"]


def test_a_405_names_the_allowed_methods(inprocess_node):
    app, _headers = inprocess_node
    r = app.test_client().delete("/api/v1/messages")
    assert r.status_code == 405 and r.get_json()["error"]["code"] == "method_not_allowed"
    assert set(r.headers["Allow"].replace(" ", "").split(",")) >= {"POST"}
