"""Benchmark: portal pages at 16 concurrent clients, against a bare Flask ceiling.

A demo instance (SQLite, whoosh index) is served by ``gcc-link portal run
--workers 2`` (gunicorn); the ceiling is a bare Flask app served by gunicorn
the same way (2 workers) answering the same URLs with the same bytes from
memory. The same client (``requests``, keep-alive, 16 threads on the same
cores) requests the Arabic home page, the readiness dashboard and a
knowledge-base search page in turn, for several rounds; the figure is the
median over rounds of each round's p95 latency.

The portal caches anonymous public pages (knowledge_portal.response_cache);
``--no-cache`` measures every request rendered (the cost of a cache miss),
``--pages search`` (or ``home,dashboard``) only some of the pages.

    .venv/bin/python bench/portal.py [--quick] [--no-cache] [--pages home,dashboard,search]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import textwrap
from pathlib import Path
from typing import Any

from common import Row, drive, free_port, median, percentile, print_table, session, start, stop, wait_http

PAGES = {
    "home": "/ar/",
    "dashboard": "/ar/readiness/",
    "search": "/ar/practices/?q=%D8%A7%D9%84%D8%AF%D9%81%D8%B9",
}
CLIENTS = 16
BARE = textwrap.dedent("""
    import json, pathlib
    from flask import Flask, Response, request
    pages = json.loads(pathlib.Path(__file__).with_name("pages.json").read_text())
    app = Flask(__name__)

    @app.get("/<path:path>")
    @app.get("/")
    def page(path=""):
        body, mimetype = pages[request.full_path.rstrip("?")]
        return Response(body, mimetype=mimetype)
""")


def run(quick: bool, cache: bool = True, names: tuple[str, ...] = tuple(PAGES)) -> tuple[list[Row], dict[str, Any]]:
    urls = tuple(PAGES[n] for n in names)
    rounds = 3 if quick else 5
    per_round = 240 if quick else 600
    with tempfile.TemporaryDirectory(prefix="gcc-link-bench-portal-") as d:
        tmp = Path(d)
        port = free_port()
        log = tmp / "portal.log"
        import subprocess

        subprocess.run(
            [
                sys.executable,
                "-c",
                "from gcc_link.cli import main; main()",
                "portal",
                "init",
                "--instance",
                str(tmp / "inst"),
                "--demo",
            ],
            check=True,
            capture_output=True,
            timeout=300,
        )
        portal = start(
            [
                sys.executable,
                "-c",
                "from gcc_link.cli import main; main()",
                "portal",
                "run",
                "--instance",
                str(tmp / "inst"),
                "--port",
                str(port),
                "--workers",
                "2",
            ],
            log,
            env=None if cache else {"GCC_PORTAL__RESPONSE_CACHE": "false"},
        )
        bare = None
        try:
            base = f"http://127.0.0.1:{port}"
            wait_http(base + "/ar/", proc=portal, log=log)
            http = session(CLIENTS * 2)
            if http.get(base + "/ar/practices/").status_code != 200:
                raise SystemExit("portal has no practices page")
            if "kw-social-loan" not in http.get(base + "/ar/practices/?q=social").text:
                raise SystemExit("the portal has no demo content")
            pages = {}
            for url in urls:
                r = http.get(base + url)
                if r.status_code != 200:
                    raise SystemExit(f"{url}: {r.status_code}")
                pages[url] = (r.text, r.headers.get("Content-Type", "text/html").split(";")[0])
            (tmp / "pages.json").write_text(json.dumps(pages))
            (tmp / "bare_portal.py").write_text(BARE)
            bare_port = free_port()
            bare = start(
                [
                    sys.executable,
                    "-m",
                    "gunicorn",
                    "bare_portal:app",
                    "-b",
                    f"127.0.0.1:{bare_port}",
                    "-w",
                    "2",
                    "--log-level",
                    "warning",
                ],
                tmp / "bare.log",
                cwd=tmp,
            )
            bare_base = f"http://127.0.0.1:{bare_port}"
            wait_http(bare_base + urls[0], proc=bare, log=tmp / "bare.log")

            def getter(where: str):
                def get(i: int) -> None:
                    r = http.get(where + urls[i % len(urls)])
                    if r.status_code != 200:
                        raise SystemExit(f"{r.url}: {r.status_code}")

                return get

            drive(getter(base), 60, CLIENTS), drive(getter(bare_base), 60, CLIENTS)  # warm up
            ours, ceiling, rates = [], [], []
            for _ in range(rounds):
                load = drive(getter(base), per_round, CLIENTS)
                ours.append(percentile(load.latencies, 95) * 1000)
                rates.append(load.rate)
                ceiling.append(percentile(drive(getter(bare_base), per_round, CLIENTS).latencies, 95) * 1000)
        finally:
            if bare is not None:
                stop(bare)
            stop(portal)
    p95, c95 = median(ours), median(ceiling)
    label = ", ".join(names) + ("" if cache else "; no response cache")
    rows = [
        Row(
            f"portal p95, {CLIENTS} clients ({label})",
            p95,
            "ms",
            c95,
            "bare Flask, same bytes, p95 ms",
            "< 50 ms",
            p95 < 50,
        ),
        Row("portal throughput at that load", median(rates), "req/s"),
    ]
    return rows, {
        "portal_p95_ms": round(p95, 1),
        "portal_ceiling_p95_ms": round(c95, 1),
        "portal_req_per_s": round(median(rates), 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--no-cache", action="store_true", help="serve every request rendered (no response cache)")
    parser.add_argument("--pages", default=",".join(PAGES), help="comma-separated: " + ", ".join(PAGES))
    args = parser.parse_args()
    pages = tuple(p for p in args.pages.split(",") if p)
    if not pages or set(pages) - set(PAGES):
        parser.error("--pages: choose from " + ", ".join(PAGES))
    rows, figures = run(args.quick, cache=not args.no_cache, names=pages)
    print_table("portal (medians over rounds)", rows)
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
