"""Who runs this command: the invoking OS user mapped to a person (issue 16).

``acting`` says once on stderr, in the reader's language, when the OS user maps to no one; the
command then acts as ``user:<name>``, as the host's file permissions allow. ``refused`` turns
a refusal of ``ingest.access.roles`` into the error the user reads (exit 2).
"""

from __future__ import annotations

import sys

from i18n import _
from ingest.access.guard import check_case, record_access
from ingest.access.people import cli_actor
from ingest.access.roles import Action, Decision
from ingest.context import Context
from ingest.errors import UsageError
from ingest.output import for_terminal
from storage.catalog.cases import CaseOps
from storage.records import Person
from verify.log.events import EventType


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
                _(
                    "evidock: the OS user {user} maps to no person; acting as {actor} (map it: "
                    "evidock person add USERNAME --name NAME --os-user {user})"
                ).format(user=user, actor=actor)
            ),
            file=sys.stderr,
        )
    return actor, person


def refused(d: Decision, what: str) -> AccessRefused:
    return AccessRefused(f"{what}: {d.why}", hint=_("ask: {ask}").format(ask=d.ask))


def read_case(ctx: Context, number: str) -> None:
    """A person reads a case: refused (``access_denied``, then the error) or recorded
    (``viewed``; reads within a minute share one event)."""
    actor, person = acting(ctx)
    with ctx.catalog.write() as txn:
        CaseOps(txn).case(number)  # an unknown case is NotFound, not a refusal
        d = check_case(txn, ctx, person, Action.VIEW_CASE, number)
        if d.allowed:
            record_access(txn, ctx, person, EventType.VIEWED, case=number, now=ctx.clock(),
                          detail={"what": "case"}, actor=actor)  # fmt: skip
    if not d.allowed:
        raise refused(d, _("case {number}").format(number=number))
