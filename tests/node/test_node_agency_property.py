"""Property test: any JSON an agency sends gets a clear 2xx/4xx answer with a stable code, never a 500."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)  # JSON has neither
    | st.text(max_size=12),
    lambda kids: st.lists(kids, max_size=3) | st.dictionaries(st.text(max_size=6), kids, max_size=3),
    max_leaves=12,
)
fields = st.fixed_dictionaries(
    {},
    optional={
        "recipient": st.one_of(st.sampled_from(["SA/MOI", "KW/MOH", "XX/MOI", "SA/NOSUCH", "sa/moi"]), json_values),
        "body": json_values,
        "service": st.one_of(
            st.none(), st.sampled_from(["SA/MOI/vehicle-record", "SA/NIC/identity-verify"]), json_values
        ),
        "conversation_id": st.one_of(st.none(), st.uuids().map(str), json_values),
        "in_reply_to": st.one_of(st.none(), st.uuids().map(str), json_values),
        "ttl_seconds": st.one_of(st.integers(-5, 3_000_000), json_values),
        "content_type": st.one_of(st.just("application/json"), json_values),
        "sender": st.one_of(st.just("KW/MOI"), json_values),
    },
)


@pytest.fixture(scope="module")
def node(inprocess_node):
    app, headers = inprocess_node
    return app.test_client(), headers


@settings(
    max_examples=200,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(request=st.one_of(fields, json_values))
def test_any_send_request_is_answered_with_a_stable_code(node, request):
    client, headers = node
    r = client.post(
        "/api/v1/messages", data=json.dumps(request), headers={**headers, "Content-Type": "application/json"}
    )
    assert r.status_code in (202, 400, 403, 404, 413, 422), r.get_data(as_text=True)
    data = r.get_json()
    if r.status_code == 202:
        assert data["status"] == "queued" and len(data["id"]) == 36
    else:
        assert set(data) == {"error"} and data["error"]["code"] and data["error"]["message"]


@settings(
    max_examples=100,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(after=st.text(max_size=12), limit=st.text(max_size=6))
def test_any_inbox_parameters_are_answered_with_a_stable_code(node, after, limit):
    client, headers = node
    r = client.get("/api/v1/inbox", query_string={"after": after, "limit": limit}, headers=headers)
    assert r.status_code in (200, 400), r.get_data(as_text=True)
    if r.status_code == 400:
        assert r.get_json()["error"]["code"] in ("invalid_cursor", "invalid_request")


#: What a batch item is refused with: the codes a single send answers with.
ITEM_CODES = {
    "invalid_request",
    "sender_mismatch",
    "unknown_service",
    "too_large",
    "unknown_state",
    "unknown_recipient",
}


@settings(
    max_examples=150,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    request=st.one_of(
        st.fixed_dictionaries({"messages": st.lists(st.one_of(fields, json_values), min_size=1, max_size=6)}),
        st.dictionaries(st.sampled_from(["messages", "items", "sender"]), json_values, max_size=2),
        json_values,
    )
)
def test_any_batch_request_is_answered_item_by_item_with_stable_codes(node, request):
    client, headers = node
    r = client.post(
        "/api/v1/messages:batch", data=json.dumps(request), headers={**headers, "Content-Type": "application/json"}
    )
    assert r.status_code in (202, 400, 413), r.get_data(as_text=True)
    data = r.get_json()
    if r.status_code != 202:
        assert set(data) == {"error"} and data["error"]["code"] in ("invalid_request", "too_large")
        return
    items = request["messages"]
    assert [a["index"] for a in data["items"]] == list(range(len(items)))
    assert data["queued"] + data["rejected"] == len(items)
    for answer in data["items"]:
        if answer["status"] == "queued":
            assert len(answer["id"]) == 36 and len(answer["conversation_id"]) == 36
        else:
            assert answer["status"] == "rejected" and answer["error"]["code"] in ITEM_CODES
            assert answer["error"]["message"]
