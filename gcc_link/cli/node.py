"""``gcc-link node|client|log|evidence``: run a node, register agency clients, check the log, evidence.

Registered by ``gcc_link.cli`` by name. Failures print one line and exit
non-zero; ``--json`` prints machine-readable results.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from ..node.config import NodeConfig
from ..node.db import Database, prepare_store
from ..protocol.errors import GccLinkError
from .files import json_option
from .node_common import config_option, load_node_config
from .output import emit, fail, guarded

_config = load_node_config


def _db(config: NodeConfig, initialise: bool = False) -> Database:
    prepare_store(config.data_dir, config.db_url, initialise=initialise)
    return Database(config.db_url)


# --- node --------------------------------------------------------------------

initialise_option = click.option(
    "--initialise",
    is_flag=True,
    help="Start with an empty store even though this data directory held a node (its messages are then lost).",
)


@click.group("node")
def node() -> None:
    """Run a member state's node."""


@node.command("run")
@config_option
@click.option("--mode", type=click.Choice(["development", "production"]), help="Override node.mode.")
@initialise_option
@guarded
def node_run(config_path: Path, mode: str | None, initialise: bool) -> None:
    """Serve the node (migrates the store first, refusing a vanished one); stops on SIGINT/SIGTERM."""
    from ..node.server import run

    run(_config(config_path), mode, initialise=initialise)


@node.command("deliver")
@config_option
@click.option("--name", default="delivery")
@guarded
def node_deliver(config_path: Path, name: str) -> None:
    """Run one delivery worker process (production mode starts these itself)."""
    from ..node.server import run_delivery, setup_logging

    setup_logging()
    run_delivery(_config(config_path), name)


@node.command("migrate")
@config_option
@initialise_option
@guarded
def node_migrate(config_path: Path, initialise: bool) -> None:
    """Create or upgrade the node's database schema (alembic)."""
    _db(_config(config_path), initialise)
    click.echo("database schema is up to date")


# --- clients -----------------------------------------------------------------


@click.group("client")
def client() -> None:
    """OAuth clients of the agencies (each bound to one agency address)."""


@client.command("create")
@config_option
@click.option("--agency", "agencies", multiple=True, help="Agency address CC/AGENCY (repeatable).")
@click.option("--all", "all_agencies", is_flag=True, help="One client for every agency in the config.")
@click.option(
    "--scope",
    "scopes",
    multiple=True,
    help="Scopes (repeatable; default: messages:send, messages:read, calls — services:admin only when named).",
)
@click.option(
    "--public-key",
    "public_key",
    type=click.Path(path_type=Path, exists=True, dir_okay=False),
    help="PEM public key: the client authenticates by private_key_jwt instead of a secret.",
)
@click.option("--operator", is_flag=True, help="An operator client (scope 'operator' only, no agency).")
@json_option
@guarded
def client_create(
    config_path: Path,
    agencies: tuple[str, ...],
    all_agencies: bool,
    scopes: tuple[str, ...],
    public_key: Path | None,
    operator: bool,
    as_json: bool,
) -> None:
    """Register client(s); the secret is printed once and stored only as a hash."""
    from ..node.config import DEFAULT_AGENCY_SCOPES
    from ..node.oauth import create_client

    config = _config(config_path)
    if operator:
        from ..node.operations import create_operator_client
        from .files import now_or

        if agencies or all_agencies or scopes or public_key:
            fail("--operator takes no --agency, --all, --scope or --public-key")
        op = create_operator_client(_db(config), config.state, now_or(None))
        emit(op, as_json, f"operator: client_id={op['client_id']} client_secret={op['client_secret']}")
        return
    targets = list(agencies) + ([a.id for a in config.agencies] if all_agencies else [])
    if not targets:
        fail("name --agency or --all")
    for agency in targets:
        if agency not in config.agency_ids:
            fail(f"{agency} is not an agency of this node ({', '.join(sorted(config.agency_ids))})")
    db = _db(config)
    pem = public_key.read_text() if public_key else None
    try:
        results = [create_client(db, a, scopes=scopes or DEFAULT_AGENCY_SCOPES, public_key_pem=pem) for a in targets]
    except GccLinkError as exc:
        fail(f"{exc.code}: {exc.message}")
    result: Any = results[0] if len(results) == 1 and not all_agencies else results
    emit(
        result,
        as_json,
        "\n".join(
            f"{r['agency']}: client_id={r['client_id']}"
            + (f" client_secret={r['client_secret']}" if "client_secret" in r else "")
            for r in results
        ),
    )


