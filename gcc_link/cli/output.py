"""Shared output helpers for every ``gcc-link`` command: one-line failures, optional JSON.

Every command group (pki, directory, message, node, log, evidence, client,
portal, demo) prints through these, so failures look the same everywhere:
``error: <code>: <reason>`` on stderr and exit status 1, never a traceback.
"""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable
from typing import Any, NoReturn, TypeVar

import click

from ..protocol.errors import GccLinkError

__all__ = ["emit", "fail", "fail_on", "guarded"]

F = TypeVar("F", bound=Callable[..., Any])


def fail(reason: str, code: int = 1) -> NoReturn:
    """Print a one-line reason on stderr and exit non-zero."""
    click.echo(f"error: {reason}", err=True)
    sys.exit(code)


def emit(result: Any, as_json: bool, human: str) -> None:
    """Print ``result`` as JSON when asked, else the human line."""
    if as_json:
        click.echo(json.dumps(result, ensure_ascii=False, sort_keys=True))
    else:
        click.echo(human)


def fail_on(exc: GccLinkError) -> NoReturn:
    fail(f"{exc.code}: {exc.message}")


def guarded(fn: F) -> F:
    """Turn a command's expected failures (project errors, OS and network errors) into one line and exit 1."""
    import requests

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except GccLinkError as exc:
            fail_on(exc)
        except (OSError, requests.RequestException) as exc:
            fail(f"{type(exc).__name__}: {exc}")

    return wrapper  # type: ignore[return-value]
