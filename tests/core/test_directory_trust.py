"""The member directory's TUF-style rules: threshold, rotation, rollback, freeze, statuses."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import timedelta

import pytest

from gcc_link.protocol import pki
from gcc_link.protocol.directory import (
    DirectoryKey,
    add_signatures,
    load_directory,
    peek_directory_version,
    update_directory,
    update_directory_chain,
)
from gcc_link.protocol.errors import (
    DirectoryExpiredError,
    DirectoryFormatError,
    DirectoryRollbackError,
    DirectoryThresholdError,
)
from tests.core.corekit import NOW


def next_version(world, version=2, **changes):
    return replace(world.content, version=version, **changes)


def test_bootstrap_needs_its_own_threshold(world):
    data = world.content.sign(world.dir_keys[:2])  # threshold is 3
    with pytest.raises(DirectoryThresholdError):
        load_directory(data, NOW)
    assert load_directory(world.content.sign(world.dir_keys[:3]), NOW).signer_kids.__len__() == 3


def test_update_with_threshold_is_accepted(world):
    new = update_directory(world.directory, next_version(world).sign(world.dir_keys[2:5]), NOW)
    assert new.version == 2 and len(new.signer_kids) == 3


def test_k_minus_one_signatures_are_refused(world):
    with pytest.raises(DirectoryThresholdError):
        update_directory(world.directory, next_version(world).sign(world.dir_keys[:2]), NOW)


def test_the_same_key_signing_twice_counts_once(world):
    data = next_version(world).sign(world.dir_keys[:2])
    doc = json.loads(data)
    doc["signatures"].append(dict(doc["signatures"][0]))  # a verbatim duplicate
    with pytest.raises(DirectoryThresholdError):
        update_directory(world.directory, json.dumps(doc).encode(), NOW)
    # add_signatures also refuses to add a key twice
    again = add_signatures(data, [world.dir_keys[0]])
    assert len(json.loads(again)["signatures"]) == 2


def test_unknown_keys_do_not_count(world):
    strangers = [pki.generate_key() for _ in range(3)]
    with pytest.raises(DirectoryThresholdError):
        update_directory(world.directory, next_version(world).sign(world.dir_keys[:2] + strangers), NOW)


def test_a_bad_signature_by_a_known_key_does_not_count(world):
    data = next_version(world).sign(world.dir_keys[:3])
    doc = json.loads(data)
    sig = doc["signatures"][0]["signature"]
    doc["signatures"][0]["signature"] = ("B" if sig[0] == "A" else "A") + sig[1:]
    with pytest.raises(DirectoryThresholdError):
        update_directory(world.directory, json.dumps(doc).encode(), NOW)


def test_cosigning_one_party_at_a_time_reaches_the_threshold(world):
    data = next_version(world).sign(world.dir_keys[:1])
    for key in world.dir_keys[1:3]:
        data = add_signatures(data, [key])
    assert update_directory(world.directory, data, NOW).version == 2


def test_rollback_is_refused(world):
    v3 = update_directory(world.directory, next_version(world, 3).sign(world.dir_keys[:3]), NOW)
    with pytest.raises(DirectoryRollbackError):
        update_directory(v3, next_version(world, 2).sign(world.dir_keys[:3]), NOW)


def test_same_version_same_bytes_is_a_no_op_other_content_is_refused(world):
    assert update_directory(world.directory, world.directory.raw, NOW) is world.directory
    other = replace(world.content, threshold=2).sign(world.dir_keys[:3])
    with pytest.raises(DirectoryRollbackError):
        update_directory(world.directory, other, NOW)


@pytest.mark.parametrize("delta,ok", [(-1, True), (0, False), (1, False)])
def test_expiry_boundaries(world, delta, ok):
    expires = NOW + timedelta(days=10)
    data = next_version(world, expires_at=expires).sign(world.dir_keys[:3])
    at = expires + timedelta(seconds=delta)
    if ok:
        assert update_directory(world.directory, data, at).version == 2
    else:
        with pytest.raises(DirectoryExpiredError):
            update_directory(world.directory, data, at)


def test_key_rotation_needs_old_and_new_thresholds(world):
    new_keys = [pki.generate_key() for _ in range(3)]
    rotated = next_version(
        world,
        threshold=2,
        keys=tuple(DirectoryKey.from_public_key(k.public_key(), f"new-{i}") for i, k in enumerate(new_keys)),
    )
    with pytest.raises(DirectoryThresholdError, match="previously trusted"):
        update_directory(world.directory, rotated.sign(new_keys), NOW)
    with pytest.raises(DirectoryThresholdError, match="of its own"):
        update_directory(world.directory, rotated.sign(world.dir_keys[:3] + new_keys[:1]), NOW)
    v2 = update_directory(world.directory, rotated.sign(world.dir_keys[:3] + new_keys[:2]), NOW)
    assert v2.threshold == 2
    # after rotation the old keys alone can no longer move the federation
    v3_old = replace(rotated, version=3).sign(world.dir_keys)
    with pytest.raises(DirectoryThresholdError):
        update_directory(v2, v3_old, NOW)
    assert update_directory(v2, replace(rotated, version=3).sign(new_keys[1:]), NOW).version == 3


def rotations(world, count=2):
    """Versions 2..count+1, each handing the federation to three fresh keys (threshold 2)."""
    keys, chain = world.dir_keys[:3], []
    content = world.content
    for version in range(2, count + 2):
        fresh = [pki.generate_key() for _ in range(3)]
        content = replace(
            content,
            version=version,
            threshold=2,
            keys=tuple(DirectoryKey.from_public_key(k.public_key(), f"v{version}-{i}") for i, k in enumerate(fresh)),
        )
        chain.append(content.sign(keys + fresh[:2]))
        keys = fresh
    return chain, keys


def test_a_node_that_missed_rotations_walks_the_chain(world):
    chain, _ = rotations(world, 3)
    # the newest version alone carries no signature the node knows
    with pytest.raises(DirectoryThresholdError, match="previously trusted"):
        update_directory(world.directory, chain[-1], NOW)
    walked = update_directory_chain(world.directory, chain, NOW)
    assert walked.version == 4 and walked.raw == chain[-1]
    assert [peek_directory_version(d) for d in chain] == [2, 3, 4]


def test_the_walk_needs_every_step_and_in_order(world):
    chain, _ = rotations(world, 3)
    with pytest.raises(DirectoryRollbackError, match="version 2 was expected"):
        update_directory_chain(world.directory, chain[1:], NOW)
    with pytest.raises(DirectoryRollbackError):
        update_directory_chain(world.directory, [chain[1], chain[0], chain[2]], NOW)
    with pytest.raises(DirectoryFormatError):
        update_directory_chain(world.directory, [], NOW)


def test_a_short_signed_step_stops_the_walk(world):
    chain, _ = rotations(world, 2)
    doc = json.loads(chain[0])
    doc["signatures"] = doc["signatures"][:2]  # two old keys: one short of the old threshold of 3
    with pytest.raises(DirectoryThresholdError, match="previously trusted"):
        update_directory_chain(world.directory, [json.dumps(doc).encode(), chain[1]], NOW)


def test_expired_intermediate_versions_may_be_walked_but_not_an_expired_last(world):
    chain, keys = rotations(world, 2)
    later = world.content.expires_at + timedelta(days=1)  # versions 1..3 have all expired by then
    with pytest.raises(DirectoryExpiredError):
        update_directory_chain(world.directory, chain, later)
    v3 = load_directory(chain[1], NOW)
    v4 = replace(v3.content(), version=4, expires_at=later + timedelta(days=30)).sign(keys[:2])
    assert update_directory_chain(world.directory, [*chain, v4], later).version == 4


def test_suspending_a_member_takes_effect(world, make_message):
    from gcc_link.protocol.errors import SenderNotAuthorisedError
    from gcc_link.protocol.message import Message

    members = tuple(replace(m, status="suspended") if m.cc == "KW" else m for m in world.content.members)
    v2 = update_directory(world.directory, next_version(world, members=members).sign(world.dir_keys[:3]), NOW)
    msg = make_message()
    assert Message.from_jws(msg.jws, directory=world.directory, now=NOW).id == msg.id
    with pytest.raises(SenderNotAuthorisedError):
        Message.from_jws(msg.jws, directory=v2, now=NOW)


@pytest.mark.parametrize(
    "mutate",
    [
        lambda d: d.update(payload="!!notbase64"),
        lambda d: d.update(signatures="none"),
        lambda d: d.pop("payload"),
        lambda d: d.update(extra=1),
    ],
)
def test_malformed_documents(world, mutate):
    doc = json.loads(world.directory.raw)
    mutate(doc)
    with pytest.raises(DirectoryFormatError):
        load_directory(json.dumps(doc).encode(), NOW)


def test_invalid_content_is_refused(world):
    with pytest.raises(DirectoryFormatError):
        replace(world.content, threshold=6)
    with pytest.raises(DirectoryFormatError):
        replace(world.content, threshold=0)
    with pytest.raises(DirectoryFormatError):
        replace(world.content, members=world.content.members + world.content.members[:1])
    with pytest.raises(DirectoryFormatError):
        load_directory(b"not json", NOW)
