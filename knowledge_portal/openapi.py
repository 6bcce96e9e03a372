"""The OpenAPI 3.1 description of the portal's open-data API."""

from __future__ import annotations

from typing import Any

from gcc_link.protocol.identifiers import GCC_STATES


def _list_response(item_ref: str, description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "required": ["total", "page", "per_page", "results"],
                    "properties": {
                        "total": {"type": "integer"},
                        "page": {"type": "integer"},
                        "per_page": {"type": "integer"},
                        "results": {"type": "array", "items": {"$ref": item_ref}},
                    },
                }
            }
        },
    }


def _param(name: str, description: str, schema: dict[str, Any], required: bool = False) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": required, "description": description, "schema": schema}


_ERROR = {
    "description": "invalid request",
    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
}
_STATE = _param("state", f"member state code ({', '.join(GCC_STATES)}) or REGIONAL", {"type": "string"})
_SECTOR = _param("sector", "sector code", {"type": "string"})
_YEAR = _param("year", "year", {"type": "integer"})
_PAGE = _param("page", "page number, from 1", {"type": "integer", "minimum": 1})
_PER_PAGE = _param("per_page", "results per page", {"type": "integer", "minimum": 1, "maximum": 100})
_BI = {"type": "object", "properties": {"ar": {"type": "string"}, "en": {"type": "string"}}}
#: A record's source: the English line (kept for older clients) and the line in each language; null when not recorded.
_SRC = {
    "source": {"type": ["string", "null"]},
    "source_ar": {"type": ["string", "null"]},
    "source_en": {"type": ["string", "null"]},
}
_UPDATED = {"updated": {"type": ["string", "null"], "description": "date the record last changed (YYYY-MM-DD)"}}


