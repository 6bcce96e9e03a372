"""The one signed-document primitive and the document types built on it (status, push, checkpoint)."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from gcc_link.protocol import pki, signed
from gcc_link.protocol.errors import GccLinkError
from gcc_link.protocol.evidence import CHECKPOINT_TYP, sign_checkpoint, verify_signed_at
from gcc_link.protocol.push import PUSH_TYP, Push
from gcc_link.protocol.status import STATUS_TYP, NodeStatus
from tests.core.corekit import NOW, resign


def _status(cc: str = "KW", at=NOW) -> NodeStatus:
    return NodeStatus(
        node=cc,
        software_version="1.0",
        directory_version=1,
        queue_depth=3,
        services=(f"{cc}/MOI/vehicle-record",),
        agencies=(f"{cc}/MOI",),
        at=at,
    )


def code_of(call) -> str | None:
    try:
        call()
    except GccLinkError as exc:
        return exc.code
    return None


def test_a_signed_status_verifies_and_round_trips(world):
    signed_status = _status().sign(world.ids["KW"])
    got = NodeStatus.from_jws(signed_status.jws, directory=world.directory, now=NOW, expected_node="KW")
    assert got == replace(_status(), jws=signed_status.jws) and got.queue_depth == 3


@pytest.mark.parametrize(("offset", "code"), [(300, None), (301, "stale"), (-300, None), (-301, "stale")])
def test_status_time_window_one_second_either_side(world, offset, code):
    data = _status().sign(world.ids["KW"]).jws
    now = NOW + timedelta(seconds=offset)
    assert code_of(lambda: NodeStatus.from_jws(data, directory=world.directory, now=now)) == code


def test_an_older_status_than_the_last_accepted_is_a_replay(world):
    old = _status(at=NOW - timedelta(seconds=60)).sign(world.ids["KW"]).jws
    newer = _status(at=NOW).sign(world.ids["KW"])
    assert code_of(lambda: NodeStatus.from_jws(old, directory=world.directory, now=NOW, not_before=newer.at)) == "stale"
    # the same status again is not older than itself
    assert (
        code_of(lambda: NodeStatus.from_jws(newer.jws, directory=world.directory, now=NOW, not_before=newer.at)) is None
    )


def test_status_trust_codes(world):
    other_state = _status("SA")  # SA's status signed by KW's certificate
    forged = resign(other_state.payload(), world.ids["KW"].private_key, world.ids["KW"].certificate, typ=STATUS_TYP)
    assert code_of(lambda: NodeStatus.from_jws(forged, directory=world.directory, now=NOW)) == "sender_not_authorised"
    suspended = _status("OM").sign(world.ids["OM"]).jws
    assert (
        code_of(lambda: NodeStatus.from_jws(suspended, directory=world.directory, now=NOW)) == "sender_not_authorised"
    )
    foreign = resign(_status().payload(), world.foreign.private_key, world.foreign.certificate, typ=STATUS_TYP)
    assert code_of(lambda: NodeStatus.from_jws(foreign, directory=world.directory, now=NOW)) == "untrusted_certificate"
    tampered = resign(
        {**_status().payload(), "queue_depth": -1},
        world.ids["KW"].private_key,
        world.ids["KW"].certificate,
        typ=STATUS_TYP,
    )
    assert code_of(lambda: NodeStatus.from_jws(tampered, directory=world.directory, now=NOW)) == "malformed"
    data = _status().sign(world.ids["KW"]).jws
    assert (
        code_of(lambda: NodeStatus.from_jws(data, directory=world.directory, now=NOW, expected_node="SA"))
        == "malformed"
    )


def test_a_node_cannot_sign_another_states_status(world):
    assert code_of(lambda: _status("SA").sign(world.ids["KW"])) == "malformed"


def test_a_document_of_one_type_is_not_accepted_as_another(world):
    push = Push.create(world.ids["KW"], {"id": "x"}, NOW)
    assert code_of(lambda: NodeStatus.from_jws(push.jws, directory=world.directory, now=NOW)) == "malformed"
    assert Push.from_jws(push.jws, directory=world.directory, now=NOW).item == {"id": "x"}


def test_signing_outside_the_certificate_validity_is_refused(world):
    identity = world.ids["KW"]
    after = identity.certificate.not_valid_after_utc
    assert code_of(lambda: signed.sign(identity, PUSH_TYP, {"a": 1}, after)) is None
    assert (
        code_of(lambda: signed.sign(identity, PUSH_TYP, {"a": 1}, after + timedelta(seconds=1)))
        == "untrusted_certificate"
    )


def test_checkpoints_verify_offline_at_their_own_time(world):
    identity = world.ids["KW"]
    late = identity.certificate.not_valid_after_utc - timedelta(seconds=1)
    cp = sign_checkpoint(identity, 7, "a" * 64, late)
    payload, state = verify_signed_at(cp, CHECKPOINT_TYP, world.root_cert)
    assert state == "KW" and payload["seq"] == 7
    _, other_root = pki.create_root(NOW - timedelta(days=10))
    with pytest.raises(GccLinkError) as exc:
        verify_signed_at(cp, CHECKPOINT_TYP, other_root)
    assert exc.value.code == "untrusted_certificate"
