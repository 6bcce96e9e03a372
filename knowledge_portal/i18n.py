"""Language handling: URL prefixes, locale choice, catalogs, dates (Gregorian and Hijri), digits.

Every page lives under ``/ar/…`` or ``/en/…``; the prefix is the language.
Catalogs are committed as ``.po`` files in ``translations/`` and compiled at
app start into the instance folder (``.mo`` files are build products and are
git-ignored), so a fresh clone works without a separate build step.
"""

from __future__ import annotations

from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from babel.dates import format_date, format_time
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from flask import Flask, current_app, g, request
from flask_babel import Babel, get_translations
from hijridate import Gregorian

TRANSLATIONS_DIR = Path(__file__).resolve().parent.parent / "translations"
LANGS = ("ar", "en")
DIRECTION = {"ar": "rtl", "en": "ltr"}
LANG_COOKIE = "lang"

_ARABIC_INDIC = str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩")


def compile_catalogs(target: Path) -> Path:
    """Compile every ``translations/<lang>/LC_MESSAGES/*.po`` into ``target`` (when newer)."""
    for po_path in TRANSLATIONS_DIR.glob("*/LC_MESSAGES/*.po"):
        lang = po_path.parent.parent.name
        mo_path = target / lang / "LC_MESSAGES" / (po_path.stem + ".mo")
        if mo_path.exists() and mo_path.stat().st_mtime >= po_path.stat().st_mtime:
            continue
        mo_path.parent.mkdir(parents=True, exist_ok=True)
        with po_path.open("rb") as fh:
            catalog = read_po(fh, locale=lang)
        tmp = mo_path.with_suffix(".tmp")
        with tmp.open("wb") as fh:
            write_mo(fh, catalog)
        tmp.replace(mo_path)
    return target


def current_lang() -> str:
    """The language of the current request: URL prefix, else ``?lang=``, else negotiation."""
    lang = getattr(g, "lang", None)
    if lang in LANGS:
        return lang
    if request:
        arg = request.args.get("lang")
        if arg in LANGS:
            return arg
    return preferred_lang()


def preferred_lang() -> str:
    """Cookie, then Accept-Language, then the default (Arabic)."""
    cookie = request.cookies.get(LANG_COOKIE)
    if cookie in LANGS:
        return cookie
    best = request.accept_languages.best_match(LANGS)
    return best or current_app.config.get("DEFAULT_LANGUAGE", "ar")


def init_i18n(app: Flask) -> Babel:
    """Set up flask-babel with catalogs compiled into the instance folder."""
    compiled = compile_catalogs(Path(app.config["INSTANCE_DIR"]) / ".translations")
    app.config["BABEL_TRANSLATION_DIRECTORIES"] = str(compiled)
    app.config.setdefault("BABEL_DEFAULT_LOCALE", "ar")
    babel = Babel(app, locale_selector=current_lang)
    _install_request_translations(app)
    app.jinja_env.filters.update(digits=digits, gdate=gregorian_date, hdate=hijri_date, localtime=local_time)
    app.jinja_env.globals.update(direction=lambda: DIRECTION[current_lang()], arabic_digits=uses_arabic_digits)
    return babel


def _translations() -> Any:
    """The request's catalog, looked up once per request (flask-babel's own lookup costs ~0.1 ms a call,
    and a page makes a few hundred ``{{ _() }}`` calls)."""
    translations = g.get("_portal_translations")
    if translations is None:
        translations = g._portal_translations = get_translations()
    return translations


def _install_request_translations(app: Flask) -> None:
    """Templates' ``_``/``gettext``/``ngettext`` read the per-request catalog (same texts as flask-babel's)."""
    app.jinja_env.install_gettext_callables(  # type: ignore[attr-defined]  # added by jinja2.ext.i18n
        gettext=lambda s: _translations().ugettext(s),
        ngettext=lambda s, p, n: _translations().ungettext(s, p, n),
        newstyle=True,
        pgettext=lambda c, s: _translations().upgettext(c, s),
        npgettext=lambda c, s, p, n: _translations().unpgettext(c, s, p, n),
    )


def uses_arabic_digits(state: str | None = None) -> bool:
    """Whether Arabic pages show Arabic-Indic digits (configurable, per state)."""
    if current_lang() != "ar":
        return False
    per_state = current_app.config.get("STATE_DIGITS") or {}
    system = per_state.get(state) if state else None
    return (system or current_app.config.get("ARABIC_DIGITS", "arab")) == "arab"


def digits(value: object, state: str | None = None) -> str:
    """``value`` as text, with Arabic-Indic digits where the convention asks for them."""
    text = "" if value is None else str(value)
    return text.translate(_ARABIC_INDIC) if uses_arabic_digits(state) else text


def gregorian_date(value: date | datetime | None, state: str | None = None) -> str:
    """A long Gregorian date in the page's language."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        value = value.date()
    return digits(format_date(value, "long", locale=current_lang()), state)


#: Each member state's time zone, for showing times as its citizens read them.
STATE_TIMEZONES: dict[str, str] = {
    "KW": "Asia/Kuwait",
    "SA": "Asia/Riyadh",
    "QA": "Asia/Qatar",
    "AE": "Asia/Dubai",
    "BH": "Asia/Bahrain",
    "OM": "Asia/Muscat",
}


#: How each zone is named to a reader (Arabic, English): "بتوقيت الكويت" / "Kuwait time".
TIMEZONE_LABELS: dict[str, tuple[str, str]] = {
    "KW": ("بتوقيت الكويت", "Kuwait time"),
    "SA": ("بتوقيت الرياض", "Riyadh time"),
    "QA": ("بتوقيت الدوحة", "Doha time"),
    "AE": ("بتوقيت الإمارات", "UAE time"),
    "BH": ("بتوقيت البحرين", "Bahrain time"),
    "OM": ("بتوقيت مسقط", "Muscat time"),
}


def local_time(value: str | datetime | None, state: str | None = None) -> str:
    """A moment (an aware datetime or an ISO 8601 string) in the state's own time zone and the page's language,
    followed by the zone's name ("(Kuwait time)"), so a reader in another state is not misled."""
    if value is None or value == "":
        return ""
    if isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return value
    else:
        moment = value
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    zone_state = state if state in STATE_TIMEZONES else "SA"
    local = moment.astimezone(ZoneInfo(STATE_TIMEZONES[zone_state]))
    lang = current_lang()
    separator = "، " if lang == "ar" else ", "
    text = (
        format_date(local.date(), "long", locale=lang) + separator + format_time(local.timetz(), "short", locale=lang)
    )
    zone = TIMEZONE_LABELS[zone_state][0 if lang == "ar" else 1]
    return digits(f"{text} ({zone})", state)


def hijri_date(value: date | datetime | None, state: str | None = None) -> str:
    """The Umm al-Qura Hijri date ("19 Jumada al-Ula 1436 AH"); empty outside its range."""
    if value is None:
        return ""
    try:
        h = Gregorian(value.year, value.month, value.day).to_hijri()
    except (ValueError, OverflowError):
        return ""
    lang = current_lang()
    suffix = "هـ" if lang == "ar" else "AH"
    month = h.month_name("ar" if lang == "ar" else "en")
    return digits(f"{h.day} {month} {h.year} {suffix}", state)
