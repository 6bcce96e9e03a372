"""The admin's rich-text toolbar in a real Chromium (Debian's, driven by playwright): an editor formats Arabic
text right-to-left without typing tags, at phone and desktop size, and the stored HTML is what they meant.
Screenshots go to test-artifacts/portal/admin-editor-ar*.png."""

from __future__ import annotations

import re

import pytest
from test_portal_browser import ARTIFACTS, browser, server, server_admin  # noqa: F401 - fixtures

pytestmark = pytest.mark.browser

SIZES = {"phone": {"width": 390, "height": 844}, "desktop": {"width": 1280, "height": 900}}


@pytest.mark.parametrize("size", ["phone", "desktop"])
def test_editor_formats_arabic_text_with_the_toolbar(server, browser, size):  # noqa: F811
    context = browser.new_context(viewport=SIZES[size], is_mobile=size == "phone", has_touch=size == "phone")
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("dialog", lambda d: d.accept("https://example.org/ar"))  # the link button asks for the address
    try:
        page.goto(f"{server}/ar/login")
        page.fill("#username", server_admin["username"])
        page.fill("#password", server_admin["password"])
        page.press("#password", "Enter")  # the login form's own submit (the header has a search form too)
        page.wait_for_url("**/ar/admin/")
        page.goto(f"{server}/ar/admin/practices/new")
        # the enhancement: a toolbar and an editable area replace the visible textarea, right-to-left
        area = page.locator("#fld-body_ar-rte")
        assert area.is_visible() and not page.locator("#fld-body_ar").is_visible()
        assert area.get_attribute("dir") == "rtl"
        assert page.evaluate("() => getComputedStyle(document.querySelector('#fld-body_ar-rte')).direction") == "rtl"
        assert page.evaluate("() => document.querySelector('#fld-body_en-rte').dir") == "ltr"
        toolbar = page.locator("#fld-body_ar-rte").locator("xpath=preceding-sibling::div[@role='toolbar']")
        assert toolbar.get_attribute("aria-label").startswith("تنسيق النص")
        # the buttons are big enough to touch (44 px)
        box = toolbar.locator("button.rte-bold").bounding_box()
        assert box["width"] >= 44 and box["height"] >= 44
        # required fields
        public_id = f"editor-{size}"
        page.fill("#fld-public_id", public_id)
        page.select_option("#fld-sector", "health")
        page.fill("#fld-year", "2024")
        page.fill("#fld-title_ar", "تجربة المحرر")
        page.fill("#fld-title_en", "Editor trial")
        page.fill("#fld-summary_ar", "ملخص")
        page.fill("#fld-summary_en", "Summary")
        # type formatted Arabic text with the toolbar only
        area.click()
        page.keyboard.type("خدمة ")
        toolbar.locator("button.rte-bold").click()
        page.keyboard.type("موحدة")
        toolbar.locator("button.rte-bold").click()
        page.keyboard.type(" للمواطنين")
        page.keyboard.press("Enter")
        toolbar.locator("button.rte-ul").click()
        page.keyboard.type("البند الأول")
        page.keyboard.press("Enter")
        page.keyboard.type("البند الثاني")
        page.keyboard.press("Enter")
        page.keyboard.press("Enter")  # leaves the list
        page.keyboard.type("الرابط")
        page.keyboard.press("Shift+Home")
        toolbar.locator("button.rte-link").click()
        page.screenshot(
            path=str(ARTIFACTS / ("admin-editor-ar.png" if size == "desktop" else "admin-editor-ar-phone.png")),
            full_page=True,
        )
        page.click("form.form button[type=submit]")
        page.wait_for_url(re.compile(r".*/ar/admin/practices/\d+$"))
        stored = page.evaluate("() => document.querySelector('#fld-body_ar').value")
        html = re.sub(r"\s+", " ", stored)
        assert re.search(r"<p>خدمة <b>موحدة</b> للمواطنين</p>", html), html
        assert re.search(r"<ul><li>البند الأول</li><li>البند الثاني</li></ul>", html), html
        assert re.search(r'<a href="https://example.org/ar" rel="noopener noreferrer">الرابط</a>', html), html
        assert "style=" not in html and "<span" not in html and "<div" not in html
        # the saved text is shown back in the editor, formatted
        assert page.locator("#fld-body_ar-rte b").inner_text() == "موحدة"
        assert errors == [], errors
    finally:
        context.close()


def test_error_summary_takes_the_focus_and_its_links_reach_the_fields(server, browser):  # noqa: F811
    context = browser.new_context(viewport=SIZES["desktop"])
    page = context.new_page()
    try:
        page.goto(f"{server}/ar/login")
        page.fill("#username", server_admin["username"])
        page.fill("#password", server_admin["password"])
        page.press("#password", "Enter")  # the login form's own submit (the header has a search form too)
        page.wait_for_url("**/ar/admin/")
        page.goto(f"{server}/ar/admin/practices/new")
        page.fill("#fld-title_en", "Only an English title")  # the other required fields stay empty
        page.click("form.form button[type=submit]")
        page.wait_for_selector("#error-summary")
        assert page.evaluate("() => document.activeElement.id") == "error-summary"
        assert page.locator("#error-summary").get_attribute("role") == "alert"
        assert page.locator("#error-summary a[href='#fld-title_en']").count() == 0
        page.click("#error-summary a[href='#fld-title_ar']")
        assert page.evaluate("() => document.activeElement.id") == "fld-title_ar"
        page.screenshot(path=str(ARTIFACTS / "admin-error-summary-ar.png"))
    finally:
        context.close()


def test_without_javascript_the_textarea_is_the_editor(server, browser):  # noqa: F811
    context = browser.new_context(viewport=SIZES["phone"], java_script_enabled=False)
    page = context.new_page()
    try:
        page.goto(f"{server}/ar/login")
        page.fill("#username", server_admin["username"])
        page.fill("#password", server_admin["password"])
        page.press("#password", "Enter")  # the login form's own submit (the header has a search form too)
        page.wait_for_url("**/ar/admin/")
        page.goto(f"{server}/ar/admin/practices/new")
        assert page.locator("#fld-body_ar").is_visible()
        assert page.locator(".rte-toolbar").count() == 0
        assert page.locator("#hint-body_ar").is_visible()
    finally:
        context.close()
