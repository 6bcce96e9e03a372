"""HTTP errors of the node APIs: every failure is JSON ``{"error": {"code", "message"}}``.

``ApiError`` carries its HTTP status; core ``GccLinkError`` codes map to a
status through ``STATUS_BY_CODE`` (4xx: the client's input was refused).
"""

from __future__ import annotations

from ..protocol.errors import GccLinkError

STATUS_BY_CODE: dict[str, int] = {
    "malformed": 400,
    "digest_mismatch": 400,
    "stale": 400,
    "wrong_recipient": 400,
    "bad_signature": 403,
    "untrusted_certificate": 403,
    "sender_not_authorised": 403,
    "access_denied": 403,
    "unknown_state": 422,
    "config_error": 400,
    # this node's trust anchor expired: transient, the sender keeps the message and retries
    "directory_expired": 503,
}


class ApiError(GccLinkError):
    """An API error with its HTTP status and stable code."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message, code=code)
        self.status = status


def status_for(exc: GccLinkError) -> int:
    if isinstance(exc, ApiError):
        return exc.status
    return STATUS_BY_CODE.get(exc.code, 400)
