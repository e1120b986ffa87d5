"""``evidock catalog upgrade``: bring the catalog's schema to this release's newest revision.

Every command migrates the catalog when it opens it; this one does only that, and says from
which revision to which (the Debian package's postinst runs it on an upgrade). A catalog that a
newer evidock wrote is refused (exit 2): an older evidock never downgrades or uses it.
"""

from __future__ import annotations

import argparse
from typing import Any

from i18n import _
from ingest.cli.common import examples
from ingest.config import Settings
from ingest.context import open_catalog
from ingest.errors import EXIT_OK
from ingest.output import Output
from ingest.version import release
from storage.catalog.engine import head_revision, migrate, pending_revisions
from storage.catalog.migrate import redact


def add_parser(acts: Any) -> None:
    s = acts.add_parser(
        "upgrade",
        help=_("migrate the catalog's schema to this release's newest revision"),
        description=_(
            "Migrate the catalog's schema to the newest revision this evidock knows "
            "(every command also does it when it opens the catalog). Exit 0: at the newest "
            "revision; 2: refused, e.g. the catalog was written by a newer evidock (no downgrade)."
        ),
        epilog=examples("evidock catalog upgrade --check", "evidock catalog upgrade --json"),
    )
    s.add_argument(
        "--check", action="store_true", help=_("say what would be migrated; change nothing")
    )
    s.set_defaults(func=cmd_upgrade)


def cmd_upgrade(args: argparse.Namespace, out: Output, settings: Settings) -> int:
    catalog = open_catalog(settings, upgrade=False)
    try:
        before, steps = pending_revisions(catalog.engine)
        if steps and not args.check:
            migrate(catalog.engine)
    finally:
        catalog.close()
    head = head_revision()
    doc: dict[str, Any] = {
        "catalog": redact(settings.catalog_url),
        "evidock": release(),
        "from_revision": before,
        "to_revision": head,
        "migrations": steps,
        "migrated": bool(steps) and not args.check,
    }
    out.document(doc)
    where = redact(settings.catalog_url)
    if not steps:
        out.line(
            _("catalog {catalog} is at the newest revision {head}").format(catalog=where, head=head)
        )
    elif args.check:
        out.line(
            _(
                "would migrate catalog {catalog} from revision {before} to {head} ({steps}); "
                "nothing was changed"
            ).format(catalog=where, before=before, head=head, steps=", ".join(steps))
        )
    else:
        out.line(
            _("migrated catalog {catalog} from revision {before} to {head} ({steps})").format(
                catalog=where, before=before, head=head, steps=", ".join(steps)
            )
        )
    return EXIT_OK
