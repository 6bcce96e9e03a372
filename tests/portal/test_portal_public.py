"""Public pages in both languages, with the demo content, filters and charts."""

from __future__ import annotations

import pytest

PAGES = [
    "/{l}/",
    "/{l}/states/",
    "/{l}/states/KW",
    "/{l}/states/om",
    "/{l}/achievements/",
    "/{l}/award/",
    "/{l}/readiness/",
    "/{l}/readiness/state/SA",
    "/{l}/readiness/sector/health",
    "/{l}/services/",
    "/{l}/standards/",
    "/{l}/about-data",
    "/{l}/my-view",
    "/{l}/practices/",
    "/{l}/practices/kw-social-loan",
    "/{l}/login",
]


@pytest.mark.parametrize("lang", ["ar", "en"])
def test_every_public_page_renders(portal_env, lang):
    client = portal_env.client()
    for page in PAGES:
        response = client.get(page.format(l=lang))
        assert response.status_code == 200, page
        html = response.get_data(as_text=True)
        assert f'lang="{lang}"' in html
        for landmark in (
            '<header class="site-header" role="banner">',
            '<main id="main"',
            'role="contentinfo"',
            '<nav class="site-nav" aria-label=',
        ):
            assert landmark in html, (page, landmark)


def test_home_shows_the_six_states_and_latest_content(portal_env):
    client = portal_env.client()
    ar = client.get("/ar/").get_data(as_text=True)
    en = client.get("/en/").get_data(as_text=True)
    for name in ("الكويت", "المملكة العربية السعودية", "قطر", "الإمارات العربية المتحدة", "البحرين", "عُمان"):
        assert name in ar
    for name in ("Kuwait", "Saudi Arabia", "Qatar", "United Arab Emirates", "Bahrain", "Oman"):
        assert name in en
    assert "Latest achievements" in en and "Oman joins the GCC e-government network" in en
    assert "Latest best practices" in en
    assert "Demonstration data" in en  # demo records are marked


def test_state_page_has_programme_agency_ranks_and_chart(portal_env):
    html = portal_env.client().get("/en/states/KW").get_data(as_text=True)
    assert "Central Agency for Information Technology" in html
    assert "<svg" in html and 'role="img"' in html
    assert "<td>49</td>" in html
    assert "Reported by the Kuwait News Agency (KUNA)" in html


def test_achievements_filter_by_state_year_category(portal_env):
    client = portal_env.client()
    html = client.get("/en/achievements/?state=SA").get_data(as_text=True)
    assert "Council of Ministers decision no. 110" in html and "Kuwait rises 14 places" not in html
    html = client.get("/en/achievements/?year=2014&category=ranking").get_data(as_text=True)
    assert "Kuwait rises 14 places" in html and "Council of Ministers" not in html
    assert "1 achievement" in html
    # filtered lists offer the matching Atom feed
    assert 'href="/en/feeds/achievements.atom?year=2014&amp;category=ranking"' in html


def test_bad_filters_are_reported_not_500(portal_env):
    client = portal_env.client()
    for url in (
        "/en/achievements/?year=abc&state=ZZ",
        "/en/practices/?page=-1&sector=nope",
        "/en/services/?state=%00",
        "/ar/practices/?q=" + "x" * 5000,
    ):
        response = client.get(url)
        assert response.status_code == 200, url
    assert "invalid_year" in client.get("/en/achievements/?year=abc").get_data(as_text=True)


def test_award_page_lists_hosts_and_winners(portal_env):
    html = portal_env.client().get("/en/award/").get_data(as_text=True)
    assert "hosted by Bahrain" in html and "hosted by Oman" in html
    assert "Best e-service" in html


def test_dashboard_matrix_and_chart(portal_env):
    client = portal_env.client()
    html = client.get("/en/readiness/").get_data(as_text=True)
    assert html.count("<svg") == 1 and "Services by maturity stage in each member state" in html
    assert 'class="data matrix"' in html and "Connected" in html and "Emerging" in html
    assert 'href="/en/readiness/sector/health"' in html
    ar = client.get("/ar/readiness/").get_data(as_text=True)
    assert "متكاملة" in ar and "ناشئة" in ar and 'direction="rtl"' in ar
    per_state = client.get("/en/readiness/state/KW").get_data(as_text=True)
    assert "Social loan" in per_state and "Kiosk" in per_state
    assert client.get("/en/readiness/sector/nope").status_code == 404
    assert client.get("/en/readiness/state/XX").status_code == 404


def test_service_catalogue_filters(portal_env):
    html = portal_env.client().get("/en/services/?state=KW&maturity=connected").get_data(as_text=True)
    assert "Social loan" in html
    assert "Qatar" not in html.split("<tbody>")[1]


def test_practice_page_sanitised_body_related_and_tags(portal_env):
    html = portal_env.client().get("/en/practices/jo-single-sign-on").get_data(as_text=True)
    assert "Regional or external experience" in html
    assert "Reported by Al-Ghad, Jordan" in html
    assert 'href="/en/practices/qa-knowledge-portal"' in html  # related practice
    assert 'href="/en/practices/?tag=single+sign-on"' in html


def test_unpublished_or_unknown_practice_is_404(portal_env):
    assert portal_env.client().get("/en/practices/does-not-exist").status_code == 404


