"""Times shown to the public are in the state's own time zone, language and digits."""

from __future__ import annotations

import pytest
from flask import Flask

from knowledge_portal.i18n import local_time


@pytest.fixture
def app() -> Flask:
    app = Flask(__name__)
    app.config.update(ARABIC_DIGITS="arab", STATE_DIGITS={"OM": "latn"})
    return app


def _render(app: Flask, lang: str, value: object, state: str) -> str:
    with app.test_request_context(f"/{lang}/"):
        from flask import g

        g.lang = lang
        return local_time(value, state)  # type: ignore[arg-type]


def test_utc_instant_is_shown_in_each_states_zone(app):
    # 22:30 UTC is 01:30 the next day in Kuwait (UTC+3) and 02:30 in the UAE (UTC+4)
    kw = _render(app, "en", "2026-11-22T22:30:00.000Z", "KW")
    ae = _render(app, "en", "2026-11-22T22:30:00.000Z", "AE")
    assert kw.replace("\u202f", " ") == "November 23, 2026, 1:30 AM (Kuwait time)"
    assert ae.replace("\u202f", " ") == "November 23, 2026, 2:30 AM (UAE time)"


def test_arabic_page_uses_arabic_indic_digits_unless_the_state_says_otherwise(app):
    kw = _render(app, "ar", "2026-11-22T10:00:00.000Z", "KW")
    om = _render(app, "ar", "2026-11-22T10:00:00.000Z", "OM")
    assert "٢٠٢٦" in kw and "2026" not in kw
    assert "2026" in om and "نوفمبر" in om
    assert kw.endswith("(بتوقيت الكويت)") and om.endswith("(بتوقيت مسقط)")


def test_unparseable_or_empty_values(app):
    assert _render(app, "en", "", "KW") == ""
    assert _render(app, "en", "not a time", "KW") == "not a time"
