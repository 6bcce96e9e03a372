"""What every node command shares: the ``--config`` option and loading the config in one line."""

from __future__ import annotations

from pathlib import Path

import click

from ..node.config import NodeConfig, load_config
from ..protocol.errors import GccLinkError
from .output import fail_on

__all__ = ["config_option", "load_node_config"]

config_option = click.option(
    "--config",
    "config_path",
    type=click.Path(path_type=Path, exists=True, dir_okay=False),
    required=True,
    help="The node's node.toml.",
)


def load_node_config(path: Path) -> NodeConfig:
    """The node's configuration; a bad one ends the command with one ``error:`` line."""
    try:
        return load_config(path)
    except GccLinkError as exc:
        fail_on(exc)