def build_openapi() -> dict[str, Any]:
    """The document served at ``/openapi.json``."""
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "GCC e-government knowledge portal open data",
            "version": "1.0.0",
            "description": "Read-only open data of the GCC e-government portal, in Arabic and English.",
        },
        "paths": {
            "/api/v1/states": {
                "get": {
                    "summary": "Member states",
                    "operationId": "listStates",
                    "responses": {"200": _list_response("#/components/schemas/State", "states")},
                }
            },
            "/api/v1/network": {
                "get": {
                    "summary": "Each member node's live status, verified against the signed member directory",
                    "operationId": "network",
                    "responses": {
                        "200": {
                            "description": "network",
                            "content": {
                                "application/json": {
                                    "schema": {
                                        "type": "object",
                                        "required": ["directory_version", "states"],
                                        "properties": {
                                            "directory_version": {"type": ["integer", "null"]},
                                            "states": {
                                                "type": "array",
                                                "items": {
                                                    "type": "object",
                                                    "required": [
                                                        "cc",
                                                        "name",
                                                        "status",
                                                        "online",
                                                        "last_seen",
                                                        "directory_version",
                                                        "services",
                                                    ],
                                                    "properties": {
                                                        "cc": {"type": "string"},
                                                        "name": _BI,
                                                        "status": {"type": "string"},
                                                        "online": {"type": ["boolean", "null"]},
                                                        "last_seen": {"type": ["string", "null"]},
                                                        "directory_version": {"type": ["integer", "null"]},
                                                        "services": {"type": "array", "items": {"type": "string"}},
                                                        "error": {"type": ["string", "null"]},
                                                    },
                                                },
                                            },
                                        },
                                    }
                                }
                            },
                        }
                    },
                }
            },
            "/api/v1/network/directory": {
                "get": {
                    "summary": "Every member directory version the portal hosts: dates, members and statuses, signers",
                    "operationId": "directoryVersions",
                    "responses": {
                        "200": {
                            "description": "versions, newest first",
                            "content": {
                                "application/json": {
                                    "schema": {
                                        "type": "object",
                                        "required": ["versions"],
                                        "properties": {
                                            "versions": {
                                                "type": "array",
                                                "items": {
                                                    "type": "object",
                                                    "required": [
                                                        "version",
                                                        "issued_at",
                                                        "expires_at",
                                                        "threshold",
                                                        "signers",
                                                        "members",
                                                        "url",
                                                    ],
                                                    "properties": {
                                                        "version": {"type": "integer"},
                                                        "issued_at": {"type": "string"},
                                                        "expires_at": {"type": "string"},
                                                        "uploaded_at": {"type": "string"},
                                                        "threshold": {"type": "integer"},
                                                        "signers": {"type": "array", "items": {"type": "string"}},
                                                        "members": {"type": "array", "items": {"type": "object"}},
                                                        "url": {"type": "string"},
                                                    },
                                                },
                                            }
                                        },
                                    }
                                }
                            },
                        }
                    },
                }
            },
            "/api/v1/network/history": {
                "get": {
                    "summary": "Availability per hour (24 h), messages sent per day and the 24-hour state x state matrix",
                    "operationId": "networkHistory",
                    "parameters": [
                        _param(
                            "days",
                            "days of daily figures, 1-30 (default 7)",
                            {"type": "integer", "minimum": 1, "maximum": 30},
                        )
                    ],
                    "responses": {
                        "200": {
                            "description": "history",
                            "content": {
                                "application/json": {
                                    "schema": {
                                        "type": "object",
                                        "required": ["hours", "availability", "daily_sent", "matrix_24h"],
                                        "properties": {
                                            "directory_version": {"type": ["integer", "null"]},
                                            "hours": {"type": "array", "items": {"type": "string"}},
                                            "availability": {"type": "object"},
                                            "daily_sent": {"type": "object"},
                                            "matrix_24h": {"type": "object"},
                                        },
                                    }
                                }
                            },
                        },
                        "400": _ERROR,
                    },
                }
            },
            "/api/v1/network/catalogue": {
                "get": {
                    "summary": "Per state: the services its node attests, and how the entered catalogue compares",
                    "operationId": "networkCatalogue",
                    "responses": {
                        "200": {
                            "description": "catalogues",
                            "content": {
                                "application/json": {
                                    "schema": {
                                        "type": "object",
                                        "required": ["states"],
                                        "properties": {"states": {"type": "object"}},
                                    }
                                }
                            },
                        }
                    },
                }
            },
            "/directory.jws": {
                "get": {
                    "summary": "The latest signed member directory (JWS JSON serialization), for nodes to refresh from",
                    "operationId": "directoryLatest",
                    "responses": {
                        "200": {
                            "description": "the signed directory, byte for byte",
                            "content": {"application/jose+json": {"schema": {"type": "object"}}},
                        },
                        "404": _ERROR,
                    },
                }
            },
            "/api/v1/states/{code}": {
                "get": {
                    "summary": "One member state",
                    "operationId": "getState",
                    "parameters": [{"name": "code", "in": "path", "required": True, "schema": {"type": "string"}}],
                    "responses": {
                        "200": {
                            "description": "the state",
                            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/State"}}},
                        },
                        "404": _ERROR,
                    },
                }
            },
            "/api/v1/services": {
                "get": {
                    "summary": "E-services and their readiness",
                    "operationId": "listServices",
                    "parameters": [
                        _STATE,
                        _SECTOR,
                        _param("maturity", "emerging, enhanced, transactional or connected", {"type": "string"}),
                        _PAGE,
                        _PER_PAGE,
                    ],
                    "responses": {"200": _list_response("#/components/schemas/Service", "services"), "400": _ERROR},
                }
            },
            "/api/v1/achievements": {
                "get": {
                    "summary": "Published achievements",
                    "operationId": "listAchievements",
                    "parameters": [
                        _STATE,
                        _YEAR,
                        _param("category", "category code", {"type": "string"}),
                        _PAGE,
                        _PER_PAGE,
                    ],
                    "responses": {
                        "200": _list_response("#/components/schemas/Achievement", "achievements"),
                        "400": _ERROR,
                    },
                }
            },
            "/api/v1/awards": {
                "get": {
                    "summary": "GCC e-government award editions",
                    "operationId": "listAwards",
                    "responses": {"200": _list_response("#/components/schemas/Award", "awards")},
                }
            },
            "/api/v1/practices": {
                "get": {
                    "summary": "Published best practices",
                    "operationId": "listPractices",
                    "parameters": [_STATE, _SECTOR, _YEAR, _param("tag", "tag", {"type": "string"}), _PAGE, _PER_PAGE],
                    "responses": {"200": _list_response("#/components/schemas/Practice", "practices"), "400": _ERROR},
                }
            },
            "/api/v1/practices/{id}": {
                "get": {
                    "summary": "One published best practice",
                    "operationId": "getPractice",
                    "parameters": [{"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}],
                    "responses": {
                        "200": {
                            "description": "the practice",
                            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Practice"}}},
                        },
                        "404": _ERROR,
                    },
                }
            },
            "/api/v1/search": {
                "get": {
                    "summary": "Full-text search of best practices",
                    "operationId": "search",
                    "parameters": [
                        _param("q", "query text", {"type": "string", "maxLength": 200}, required=True),
                        _param("lang", "ar or en", {"type": "string", "enum": ["ar", "en"]}),
                        _STATE,
                        _SECTOR,
                        _YEAR,
                        _param("tag", "tag", {"type": "string"}),
                        _param("sort", "relevance or date", {"type": "string", "enum": ["relevance", "date"]}),
                        _PAGE,
                        _PER_PAGE,
                    ],
                    "responses": {
                        "200": {
                            "description": "results",
                            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/SearchResults"}}},
                        },
                        "400": _ERROR,
                        "503": _ERROR,
                    },
                }
            },
            "/api/v1/services.csv": {
                "get": {
                    "summary": "Services as CSV",
                    "operationId": "servicesCsv",
                    "responses": {
                        "200": {"description": "CSV", "content": {"text/csv": {"schema": {"type": "string"}}}}
                    },
                }
            },
            "/api/v1/achievements.csv": {
                "get": {
                    "summary": "Achievements as CSV",
                    "operationId": "achievementsCsv",
                    "responses": {
                        "200": {"description": "CSV", "content": {"text/csv": {"schema": {"type": "string"}}}}
                    },
                }
            },
            "/api/v1/practices.csv": {
                "get": {
                    "summary": "Practices as CSV",
                    "operationId": "practicesCsv",
                    "responses": {
                        "200": {"description": "CSV", "content": {"text/csv": {"schema": {"type": "string"}}}}
                    },
                }
            },
        },
        "components": {
            "schemas": {
                "Error": {
                    "type": "object",
                    "required": ["error"],
                    "properties": {
                        "error": {
                            "type": "object",
                            "required": ["code", "message"],
                            "properties": {"code": {"type": "string"}, "message": {"type": "string"}},
                        }
                    },
                },
                "State": {
                    "type": "object",
                    "required": ["code", "name"],
                    "properties": {
                        "code": {"type": "string"},
                        "name": _BI,
                        "programme": _BI,
                        "agency": {"type": "object"},
                        "readiness": _BI,
                        "network_status": {"type": "string"},
                        "egdi_ranks": {
                            "type": "array",
                            "items": {
                                "type": "object",
                                "properties": {"year": {"type": "integer"}, "rank": {"type": "integer"}, **_SRC},
                            },
                        },
                    },
                },
                "Service": {
                    "type": "object",
                    "required": ["id", "state", "sector", "name", "maturity"],
                    "properties": {
                        "id": {"type": "integer"},
                        "state": {"type": "string"},
                        "agency": _BI,
                        "sector": {"type": "string"},
                        "name": _BI,
                        "maturity": {"type": "string", "enum": ["emerging", "enhanced", "transactional", "connected"]},
                        "channels": {"type": "array", "items": {"type": "string"}},
                        "e_payment": {"type": "boolean"},
                        "end_to_end": {"type": "boolean"},
                        "ministry_priority": {"type": "boolean"},
                        "launch_phase": {"type": "integer"},
                        "cross_border": {"type": "boolean"},
                        "evidence_url": {"type": ["string", "null"]},
                        "as_of": {"type": ["string", "null"]},
                        **_SRC,
                        **_UPDATED,
                        "demo": {"type": "boolean"},
                    },
                },
                "Achievement": {
                    "type": "object",
                    "required": ["id", "state", "date", "title"],
                    "properties": {
                        "id": {"type": "integer"},
                        "state": {"type": "string"},
                        "date": {"type": "string"},
                        "year": {"type": "integer"},
                        "category": {"type": "string"},
                        "title": _BI,
                        "body": _BI,
                        **_SRC,
                        **_UPDATED,
                        "demo": {"type": "boolean"},
                    },
                },
                "Award": {
                    "type": "object",
                    "required": ["year", "host"],
                    "properties": {
                        "year": {"type": "integer"},
                        "host": {"type": "string"},
                        "notes": _BI,
                        "winners": {"type": "array", "items": {"type": "object"}},
                        **_SRC,
                        "demo": {"type": "boolean"},
                    },
                },
                "Practice": {
                    "type": "object",
                    "required": ["id", "sector", "year", "title"],
                    "properties": {
                        "id": {"type": "string"},
                        "state": {"type": ["string", "null"]},
                        "sector": {"type": "string"},
                        "year": {"type": "integer"},
                        "tags": {"type": "array", "items": {"type": "string"}},
                        "tag_labels": {
                            "type": "object",
                            "description": "each tag's label: {tag: {ar, en}}",
                            "additionalProperties": _BI,
                        },
                        "title": _BI,
                        "summary": _BI,
                        "body": _BI,
                        "outcomes": _BI,
                        "published": {"type": ["string", "null"]},
                        **_SRC,
                        **_UPDATED,
                        "demo": {"type": "boolean"},
                    },
                },
                "SearchResults": {
                    "type": "object",
                    "required": ["total", "results"],
                    "properties": {
                        "total": {"type": "integer"},
                        "page": {"type": "integer"},
                        "per_page": {"type": "integer"},
                        "suggestion": {"type": ["string", "null"]},
                        "facets": {"type": "object"},
                        "partial": {
                            "type": "boolean",
                            "description": "no result has every word; these have most of them",
                        },
                        "results": {
                            "type": "array",
                            "items": {
                                "type": "object",
                                "required": ["id", "title", "snippet", "state", "sector", "year"],
                                "properties": {
                                    "id": {"type": "string"},
                                    "title": {"type": "string"},
                                    "snippet": {"type": "string", "description": "HTML with <mark> around matches"},
                                    "state": {"type": ["string", "null"]},
                                    "sector": {"type": "string"},
                                    "year": {"type": "integer"},
                                    "score": {"type": "number"},
                                    "published": {"type": ["string", "null"]},
                                },
                            },
                        },
                    },
                },
            }
        },
    }
