"""How the node's APIs answer errors: every failure is JSON ``{"error": {"code", "message"}}``.

Two kinds reach a handler. An ``HttpError`` (from ``gcc_link.http_errors``,
shared with the portal) carries its own status. A protocol ``GccLinkError``
(a rejection, a configuration problem) is mapped to a status by its code
through ``STATUS_BY_CODE``: 4xx when the client's input was refused, 503
when this node's own trust anchor has expired and the sender should retry.
"""

from __future__ import annotations

from ..http_errors import HttpError
from ..protocol.errors import GccLinkError

__all__ = ["STATUS_BY_CODE", "ApiError", "status_for"]

#: The node's name for an HTTP refusal (the shared ``HttpError``).
ApiError = HttpError

STATUS_BY_CODE: dict[str, int] = {
    "malformed": 400,
    "digest_mismatch": 400,
    "stale": 400,
    "wrong_recipient": 400,
    "bad_signature": 403,
    "untrusted_certificate": 403,
    "sender_not_authorised": 403,
    "access_denied": 403,
    "id_conflict": 409,
    "unknown_state": 422,
    "not_found": 404,
    "config_error": 400,
    # this node's trust anchor expired: transient, the sender keeps the message and retries
    "directory_expired": 503,
}


def status_for(exc: GccLinkError) -> int:
    """The HTTP status of a protocol error that reached an API."""
    return STATUS_BY_CODE.get(exc.code, 400)
