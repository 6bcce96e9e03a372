"""Open data: JSON API, search API (real whoosh index), CSV, Atom feeds, OpenAPI document."""

from __future__ import annotations

import csv
import io
import re
from xml.etree import ElementTree as ET

ATOM = "{http://www.w3.org/2005/Atom}"


def test_states(portal_env):
    data = portal_env.client().get("/api/v1/states").get_json()
    assert data["total"] == 6
    kw = next(s for s in data["results"] if s["code"] == "KW")
    assert kw["name"] == {"ar": "الكويت", "en": "Kuwait"}
    assert {
        "year": 2014,
        "rank": 49,
        "source": "Reported by the Kuwait News Agency (KUNA)",
        "source_ar": "ذكرته وكالة الأنباء الكويتية (كونا)",
        "source_en": "Reported by the Kuwait News Agency (KUNA)",
    } in kw["egdi_ranks"]
    one = portal_env.client().get("/api/v1/states/qa").get_json()
    assert one["code"] == "QA"


def test_services_filters_and_paging(portal_env):
    client = portal_env.client()
    data = client.get("/api/v1/services?state=KW&per_page=5").get_json()
    assert data["total"] == 11 and len(data["results"]) == 5 and data["per_page"] == 5
    assert all(s["state"] == "KW" for s in data["results"])
    s = data["results"][0]
    for key in (
        "agency",
        "sector",
        "name",
        "maturity",
        "channels",
        "e_payment",
        "end_to_end",
        "ministry_priority",
        "launch_phase",
        "cross_border",
        "evidence_url",
        "as_of",
    ):
        assert key in s
    page3 = client.get("/api/v1/services?state=KW&per_page=5&page=3").get_json()
    assert len(page3["results"]) == 1
    connected = client.get("/api/v1/services?maturity=connected").get_json()
    assert connected["total"] > 0 and all(x["maturity"] == "connected" for x in connected["results"])


def test_errors_are_json_with_stable_codes(portal_env):
    client = portal_env.client()
    cases = {
        "/api/v1/services?state=XX": (400, "invalid_state"),
        "/api/v1/services?maturity=great": (400, "invalid_maturity"),
        "/api/v1/services?per_page=1000": (400, "invalid_per_page"),
        "/api/v1/achievements?year=20x4": (400, "invalid_year"),
        "/api/v1/practices?page=0": (400, "invalid_page"),
        "/api/v1/practices/nope": (404, "not_found"),
        "/api/v1/states/ZZ": (404, "not_found"),
        "/api/v1/search": (400, "missing_query"),
        "/api/v1/search?q=x&lang=fr": (400, "invalid_lang"),
        "/api/v1/search?q=x&sort=random": (400, "invalid_sort"),
        "/api/v1/search?q=" + "a" * 300: (400, "query_too_long"),
        "/api/v1/unknown": (404, "not_found"),
    }
    for url, (status, code) in cases.items():
        response = client.get(url)
        assert response.status_code == status, url
        assert response.get_json()["error"]["code"] == code, url
        assert response.get_json()["error"]["message"]
    assert client.post("/api/v1/states").get_json()["error"]["code"] == "method_not_allowed"


def test_achievements_and_awards(portal_env):
    client = portal_env.client()
    data = client.get("/api/v1/achievements?state=SA").get_json()
    assert data["total"] == 3 and all(a["state"] == "SA" for a in data["results"])
    awards = client.get("/api/v1/awards").get_json()
    assert {a["host"] for a in awards["results"]} == {"OM", "KW", "AE", "BH"}
    assert all(a["demo"] for a in awards["results"])


def test_practices_list_and_detail(portal_env):
    client = portal_env.client()
    data = client.get("/api/v1/practices?sector=ict&per_page=100").get_json()
    assert data["total"] >= 5 and all(p["sector"] == "ict" for p in data["results"])
    regional = client.get("/api/v1/practices?state=REGIONAL").get_json()
    assert {p["id"] for p in regional["results"]} == {
        "jo-single-sign-on",
        "jo-priority-services",
        "ye-national-catalogue",
    }
    one = client.get("/api/v1/practices/kw-social-loan").get_json()
    assert one["id"] == "kw-social-loan" and "<p>" in one["body"]["en"] and one["related"] == ["jo-single-sign-on"]


