"""Security plumbing: response headers, password hashing, login rate limit, audit log.

Passwords are hashed with scrypt (werkzeug); failed logins are counted in the
database so the limit holds across workers; the audit log records who did
what without ever recording secrets (passwords, tokens, keys are dropped).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

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


def hash_password(password: str) -> str:
    """A salted scrypt hash."""
    return generate_password_hash(password, method="scrypt")


def verify_password(stored: str | None, password: str) -> bool:
    return stored is not None and bool(stored) and check_password_hash(stored, password)


def _keys(username: str) -> list[str]:
    return [f"user:{username.lower()}", f"ip:{request.remote_addr or '-'}"]


def login_blocked(session: Session, username: str) -> bool:
    """True when the user name or the client address had too many recent failures."""
    window = utcnow() - timedelta(seconds=current_app.config["LOGIN_WINDOW_SECONDS"])
    limit = current_app.config["LOGIN_MAX_ATTEMPTS"]
    for key in _keys(username):
        count = session.scalar(
            select(func.count()).select_from(LoginAttempt).where(LoginAttempt.key == key, LoginAttempt.at >= window))
        if count and count >= limit:
            return True
    return False


def record_failure(session: Session, username: str) -> None:
    for key in _keys(username):
        session.add(LoginAttempt(key=key))
    session.commit()


def clear_failures(session: Session, username: str) -> None:
    session.execute(delete(LoginAttempt).where(LoginAttempt.key == f"user:{username.lower()}"))
    session.commit()


def scrub(details: dict[str, Any]) -> dict[str, Any]:
    """Drop anything that looks like a secret before it reaches the audit log."""
    return {k: ("[redacted]" if any(w in k.lower() for w in _SECRET_WORDS) else v) for k, v in details.items()}


def audit(session: Session, username: str, action: str, entity: str = "", entity_id: object = "",
          **details: Any) -> None:
    """Append one audit entry (committed with the caller's transaction)."""
    session.add(AuditEntry(
        username=username, action=action, entity=entity, entity_id=str(entity_id),
        details=scrub(details), ip=(request.remote_addr or "") if request else ""))
