"""The response cache of anonymous public pages (knowledge_portal.response_cache), over a real SQLite file.

Each test proves a property by counting template renders (flask's
``template_rendered`` signal): a page served from the cache renders nothing.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator

import pytest
from flask import Flask, template_rendered
from portalkit import PortalEnv, build_instance, csrf_from, login
from sqlalchemy import select


@pytest.fixture()
def env(tmp_path):
    """A function-scoped instance: these tests change data."""
    return build_instance(tmp_path / "inst")


@contextlib.contextmanager
def renders(app: Flask) -> Iterator[list[str]]:
    """The names of the templates ``app`` renders inside the block."""
    names: list[str] = []

    def record(_sender: Flask, template, context, **_extra) -> None:
        names.append(template.name)

    template_rendered.connect(record, app)
    try:
        yield names
    finally:
        template_rendered.disconnect(record, app)


def _generation(app: Flask) -> int:
    from knowledge_portal.db import get_session
    from knowledge_portal.models import ContentGeneration

    with app.app_context():
        value = get_session().scalar(select(ContentGeneration.value).where(ContentGeneration.id == 1))
    assert value is not None
    return value


def _new_standard(admin, token: str, code: str, title_en: str, title_ar: str) -> None:
    response = admin.post(
        "/en/admin/standards/new",
        data={
            "csrf_token": token,
            "code": code,
            "category": "security",
            "year": "2016",
            "title_ar": title_ar,
            "title_en": title_en,
            "body_ar": "",
            "body_en": "",
        },
    )
    assert response.status_code == 302, response.get_data(as_text=True)[:300]


def test_second_request_is_served_from_cache_get_and_head(portal_env: PortalEnv):
    client = portal_env.client()
    url = "/en/readiness/"
    with renders(portal_env.app) as first:
        miss = client.get(url)
    assert miss.status_code == 200 and first == ["dashboard.html"]
    with renders(portal_env.app) as second:
        hit = client.get(url)
        head = client.head(url)
    assert second == []  # neither the GET nor the HEAD rendered anything
    assert hit.get_data() == miss.get_data()
    assert head.status_code == 200 and head.get_data() == b""
    assert head.headers["Content-Length"] == str(len(miss.get_data()))
    assert head.headers["Content-Type"] == miss.headers["Content-Type"]
    # the other language and another query are other pages
    with renders(portal_env.app) as other:
        assert client.get("/ar/readiness/").status_code == 200
        assert client.get(url + "?x=1").status_code == 200
    assert other == ["dashboard.html", "dashboard.html"]


def test_json_api_is_cached_too(portal_env: PortalEnv):
    client = portal_env.client()
    first = client.get("/api/v1/states")
    cache = portal_env.app.extensions["portal_page_cache"]
    hits = cache.hits
    again = client.get("/api/v1/states")
    assert cache.hits == hits + 1
    assert again.get_json() == first.get_json() and again.headers["Content-Type"] == first.headers["Content-Type"]


def test_security_headers_and_cookies_equal_on_hit_and_miss(portal_env: PortalEnv):
    url = "/ar/standards/"
    with renders(portal_env.app) as names:
        miss = portal_env.client().get(url)  # a fresh visitor: also gets the language cookie
        hit = portal_env.client().get(url)  # another fresh visitor, from the cache
    assert names == ["standards.html"]
    assert sorted(hit.headers.items()) == sorted(miss.headers.items())
    for header in ("Content-Security-Policy", "X-Frame-Options", "X-Content-Type-Options", "Referrer-Policy", "Vary"):
        assert hit.headers[header] == miss.headers[header]
    assert "lang=ar" in hit.headers["Set-Cookie"]


def test_edit_publish_and_delete_show_on_the_very_next_request_in_both_languages(env: PortalEnv):
    public = env.client()
    for lang in ("ar", "en"):
        assert "Cache test standard" not in public.get(f"/{lang}/standards/").get_data(as_text=True)
        public.get(f"/{lang}/standards/")  # now cached
    admin = env.client()
    login(admin, "admin")
    token = csrf_from(admin, "/en/admin/standards/new")
    _new_standard(admin, token, "GCC-CACHE-01", "Cache test standard", "معيار اختبار الذاكرة")
    assert "Cache test standard" in public.get("/en/standards/").get_data(as_text=True)
    assert "معيار اختبار الذاكرة" in public.get("/ar/standards/").get_data(as_text=True)

    # a moderated record: publishing and unpublishing a practice shows on its page and in a repeated search
    with env.app.app_context():
        from knowledge_portal.db import get_session
        from knowledge_portal.models import Practice

        practice = get_session().scalar(select(Practice).where(Practice.public_id == "kw-social-loan"))
        assert practice is not None
        record_id, title_en = practice.id, practice.title_en
    search = "/en/practices/?q=social"
    assert "kw-social-loan" in public.get(search).get_data(as_text=True)
    assert public.get("/ar/practices/kw-social-loan").status_code == 200
    rtoken = csrf_from(admin, "/en/admin/")
    assert admin.post(f"/en/admin/practices/{record_id}/unpublish", data={"csrf_token": rtoken}).status_code == 302
    assert public.get("/ar/practices/kw-social-loan").status_code == 404
    assert "kw-social-loan" not in public.get(search).get_data(as_text=True)
    assert title_en not in public.get("/en/practices/").get_data(as_text=True)
    assert admin.post(f"/en/admin/practices/{record_id}/publish", data={"csrf_token": rtoken}).status_code == 302
    assert "kw-social-loan" in public.get(search).get_data(as_text=True)
    assert public.get("/en/practices/kw-social-loan").status_code == 200

    # deleting the standard
    with env.app.app_context():
        from knowledge_portal.db import get_session
        from knowledge_portal.models import Standard

        standard_id = get_session().scalar(select(Standard.id).where(Standard.code == "GCC-CACHE-01"))
    response = admin.post(f"/en/admin/standards/{standard_id}/delete", data={"csrf_token": rtoken})
    assert response.status_code == 302
    assert "Cache test standard" not in public.get("/en/standards/").get_data(as_text=True)
    assert "معيار اختبار الذاكرة" not in public.get("/ar/standards/").get_data(as_text=True)


def test_a_second_app_on_the_same_database_sees_a_publish_at_its_next_request(env: PortalEnv):
    from knowledge_portal import create_app
    from knowledge_portal.config import load_config

    second = create_app(load_config({"INSTANCE_DIR": str(env.instance), "TESTING": False}))
    reader = second.test_client()
    url = "/en/standards/"
    with renders(second) as names:
        assert "Two apps standard" not in reader.get(url).get_data(as_text=True)
        reader.get(url)
    assert names == ["standards.html"]  # the second app's own cache serves it now

    admin = env.client()
    login(admin, "admin")
    _new_standard(admin, csrf_from(admin, "/en/admin/standards/new"), "GCC-CACHE-02", "Two apps standard", "معياران")
    assert "Two apps standard" in reader.get(url).get_data(as_text=True)
    assert "معياران" in reader.get("/ar/standards/").get_data(as_text=True)


def test_logged_in_editor_never_gets_or_leaves_a_cached_page(env: PortalEnv):
    url = "/en/practices/kw-social-loan"
    editor = env.client()
    login(editor, "kw-editor")
    with renders(env.app) as names:
        for _ in range(2):
            page = editor.get(url).get_data(as_text=True)
            assert 'href="/en/admin/"' in page  # the editor's own page (the header links to the administration)
    assert len(names) == 2  # rendered each time: never served from the cache

    anonymous = env.client()
    with renders(env.app) as names:
        first = anonymous.get(url)
        second = anonymous.get(url)
    assert names == ["practice.html"]  # the editor's visits left nothing in the cache
    for response in (first, second):
        html = response.get_data(as_text=True)
        assert 'href="/en/admin/"' not in html and 'href="/en/login"' in html
        assert "kw-editor" not in html and not re.search(r"csrf_token|csrf-token", html)
    with renders(env.app) as names:
        # a cached page exists now: the editor still gets their own, rendered
        assert 'href="/en/admin/"' in editor.get(url).get_data(as_text=True)
    assert names == ["practice.html"]


def test_pages_issuing_a_csrf_token_or_a_cookie_are_not_cached(portal_env: PortalEnv):
    client = portal_env.client()
    with renders(portal_env.app) as names:
        for _ in range(2):
            client.get("/en/my-view")  # a form with a CSRF token, pins from a cookie
            client.get("/en/login")
    assert names.count("my_view.html") == 2 and names.count("login.html") == 2


def test_generation_moves_with_content_writes_only(env: PortalEnv):
    from knowledge_portal.db import get_session
    from knowledge_portal.models import Standard, User

    start = _generation(env.app)
    with env.app.app_context():
        db = get_session()
        user = db.get(User, 1)
        assert user is not None
        user.email = "someone@example.org"  # not content: no public page shows it
        db.commit()
    assert _generation(env.app) == start
    with env.app.app_context():
        db = get_session()
        standard = db.scalars(select(Standard)).first()
        assert standard is not None
        standard.title_en = "Rolled back"
        db.flush()
        db.rollback()
    assert _generation(env.app) == start  # a rolled-back write leaves the generation alone
    with env.app.app_context():
        db = get_session()
        standard = db.scalars(select(Standard)).first()
        assert standard is not None
        standard.title_en = "Renamed"
        db.commit()
    assert _generation(env.app) == start + 1
    with env.app.app_context():
        from sqlalchemy import update

        db = get_session()
        db.execute(update(Standard).values(year=2017))
        db.commit()
    assert _generation(env.app) == start + 2


def test_page_cache_expiry_bound_and_generations():
    from knowledge_portal.response_cache import CachedPage, PageCache

    now = [100.0]
    cache = PageCache(max_entries=2, clock=lambda: now[0])

    def page(generation: int, ttl: float) -> CachedPage:
        return CachedPage(200, (), b"x", generation, now[0] + ttl)

    assert cache.get(("a",), 1) is None
    cache.put(("a",), page(1, 5))
    assert cache.get(("a",), 1) is not None
    now[0] += 5
    assert cache.get(("a",), 1) is None  # expired (a live page's short lifetime)
    cache.put(("a",), page(1, 60))
    cache.put(("b",), page(1, 60))
    cache.get(("a",), 1)  # a is now the most recently used
    cache.put(("c",), page(1, 60))
    assert len(cache) == 2 and cache.get(("b",), 1) is None and cache.get(("a",), 1) is not None
    assert cache.get(("a",), 2) is None and len(cache) == 0  # a newer generation empties the cache
    cache.put(("a",), page(1, 60))  # rendered before the write: never kept
    assert len(cache) == 0


def test_live_pages_expire_quickly(env: PortalEnv):
    cache = env.app.extensions["portal_page_cache"]
    now = [1000.0]
    cache.clock = lambda: now[0]
    client = env.client()
    with renders(env.app) as names:
        client.get("/en/")
        client.get("/en/standards/")
        client.get("/en/")
        client.get("/en/standards/")
    assert names == ["home.html", "standards.html"]
    now[0] += 6  # past the live lifetime (5 s), well within the others' (300 s)
    with renders(env.app) as names:
        client.get("/en/")
        client.get("/en/standards/")
    assert names == ["home.html"]  # the home page shows the network's online/offline state: re-rendered


def test_generation_reader_sees_commits_of_other_connections_and_honours_its_max_age(env: PortalEnv):
    from knowledge_portal.models import bump_generation
    from knowledge_portal.response_cache import GenerationReader

    engine = env.app.extensions["portal_db"].engine
    now = [0.0]
    strict = GenerationReader(engine)
    lazy = GenerationReader(engine, max_age=0.5, clock=lambda: now[0])
    start = strict.current()
    assert lazy.current() == start
    with engine.begin() as conn:
        bump_generation(conn)
    assert strict.current() == start + 1  # the very next read
    assert lazy.current() == start  # within its max age: the value it read (the documented staleness)
    now[0] += 0.5
    assert lazy.current() == start + 1


def test_other_sqlalchemy_sessions_in_the_process_are_left_alone(tmp_path):
    """The content-generation hooks listen on the portal's sessions only: a node's store in the same
    interpreter (tests, the demo) commits bulk writes without any ``content_generation`` table."""
    from sqlalchemy import Integer, create_engine, insert, update
    from sqlalchemy.orm import DeclarativeBase, Session, mapped_column

    import knowledge_portal.models  # noqa: F401 - registers the portal's session hooks

    class Other(DeclarativeBase):
        pass

    class Row(Other):
        __tablename__ = "rows"
        id = mapped_column(Integer, primary_key=True)  # no annotations: this module defers them
        n = mapped_column(Integer)

    engine = create_engine(f"sqlite:///{tmp_path / 'other.sqlite'}")
    Other.metadata.create_all(engine)
    with Session(engine) as session:
        session.execute(insert(Row).values(id=1, n=1))
        session.execute(update(Row).values(n=2))
        session.add(Row(id=2, n=3))
        session.commit()  # raised "no such table: content_generation" when the hooks listened on every Session
    with Session(engine) as session:
        assert sorted(session.scalars(select(Row.n))) == [2, 3]
    engine.dispose()