@client.command("list")
@config_option
@json_option
@guarded
def client_list(config_path: Path, as_json: bool) -> None:
    """List registered clients (never their secrets)."""
    from ..node.oauth import list_clients

    rows = list_clients(_db(_config(config_path)))
    emit(rows, as_json, "\n".join(f"{r['client_id']} {r['agency']} {r['auth_method']} [{r['scope']}]" for r in rows))


# --- message log ---------------------------------------------------------------


@click.group("log")
def log_group() -> None:
    """The node's hash-chained message log."""


log = log_group


@log_group.command("verify")
@config_option
@json_option
@guarded
def log_verify(config_path: Path, as_json: bool) -> None:
    """Check the hash chain and every signature; exit 1 if anything is wrong."""
    from ..node.audit import verify_log

    config = _config(config_path)
    result = verify_log(config, _db(config))
    emit(
        result,
        as_json,
        f"log {'valid' if result['valid'] else 'INVALID'}: {result['entries']} entries"
        + "".join(f"\n  {p}" for p in result["problems"]),
    )
    if not result["valid"]:
        sys.exit(1)


# --- evidence ----------------------------------------------------------------------


@click.group("evidence")
def evidence() -> None:
    """Evidence bundles (message, receipt, certificate chain, log proof), verifiable offline."""


@evidence.command("export")
@click.argument("message_id")
@config_option
@click.option("--out", "out", type=click.Path(path_type=Path, dir_okay=False), required=True)
@json_option
@guarded
def evidence_export(message_id: str, config_path: Path, out: Path, as_json: bool) -> None:
    """Write the evidence bundle of a delivered (or received) message to OUT."""
    from ..node.audit import export_bundle

    try:
        config = _config(config_path)
        bundle = export_bundle(config, _db(config), message_id)
    except GccLinkError as exc:
        fail(f"{exc.code}: {exc.message}")
    out.write_text(json.dumps(bundle, indent=1) + "\n")
    emit(
        {"file": str(out), "message_id": message_id, "log_entries": len(bundle["log"]["entries"])},
        as_json,
        f"evidence for {message_id} written to {out}",
    )


@evidence.command("verify")
@click.argument("file", type=click.Path(path_type=Path, exists=True, dir_okay=False))
@click.option("--root", "root_path", type=click.Path(path_type=Path, exists=True, dir_okay=False), required=True)
@json_option
def evidence_verify(file: Path, root_path: Path, as_json: bool) -> None:
    """Verify a bundle offline with only the GCC root certificate; exit 1 if invalid."""
    from ..protocol.evidence import verify_bundle
    from ..protocol.pki import load_certificate

    try:
        root = load_certificate(root_path.read_bytes())
        bundle = json.loads(file.read_text())
    except (GccLinkError, ValueError) as exc:
        fail(f"cannot read input: {exc}")
    result = verify_bundle(bundle, root)
    emit(
        result,
        as_json,
        f"evidence {'valid' if result['valid'] else 'INVALID'}" + "".join(f"\n  {p}" for p in result["problems"]),
    )
    if not result["valid"]:
        sys.exit(1)


from .node_ops import register as _register_ops  # noqa: E402 - backup, restore, archive, messages, grants, …

_register_ops(node, client, log_group)
