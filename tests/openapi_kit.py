"""One schemathesis run for every OpenAPI document the project serves (node and portal tests use it)."""

from __future__ import annotations

from typing import Any

import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


@schemathesis.serializer("application/jose")
def _jose(ctx: Any, value: Any) -> bytes:
    """Compact JWS bodies are text: send generated strings as their UTF-8 bytes."""
    return str(value).encode("utf-8", "surrogatepass")


def conformance_failures(
    app: Any, headers: dict[str, str] | None = None, examples: int = 20
) -> tuple[int, dict[str, str]]:
    """Drive every operation of ``app``'s ``/openapi.json`` (derandomized, bounded); (operations, failures by label).

    Checked: no server error, every status code and content type documented,
    every JSON body matching its schema.
    """
    schema = schemathesis.openapi.from_wsgi("/openapi.json", app)
    operations = [op.ok() for op in schema.get_all_operations()]
    failures: dict[str, str] = {}
    for operation in operations:

        @settings(
            max_examples=examples,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        @given(case=operation.as_strategy())
        def check(case: Any) -> None:
            case.call_and_validate(headers=headers or {}, checks=CHECKS)

        try:
            check()
        except BaseException as exc:  # noqa: BLE001 - collect every operation's failure, then report them all
            if isinstance(exc, (KeyboardInterrupt, SystemExit)):
                raise
            failures[operation.label] = "\n".join(str(exc).splitlines()[:12])
    return len(operations), failures