def test_search_api_shape_and_filters(portal_env):
    client = portal_env.client()
    data = client.get("/api/v1/search?q=loan&lang=en").get_json()
    assert data["total"] >= 1
    first = data["results"][0]
    assert first["id"] == "kw-social-loan"
    assert set(first) >= {"id", "title", "snippet", "state", "sector", "year"}
    assert "<mark>" in first["snippet"]
    arabic = client.get("/api/v1/search", query_string={"q": "الدفع الإلكتروني", "lang": "ar"}).get_json()
    assert "bh-unified-payment" in [r["id"] for r in arabic["results"]]
    filtered = client.get("/api/v1/search?q=portal&lang=en&state=QA").get_json()
    assert filtered["total"] >= 1 and all(r["state"] == "QA" for r in filtered["results"])
    none = client.get("/api/v1/search?q=portal&lang=en&sector=housing").get_json()
    assert none["total"] == 0 and none["results"] == []


def test_services_csv_round_trips_columns(portal_env):
    response = portal_env.client().get("/api/v1/services.csv?state=KW")
    assert response.mimetype == "text/csv"
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff"))))
    assert len(rows) == 11 and rows[0]["state"] == "KW"
    assert any(r["name_ar"].startswith("القرض الاجتماعي") for r in rows)
    for name in ("/api/v1/achievements.csv", "/api/v1/practices.csv"):
        text = portal_env.client().get(name).get_data(as_text=True)
        assert len(list(csv.reader(io.StringIO(text)))) > 3


def test_atom_feeds_are_valid_and_filtered(portal_env):
    client = portal_env.client()
    response = client.get("/en/feeds/practices.atom?sector=finance")
    assert response.mimetype == "application/atom+xml"
    root = ET.fromstring(response.data)
    assert root.tag == f"{ATOM}feed"
    titles = [e.find(f"{ATOM}title").text for e in root.findall(f"{ATOM}entry")]
    assert "The social loan: a first integrated cross-agency service" in titles
    assert "Fire-service licences from self-service kiosks" not in titles
    for entry in root.findall(f"{ATOM}entry"):
        assert entry.find(f"{ATOM}id").text and entry.find(f"{ATOM}updated").text
    ar = ET.fromstring(client.get("/ar/feeds/achievements.atom?state=KW").data)
    assert all(re.search("[\u0600-\u06ff]", e.find(f"{ATOM}title").text) for e in ar.findall(f"{ATOM}entry"))
    assert len(ar.findall(f"{ATOM}entry")) == 4
    assert client.get("/en/feeds/achievements.atom?year=abc").status_code == 400


def test_openapi_document_is_valid(portal_env):
    from openapi_spec_validator import validate

    doc = portal_env.client().get("/openapi.json").get_json()
    validate(doc)
    assert "/api/v1/search" in doc["paths"] and doc["openapi"].startswith("3.1")


def test_api_answers_carry_security_headers(portal_env):
    response = portal_env.client().get("/api/v1/states")
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_search_suggestion_and_date_sort(portal_env):
    client = portal_env.client()
    data = client.get("/api/v1/search?q=paymnt&lang=en").get_json()
    assert data["total"] == 0 and data["suggestion"] == "payment"
    html = client.get("/en/practices/?q=paymnt").get_data(as_text=True)
    assert "Did you mean:" in html and 'href="/en/practices/?q=payment"' in html
    ar = client.get("/api/v1/search", query_string={"q": "القرص", "lang": "ar"}).get_json()
    assert ar["suggestion"] == "القرض"
    by_date = client.get("/api/v1/search?q=portal&lang=en&sort=date").get_json()["results"]
    dates = [r["published"] for r in by_date]
    assert len(dates) >= 2 and dates == sorted(dates, reverse=True)


def test_search_paging(portal_env):
    client = portal_env.client()
    first = client.get("/api/v1/search?q=portal&lang=en&per_page=1").get_json()
    second = client.get("/api/v1/search?q=portal&lang=en&per_page=1&page=2").get_json()
    assert first["total"] >= 2 and len(first["results"]) == 1 and len(second["results"]) == 1
    assert first["results"][0]["id"] != second["results"][0]["id"]


def test_services_feed_follows_the_filters(portal_env):
    client = portal_env.client()
    html = client.get("/en/services/?state=OM&maturity=emerging").get_data(as_text=True)
    assert 'href="/en/feeds/services.atom?state=OM&amp;maturity=emerging"' in html
    root = ET.fromstring(client.get("/en/feeds/services.atom?state=OM&maturity=emerging").data)
    titles = [e.find(f"{ATOM}title").text for e in root.findall(f"{ATOM}entry")]
    assert titles and all(t.endswith("— Oman") for t in titles)
    assert client.get("/en/feeds/services.atom?maturity=great").status_code == 400
    per_sector = client.get("/ar/readiness/sector/health").get_data(as_text=True)
    assert 'href="/ar/feeds/services.atom?sector=health"' in per_sector
