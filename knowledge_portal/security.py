"""Security plumbing: response headers, password hashing, login rate limit, audit log.

Passwords are hashed with scrypt (werkzeug); failed logins are counted in the
database so the limit holds across workers; the audit log records who did
what without ever recording secrets (passwords, tokens, keys are dropped).

Login throttling is per (user name, client address), so an attacker who
guesses a password locks only their own address out of that account, never
the real user elsewhere. ``LOGIN_MAX_ATTEMPTS`` failures lock the pair for
``LOGIN_WINDOW_SECONDS``; each further failure (counted over
``LOGIN_LOCKOUT_MAX_SECONDS``) doubles the lockout, up to that maximum. A
looser per-address limit (``LOGIN_MAX_ATTEMPTS_PER_ADDRESS`` failures, any
user names, within ``LOGIN_WINDOW_SECONDS``) stops one address spraying many
names. Unknown, inactive and password-less accounts are checked against a
dummy scrypt hash, so the answer time does not tell which names exist.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any
from urllib.parse import urlsplit

from flask import Flask, Response, current_app, request
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from .models import AuditEntry, LoginAttempt, utcnow

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; "
    "frame-ancestors 'none'"
)

_SECRET_WORDS = ("password", "secret", "token", "key", "csrf")


def init_security_headers(app: Flask) -> None:
    """Add CSP (no inline script), frame-ancestors none, referrer policy, HSTS over TLS."""

    @app.after_request
    def _headers(response: Response) -> Response:
        response.headers.setdefault("Content-Security-Policy", CSP)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Referrer-Policy", "strict-origin-when-cross-origin")
        response.headers.setdefault("Permissions-Policy", "geolocation=(), camera=(), microphone=()")
        if request.is_secure:
            response.headers.setdefault("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
        return response


def site_url(path: str) -> str:
    """An absolute URL for ``path`` (``/en/...``) on the configured ``SITE_URL``, else ``path`` unchanged.

    Never built from the request's ``Host`` header: a forged Host must not
    put another site's address into feeds (which caches and readers keep) or
    into the OIDC redirect URI. Only the scheme and host (and port) of
    ``SITE_URL`` are used; ``path`` already carries any script root. Without
    ``SITE_URL`` the root-relative ``path`` is returned, which feed readers
    resolve against the address they fetched the feed from.
    """
    configured = current_app.config.get("SITE_URL")
    if not configured:
        return path
    parts = urlsplit(str(configured))
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError("SITE_URL must be an absolute http(s) URL")
    return f"{parts.scheme}://{parts.netloc}{path}"


def hash_password(password: str) -> str:
    """A salted scrypt hash."""
    return generate_password_hash(password, method="scrypt")


def verify_password(stored: str | None, password: str) -> bool:
    """Check ``password`` against ``stored``; without a stored hash, still spend the time of one check."""
    if not stored:
        check_password_hash(_dummy_hash(), password)
        return False
    return check_password_hash(stored, password)


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    """A scrypt hash of a random secret (same cost as real ones) for accounts that do not exist."""
    return hash_password(secrets.token_urlsafe(24))


def _address() -> str:
    return request.remote_addr or "-"


def _pair_key(username: str) -> str:
    return f"user-addr:{username.lower()}|{_address()}"


def _address_key() -> str:
    return f"ip:{_address()}"


def lockout_until(failures: Sequence[datetime], limit: int, base: float, cap: float) -> datetime | None:
    """When a (user, address) pair may try again, given its recent failure times (newest first).

    Fewer than ``limit`` failures: no lockout (``None``). At ``limit``, the
    pair waits ``base`` seconds after the newest failure; every failure
    beyond doubles the wait, never beyond ``cap`` seconds.
    """
    if len(failures) < limit:
        return None
    excess = min(len(failures) - limit, 32)  # bounded exponent
    return failures[0] + timedelta(seconds=min(base * 2**excess, cap))


def login_blocked(session: Session, username: str) -> bool:
    """True when this (user name, address) pair is locked out, or the address had too many failures."""
    config = current_app.config
    now = utcnow()
    base = float(config.get("LOGIN_WINDOW_SECONDS", 300))
    cap = float(config.get("LOGIN_LOCKOUT_MAX_SECONDS", 86400))
    limit = int(config.get("LOGIN_MAX_ATTEMPTS", 5))
    recent = session.scalars(
        select(LoginAttempt.at)
        .where(LoginAttempt.key == _pair_key(username), LoginAttempt.at >= now - timedelta(seconds=cap))
        .order_by(LoginAttempt.at.desc())
        .limit(limit + 40)
    ).all()
    until = lockout_until(recent, limit, base, cap)
    if until is not None and now < until:
        return True
    address_limit = int(config.get("LOGIN_MAX_ATTEMPTS_PER_ADDRESS", 50))
    count = session.scalar(
        select(func.count())
        .select_from(LoginAttempt)
        .where(LoginAttempt.key == _address_key(), LoginAttempt.at >= now - timedelta(seconds=base))
    )
    return bool(count and count >= address_limit)


def record_failure(session: Session, username: str) -> None:
    """Count one failed login against the (user, address) pair and the address; forget expired counts."""
    for key in (_pair_key(username), _address_key()):
        session.add(LoginAttempt(key=key))
    cap = float(current_app.config.get("LOGIN_LOCKOUT_MAX_SECONDS", 86400))
    horizon = max(cap, float(current_app.config.get("LOGIN_WINDOW_SECONDS", 300)))
    session.execute(delete(LoginAttempt).where(LoginAttempt.at < utcnow() - timedelta(seconds=horizon)))
    session.commit()


def clear_failures(session: Session, username: str) -> None:
    """A successful login forgets the pair's failures (the address count stays: it limits spraying)."""
    session.execute(delete(LoginAttempt).where(LoginAttempt.key == _pair_key(username)))
    session.commit()


def scrub(details: dict[str, Any]) -> dict[str, Any]:
    """Drop anything that looks like a secret before it reaches the audit log."""
    return {k: ("[redacted]" if any(w in k.lower() for w in _SECRET_WORDS) else v) for k, v in details.items()}


def audit(
    session: Session, username: str, action: str, entity: str = "", entity_id: object = "", **details: Any
) -> None:
    """Append one audit entry (committed with the caller's transaction)."""
    session.add(
        AuditEntry(
            username=username,
            action=action,
            entity=entity,
            entity_id=str(entity_id),
            details=scrub(details),
            ip=(request.remote_addr or "") if request else "",
        )
    )
