"""The node's OAuth 2.0 authorization server (authlib) and bearer-token checks.

Agencies get tokens with the client-credentials grant, authenticating by
``client_secret_basic`` or ``private_key_jwt`` (RFC 7523; a ``jti`` is
accepted once). Each client is bound to one agency address; tokens are short
lived (15 min by default), opaque, and stored only as their SHA-256.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps
from typing import Any

from authlib.integrations.flask_oauth2 import AuthorizationServer
from authlib.oauth2.rfc6749 import ClientMixin, grants
from authlib.oauth2.rfc6749.errors import InsecureTransportError
from authlib.oauth2.rfc7523 import JWTBearerClientAssertion
from flask import Flask, current_app, g, jsonify, request
from joserfc.errors import JoseError
from joserfc.jwk import ECKey, RSAKey
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from ..protocol.errors import ConfigError
from ..protocol.identifiers import AgencyId
from .apierrors import ApiError
from .clock import utcnow
from .config import SCOPES, NodeConfig
from .models import OAuthClient, OAuthToken, UsedJti
from .ratelimit import WindowLimiter

_SCRYPT = {"n": 2**14, "r": 8, "p": 1, "dklen": 32}


def hash_secret(secret: str) -> str:
    """``scrypt$salt$hash`` of a client secret (never stored in clear)."""
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(secret.encode(), salt=salt, **_SCRYPT)
    return "scrypt$" + base64.b64encode(salt).decode() + "$" + base64.b64encode(digest).decode()


#: Checked for unknown client ids, so a wrong id costs the same scrypt as a wrong secret (no timing oracle).
_DUMMY_HASH = hash_secret(secrets.token_urlsafe(16))
#: The longest a private_key_jwt client assertion may live (exp - now), as RFC 7523 clients issue them per request.
MAX_ASSERTION_SECONDS = 300


def check_secret(secret: str, stored: str | None) -> bool:
    if not stored or not stored.startswith("scrypt$"):
        return False
    _, salt, digest = stored.split("$")
    got = hashlib.scrypt(secret.encode(), salt=base64.b64decode(salt), **_SCRYPT)
    return hmac.compare_digest(got, base64.b64decode(digest))


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class Client(ClientMixin):
    """authlib's view of an ``OAuthClient`` row."""

    def __init__(self, row: OAuthClient) -> None:
        self.row = row
        self.client_id = row.client_id
        self.agency = row.agency

    def get_client_id(self) -> str:
        return self.row.client_id

    def get_default_redirect_uri(self) -> None:
        return None

    def get_allowed_scope(self, scope: str | None) -> str:
        allowed = self.row.scopes.split()
        if not scope:
            return " ".join(allowed)
        return " ".join(s for s in scope.split() if s in allowed)

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        return False

    def check_client_secret(self, client_secret: str) -> bool:
        return self.row.auth_method == "client_secret_basic" and check_secret(client_secret, self.row.secret_hash)

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        return endpoint == "token" and method == self.row.auth_method

    def check_response_type(self, response_type: str) -> bool:
        return False

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type == "client_credentials"


