"""Who runs this command: the invoking OS user mapped to a person (issue 16).

``acting`` says once on stderr, in Chinese and English, when the OS user maps to no one; the
command then acts as ``user:<name>``, as the host's file permissions allow. ``refused`` turns
a refusal of ``ingest.access.roles`` into the error the user reads (exit 2).
"""

from __future__ import annotations

import sys

from ingest.access.people import cli_actor
from ingest.access.roles import Decision
from ingest.context import Context
from ingest.errors import UsageError
from ingest.output import for_terminal
from storage.records import Person


class AccessRefused(UsageError):
    code = "access-refused"


def acting(ctx: Context) -> tuple[str, Person | None]:
    """``(actor, person)`` of this command; the notice on stderr when there is no person."""
    with ctx.catalog.read() as txn:
        actor, person = cli_actor(txn, ctx.settings)
    if person is None:
        user = actor.removeprefix("user:")
        print(
            for_terminal(
                f"evidock: 系统用户 {user} 未对应任何人员，操作记为 {actor} / the OS user {user} "
                f"maps to no person; acting as {actor} (map it: evidock person add USERNAME "
                f"--name NAME --os-user {user})"
            ),
            file=sys.stderr,
        )
    return actor, person


def refused(d: Decision, what: str) -> AccessRefused:
    return AccessRefused(f"{what}: {d.why}", hint=f"请联系 ask: {d.ask}")
