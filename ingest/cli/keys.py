"""``evidock key rotate``: replace this dock's signing key, recorded in the custody log."""

from __future__ import annotations

import argparse
from typing import Any

from i18n import _, n_
from ingest.cli.common import examples, open_dock
from ingest.config import Settings
from ingest.context import LOG_ORIGIN, Context, os_actor
from ingest.errors import EXIT_OK
from ingest.output import Output
from storage.errors import AlreadyExists
from verify.keyhistory import rotation_data
from verify.keys import install_next_key, key_path, load, next_key, next_key_path
from verify.log.events import EventType


def add_parsers(sub: Any) -> None:
    k = sub.add_parser(
        "key",
        help=_("this dock's signing key over time"),
        epilog=examples("evidock key rotate"),
    ).add_subparsers(dest="key_command", required=True)
    s = k.add_parser(
        "rotate",
        help=_(
            "replace this dock's signing key: a checkpoint by the old key, a key_rotated "
            "event signed by both, a checkpoint by the new key"
        ),
        description=_(
            "Stop this dock's daemon first (it holds the old key). The old key file is kept as "
            "keys/<dock>.<keyid>.retired.key for the office to destroy or archive; publish the "
            "new verifier key and update [verify] trusted_keys on the audit nodes."
        ),
        epilog=examples("evidock key rotate", "evidock key rotate --json"),
    )
    s.set_defaults(func=cmd_rotate)


def cmd_rotate(args: argparse.Namespace, out: Output, settings: Settings) -> int:
    keys_dir, name = settings.keys_dir, settings.dock.name
    try:
        ctx = open_dock(settings)
    except AlreadyExists:
        if not next_key_path(keys_dir, name).exists():
            raise
        # a rotation cut short after the catalog registered the new key: finish it
        install_next_key(keys_dir, name, load(key_path(keys_dir, name), name))
        ctx = open_dock(settings)
        old_verifier = None
    else:
        try:
            old_verifier = _rotate(ctx)
        finally:
            ctx.close()
        ctx = open_dock(settings)
    try:
        size = ctx.checkpoint()[0]  # the first checkpoint by the new key
        new_verifier = ctx.key.verifier
    finally:
        ctx.close()
    out.document({"old_key": old_verifier, "new_key": new_verifier, "checkpoint_size": size})
    out.line(_("dock {name}: signing key rotated; new verifier key:").format(name=name))
    out.line(f"  {new_verifier}")
    out.line(
        n_(
            "checkpoint of {n} event signed with it. Publish the new key (and update [verify] "
            "trusted_keys on the audit nodes); destroy or archive the retired key file in keys/.",
            "checkpoint of {n} events signed with it. Publish the new key (and update [verify] "
            "trusted_keys on the audit nodes); destroy or archive the retired key file in keys/.",
            size,
        ).format(n=size)
    )
    return EXIT_OK


def _rotate(ctx: Context) -> str:
    """Checkpoint by the old key, the event and the registration in one transaction, then
    the key files; returns the old verifier key."""
    settings, old = ctx.settings, ctx.key
    ctx.checkpoint()  # everything so far is signed by the old key
    new = next_key(settings.keys_dir, settings.dock.name)
    with ctx.catalog.write() as txn:
        txn.rotate_dock_key(name=settings.dock.name, old_public=old.public, new_public=new.public)
        ctx.custody.append(txn, type=EventType.KEY_ROTATED, actor=os_actor(),
                           data=rotation_data(LOG_ORIGIN, old, new))  # fmt: skip
    install_next_key(settings.keys_dir, settings.dock.name, old)
    return old.verifier
