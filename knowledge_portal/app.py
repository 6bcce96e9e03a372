"""The application factory: ``create_app(config)`` wires config, database, i18n and blueprints.

The factory has no side effect on the database: it checks the schema is at
the newest revision and raises ``ConfigError`` ("run gcc-link portal
migrate") otherwise; schema changes happen in :func:`knowledge_portal.db.migrate`.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

from flask import Flask, g, jsonify, make_response, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_wtf.csrf import CSRFError, CSRFProtect
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Response

from gcc_link.http_errors import HttpError, code_for_status, error_body

from .config import PortalConfig, load_config
from .db import Database
from .i18n import DIRECTION, LANG_COOKIE, LANGS, current_lang, init_i18n, preferred_lang
from .indexing import init_search
from .network import NetworkMonitor
from .response_cache import init_response_cache
from .security import init_security_headers
from .templating import init_templating

__all__ = ["create_app", "csrf"]

csrf = CSRFProtect()


def create_app(config: PortalConfig | Mapping[str, Any] | None = None) -> Flask:
    """Build a portal app.

    ``config`` is either a ready :class:`PortalConfig` (used as is) or a
    mapping of overrides applied over the instance file and the environment
    (see :func:`knowledge_portal.config.load_config`). Raises ``ConfigError``
    on a bad setting or when the database schema is not current.
    """
    settings = config if isinstance(config, PortalConfig) else load_config(config)
    app = Flask(__name__, instance_path=str(settings.instance_dir), instance_relative_config=False)
    app.config.update(settings.flask_config())
    app.json.ensure_ascii = False  # type: ignore[attr-defined]  # the API's Arabic stays readable (UTF-8, not \uXXXX)
    app.extensions["portal_config"] = settings
    if settings.proxy_count > 0:
        # behind N reverse proxies: trust their X-Forwarded-* headers (scheme decides HSTS and secure cookies)
        from werkzeug.middleware.proxy_fix import ProxyFix

        n = settings.proxy_count
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n, x_host=n)  # type: ignore[method-assign]
    app.logger.setLevel(logging.INFO)

    Database(app)
    init_i18n(app)
    init_templating(app)
    csrf.init_app(app)
    init_security_headers(app)
    init_search(app)
    NetworkMonitor(app)
    _init_language_routing(app)

    from .auth import bp as auth_bp
    from .auth import init_auth
    from .views.admin import bp as admin_bp
    from .views.api import bp as api_bp
    from .views.directory import bp as directory_bp
    from .views.directory import files_bp as directory_files_bp
    from .views.feeds import bp as feeds_bp
    from .views.network import api_bp as network_api_bp
    from .views.network import bp as network_bp
    from .views.practices import bp as practices_bp
    from .views.public import bp as public_bp

    init_auth(app)
    init_response_cache(app)  # after the user is loaded; its after_request hook runs first (the view's response)
    for bp in (public_bp, practices_bp, feeds_bp, auth_bp, admin_bp, directory_bp, network_bp):
        app.register_blueprint(bp, url_prefix="/<any(ar,en):lang>" + (bp.url_prefix or ""))
    app.register_blueprint(api_bp)
    app.register_blueprint(directory_files_bp)
    app.register_blueprint(network_api_bp)
    csrf.exempt(api_bp)
    _init_errors(app)

    @app.get("/")
    def root() -> Response:
        """Send visitors to their language: cookie, then Accept-Language, then Arabic."""
        response = redirect(url_for("public.home", lang=preferred_lang()))
        response.headers["Vary"] = "Cookie, Accept-Language"
        return response

    @app.get("/favicon.ico")
    def favicon() -> Response:
        return redirect(url_for("static", filename="favicon.svg"), code=301)

    @app.get("/healthz")
    def healthz() -> Response:
        return jsonify({"status": "ok"})

    return app


def _init_language_routing(app: Flask) -> None:
    @app.url_value_preprocessor
    def _pull_lang(_endpoint: str | None, values: dict[str, Any] | None) -> None:
        if values and values.get("lang") in LANGS:
            g.lang = values.pop("lang")

    @app.url_defaults
    def _push_lang(endpoint: str, values: dict[str, Any]) -> None:
        if "lang" not in values and app.url_map.is_endpoint_expecting(endpoint, "lang"):
            values["lang"] = current_lang()

    @app.after_request
    def _remember_lang(response: Response) -> Response:
        lang = getattr(g, "lang", None)
        if lang and request.cookies.get(LANG_COOKIE) != lang:
            response.set_cookie(
                LANG_COOKIE,
                lang,
                max_age=365 * 86400,
                samesite="Lax",
                secure=bool(app.config.get("SESSION_COOKIE_SECURE", False)),
            )
        return response

    @app.context_processor
    def _lang_context() -> dict[str, Any]:
        lang = current_lang()

        def lang_url(target: str) -> str:
            """The current page in ``target`` language (same endpoint, arguments and query)."""
            if not request.endpoint or not app.url_map.is_endpoint_expecting(request.endpoint, "lang"):
                return url_for("public.home", lang=target)
            args = dict(request.view_args or {})
            args["lang"] = target
            url = url_for(request.endpoint, **args)
            if request.query_string:
                url += "?" + request.query_string.decode("latin-1")
            return url

        def query_url(**changes: Any) -> str:
            """The current URL with some query arguments changed (``None`` removes)."""
            params = {k: v for k, v in request.args.items(multi=False)}
            for k, v in changes.items():
                if v is None or v == "":
                    params.pop(k, None)
                else:
                    params[k] = v
            base = request.path
            return base + ("?" + urlencode(params) if params else "")

        return {
            "lang": lang,
            "dir": DIRECTION[lang],
            "sep": "، " if lang == "ar" else " · ",
            "other_lang": "en" if lang == "ar" else "ar",
            "lang_url": lang_url,
            "query_url": query_url,
        }


def _wants_json() -> bool:
    return request.path.startswith("/api/") or request.path == "/openapi.json"


def _error_response(status: int, code: str, message: str) -> ResponseReturnValue:
    """JSON (``{"error": {"code", "message"}}``, the shared vocabulary) for the API, an HTML page otherwise."""
    if _wants_json():
        return jsonify(error_body(code, message)), status
    if not getattr(g, "lang", None):
        g.lang = preferred_lang() if request else "ar"
    return make_response(render_template("error.html", status=status, code=code, message=message), status)


def _init_errors(app: Flask) -> None:
    @app.errorhandler(CSRFError)
    def _csrf(exc: CSRFError) -> ResponseReturnValue:
        return _error_response(
            400, "csrf_failed", _("The form expired or was not sent from this site. Please try again.")
        )

    @app.errorhandler(HttpError)
    def _refusal(exc: HttpError) -> ResponseReturnValue:
        return _error_response(exc.status, exc.code, exc.message)

    @app.errorhandler(HTTPException)
    def _http(exc: HTTPException) -> ResponseReturnValue:
        status = exc.code or 500
        message = {
            404: _("The page you asked for does not exist."),
            403: _("You are not allowed to do this."),
            405: _("This method is not allowed here."),
            409: _("This change is not possible from the record's current status."),
            413: _("The upload is too large."),
            429: _("Too many attempts. Please wait and try again."),
        }.get(status, exc.description or "")
        response = make_response(_error_response(status, code_for_status(status), str(message)))
        allowed = getattr(exc, "valid_methods", None)
        if status == 405 and allowed:
            response.headers["Allow"] = ", ".join(sorted(allowed))  # RFC 9110: a 405 names what is allowed
        return response

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception) -> ResponseReturnValue:
        app.logger.exception("unexpected error on %s", request.path)
        return _error_response(500, code_for_status(500), _("Something went wrong on our side."))
