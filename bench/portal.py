"""Benchmark: portal pages served through the full app against a bare Flask ceiling.

Builds a demo instance (SQLite file, whoosh index), then measures requests/s
for the Arabic home page, the readiness dashboard (matrix and SVG chart), a
knowledge-base search page and the search API, through the complete portal
(routing, i18n, database, templates, security headers) in-process. The
ceiling is a bare Flask app answering the same URL with the same bytes from
memory, i.e. what the framework costs with no work at all. Prints the median
requests/s of each and the ratio of ours to the ceiling (medians over rounds:
the machines are shared and noisy).

    .venv/bin/python bench/portal.py [--requests 200] [--rounds 3]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

from flask import Flask, Response

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from knowledge_portal import create_app  # noqa: E402
from knowledge_portal.config import load_config  # noqa: E402
from knowledge_portal.db import get_session, migrate  # noqa: E402
from knowledge_portal.demo import load_demo  # noqa: E402
from knowledge_portal.indexing import reindex_all  # noqa: E402

URLS = ("/ar/", "/ar/readiness/", "/ar/practices/?q=%D8%A7%D9%84%D8%AF%D9%81%D8%B9", "/api/v1/search?q=portal&lang=en")


def rate(client, url: str, n: int) -> float:
    start = time.perf_counter()
    for _ in range(n):
        response = client.get(url)
        assert response.status_code == 200, (url, response.status_code)
    return n / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        config = load_config({"INSTANCE_DIR": tmp})
        migrate(config.database_url)  # create_app never changes the schema
        app = create_app(config)
        with app.app_context():
            load_demo(get_session())
            reindex_all(get_session())
        client = app.test_client()
        for url in URLS:
            body = client.get(url)
            bare = Flask("ceiling")
            payload, mimetype = body.data, body.mimetype
            bare.add_url_rule(url.split("?")[0], "x", lambda: Response(payload, mimetype=mimetype))
            bare_client = bare.test_client()
            ours = statistics.median(rate(client, url, args.requests) for _ in range(args.rounds))
            ceiling = statistics.median(rate(bare_client, url, args.requests) for _ in range(args.rounds))
            print(f"{url:60s} portal {ours:8.1f} req/s   ceiling (bare Flask) {ceiling:8.1f} req/s   "
                  f"ratio {ours / ceiling:.3f}")


if __name__ == "__main__":
    main()
