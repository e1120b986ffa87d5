"""Rotating a dock's key (issue 15): old checkpoints verify with the old key, new ones with the
new key, and the rotation event is signed by both."""

from __future__ import annotations

import base64
import dataclasses
import json
import stat

from ingest.context import LOG_ORIGIN, Context
from tests.verify.tamper import Cli, audit, codes
from verify.checkpoints import take_checkpoint
from verify.keyhistory import rotation_data
from verify.keys import DockKey, key_path, load, load_or_create, next_key
from verify.log.events import EventType


def current_key(ctx: Context) -> DockKey:
    return load(key_path(ctx.settings.keys_dir, ctx.dock.name), ctx.dock.name)


def rotated(ctx: Context) -> Context:
    """The context as the dock sees it after the rotation: its new key."""
    return dataclasses.replace(ctx, key=current_key(ctx))


def test_key_rotate_signs_before_and_after_and_verify_accepts_both(
    ingested: Context, cli: Cli
) -> None:
    """key rotate: checkpoint 13 by the old key, event #13 signed by both, checkpoint 14 by
    the new key; the old key file is kept 0600; verify with the new key file is clean."""
    old = ingested.key
    rc, out, err = cli("key", "rotate", "--json")
    assert rc == 0, err
    doc = json.loads(out)
    new = current_key(ingested)
    assert (doc["old_key"], doc["new_key"], doc["checkpoint_size"]) == (
        old.verifier, new.verifier, 14)  # fmt: skip
    assert new.public != old.public
    retired = ingested.settings.keys_dir / f"{old.name}.{old.verifier.split('+')[1]}.retired.key"
    assert load(retired, old.name) == old and stat.S_IMODE(retired.stat().st_mode) == 0o600
    with ingested.catalog.read() as txn:
        (ev,) = txn.log.events_of_type(EventType.KEY_ROTATED)
        (dock,) = txn.docks()
        sizes = [cp.size for cp in txn.log.checkpoints()]
    assert ev.seq == 13 and json.loads(ev.data)["new_key"] == new.verifier
    assert dock.public_key == new.public
    assert sizes == [13, 14]
    assert codes(audit(rotated(ingested), quick=True)) == set()
    # the dock starts again with the new key
    assert load_or_create(ingested.settings.keys_dir, ingested.dock.name) == (new, False)
    rc, _, err = cli("checkpoint")
    assert rc == 0, err


def test_a_checkpoint_by_the_old_key_after_the_rotation_is_reported(
    ingested: Context, cli: Cli
) -> None:
    """The retired key still signs (a stolen copy): its checkpoint after the rotation is
    checkpoint-wrong-key."""
    old = ingested.key
    assert cli("key", "rotate")[0] == 0
    with ingested.catalog.write() as txn:
        ingested.custody.append(txn, type=EventType.VIEWED, actor="user:test", data={})
        take_checkpoint(txn, key=old, dock=ingested.dock, origin=LOG_ORIGIN,
                        folder=ingested.store.root / "checkpoints")  # fmt: skip
    assert codes(audit(rotated(ingested), quick=True)) == {"checkpoint-wrong-key"}


def test_a_rotation_event_without_the_old_keys_signature_is_invalid(ingested: Context) -> None:
    """A key swapped in the catalog with an event the old key did not sign: the rotation is
    invalid and the checkpoints by the old key are no longer trusted."""
    old = ingested.key
    forger = load_or_create(ingested.settings.keys_dir / "forger", ingested.dock.name)[0]
    data = rotation_data(LOG_ORIGIN, old, forger)
    sig = bytearray(base64.b64decode(data["old_signature"]))
    sig[0] ^= 0x01
    data["old_signature"] = base64.b64encode(bytes(sig)).decode()
    with ingested.catalog.write() as txn:
        txn.rotate_dock_key(name=old.name, old_public=old.public, new_public=forger.public)
        ingested.custody.append(txn, type=EventType.KEY_ROTATED, actor="user:x", data=data)
    found = codes(audit(dataclasses.replace(ingested, key=forger), quick=True))
    assert {"key-rotation-invalid", "checkpoint-unknown-key"} <= found


def test_key_rotate_finishes_a_rotation_cut_short(ingested: Context, cli: Cli) -> None:
    """The catalog registered the new key but the key files were not swapped (a crash): the
    dock cannot start, and key rotate again installs the new key and signs with it."""
    old = ingested.key
    new = next_key(ingested.settings.keys_dir, old.name)
    with ingested.catalog.write() as txn:
        txn.rotate_dock_key(name=old.name, old_public=old.public, new_public=new.public)
        ingested.custody.append(txn, type=EventType.KEY_ROTATED, actor="user:test",
                                data=rotation_data(LOG_ORIGIN, old, new))  # fmt: skip
    rc, _, err = cli("checkpoint")
    assert rc == 2 and "registered with another signing key" in err
    rc, out, err = cli("key", "rotate", "--json")
    assert rc == 0, err
    assert json.loads(out) == {"old_key": None, "new_key": new.verifier, "checkpoint_size": 14}
    assert current_key(ingested) == new
    assert codes(audit(rotated(ingested), quick=True)) == set()
