"""Admin authentication: local accounts (scrypt, rate-limited) and optional OpenID Connect SSO.

The current user is loaded into ``g.user`` on each request from the signed
session cookie, checked against the account's server-side session version.
Roles: ``admin`` (secretariat, everything), ``editor`` (their own state's
records only), ``reviewer`` (moderation). SSO accounts must exist locally and
are matched by the provider's subject only (see :func:`sso_account`): the
identity provider says who someone is, the portal decides what they may do.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable
from functools import wraps
from typing import Any
from urllib.parse import urlsplit

from flask import Blueprint, Flask, abort, current_app, flash, g, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from sqlalchemy import func, select

from .db import get_session
from .forms import ActionForm, LoginForm
from .i18n import current_lang
from .models import User
from .security import audit, clear_failures, login_blocked, record_failure, site_url, verify_password

bp = Blueprint("auth", __name__)


def init_auth(app: Flask) -> None:
    """Load ``g.user`` per request; register the OIDC client when an issuer is configured."""

    @app.before_request
    def _load_user() -> None:
        """The session's user, if active and the cookie's session version is still current.

        The signed cookie alone is not enough: logging out or a password change
        bumps ``User.session_version`` on the server, and any copy of an older
        cookie then counts as anonymous.
        """
        g.user = None
        user_id = session.get("user_id")
        if user_id is not None:
            user = get_session().get(User, user_id)
            if user is not None and user.active and session.get("session_version") == user.session_version:
                g.user = user
            else:
                session.clear()

    @app.context_processor
    def _user_context() -> dict[str, Any]:
        return {"current_user": g.get("user"), "sso_enabled": bool(app.config.get("OIDC_ISSUER"))}

    if app.config.get("OIDC_ISSUER"):
        from authlib.integrations.flask_client import OAuth

        oauth = OAuth(app)
        oauth.register(
            "sso",
            client_id=app.config["OIDC_CLIENT_ID"],
            client_secret=app.config.get("OIDC_CLIENT_SECRET"),
            server_metadata_url=app.config["OIDC_ISSUER"].rstrip("/") + "/.well-known/openid-configuration",
            client_kwargs={
                "scope": app.config.get("OIDC_SCOPE", "openid email profile"),
                "code_challenge_method": "S256",
            },
        )
        app.extensions["portal_oauth"] = oauth
        app.add_url_rule("/auth/oidc/callback", "oidc_callback", _oidc_callback)


def login_required(view: Callable) -> Callable:
    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any):
        if g.get("user") is None:
            return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))
        return view(*args, **kwargs)

    return wrapper


def roles_required(*roles: str) -> Callable:
    """Only users with one of ``roles`` (admins always pass)."""

    def decorator(view: Callable) -> Callable:
        @wraps(view)
        @login_required
        def wrapper(*args: Any, **kwargs: Any):
            if g.user.role != "admin" and g.user.role not in roles:
                abort(403)
            return view(*args, **kwargs)

        return wrapper

    return decorator


def _start_session(user: User) -> None:
    session.clear()  # new session id on login (fixation)
    session.permanent = True
    session["user_id"] = user.id
    session["session_version"] = user.session_version or 0


def revoke_sessions(user: User) -> None:
    """End every session of ``user`` (cookies issued before now stop working); the caller commits."""
    user.session_version = (user.session_version or 0) + 1


def is_safe_next(target: str | None) -> bool:
    """True when ``target`` is a path on this site, safe to redirect to after a login.

    Browsers are lenient with ``Location``: they drop tabs and newlines
    (``/\t/evil.example`` becomes ``//evil.example``, another site), read ``\\``
    as ``/``, and a newline would split the header (a 500 in werkzeug). So only
    a path starting with exactly one ``/`` is accepted, with no control, format
    (bidi) or space characters and no backslash anywhere, and which still has
    no scheme or host once parsed.
    """
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return False
    if any(ch.isspace() or unicodedata.category(ch)[0] == "C" for ch in target):
        return False
    parts = urlsplit(target)
    return not parts.scheme and not parts.netloc and parts.path.startswith("/")


def _safe_next(target: str | None) -> str:
    """``target`` when :func:`is_safe_next` accepts it, else the admin dashboard."""
    return target if target is not None and is_safe_next(target) else url_for("admin.dashboard")


@bp.route("/login", methods=["GET", "POST"])
def login():
    form = LoginForm()
    status = 200
    if form.validate_on_submit():
        db = get_session()
        username = form.username.data.strip()
        if login_blocked(db, username):
            audit(db, username, "login_blocked")
            db.commit()
            status = 429
            flash(_("Too many attempts. Please wait and try again."), "error")
        else:
            user = db.scalar(select(User).where(User.username == username))
            usable = user if user is not None and user.active else None
            # always one scrypt check, also for unknown or inactive accounts: the time must not tell them apart
            password_ok = verify_password(usable.password_hash if usable else None, form.password.data)
            if usable is not None and password_ok:
                user = usable
                clear_failures(db, username)
                audit(db, user.username, "login")
                db.commit()
                _start_session(user)
                return redirect(_safe_next(request.args.get("next")))
            record_failure(db, username)
            audit(db, username, "login_failed")
            db.commit()
            status = 401
            flash(_("Wrong user name or password."), "error")
    elif request.method == "POST":
        status = 400
    return render_template("login.html", form=form), status


@bp.post("/logout")
def logout():
    form = ActionForm()
    if not form.validate_on_submit():
        abort(400)
    if g.get("user") is not None:
        db = get_session()
        revoke_sessions(g.user)  # a copied cookie must not outlive the logout
        audit(db, g.user.username, "logout")
        db.commit()
    session.clear()
    return redirect(url_for("public.home"))


@bp.get("/login/sso")
def sso_login():
    oauth = current_app.extensions.get("portal_oauth")
    if oauth is None:
        abort(404)
    session["sso_lang"] = current_lang()
    session["sso_next"] = _safe_next(request.args.get("next"))
    # the redirect URI from SITE_URL when configured (not from the Host header); the provider checks it too
    callback = site_url(url_for("oidc_callback"))
    if not callback.startswith(("http://", "https://")):
        callback = url_for("oidc_callback", _external=True)
    return oauth.sso.authorize_redirect(callback)


def sso_account(db: Any, claims: dict[str, Any]) -> User | None:
    """The active local account the identity provider's ``claims`` stand for, binding it on first use.

    Only the provider's subject (``sub``) identifies a person: user names
    (``preferred_username``) and e-mail addresses can be chosen or changed at
    many providers, so they never select an account on their own. A subject
    is bound to an account once, either by the secretariat (the user form's
    "SSO subject") or by a first login whose e-mail is explicitly verified
    (``email_verified`` is JSON ``true``; missing or a string does not count)
    and matches exactly one account that has no subject yet. A bound account
    never changes subject here. ``None``: refuse the login. The caller commits.
    """
    sub = claims.get("sub")
    if not isinstance(sub, str) or not sub.strip() or len(sub) > 300:
        return None
    user = db.scalar(select(User).where(User.oidc_subject == sub))
    if user is None:
        email = claims.get("email")
        if claims.get("email_verified") is not True or not isinstance(email, str) or "@" not in email:
            return None
        matches = db.scalars(select(User).where(func.lower(User.email) == email.strip().lower())).all()
        if len(matches) != 1 or matches[0].oidc_subject:
            return None  # unknown, ambiguous, or already bound to another subject
        user = matches[0]
        if not user.active:
            return None
        user.oidc_subject = sub
    return user if user.active else None


def _oidc_callback():
    """Finish the OIDC code flow and log in the matching local account."""
    oauth = current_app.extensions["portal_oauth"]
    g.lang = session.get("sso_lang", "ar")
    try:
        token = oauth.sso.authorize_access_token()
    except Exception as exc:  # noqa: BLE001 - state mismatch, provider error, network: all a bad login
        current_app.logger.warning("OIDC login failed: %s", type(exc).__name__)
        abort(400)
    claims = dict(token.get("userinfo") or {})
    if "email" not in claims:
        try:  # providers may keep profile claims out of the ID token: ask the userinfo endpoint
            extra = dict(oauth.sso.userinfo(token=token))
            if extra.get("sub") == claims.get("sub"):  # OIDC Core 5.3.2: else the answer must not be used
                claims.update({k: v for k, v in extra.items() if k != "sub"})
        except Exception:  # noqa: BLE001 - the ID token alone still identifies the user
            current_app.logger.warning("OIDC userinfo request failed")
    sub = str(claims.get("sub", ""))
    db = get_session()
    user = sso_account(db, claims)
    if user is None:
        audit(db, (sub or "?")[:120], "sso_login_refused")  # the provider's value: fit the column
        db.commit()
        abort(403)
    audit(db, user.username, "login_sso")
    db.commit()
    target = session.get("sso_next") or url_for("admin.dashboard", lang=g.lang)
    _start_session(user)
    return redirect(target)
