"""The HTTP error vocabulary shared by the node and the portal.

Every JSON error either server returns is ``{"error": {"code", "message"}}``
with one stable ``code`` per HTTP situation, the same name in both servers
(429 is ``rate_limited`` everywhere, 500 is ``internal_error``). HTTP errors
are not protocol errors: ``HttpError`` has its own root, apart from the
protocol's ``GccLinkError``; a protocol rejection reaching an API is mapped
to a status by the server that received it.
"""

from __future__ import annotations

from typing import Any

__all__ = ["HTTP_CODES", "HttpError", "code_for_status", "error_body"]

#: The stable code of each HTTP situation that has no more specific code.
HTTP_CODES: dict[int, str] = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "too_large",
    415: "unsupported_media_type",
    422: "unprocessable",
    429: "rate_limited",
    500: "internal_error",
    503: "unavailable",
}


def code_for_status(status: int) -> str:
    """The stable code for an HTTP status (``http_error`` for the few we never send)."""
    return HTTP_CODES.get(status, "http_error")


def error_body(code: str, message: str) -> dict[str, Any]:
    """The JSON error document every API of the project returns."""
    return {"error": {"code": code, "message": message}}


class HttpError(Exception):
    """An API refusal with its HTTP status and stable code (not a protocol error)."""

    def __init__(self, status: int, code: str | None, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code or code_for_status(status)
        self.message = message

    def to_dict(self) -> dict[str, Any]:
        return error_body(self.code, self.message)
