"""Print the import graph between the project's layers (``python -m tests.architecture.import_graph``).

Built with grimp, imports inside functions included. The layers are
core (``gcc_link.protocol``), shared edge rules (the other plain modules
of ``gcc_link``), node, portal and cli; ``tests/architecture/test_layers.py``
asserts the direction.
"""

from __future__ import annotations

import grimp

LAYERS = {"gcc_link.protocol": "core", "gcc_link.node": "node", "knowledge_portal": "portal", "gcc_link.cli": "cli"}


def layer(module: str) -> str | None:
    for prefix, name in LAYERS.items():
        if module == prefix or module.startswith(prefix + "."):
            return name
    if module in ("gcc_link", "gcc_link.__main__"):
        return None  # the package marker and the `python -m gcc_link` entry point
    return "shared" if module.startswith("gcc_link.") else None


def edges() -> dict[tuple[str, str], int]:
    graph = grimp.build_graph("gcc_link", "knowledge_portal", cache_dir=None)
    counts: dict[tuple[str, str], int] = {}
    for module in graph.modules:
        source = layer(module)
        if source is None:
            continue
        for imported in graph.find_modules_directly_imported_by(module):
            target = layer(imported)
            if target and target != source:
                counts[(source, target)] = counts.get((source, target), 0) + 1
    return counts


if __name__ == "__main__":
    for (source, target), n in sorted(edges().items()):
        print(f"{source:7s} -> {target:7s} {n} import(s)")
