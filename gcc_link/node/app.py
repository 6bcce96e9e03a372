"""The node's Flask application factory.

``create_app(config)`` builds one node process: context (identity,
directory, store), the OAuth authorization server and four blueprints
(peer API, agency API, OAuth token endpoint, operations). Every error is
JSON: ``GccLinkError`` as its 4xx code, HTTP errors by name, and anything
unexpected as a 500 ``internal`` (logged, never leaked).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from flask import Blueprint, Flask, Response, current_app, jsonify
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.exceptions import HTTPException

from ..http_errors import HttpError, code_for_status, error_body
from ..protocol.errors import GccLinkError
from . import agency_api, gap, operator_api, ops, peer_api
from .apierrors import status_for
from .config import NodeConfig, load_config
from .context import NodeContext, seed_services
from .db import describe_db_error
from .oauth import init_oauth, token_response

__all__ = [
    "app_from_env",
    "create_app",
    "token",
]

log = logging.getLogger("gcc_link.node")

oauth_bp = Blueprint("oauth", __name__)


@oauth_bp.post("/oauth/token")
def token() -> Response:
    """RFC 6749 token endpoint (errors in RFC 6749 form, as OAuth clients expect)."""
    return token_response(current_app.extensions["gcc_link.oauth"])


def _error(status: int, code: str, message: str) -> tuple[Response, int]:
    return jsonify(error_body(code, message)), status


def create_app(config: NodeConfig | str | Path | None = None, *, context: NodeContext | None = None) -> Flask:
    """Build the node application from a config object or a ``node.toml`` path."""
    if not isinstance(config, NodeConfig):
        config = load_config(config)
    ctx = context or NodeContext.create(config)
    seed_services(ctx)
    app = Flask("gcc_link.node")
    # the largest body any route accepts (a peer batch); routes enforce their own limits
    app.config["MAX_CONTENT_LENGTH"] = config.batch_max_bytes + config.max_body_bytes * 2
    app.config["JSON_SORT_KEYS"] = False
    app.extensions["gcc_link"] = ctx
    app.extensions["gcc_link.oauth"] = init_oauth(app, config.token_ttl_seconds)
    operator_api.allow_operator_scope(app.extensions["gcc_link.oauth"])
    for bp in (peer_api.bp, agency_api.bp, oauth_bp, ops.bp, gap.bp, operator_api.bp):
        app.register_blueprint(bp)

    @app.errorhandler(GccLinkError)
    def on_gcc_error(exc: GccLinkError) -> tuple[Response, int]:
        return jsonify(exc.to_dict()), status_for(exc)

    @app.errorhandler(HttpError)
    def on_api_error(exc: HttpError) -> tuple[Response, int]:
        return jsonify(exc.to_dict()), exc.status

    @app.errorhandler(HTTPException)
    def on_http_error(exc: HTTPException) -> tuple[Response, int]:
        status = exc.code or 500
        response, code = _error(status, code_for_status(status), exc.description or exc.name)
        allowed = getattr(exc, "valid_methods", None)
        if status == 405 and allowed:
            response.headers["Allow"] = ", ".join(sorted(allowed))  # RFC 9110: a 405 names what is allowed
        return response, code

    @app.errorhandler(SQLAlchemyError)
    def on_store_error(exc: SQLAlchemyError) -> tuple[Response, int]:
        # the store failed (gone, read-only, unreachable): nothing was accepted, the caller may retry
        log.error("database error: %s", describe_db_error(exc))
        return _error(503, code_for_status(503), "the node's store is unavailable; nothing was accepted, retry")

    @app.errorhandler(Exception)
    def on_unexpected(exc: Exception) -> tuple[Response, int]:
        log.exception("unexpected error")
        return _error(500, code_for_status(500), "internal error; the request was not processed")

    @app.after_request
    def no_store(response: Response) -> Response:
        response.headers.setdefault("Cache-Control", "no-store")
        return response

    return app


def app_from_env() -> Any:
    """WSGI entry point for gunicorn: ``GCC_CONFIG`` names the node.toml."""
    import os

    return create_app(os.environ.get("GCC_CONFIG"))
