"""Practice tags show as labels in the page's language (the slug stays in URLs, the index and the API), and
numbered-list markers follow the Arabic-Indic digit convention on Arabic pages."""

from __future__ import annotations

import re
from datetime import datetime

import pytest
from portalkit import build_instance, csrf_from, login

ARABIC_LETTER = re.compile(r"[\u0621-\u064a]")
PRACTICE = "test-passport-renewal"


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    """The demo instance plus one practice tagged with slugs: one labelled, one without a label."""
    from knowledge_portal.db import get_session
    from knowledge_portal.indexing import sync_practice
    from knowledge_portal.models import Practice, TagLabel

    portal = build_instance(tmp_path_factory.mktemp("tags"))
    with portal.app.app_context():
        db = get_session()
        db.add(TagLabel(slug="digital-identity", label_ar="الهوية الرقمية", label_en="Digital identity"))
        p = Practice(
            public_id=PRACTICE,
            state_code="KW",
            sector="interior",
            year=2016,
            tags=["digital-identity", "open-data-portal"],
            title_ar="تجديد الجواز عبر الإنترنت",
            title_en="Online passport renewal",
            summary_ar="تجديد الجواز بالتحقق البيومتري عن بعد.",
            summary_en="Passport renewal with remote biometric verification.",
            body_ar="<ol><li>الطلب</li><li>التحقق</li></ol>",
            body_en="<ol><li>Apply</li><li>Verify</li></ol>",
            is_demo=True,
            status="published",
            published_at=datetime(2016, 5, 1, 9, 0),
        )
        db.add(p)
        db.commit()
        sync_practice(p)
    return portal


def _without_urls(html: str) -> str:
    """The page without href attributes (where slugs belong)."""
    return re.sub(r'href="[^"]*"', "", html)


def _tag_links(html: str) -> list[tuple[str, str]]:
    return re.findall(r'<a class="tag"[^>]* href="([^"]*)"[^>]*>([^<]*)</a>', html)


def test_arabic_practice_page_shows_arabic_labels_and_links_by_slug(env):
    html = env.client().get(f"/ar/practices/{PRACTICE}").get_data(as_text=True)
    assert _tag_links(html) == [
        ("/ar/practices/?tag=digital-identity", "الهوية الرقمية"),
        ("/ar/practices/?tag=open-data-portal", "open data portal"),
    ]  # no label: readable
    text = _without_urls(html)
    assert "digital-identity" not in text and "open-data-portal" not in text


def test_english_practice_page_shows_english_labels(env):
    client = env.client()
    html = client.get(f"/en/practices/{PRACTICE}").get_data(as_text=True)
    assert ("/en/practices/?tag=digital-identity", "Digital identity") in _tag_links(html)
    assert "digital-identity" not in _without_urls(html)
    demo = client.get("/en/practices/jo-single-sign-on").get_data(as_text=True)
    assert ("/en/practices/?tag=single+sign-on", "Single sign-on") in _tag_links(demo)
    assert ("/en/practices/?tag=portal", "Portals") in _tag_links(demo)


def test_every_demo_tag_has_an_arabic_label(env):
    from knowledge_portal.demo import PRACTICES, TAG_LABELS
    from knowledge_portal.tags import tag_key

    keys = {tag_key(t): ar for t, (ar, _en) in TAG_LABELS.items()}
    tags = {t for p in PRACTICES for t in p["tags"]}
    assert len(tags) >= 20
    for tag in tags:
        assert ARABIC_LETTER.search(keys.get(tag_key(tag), "")), tag
    client = env.client()
    for p in PRACTICES:  # and the Arabic pages show them
        links = _tag_links(client.get(f"/ar/practices/{p['id']}").get_data(as_text=True))
        assert len(links) == len(p["tags"]), p["id"]
        assert all(ARABIC_LETTER.search(label) for _href, label in links), (p["id"], links)


def test_search_facets_and_tag_filter_show_labels(env):
    client = env.client()
    ar = client.get("/ar/practices/?q=portal").get_data(as_text=True)
    facets = ar.split('id="facets-title"')[1]
    assert '<a href="/ar/practices/?q=portal&amp;tag=portal">البوابات الإلكترونية</a>' in facets
    assert '<a href="/ar/practices/?q=portal&amp;tag=single+sign-on">تسجيل الدخول الموحد</a>' in facets
    assert ">single sign-on<" not in facets and ">portal<" not in facets
    en = client.get("/en/practices/?q=passport").get_data(as_text=True)
    assert '<a href="/en/practices/?q=passport&amp;tag=digital-identity">Digital identity</a>' in en
    filtered = client.get("/ar/practices/?tag=digital-identity").get_data(as_text=True)
    assert "<strong><bdi>الهوية الرقمية</bdi></strong>" in filtered and "القرض الاجتماعي" not in filtered
    assert "تجديد الجواز عبر الإنترنت" in filtered  # the filter still works by slug


