"""The portal's JSON errors use the project's one HTTP error vocabulary (gcc_link.http_errors)."""

from __future__ import annotations

import pytest
from portalkit import PortalEnv, build_instance

from gcc_link.http_errors import HTTP_CODES, HttpError, error_body


@pytest.fixture(scope="module")
def bare(tmp_path_factory: pytest.TempPathFactory) -> PortalEnv:
    """An instance without demo content, with two extra API routes added before the first request."""
    env = build_instance(tmp_path_factory.mktemp("errors"), demo=False)

    def refuse() -> str:
        raise HttpError(422, None, "the request cannot be processed")

    def crash() -> str:
        raise RuntimeError("secret detail 0xdeadbeef")

    env.app.add_url_rule("/api/v1/test-refusal", "test_refusal", refuse)
    env.app.add_url_rule("/api/v1/test-crash", "test_crash", crash)
    return env


@pytest.mark.parametrize(
    "method, url, status",
    [
        ("get", "/api/v1/no-such-thing", 404),
        ("post", "/api/v1/states", 405),
    ],
)
def test_http_errors_have_the_shared_codes(bare, method, url, status):
    response = getattr(bare.client(), method)(url)
    assert response.status_code == status
    body = response.get_json()
    assert body["error"]["code"] == HTTP_CODES[status] and body["error"]["message"]
    assert body == error_body(HTTP_CODES[status], body["error"]["message"])


def test_api_filter_errors_keep_their_specific_code(bare):
    response = bare.client().get("/api/v1/practices?per_page=1000")
    assert response.status_code == 400
    assert response.get_json() == error_body("invalid_per_page", "per_page must be 1..100")


def test_an_http_error_raised_in_a_view_becomes_its_json_refusal(bare):
    response = bare.client().get("/api/v1/test-refusal")
    assert response.status_code == 422
    assert response.get_json() == error_body("unprocessable", "the request cannot be processed")


def test_an_unexpected_error_is_internal_error_without_details(bare):
    response = bare.client().get("/api/v1/test-crash")
    assert response.status_code == 500
    body = response.get_json()
    assert body["error"]["code"] == "internal_error" == HTTP_CODES[500]
    assert "deadbeef" not in response.get_data(as_text=True)


def test_html_pages_keep_their_error_page(bare):
    response = bare.client().get("/en/no-such-page")
    assert response.status_code == 404 and response.mimetype == "text/html"
    html = response.get_data(as_text=True)
    assert "<code>not_found</code>" in html and "<html" in html
