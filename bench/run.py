"""All benchmarks in one run: node, search, portal. Prints each table, then,
as the last line, one JSON object with every figure (the machine's core count
included) for BENCHMARKS.md and for tracking over time.

    .venv/bin/python bench/run.py [--quick]

``--quick`` (make bench-quick, under 2 minutes with the search index cached):
fewer messages and rounds, search at 10k practices only. Full (make bench):
search at 10k and 100k too. Every figure is a median over rounds, and every
benchmark measures its ceiling in the same run: see each module's docstring.
"""

from __future__ import annotations

import argparse
import json
import os
import time

import node
import portal
import search
from common import print_table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument(
        "--search-sizes",
        default="",
        help="override the search corpus sizes, e.g. 10000 (default: 10000 quick, 10000,100000 full)",
    )
    args = parser.parse_args()
    started = time.perf_counter()
    figures: dict[str, object] = {"mode": "quick" if args.quick else "full", "cores": os.cpu_count()}

    rows, found = node.run(args.quick)
    print_table(f"node: two nodes vs bare servers ({os.cpu_count()} cores, load generator on the same cores)", rows)
    figures.update(found)

    sizes = [10_000] if args.quick else [10_000, 100_000]
    if args.search_sizes:
        sizes = [int(x) for x in args.search_sizes.split(",")]
    rows, found = search.run(sizes, 3, postgres=False)  # 3 rounds even in quick mode: a round takes about a second
    print_table("search: generated bilingual corpus, judged queries one at a time", rows)
    figures.update(found)
    figures.setdefault("search_p99_ms_100k", None)

    rows, found = portal.run(args.quick)
    print_table("portal: pages under concurrent clients", rows)
    figures.update(found)

    figures["bench_seconds"] = round(time.perf_counter() - started, 1)
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