def test_browse_practices_by_regional_state_and_paging(portal_env):
    client = portal_env.client()
    html = client.get("/en/practices/?state=REGIONAL").get_data(as_text=True)
    assert "3 practices" in html and "Priority services named by each ministry" in html
    page2 = client.get("/en/practices/?page=2").get_data(as_text=True)
    assert "Page 2 of 2" in page2


def test_search_page_uses_the_index(portal_env):
    client = portal_env.client()
    html = client.get("/en/practices/?q=kiosks").get_data(as_text=True)
    assert "Fire-service licences from self-service kiosks" in html and "<mark>" in html
    ar = client.get("/ar/practices/?q=القرض").get_data(as_text=True)
    assert "القرض الاجتماعي" in ar
    facets = client.get("/en/practices/?q=portal").get_data(as_text=True)
    assert 'class="facets"' in facets


def test_security_headers(portal_env):
    response = portal_env.client().get("/en/")
    csp = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp and "unsafe-inline" not in csp
    assert response.headers["Referrer-Policy"] == "strict-origin-when-cross-origin"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert "Strict-Transport-Security" not in response.headers  # plain HTTP
    secure = portal_env.client().get("/en/", base_url="https://portal.example")
    assert secure.headers["Strict-Transport-Security"].startswith("max-age=")


def test_no_inline_script_or_style_in_pages(portal_env):
    client = portal_env.client()
    for url in ("/ar/", "/en/readiness/", "/en/practices/?q=portal", "/en/states/KW"):
        html = client.get(url).get_data(as_text=True)
        assert "<script" not in html and " style=" not in html and "<style" not in html, url


def test_my_view_pins_are_kept_in_a_cookie(portal_env):
    from portalkit import csrf_from

    client = portal_env.client()
    token = csrf_from(client, "/en/my-view")
    response = client.post("/en/my-view", data={"csrf_token": token, "states": ["KW", "XX"], "sectors": ["finance"]})
    assert response.status_code == 302
    html = client.get("/en/my-view").get_data(as_text=True)
    assert 'value="KW" checked' in html and 'value="finance" checked' in html and "XX" not in html
    assert "The social loan" in html
    assert 'href="/en/feeds/achievements.atom?state=KW"' in html
    assert 'href="/en/feeds/practices.atom?sector=finance"' in html
    # forged POST without the token is refused
    assert client.post("/en/my-view", data={"states": ["SA"]}).status_code == 400


def test_bad_myview_cookie_is_ignored(portal_env):
    client = portal_env.client()
    client.set_cookie("myview", "{not json")
    assert client.get("/en/my-view").status_code == 200
    client.set_cookie("myview", '["KW"]')
    assert client.get("/ar/my-view").status_code == 200


def test_html_error_pages_are_translated(portal_env):
    response = portal_env.client().get("/ar/states/ZZ")
    assert response.status_code == 404 and "الصفحة المطلوبة غير موجودة" in response.get_data(as_text=True)


def test_browse_sort_by_year_or_publication_date(portal_env):
    import re

    client = portal_env.client()
    by_year = re.findall(r'href="/en/practices/([a-z0-9-]+)"', client.get("/en/practices/").get_data(as_text=True))
    by_date = re.findall(
        r'href="/en/practices/([a-z0-9-]+)"', client.get("/en/practices/?sort=date").get_data(as_text=True)
    )
    assert by_year[0] in ("jo-single-sign-on", "jo-priority-services", "ye-national-catalogue")  # 2015 first
    assert by_date[0] == "ye-national-catalogue"  # the most recently published demo record
    assert by_year != by_date


def test_every_template_compiles(portal_env):
    """A template with a syntax error would also silently drop out of catalog extraction."""
    env = portal_env.app.jinja_env
    names = [n for n in env.list_templates() if n.endswith(".html")]
    assert len(names) > 20
    for name in names:
        env.get_template(name)


def test_one_stylesheet_with_logical_properties_only():
    import re
    from pathlib import Path

    import knowledge_portal

    static = Path(knowledge_portal.__file__).parent / "static"
    # the site's one stylesheet, and the admin's own (linked only from the admin pages)
    assert sorted(p.name for p in static.glob("*.css")) == ["admin.css", "style.css"]
    for sheet in ("style.css", "admin.css"):
        physical = re.findall(
            r"(?:margin|padding|border)-(?:left|right)|text-align:\s*(?:left|right)"
            r"|float:\s*(?:left|right)|(?<![-\w])(?:left|right)\s*:",
            (static / sheet).read_text(),
        )
        assert physical == [], sheet
    css = (static / "style.css").read_text()
    assert "margin-inline" in css and "padding-inline" in css and "inset-inline-start" in css


def test_an_empty_instance_renders_every_page(tmp_path):
    from portalkit import build_instance

    env = build_instance(tmp_path / "empty", demo=False)
    client = env.client()
    for lang in ("ar", "en"):
        for page in (
            "/",
            "/states/",
            "/achievements/",
            "/award/",
            "/readiness/",
            "/readiness/sector/health",
            "/services/",
            "/standards/",
            "/my-view",
            "/practices/",
            "/practices/?q=x",
            "/feeds/practices.atom",
            "/feeds/achievements.atom",
            "/feeds/services.atom",
        ):
            assert client.get(f"/{lang}{page}").status_code == 200, (lang, page)
    for url in ("/api/v1/states", "/api/v1/services", "/api/v1/practices", "/api/v1/search?q=x", "/api/v1/network"):
        assert client.get(url).status_code == 200, url
    assert client.get("/api/v1/practices").get_json() == {"total": 0, "page": 1, "per_page": 20, "results": []}
