"""The public portal in a real Chromium at phone and desktop size, in both languages: no sideways page scroll,
readable charts, the catalogue as cards, the self-hosted Arabic webfont, the header search, and axe-core
(vendored in tests/portal/vendor) reporting no violations. Screenshots go to test-artifacts/portal/."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from test_portal_browser import ARTIFACTS, browser, server, server_admin  # noqa: F401  (module-scoped fixtures)

pytestmark = pytest.mark.browser

AXE = Path(__file__).with_name("vendor") / "axe.min.js"
PHONE = {"viewport": {"width": 390, "height": 844}, "device_scale_factor": 2, "is_mobile": True, "has_touch": True}
DESKTOP = {"viewport": {"width": 1280, "height": 900}}

#: Every public page (path, screenshot name).
PUBLIC_PAGES = [
    ("/", "home"),
    ("/states/", "states"),
    ("/states/KW", "state-kw"),
    ("/achievements/", "achievements"),
    ("/award/", "award"),
    ("/readiness/", "dashboard"),
    ("/readiness/state/SA", "readiness-sa"),
    ("/readiness/sector/health", "readiness-health"),
    ("/services/", "services"),
    ("/services/1", "service"),
    ("/standards/", "standards"),
    ("/practices/", "practices"),
    ("/practices/?q=الدفع الإلكتروني", "search"),
    ("/practices/kw-social-loan", "practice"),
    ("/my-view", "my-view"),
    ("/about-data", "about-data"),
    ("/contact", "contact"),
    ("/privacy", "privacy"),
    ("/accessibility", "accessibility"),
    ("/login", "login"),
]
#: The main pages axe-core checks.
AXE_PAGES = [
    "/",
    "/states/KW",
    "/achievements/",
    "/award/",
    "/readiness/",
    "/services/",
    "/practices/?q=portal",
    "/practices/kw-social-loan",
    "/contact",
    "/privacy",
    "/accessibility",
    "/network",
    "/directory",
]
#: The admin pages axe-core checks, signed in as the secretariat.
AXE_ADMIN_PAGES = [
    "/admin/",
    "/admin/practices/",
    "/admin/practices/new",
    "/admin/audit",
    "/admin/users/",
    "/admin/directory/",
]

_CHART_TEXT_JS = """() => [...document.querySelectorAll('svg.chart text')].map(t => {
  const size = parseFloat(getComputedStyle(t).fontSize) * t.getScreenCTM().a;
  return [t.textContent, Math.round(size * 10) / 10];
})"""


@pytest.fixture(scope="module")
def phone(browser):  # noqa: F811
    context = browser.new_context(**PHONE)
    try:
        yield context.new_page()
    finally:
        context.close()


@pytest.fixture(scope="module")
def desktop(browser):  # noqa: F811
    context = browser.new_context(**DESKTOP)
    try:
        yield context.new_page()
    finally:
        context.close()


@pytest.mark.parametrize("lang", ["ar", "en"])
def test_every_public_page_fits_a_phone(server, phone, lang):  # noqa: F811
    wide = []
    for path, name in PUBLIC_PAGES:
        response = phone.goto(f"{server}/{lang}{path}")
        assert response.status == 200, path
        overflow = phone.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        if overflow > 0:
            wide.append((path, overflow))
        phone.screenshot(path=str(ARTIFACTS / f"phone-{name}-{lang}.png"), full_page=True)
    assert wide == [], wide


@pytest.mark.parametrize("lang", ["ar", "en"])
@pytest.mark.parametrize("path", ["/readiness/", "/readiness/state/OM", "/readiness/sector/health", "/states/KW", "/"])
def test_chart_text_stays_readable_on_a_phone(server, phone, lang, path):  # noqa: F811
    phone.goto(f"{server}/{lang}{path}")
    sizes = phone.evaluate(_CHART_TEXT_JS)
    assert sizes, "no chart text found"
    small = [s for s in sizes if s[1] < 11]
    assert small == [], small[:5]


@pytest.mark.parametrize("lang", ["ar", "en"])
def test_catalogue_is_cards_with_paging_and_sorting_on_a_phone(server, phone, lang):  # noqa: F811
    phone.goto(f"{server}/{lang}/services/?sort=maturity")
    rows = phone.locator(".services-table tbody tr")
    assert rows.count() == 20  # one page of 20, not the 51 rows at once
    assert phone.evaluate("getComputedStyle(document.querySelector('.services-table tbody tr')).display") == "block"
    assert (
        not phone.locator(".services-table thead").is_visible()
        or phone.evaluate("document.querySelector('.services-table thead').getBoundingClientRect().height") <= 1
    )
    assert phone.locator(".services-table .stage").first.get_attribute("class").endswith("stage-connected")
    height = phone.evaluate("document.documentElement.scrollHeight")
    assert height < 8300
    first = rows.first.locator("a").first
    first.click()
    phone.wait_for_url(f"**/{lang}/services/*")
    assert phone.locator("dl.facts").is_visible()
    phone.goto(f"{server}/{lang}/services/?page=3")
    assert phone.locator(".services-table tbody tr").count() == 51 - 40
    phone.screenshot(path=str(ARTIFACTS / f"phone-services-page3-{lang}.png"), full_page=True)


def test_arabic_text_uses_the_self_hosted_webfont(server, desktop):  # noqa: F811
    fonts: list[str] = []
    desktop.on("request", lambda r: fonts.append(r.url) if r.url.endswith(".woff2") else None)
    desktop.goto(f"{server}/ar/")
    desktop.evaluate("document.fonts.ready.then(() => true)")
    loaded = desktop.evaluate("""() => [...document.fonts].filter(f => f.status === 'loaded').map(f => f.family)""")
    assert any("Noto Naskh Arabic" in f for f in loaded), loaded
    assert fonts and all(u.startswith(server + "/static/fonts/") for u in fonts), fonts
    assert "Noto Naskh Arabic" in desktop.evaluate("getComputedStyle(document.body).fontFamily")
    licence = Path(__file__).resolve().parents[2] / "knowledge_portal" / "static" / "fonts" / "OFL.txt"
    assert "SIL Open Font License" in licence.read_text()


@pytest.mark.parametrize("lang", ["ar", "en"])
def test_header_search_and_footer_pages(server, desktop, lang):  # noqa: F811
    desktop.goto(f"{server}/{lang}/award/")
    desktop.fill("#header-q", "kiosk" if lang == "en" else "القرض")
    desktop.keyboard.press("Enter")
    desktop.wait_for_url(f"**/{lang}/practices/?q=*")
    assert desktop.locator(".results-list li").count() >= 1
    for link in ("contact", "privacy", "accessibility"):
        desktop.goto(f"{server}/{lang}/")
        desktop.click(f"footer a[href='/{lang}/{link}']")
        desktop.wait_for_url(f"**/{lang}/{link}")
        assert desktop.locator("main h1").is_visible()
        desktop.screenshot(path=str(ARTIFACTS / f"{link}-{lang}.png"), full_page=True)
    desktop.goto(f"{server}/{lang}/")
    assert desktop.locator("img.brand-mark").is_visible()
    desktop.screenshot(path=str(ARTIFACTS / f"desktop-home-{lang}.png"), full_page=True)


@pytest.mark.parametrize("size", ["desktop", "phone"])
@pytest.mark.parametrize("lang", ["ar", "en"])
def test_axe_core_finds_no_violations(server, browser, lang, size):  # noqa: F811
    # bypass_csp only lets the test inject axe; the pages themselves are unchanged
    context = browser.new_context(**(PHONE if size == "phone" else DESKTOP), bypass_csp=True)
    try:
        pg = context.new_page()
        found = {}
        for path in AXE_PAGES:
            pg.goto(f"{server}/{lang}{path}")
            pg.add_script_tag(path=str(AXE))
            result = pg.evaluate("""async () => {
                const r = await axe.run(document, {resultTypes: ['violations']});
                return r.violations.map(v => [v.id, v.impact, v.nodes.slice(0, 3).map(n => n.target.join(' '))]);
            }""")
            if result:
                found[path] = result
        assert found == {}, json.dumps(found, ensure_ascii=False, indent=1)
    finally:
        context.close()


@pytest.mark.parametrize("lang", ["ar", "en"])
def test_wide_tables_scroll_in_their_frame_without_breaking_words(server, phone, lang):  # noqa: F811
    """The readiness matrix is wider than a phone: it scrolls inside its own frame, and its state names keep
    whole words (a column is never squeezed to one letter a line)."""
    phone.goto(f"{server}/{lang}/readiness/")
    frame = phone.evaluate("""() => { const f = document.querySelector('.table-scroll');
        return [f.scrollWidth > f.clientWidth, getComputedStyle(f).overflowX]; }""")
    assert frame == [True, "auto"]
    heights = phone.evaluate("""() => [...document.querySelectorAll('.matrix th[scope=row]')].map(th =>
        th.getBoundingClientRect().height / parseFloat(getComputedStyle(th).lineHeight))""")
    assert heights and max(heights) < 3.5, heights


def _axe(pg) -> list:
    pg.add_script_tag(path=str(AXE))
    return pg.evaluate("""async () => {
        const r = await axe.run(document, {resultTypes: ['violations']});
        return r.violations.map(v => [v.id, v.impact, v.nodes.slice(0, 3).map(n => n.target.join(' '))]);
    }""")


@pytest.mark.parametrize("lang", ["ar", "en"])
def test_axe_core_finds_no_violations_in_the_admin(server, browser, lang):  # noqa: F811
    context = browser.new_context(**DESKTOP, bypass_csp=True)
    try:
        pg = context.new_page()
        pg.goto(f"{server}/{lang}/login")
        pg.fill("#username", server_admin["username"])
        pg.fill("#password", server_admin["password"])
        pg.press("#password", "Enter")
        pg.wait_for_url(f"**/{lang}/admin/")
        found = {}
        for path in AXE_ADMIN_PAGES:
            assert pg.goto(f"{server}/{lang}{path}").status == 200, path
            result = _axe(pg)
            if result:
                found[path] = result
        assert found == {}, json.dumps(found, ensure_ascii=False, indent=1)
    finally:
        context.close()