def test_api_keeps_slugs_with_labels_alongside_and_feed_categories(env):
    client = env.client()
    data = client.get(f"/api/v1/practices/{PRACTICE}").get_json()
    assert data["tags"] == ["digital-identity", "open-data-portal"]
    assert data["tag_labels"]["digital-identity"] == {"ar": "الهوية الرقمية", "en": "Digital identity"}
    assert data["tag_labels"]["open-data-portal"] == {"ar": "open data portal", "en": "open data portal"}
    facets = client.get("/api/v1/search?q=passport&lang=ar").get_json()["facets"]["tag"]
    assert {"value": "digital-identity", "count": 1} in facets
    feed = client.get("/ar/feeds/practices.atom?tag=digital-identity").get_data(as_text=True)
    assert re.search(r'<category term="digital-identity" label="الهوية الرقمية" scheme="[^"]*/en/practices/" />', feed)


def test_secretariat_edits_tag_labels_and_editors_cannot(env):
    client = env.client()
    login(client, "admin")
    token = csrf_from(client, "/en/admin/tags/new")
    response = client.post(
        "/en/admin/tags/new",
        data={
            "csrf_token": token,
            "slug": "Open data portal",
            "label_ar": "بوابة البيانات المفتوحة",
            "label_en": "Open data portal",
        },
    )
    assert response.status_code == 302
    assert "Open data portal (open-data-portal)" in client.get("/en/admin/tags/").get_data(as_text=True)
    html = env.client().get(f"/ar/practices/{PRACTICE}").get_data(as_text=True)
    assert ("/ar/practices/?tag=open-data-portal", "بوابة البيانات المفتوحة") in _tag_links(html)
    # the new label is searchable at once: the practices carrying the tag were re-indexed
    assert PRACTICE in _search_ids(env, "بوابة البيانات المفتوحة", "ar")
    again = client.post(
        "/en/admin/tags/new",
        data={"csrf_token": token, "slug": "open-data-portal", "label_ar": "مكرر", "label_en": "Duplicate"},
    )
    assert again.status_code == 409  # one label per tag
    editor = env.client()
    login(editor, "kw-editor")
    assert editor.get("/en/admin/tags/").status_code == 403


def test_tag_key_and_readable_fallback():
    from knowledge_portal.tags import readable, tag_key

    assert tag_key(" Single  sign-on ") == "single-sign-on" == tag_key("single_sign--on")
    assert tag_key("GCC") == "gcc"
    assert readable("digital-identity") == "digital identity"
    assert readable("data_centre") == "data centre"
    assert readable("single sign-on") == "single sign-on"  # already a phrase: left alone


def test_migrations_match_the_models(env):
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from knowledge_portal.models import Base

    with env.app.extensions["portal_db"].engine.connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn), Base.metadata) == []


# --- numbered-list markers ------------------------------------------------------------------


def _html_tag(html: str) -> str:
    return re.search(r"<html[^>]*>", html).group(0)


def test_arabic_pages_carry_the_list_marker_hook_when_arabic_indic_digits_are_on(env):
    client = env.client()
    for url in ("/ar/", "/ar/practices/", f"/ar/practices/{PRACTICE}", "/ar/achievements/"):
        assert 'data-digits="arab"' in _html_tag(client.get(url).get_data(as_text=True)), url
    for url in ("/en/", "/en/practices/", f"/en/practices/{PRACTICE}"):
        assert "data-digits" not in _html_tag(client.get(url).get_data(as_text=True)), url


def test_no_list_marker_hook_when_latin_digits_are_configured(tmp_path):
    off = build_instance(tmp_path / "latn", demo=False, ARABIC_DIGITS="latn").client()
    for url in ("/ar/", "/ar/practices/"):
        assert "data-digits" not in _html_tag(off.get(url).get_data(as_text=True)), url
    per_state = build_instance(tmp_path / "om", STATE_DIGITS={"OM": "latn"}).client()
    assert "data-digits" not in _html_tag(per_state.get("/ar/states/OM").get_data(as_text=True))
    assert "data-digits" not in _html_tag(per_state.get("/ar/practices/om-disaster-recovery").get_data(as_text=True))
    assert 'data-digits="arab"' in _html_tag(per_state.get("/ar/states/KW").get_data(as_text=True))
    assert 'data-digits="arab"' in _html_tag(per_state.get("/ar/practices/").get_data(as_text=True))


def test_stylesheet_maps_the_hook_to_arabic_indic_markers_without_outranking_lists(env):
    css = env.client().get("/static/style.css").get_data(as_text=True)
    rule = re.search(r':where\(html\[data-digits="arab"\] ol\)\s*\{\s*list-style-type:\s*arabic-indic;\s*\}', css)
    assert rule, "no zero-specificity rule giving <ol> Arabic-Indic markers under data-digits=arab"


@pytest.mark.parametrize("lang,q", [("ar", "الهوية الرقمية"), ("en", "digital identity")])
def test_a_tag_label_finds_its_practices(env, lang, q):
    """The practice's own text never says "identity"; its tag's label, as the pages show it, does."""
    assert PRACTICE in _search_ids(env, q, lang)


def _search_ids(env, q: str, lang: str) -> list[str]:
    query = {"q": q, "lang": lang, "state": "KW", "sector": "interior"}  # narrow enough for one page
    got = env.client().get("/api/v1/search", query_string=query).get_json()
    return [r["id"] for r in got["results"]]
