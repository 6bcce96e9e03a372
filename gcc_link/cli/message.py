"""``gcc-link message``: conformance tools to sign and verify protocol v1 messages.

An integrator writing a node in another language signs with ours and
verifies theirs with ours (and the reverse) to check conformance.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import BinaryIO

import click

from ..protocol.directory import load_directory
from ..protocol.errors import GccLinkError
from ..protocol.message import Message
from ..protocol.pki import NodeIdentity
from .files import at_option, json_option, now_or
from .output import emit, fail, fail_on


@click.group("message")
def message() -> None:
    """Sign and verify protocol v1 messages (conformance tools)."""


@message.command("sign")
@click.option("--cert", "cert_path", type=click.Path(path_type=Path, exists=True), required=True)
@click.option("--key", "key_path", type=click.Path(path_type=Path, exists=True), required=True)
@click.option("--sender", required=True, help="Sending agency, CC/AGENCY (of the certificate's state).")
@click.option("--recipient", required=True, help="Recipient agency, CC/AGENCY.")
@click.option("--body", required=True, help="The body as JSON text, or @FILE.")
@click.option("--service", help="Service address CC/AGENCY/code.")
@click.option("--conversation-id")
@click.option("--in-reply-to")
@click.option("--ttl", "ttl_seconds", type=int, default=86400, show_default=True)
@click.option("--out", type=click.Path(path_type=Path), help="Write the JWS here instead of stdout.")
@at_option
def sign(
    cert_path: Path,
    key_path: Path,
    sender: str,
    recipient: str,
    body: str,
    service: str | None,
    conversation_id: str | None,
    in_reply_to: str | None,
    ttl_seconds: int,
    out: Path | None,
    at: str | None,
) -> None:
    """Sign a message and print its compact JWS."""
    text = Path(body[1:]).read_text() if body.startswith("@") else body
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        fail(f"--body is not JSON: {exc}")
    try:
        identity = NodeIdentity.from_pem(cert_path.read_bytes(), key_path.read_bytes())
        msg = Message.create(
            identity,
            sender=sender,
            recipient=recipient,
            body=value,
            now=now_or(at),
            ttl_seconds=ttl_seconds,
            service=service,
            conversation_id=conversation_id,
            in_reply_to=in_reply_to,
        )
    except GccLinkError as exc:
        fail_on(exc)
    if out:
        out.write_bytes(msg.jws + b"\n")
        click.echo(msg.id)
    else:
        click.echo(msg.jws.decode())


@message.command("verify")
@click.argument("file", type=click.File("rb"))
@click.option("--directory", "directory_path", type=click.Path(path_type=Path, exists=True), required=True)
@click.option("--local-state", help="Also check the recipient is an agency of this state.")
@at_option
@json_option
def verify(file: BinaryIO, directory_path: Path, local_state: str | None, at: str | None, as_json: bool) -> None:
    """Verify a message JWS (FILE, or - for stdin) with every receiving check a lone tool can run.

    Prints {"valid", "code"}; exits 1 when the message would be rejected.
    Grants need a node and are not checked.
    """
    now = now_or(at)
    data = file.read().strip()
    try:
        directory = load_directory(directory_path.read_bytes(), now)
    except GccLinkError as exc:
        fail_on(exc)
    try:
        msg = Message.from_jws(data, directory=directory, now=now, local_state=local_state)
    except GccLinkError as exc:
        emit({"valid": False, "code": exc.code, "message": exc.message}, as_json, f"invalid: {exc.code}: {exc.message}")
        sys.exit(1)
    emit(
        {"valid": True, "code": None, "id": msg.id, "sender": msg.sender, "recipient": msg.recipient},
        as_json,
        f"valid: {msg.id} from {msg.sender} to {msg.recipient}",
    )
