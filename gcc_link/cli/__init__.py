"""The ``gcc-link`` command line (click): a stable interface for operators and tests.

Every command exits 0 on success and non-zero with a one-line reason on
failure; ``--json`` gives machine-readable output where a command prints a
result. Command groups live in their own modules and are registered here;
groups whose module cannot be imported (a part not installed) are skipped so
the rest still works.
"""

from __future__ import annotations

import importlib

import click

from .. import __version__

# (module, attribute) of each command group, in --help order.
_GROUPS: tuple[tuple[str, str], ...] = (
    ("gcc_link.cli.pki", "pki"),
    ("gcc_link.cli.directory", "directory"),
    ("gcc_link.cli.message", "message"),
    ("gcc_link.cli.node", "node"),
    ("gcc_link.cli.node", "log"),
    ("gcc_link.cli.node", "evidence"),
    ("gcc_link.cli.node", "client"),
    ("gcc_link.cli.demo", "demo"),
    ("gcc_link.cli.portal", "portal"),
)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="gcc-link")
def main() -> None:
    """GCC Link: signed message exchange between GCC e-government agencies."""


def _register() -> None:
    for module_name, attr in _GROUPS:
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            # Only a missing part is tolerated; a broken import inside a part is a bug.
            if exc.name and (module_name == exc.name or module_name.startswith(exc.name + ".")):
                continue
            raise
        command = getattr(module, attr, None)
        if isinstance(command, click.Command):
            main.add_command(command, attr)


_register()
