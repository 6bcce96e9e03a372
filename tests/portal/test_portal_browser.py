"""What a person sees, in a real Chromium (Debian's, driven by playwright): dir/lang, keyboard search,
no console errors (CSP violations included), phone-sized layout. Screenshots go to test-artifacts/portal/."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from portalkit import stop_process

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts" / "portal"
CHROMIUM = next((p for p in ("/usr/bin/chromium", shutil.which("chromium") or "") if p and Path(p).exists()), None)
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

if CHROMIUM is None:
    pytest.skip("Debian chromium not found (apt-get install chromium); browser tests skipped", allow_module_level=True)
pytest.importorskip("playwright.sync_api", reason="the playwright Python package is not installed")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


server_admin: dict[str, str] = {}


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """A real portal process on 127.0.0.1 with the demo instance; stopped by PID."""
    inst = tmp_path_factory.mktemp("browser-portal")
    cli = [sys.executable, "-c", "from gcc_link.cli import main; main()"]
    subprocess.run(
        cli + ["portal", "init", "--instance", str(inst), "--demo"],
        check=True,
        capture_output=True,
        timeout=60,
        cwd=ROOT,
    )
    port = _free_port()
    proc = subprocess.Popen(
        cli + ["portal", "run", "--instance", str(inst), "--port", str(port)],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(base + "/healthz", timeout=2).read()
                break
            except OSError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    pytest.fail("portal did not start")
                time.sleep(0.2)
        server_admin.update(json.loads((inst / "admin.json").read_text()))
        yield base
    finally:
        stop_process(proc)


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        try:
            yield b
        finally:
            b.close()


@pytest.fixture()
def page(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    pg = context.new_page()
    errors: list[str] = []
    pg.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    pg.on("pageerror", lambda e: errors.append(str(e)))
    pg.console_errors = errors  # type: ignore[attr-defined]
    yield pg
    context.close()


@pytest.mark.parametrize("lang,direction", [("ar", "rtl"), ("en", "ltr")])
@pytest.mark.parametrize("path,name", [("/", "home"), ("/readiness/", "dashboard"), ("/practices/", "search")])
def test_pages_render_with_direction_and_no_console_errors(server, page, lang, direction, path, name):
    response = page.goto(f"{server}/{lang}{path}")
    assert response.status == 200
    assert page.get_attribute("html", "dir") == direction
    assert page.get_attribute("html", "lang") == lang
    assert page.evaluate("getComputedStyle(document.body).direction") == direction
    assert page.locator("main h1").first.is_visible()
    if name == "dashboard":
        assert page.locator("svg.chart").is_visible()
    page.screenshot(path=str(ARTIFACTS / f"{name}-{lang}.png"), full_page=True)
    assert page.console_errors == []


def test_search_by_keyboard_only(server, page):
    page.goto(f"{server}/en/practices/")
    # Tab from the top of the page to the search box (bounded), as a keyboard user would
    for _ in range(40):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement && document.activeElement.id") == "q":
            break
    else:
        pytest.fail("the search box is not reachable with Tab")
    outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline != "none"  # visible focus
    page.keyboard.type("kiosks")
    page.keyboard.press("Enter")
    page.wait_for_url("**/en/practices/?q=kiosks*")
    first = page.locator(".results-list li h3 a").first
    assert "self-service kiosks" in first.inner_text()
    assert page.locator(".snippet mark").count() >= 1
    page.screenshot(path=str(ARTIFACTS / "search-results-en.png"), full_page=True)
    assert page.console_errors == []


def test_arabic_search_and_language_switch(server, page):
    page.goto(f"{server}/ar/practices/")
    page.fill("#q", "القرض")
    page.keyboard.press("Enter")
    page.wait_for_url("**/ar/practices/?q=*")
    assert "القرض الاجتماعي" in page.locator(".results-list").inner_text()
    page.screenshot(path=str(ARTIFACTS / "search-results-ar.png"), full_page=True)
    page.click("a.lang-switch")
    page.wait_for_url("**/en/practices/?q=*")
    assert page.get_attribute("html", "dir") == "ltr"
    assert page.console_errors == []


def test_skip_link_is_first_and_moves_focus(server, page):
    page.goto(f"{server}/ar/")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.className") == "skip-link"
    assert page.locator(".skip-link").is_visible()
    page.keyboard.press("Enter")
    assert page.evaluate("location.hash") == "#main"


def test_phone_sized_screen_has_no_horizontal_scroll(server, browser):
    context = browser.new_context(viewport={"width": 375, "height": 740}, device_scale_factor=2, is_mobile=True)
    try:
        pg = context.new_page()
        for lang in ("ar", "en"):
            for path, name in (("/", "home"), ("/practices/?q=portal", "search"), ("/readiness/", "dashboard")):
                pg.goto(f"{server}/{lang}{path}")
                overflow = pg.evaluate("document.documentElement.scrollWidth - window.innerWidth")
                assert overflow <= 1, (lang, path, overflow)
                pg.screenshot(path=str(ARTIFACTS / f"phone-{name}-{lang}.png"), full_page=True)
    finally:
        context.close()


def test_images_have_alt_and_form_controls_have_labels(server, page):
    for url in ("/ar/practices/", "/en/achievements/", "/en/services/", "/ar/my-view", "/en/login"):
        page.goto(server + url)
        unlabelled = page.evaluate("""() => [...document.querySelectorAll('input:not([type=hidden]), select, textarea')]
            .filter(el => !(el.labels && el.labels.length) && !el.getAttribute('aria-label')).map(el => el.name)""")
        assert unlabelled == [], (url, unlabelled)
        missing_alt = page.evaluate("() => [...document.querySelectorAll('img:not([alt])')].length")
        assert missing_alt == 0


_CONTRAST_JS = """() => {
  const lum = c => { const [r, g, b] = c.map(v => { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); });
                     return 0.2126 * r + 0.7152 * g + 0.0722 * b; };
  const parse = s => { const m = s.match(/rgba?\\(([^)]+)\\)/); if (!m) return null;
                       const p = m[1].split(',').map(parseFloat); return {rgb: p.slice(0, 3), a: p.length > 3 ? p[3] : 1}; };
  const background = el => { for (; el; el = el.parentElement) { const c = parse(getComputedStyle(el).backgroundColor);
                                                                 if (c && c.a > 0.9) return c.rgb; } return [255, 255, 255]; };
  const bad = [];
  for (const el of document.querySelectorAll('body *')) {
    if (el.closest('svg')) continue;  // charts: checked by their own palette
    if (![...el.childNodes].some(n => n.nodeType === 3 && n.textContent.trim())) continue;
    const st = getComputedStyle(el);
    if (st.visibility === 'hidden' || st.display === 'none' || !el.getClientRects().length) continue;
    const L1 = lum(parse(st.color).rgb), L2 = lum(background(el));
    const ratio = (Math.max(L1, L2) + 0.05) / (Math.min(L1, L2) + 0.05);
    const size = parseFloat(st.fontSize), bold = parseInt(st.fontWeight) >= 700;
    if (ratio < ((size >= 24 || (size >= 18.66 && bold)) ? 3 : 4.5)) bad.push(`${el.tagName} "${el.textContent.trim().slice(0, 30)}" ${ratio.toFixed(2)}`);
  }
  return bad;
}"""


@pytest.mark.parametrize("lang", ["ar", "en"])
def test_text_contrast_meets_wcag_aa(server, page, lang):
    for path in ("/", "/readiness/", "/practices/?q=portal", "/practices/kw-social-loan", "/achievements/", "/login"):
        page.goto(f"{server}/{lang}{path}")
        assert page.evaluate(_CONTRAST_JS) == [], path


def test_admin_login_and_moderation_screens_by_keyboard(server, page):
    """Log in through the real form, open a record, and check the admin screens' labels and errors."""
    page.goto(f"{server}/ar/login")
    page.fill("#username", server_admin["username"])
    page.fill("#password", server_admin["password"])
    page.keyboard.press("Enter")
    page.wait_for_url("**/ar/admin/")
    assert page.get_attribute("html", "dir") == "rtl"
    page.goto(f"{server}/en/admin/practices/")
    page.click("text=Fire-service licences from self-service kiosks")
    page.wait_for_url("**/en/admin/practices/*")
    unlabelled = page.evaluate("""() => [...document.querySelectorAll('input:not([type=hidden]), select, textarea')]
        .filter(el => !(el.labels && el.labels.length) && !el.getAttribute('aria-label')).map(el => el.name)""")
    assert unlabelled == []
    assert page.locator("button", has_text="Unpublish").is_visible()
    page.screenshot(path=str(ARTIFACTS / "admin-practice-en.png"), full_page=True)
    # a validation error is announced next to its field
    page.fill("#fld-title_en", "")
    page.click("form.form button[type=submit]")
    assert page.locator("#err-title_en").is_visible()
    assert page.get_attribute("#fld-title_en", "aria-invalid") == "true"
    # the only console line is Chromium noting the form's deliberate 400 answer
    assert len(page.console_errors) == 1 and "400" in page.console_errors[0], page.console_errors


def test_numbered_list_markers_follow_the_page_digits(server, page):
    """Arabic pages (Arabic-Indic digits by default) number their lists ١، ٢، ٣; English pages 1, 2, 3; lists that
    set their own style (the achievements timeline) keep it."""
    style = "sel => getComputedStyle(document.querySelector(sel)).listStyleType"
    page.goto(f"{server}/ar/practices/")
    assert page.evaluate(style, "ol.results-list") == "arabic-indic"
    page.goto(f"{server}/en/practices/")
    assert page.evaluate(style, "ol.results-list") == "decimal"
    page.goto(f"{server}/ar/achievements/")
    assert page.evaluate(style, "ol.timeline") == "none"
    assert page.console_errors == []
