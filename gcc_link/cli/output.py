"""Shared output helpers for CLI commands: one-line failures, optional JSON."""

from __future__ import annotations

import json
import sys
from typing import Any, NoReturn

import click

from ..protocol.errors import GccLinkError


def fail(reason: str, code: int = 1) -> NoReturn:
    """Print a one-line reason on stderr and exit non-zero."""
    click.echo(f"error: {reason}", err=True)
    sys.exit(code)


def emit(result: dict[str, Any], as_json: bool, human: str) -> None:
    """Print ``result`` as JSON when asked, else the human line."""
    if as_json:
        click.echo(json.dumps(result, ensure_ascii=False, sort_keys=True))
    else:
        click.echo(human)


def fail_on(exc: GccLinkError) -> NoReturn:
    fail(f"{exc.code}: {exc.message}")