class ClientCredentials(grants.ClientCredentialsGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic", "private_key_jwt"]


class PrivateKeyJwtAuth(JWTBearerClientAssertion):
    """RFC 7523 ``private_key_jwt``: the audience is this node's token endpoint; jti once."""

    CLIENT_AUTH_METHOD = "private_key_jwt"

    def get_audiences(self) -> list[str]:
        """This node's token endpoint as configured (``node.public_url``), never as the request's Host says."""
        base = public_base(current_app.extensions["gcc_link"].config)
        return [f"{base}/oauth/token", base]

    def validate_jti(self, claims: dict[str, Any], jti: str) -> bool:
        ctx = current_app.extensions["gcc_link"]
        exp = float(claims.get("exp", ctx.time() + 3600))
        if exp - ctx.time() > MAX_ASSERTION_SECONDS:
            return False  # a long-lived assertion is a bearer credential in disguise: refused
        try:
            with ctx.db.write() as session:
                session.execute(delete(UsedJti).where(UsedJti.expires_at < ctx.time() - 3600))
                session.add(UsedJti(client_id=str(claims["sub"]), jti=str(jti)[:200], expires_at=exp))
        except IntegrityError:
            return False
        return True

    def resolve_client_public_key(self, client: Client):  # type: ignore[override]
        pem = client.row.public_key_pem or ""
        try:
            return ECKey.import_key(pem)
        except (JoseError, ValueError, TypeError):
            return RSAKey.import_key(pem)


def _query_client(client_id: str) -> Client | None:
    """The client, or a stand-in that fails like a wrong secret (same answer, same scrypt cost)."""
    ctx = current_app.extensions["gcc_link"]
    with ctx.db.read() as session:
        row = session.get(OAuthClient, client_id)
    if row is None:
        row = OAuthClient(
            client_id=str(client_id)[:64],
            agency="",
            secret_hash=_DUMMY_HASH,
            public_key_pem=None,
            auth_method="client_secret_basic",
            scopes="",
            created_at=0.0,
        )
        return _UnknownClient(row)
    return Client(row)


class _UnknownClient(Client):
    """An unknown client id: checks a secret against a dummy hash, then fails like a wrong secret."""

    def check_client_secret(self, client_secret: str) -> bool:
        check_secret(client_secret, _DUMMY_HASH)
        return False


def public_base(config: NodeConfig) -> str:
    """The node's own base URL as configured (what private_key_jwt audiences must name)."""
    if config.public_url:
        return config.public_url.rstrip("/")
    return f"{'https' if config.tls else 'http'}://{config.host}:{config.port}"


def _failures() -> tuple[WindowLimiter, WindowLimiter]:
    """This app's failure counters: (per client id, per address; an address may fail three times as often)."""
    limiters = current_app.extensions.get("gcc_link.token_failures")
    if limiters is None:
        limit = current_app.extensions["gcc_link"].config.max_token_failures_per_minute
        limiters = current_app.extensions["gcc_link.token_failures"] = (WindowLimiter(limit), WindowLimiter(3 * limit))
    return limiters


def token_response(server: AuthorizationServer) -> Any:
    """The token endpoint: authlib's answer, throttled per client id and per address after failures.

    Unknown and known client ids fail alike (``invalid_client``, same
    work). After ``oauth.max_failures_per_minute`` failures for one
    client id, or three times that from one address, further attempts get
    429 ``rate_limited`` without being checked. A request whose URL is
    not acceptable to OAuth (plain HTTP under a foreign Host) is a 400,
    not a 500.
    """
    ctx = current_app.extensions["gcc_link"]
    by_client, by_address = _failures()
    now = ctx.time()
    client_key, addr_key = _client_id_of_request(), request.remote_addr or "?"
    if by_client.blocked(client_key, now) or by_address.blocked(addr_key, now):
        return _oauth_error(429, "rate_limited", "too many failed token requests; wait a minute")
    try:
        response = server.create_token_response()
    except InsecureTransportError:
        return _oauth_error(400, "invalid_request", "OAuth requires HTTPS (or this node's own address)")
    if response.status_code in (400, 401):
        by_client.hit(client_key, now)
        by_address.hit(addr_key, now)
    return response


def _client_id_of_request() -> str:
    """The client id a token request claims (Basic auth, form field, or assertion subject), for throttling."""
    auth = request.authorization
    if auth is not None and auth.username:
        return str(auth.username)[:64]
    return str(request.form.get("client_id", ""))[:64]


def _oauth_error(status: int, error: str, description: str) -> Any:
    response = jsonify({"error": error, "error_description": description})
    response.status_code = status
    response.headers["Cache-Control"] = "no-store"
    return response


def _save_token(token: dict[str, Any], req: Any) -> None:
    ctx = current_app.extensions["gcc_link"]
    client: Client = req.client
    now = ctx.time()
    with ctx.db.write() as session:
        session.execute(delete(OAuthToken).where(OAuthToken.expires_at < now - 86400))
        session.add(
            OAuthToken(
                token_sha256=token_digest(token["access_token"]),
                client_id=client.client_id,
                agency=client.agency,
                scope=token.get("scope", ""),
                issued_at=now,
                expires_at=now + int(token["expires_in"]),
            )
        )


def init_oauth(app: Flask, token_ttl: int) -> AuthorizationServer:
    """Attach the authorization server (client credentials, two client auth methods)."""
    app.config["OAUTH2_TOKEN_EXPIRES_IN"] = {"client_credentials": token_ttl}
    app.config["OAUTH2_SCOPES_SUPPORTED"] = list(SCOPES)
    server = AuthorizationServer(app, query_client=_query_client, save_token=_save_token)
    server.register_grant(ClientCredentials)
    server.register_client_auth_method(PrivateKeyJwtAuth.CLIENT_AUTH_METHOD, PrivateKeyJwtAuth(leeway=30))
    return server


# token digest -> (caller, token expiry, cache expiry): a short per-process cache of the store
_TOKEN_CACHE: dict[str, tuple[Caller, float, float]] = {}
TOKEN_CACHE_SECONDS = 5.0


@dataclass(frozen=True)
class Caller:
    """The authenticated agency behind a bearer token."""

    client_id: str
    agency: str
    scopes: frozenset[str]


def authenticate(scope: str) -> Caller:
    """The caller of this request, or ``ApiError`` 401/403."""
    header = request.headers.get("Authorization", "")
    if not header.lower().startswith("bearer ") or not header[7:].strip():
        raise ApiError(401, "unauthorized", "a bearer token is required (POST /oauth/token)")
    ctx = current_app.extensions["gcc_link"]
    digest = token_digest(header[7:].strip())
    now = ctx.time()
    cached = _TOKEN_CACHE.get(digest)
    if cached is not None and cached[2] > now:
        caller, expires_at = cached[0], cached[1]
    else:
        with ctx.db.read() as session:
            row = session.get(OAuthToken, digest)
            if row is None:
                raise ApiError(401, "invalid_token", "the bearer token is not known")
            caller, expires_at = Caller(row.client_id, row.agency, frozenset(row.scope.split())), row.expires_at
        if len(_TOKEN_CACHE) > 10_000:
            _TOKEN_CACHE.clear()
        _TOKEN_CACHE[digest] = (caller, expires_at, now + TOKEN_CACHE_SECONDS)
    if expires_at <= now:
        raise ApiError(401, "token_expired", "the bearer token has expired; request a new one")
    if scope not in caller.scopes:
        raise ApiError(403, "insufficient_scope", f"this request needs the scope {scope}")
    return caller


def require(scope: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Decorator: authenticate the bearer token with ``scope``; sets ``g.caller``."""

    def decorate(view: Callable[..., Any]) -> Callable[..., Any]:
        @wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            g.caller = authenticate(scope)
            return view(*args, **kwargs)

        wrapper.required_scope = scope  # type: ignore[attr-defined]
        return wrapper

    return decorate


def create_client(
    db: Any,
    agency: str,
    *,
    scopes: tuple[str, ...] = SCOPES,
    public_key_pem: str | None = None,
    client_id: str | None = None,
) -> dict[str, str]:
    """Register a client bound to ``agency``; returns its id (and secret, shown once)."""
    AgencyId.parse(agency)
    bad = [s for s in scopes if s not in SCOPES]
    if bad:
        raise ConfigError(f"unknown scope(s) {bad}; known: {list(SCOPES)}")
    client_id = client_id or f"{agency.replace('/', '-').lower()}-{secrets.token_hex(6)}"
    result = {"client_id": client_id, "agency": agency, "scope": " ".join(scopes)}
    if public_key_pem:
        try:
            ECKey.import_key(public_key_pem)
        except (JoseError, ValueError, TypeError):
            try:
                RSAKey.import_key(public_key_pem)
            except (JoseError, ValueError, TypeError) as exc:
                raise ConfigError(f"not a public key PEM: {exc}") from None
        row = OAuthClient(
            client_id=client_id,
            agency=agency,
            secret_hash=None,
            public_key_pem=public_key_pem,
            auth_method="private_key_jwt",
            scopes=" ".join(scopes),
            created_at=utcnow().timestamp(),
        )
        result["auth_method"] = "private_key_jwt"
    else:
        secret = secrets.token_urlsafe(32)
        row = OAuthClient(
            client_id=client_id,
            agency=agency,
            secret_hash=hash_secret(secret),
            public_key_pem=None,
            auth_method="client_secret_basic",
            scopes=" ".join(scopes),
            created_at=utcnow().timestamp(),
        )
        result["client_secret"] = secret
        result["auth_method"] = "client_secret_basic"
    with db.write() as session:
        session.add(row)
    return result


def list_clients(db: Any) -> list[dict[str, str]]:
    with db.read() as session:
        return [
            {"client_id": r.client_id, "agency": r.agency, "auth_method": r.auth_method, "scope": r.scopes}
            for r in session.execute(select(OAuthClient).order_by(OAuthClient.client_id)).scalars()
        ]
