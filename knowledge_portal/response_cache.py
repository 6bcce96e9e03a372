"""A per-process cache of anonymous public GET pages, invalidated through the database's content generation.

Why: every public page costs several milliseconds of Python (queries, Jinja,
Babel); under load, two workers queue. Most requests are anonymous reads of
pages that change only when the secretariat publishes, so a page rendered
once can be served again until the content changes.

What is cached: the view's response (status 200, no cookie set, no CSRF
token issued, session untouched) to a GET or HEAD from a visitor who is not
logged in, for the public blueprints only (never admin, login, forms or
file downloads). The key is the path, the raw query string and the page's
language (URL prefix, else ``?lang=``, cookie or Accept-Language): everything
a cached view reads from the request.

How it stays right:

* Each entry remembers the content generation (:class:`~knowledge_portal.models.ContentGeneration`)
  read *before* its page was rendered. Every content write bumps that row in
  the writing transaction (session events in :mod:`knowledge_portal.models`;
  search index changes bump it after the index moved), so an entry is served
  only while no write committed since. The row is read from the database on
  every cacheable request, on a connection each thread keeps (one indexed
  one-row SELECT; ``RESPONSE_CACHE_GENERATION_MS`` > 0 reads it at most that
  often per thread, which then bounds how stale a page can be), so several
  processes on several machines sharing one database see a publish at their
  next request.
* Pages whose content depends on the clock or on files outside the database
  (the network's online/offline view, the member directory) expire after
  ``RESPONSE_CACHE_LIVE_SECONDS`` (default 5); the rest after
  ``RESPONSE_CACHE_SECONDS`` (default 300) at most.
* A hit is returned from a ``before_request`` hook, so every ``after_request``
  hook (security headers, the language cookie, the session's ``Vary: Cookie``)
  runs on hits exactly as on misses: headers are identical.
* The cache is bounded (``RESPONSE_CACHE_ENTRIES`` entries, least recently
  used out first; pages over ``MAX_BODY`` bytes are not kept).

``RESPONSE_CACHE = False`` turns it off.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from flask import Flask, g, request, session
from sqlalchemy.engine import Engine
from werkzeug.wrappers import Response

from .i18n import current_lang

__all__ = ["CachedPage", "PageCache", "GenerationReader", "init_response_cache"]

#: Blueprints whose GET pages are public and cacheable.
CACHEABLE_BLUEPRINTS = frozenset(
    {"public", "practices", "feeds", "api", "network", "network_api", "directory", "directory_files"}
)
#: Endpoints of those blueprints that are never cached (cookie-driven pages, forms, file downloads).
UNCACHEABLE_ENDPOINTS = frozenset({"public.my_view", "practices.attachment", "directory.directory_upload"})
#: Endpoints whose pages depend on the clock or on files outside the database: short lifetime.
LIVE_ENDPOINTS = frozenset({"public.home", "api.network"})
LIVE_BLUEPRINTS = frozenset({"network", "network_api", "directory", "directory_files"})
#: Larger responses are served uncached (they would crowd the cache out).
MAX_BODY = 512 * 1024

_GENERATION_SQL = "SELECT value FROM content_generation WHERE id = 1"


@dataclass(frozen=True)
class CachedPage:
    """A view's response as rendered, before the app's ``after_request`` hooks."""

    status: int
    headers: tuple[tuple[str, str], ...]
    body: bytes
    generation: int
    expires: float  # on the cache's clock

    def response(self) -> Response:
        return Response(self.body, status=self.status, headers=list(self.headers))


class PageCache:
    """A bounded, thread-safe LRU of :class:`CachedPage` by key; entries of another generation are misses."""

    def __init__(self, max_entries: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.max_entries = max_entries
        self.clock = clock
        self._pages: OrderedDict[tuple[str, ...], CachedPage] = OrderedDict()
        self._generation: int | None = None
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def get(self, key: tuple[str, ...], generation: int) -> CachedPage | None:
        with self._lock:
            self._forget_older(generation)
            page = self._pages.get(key)
            if page is None or page.generation != generation or page.expires <= self.clock():
                self.misses += 1
                return None
            self._pages.move_to_end(key)
            self.hits += 1
            return page

    def put(self, key: tuple[str, ...], page: CachedPage) -> None:
        with self._lock:
            self._forget_older(page.generation)
            if page.generation != self._generation:
                return  # rendered before a write another request already saw: stale at birth
            self._pages[key] = page
            self._pages.move_to_end(key)
            while len(self._pages) > self.max_entries:
                self._pages.popitem(last=False)

    def clear(self) -> None:
        """Forget every page (for tests that change what a page shows without writing to the database)."""
        with self._lock:
            self._pages.clear()

    def __len__(self) -> int:
        return len(self._pages)

    def _forget_older(self, generation: int) -> None:
        """A newer generation empties the cache at once (every page in it is stale)."""
        if self._generation is None or generation > self._generation:
            self._pages.clear()
            self._generation = generation


class GenerationReader:
    """Reads the content generation on a connection each thread keeps (no ORM session, no pool round trip).

    Read *before* the page is rendered, on another connection than the
    page's session: a write committed in between makes the page newer than
    its recorded generation, never older, so it can only be dropped early.
    Each read ends its transaction (a kept SQLite or PostgreSQL snapshot
    would hide later writes). ``max_age`` > 0 reuses a value read less than
    that many seconds ago (then pages can be that stale after a write).
    """

    def __init__(self, engine: Engine, max_age: float = 0.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.engine = engine
        self.max_age = max_age
        self.clock = clock
        self._local = threading.local()

    def current(self) -> int:
        local = self._local
        now = self.clock()
        read_at = getattr(local, "read_at", None)
        if self.max_age > 0 and read_at is not None and now - read_at < self.max_age:
            return int(local.value)
        conn = getattr(local, "conn", None)
        if getattr(local, "pid", None) != os.getpid():  # never a connection opened before a (gunicorn) fork
            conn = None
        try:
            value = self._read(conn or self._connect())
        except Exception:  # noqa: BLE001 - a dropped connection (database restart): one retry on a new one
            self._discard()
            value = self._read(self._connect())
        local.value, local.read_at = value, now
        return value

    def _connect(self) -> Any:
        conn = self._local.conn = self.engine.raw_connection()
        self._local.pid = os.getpid()
        return conn

    def _read(self, conn: Any) -> int:
        cursor = conn.cursor()
        try:
            cursor.execute(_GENERATION_SQL)
            row = cursor.fetchone()
        finally:
            cursor.close()
            conn.rollback()  # end the read transaction: the next read sees newer commits
        return int(row[0]) if row else 0

    def _discard(self) -> None:
        conn = getattr(self._local, "conn", None)
        self._local.conn = None
        if conn is not None:
            with contextlib.suppress(Exception):
                conn.invalidate()


def _cacheable_request() -> bool:
    if request.method not in ("GET", "HEAD") or g.get("user") is not None:
        return False
    endpoint = request.endpoint or ""
    if endpoint in UNCACHEABLE_ENDPOINTS or endpoint.partition(".")[0] not in CACHEABLE_BLUEPRINTS:
        return False
    # a pending flash message or a (possibly stale) login is shown by rendering: never answer those from cache
    return "_flashes" not in session and "user_id" not in session


def _cacheable_response(response: Response) -> bool:
    return (
        response.status_code == 200
        and not response.direct_passthrough
        and not response.is_streamed
        and "Set-Cookie" not in response.headers
        and "no-store" not in (response.headers.get("Cache-Control") or "")
        and "csrf_token" not in g  # a form's token was issued: the page belongs to this visitor's session
        and not session.modified
        and g.get("user") is None
    )


def init_response_cache(app: Flask) -> PageCache | None:
    """Serve anonymous public GET pages from a per-process cache (``app.extensions['portal_page_cache']``).

    Must be called after :func:`knowledge_portal.auth.init_auth` (the user is
    loaded before the cache is asked) and after every other ``after_request``
    hook is registered (this one then runs first and sees the view's own response).
    """
    if not app.config["RESPONSE_CACHE"]:
        return None
    cache = PageCache(int(app.config["RESPONSE_CACHE_ENTRIES"]))
    engine = app.extensions["portal_db"].engine
    generation = GenerationReader(engine, float(app.config["RESPONSE_CACHE_GENERATION_MS"]) / 1000)
    lifetime = float(app.config["RESPONSE_CACHE_SECONDS"])
    live_lifetime = float(app.config["RESPONSE_CACHE_LIVE_SECONDS"])
    app.extensions["portal_page_cache"] = cache

    @app.before_request
    def _serve_cached() -> Response | None:
        if not _cacheable_request():
            return None
        key = (request.script_root, request.path, request.query_string.decode("latin-1"), current_lang())
        try:
            current = generation.current()
        except Exception:  # noqa: BLE001 - the cache must never take a page down: render it as without a cache
            app.logger.warning("response cache: cannot read the content generation", exc_info=True)
            return None
        page = cache.get(key, current)
        if page is not None:
            return page.response()
        g.page_cache_slot = (key, current)
        return None

    @app.after_request
    def _keep(response: Response) -> Response:
        slot = g.pop("page_cache_slot", None)
        if slot is None or not _cacheable_response(response):
            return response
        body = response.get_data()
        if len(body) > MAX_BODY:
            return response
        endpoint = request.endpoint or ""
        live = endpoint in LIVE_ENDPOINTS or endpoint.partition(".")[0] in LIVE_BLUEPRINTS
        key, current = slot
        headers = tuple((k, v) for k, v in response.headers.items() if k.lower() != "content-length")
        cache.put(
            key,
            CachedPage(
                response.status_code, headers, body, current, cache.clock() + (live_lifetime if live else lifetime)
            ),
        )
        return response

    return cache
