"""``evidock person add|list|grant|revoke|disable|passwd`` and ``evidock access-log`` (issue 16).

People are managed on the host. When the invoking OS user maps to a person, that person needs
the admin role (people) or the custodian or auditor role (the access log); a host account that
maps to no one acts as ``user:<name>`` and is told so (its file permissions already decide).
"""

from __future__ import annotations

import argparse
import csv
import getpass
import json
import sys
from typing import Any

from i18n import N_, _
from ingest.access import people
from ingest.access.passwords import hash_password
from ingest.access.roles import Action, Level, Relation, Role, decide
from ingest.cli.actor import acting, refused
from ingest.cli.common import examples, open_dock, parse_time
from ingest.config import Settings
from ingest.context import Context
from ingest.errors import EXIT_OK, UsageError
from ingest.output import Output
from storage.catalog import people as rows
from storage.catalog.session import Transaction
from storage.records import Event, Person
from verify.log.events import parse_time as parse_event_time

ROLES = ", ".join(r.value for r in Role)
ROLE_LABELS = {
    Role.OFFICER: N_("officer"),
    Role.CUSTODIAN: N_("custodian"),
    Role.REVIEWER: N_("reviewer"),
    Role.APPROVER: N_("approver"),
    Role.SUPERVISOR: N_("supervisor"),
    Role.AUDITOR: N_("auditor"),
    Role.ADMIN: N_("admin"),
}
"""A role as the person list names it: its name in the reader's language, and the code that
``grant`` takes when the two differ (English reads the code alone)."""


def add_parsers(sub: Any) -> None:
    person = sub.add_parser(
        "person",
        help=_("people who use evidock and their roles (custodian, reviewer, ...)"),
        epilog=examples(
            "evidock person add zhang.wei --name 张伟 --badge J1 --role officer",
            "evidock person add li.na --name 李娜 --os-user lina --role custodian",
            "evidock person grant zhang.wei reviewer",
            "evidock person list --json",
        ),
    )
    acts = person.add_subparsers(dest="action", required=True)
    s = acts.add_parser(
        "add",
        help=_("add a person (a custody event)"),
        epilog=examples(
            "evidock person add zhang.wei --name 张伟 --badge J1 --unit 一中队 --role officer",
            "evidock person add li.na --name 李娜 --os-user lina --role custodian --password-stdin",
        ),
    )
    s.add_argument("username", help=_("login name, e.g. zhang.wei"))
    s.add_argument("--name", required=True, help=_("full name, e.g. 张伟"))
    s.add_argument("--badge", help=_("officer badge (a registered officer)"))
    s.add_argument("--unit", default="", help=_("unit, e.g. 一中队"))
    s.add_argument("--os-user", help=_("the OS account the CLI maps to this person"))
    s.add_argument(
        "--role",
        action="append",
        default=[],
        help=_("a role to grant: {roles}").format(roles=ROLES),
    )
    s.add_argument(
        "--password-stdin",
        action="store_true",
        help=_("read a password from the first line of stdin"),
    )
    s.set_defaults(func=cmd_person_add)

    s = acts.add_parser(
        "list",
        help=_("people, their roles and OS accounts"),
        epilog=examples("evidock person list", "evidock person list --json"),
    )
    s.set_defaults(func=cmd_person_list)

    for name, what in (
        ("grant", _("give a role (a custody event)")),
        ("revoke", _("take a role away (a custody event)")),
    ):
        s = acts.add_parser(
            name,
            help=what,
            epilog=examples(f"evidock person {name} zhang.wei reviewer"),
        )
        s.add_argument("username")
        s.add_argument("role", help=ROLES)
        s.set_defaults(func=cmd_person_role, grant=name == "grant")

    s = acts.add_parser(
        "disable",
        help=_("disable a person (a custody event); roles stay on record"),
        epilog=examples("evidock person disable zhang.wei"),
    )
    s.add_argument("username")
    s.set_defaults(func=cmd_person_disable)

    s = acts.add_parser(
        "passwd",
        help=_("set a person's password (for the console)"),
        epilog=examples(
            "evidock person passwd li.na", "evidock person passwd li.na --password-stdin"
        ),
    )
    s.add_argument("username")
    s.add_argument("--password-stdin", action="store_true", help=_("read it from stdin"))
    s.set_defaults(func=cmd_person_passwd)

    s = sub.add_parser(
        "access-log",
        help=_("who saw what and when: views, plays, downloads, refusals, logins"),
        epilog=examples(
            "evidock access-log",
            "evidock access-log --person zhang.wei --csv > access.csv",
            "evidock access-log --item 12",
        ),
    )
    s.add_argument("--person", help=_("a username (or an actor such as user:root)"))
    s.add_argument("--item", type=int, help=_("an item id"))
    s.add_argument("--case", help=_("a case number"))
    s.add_argument("--since", metavar="TIME")
    s.add_argument("--until", metavar="TIME")
    s.add_argument("--limit", type=int, default=100)
    s.add_argument("--offset", type=int, default=0)
    s.add_argument("--csv", action="store_true", help=_("CSV on stdout"))
    s.set_defaults(func=cmd_access_log)


def _role(text: str) -> Role:
    try:
        return Role(text.strip().lower())
    except ValueError:
        raise UsageError(
            _("{text!r} is not a role").format(text=text),
            hint=_("Roles: {roles}.").format(roles=ROLES),
        ) from None


def _person(txn: Transaction, username: str) -> Person:
    p = rows.person_by_username(txn, username)
    if p is None:
        raise UsageError(
            _("no person {username!r}").format(username=username),
            hint=_("List: evidock person list"),
        )
    return p


def _may(person: Person | None, action: Action, what: str) -> None:
    """A known person needs a role that allows ``action``; a host account is let through."""
    if person is None:
        return
    d = decide(frozenset() if person.disabled else person.roles, action, Level.NONE, Relation.NONE)
    if not d.allowed:
        raise refused(d, what)


def _password(stdin: bool) -> str:
    if stdin:
        text = sys.stdin.readline().rstrip("\r\n")
    elif sys.stdin.isatty():
        text = getpass.getpass(_("password: "))
        if getpass.getpass(_("again: ")) != text:
            raise UsageError(_("the two passwords differ"))
    else:
        raise UsageError(_("no password given"), hint=_("Pipe it in with --password-stdin."))
    if len(text) < 8:
        raise UsageError(
            _("a password needs at least 8 characters"), hint=_("Choose a longer one.")
        )
    return text


def _managing(settings: Settings) -> tuple[Context, str]:
    ctx = open_dock(settings)
    try:
        actor, me = acting(ctx)
        _may(me, Action.MANAGE_PEOPLE, _("managing people"))
    except BaseException:
        ctx.close()
        raise
    return ctx, actor


def cmd_person_add(args: argparse.Namespace, out: Output, settings: Settings) -> int:
    roles = [_role(r) for r in args.role]
    password = _password(True) if args.password_stdin else None
    ctx, actor = _managing(settings)
    try:
        with ctx.catalog.write() as txn:
            p = people.add(txn, ctx, username=args.username, name=args.name, badge=args.badge,
                           unit=args.unit, os_user=args.os_user, password=password,
                           actor=actor)  # fmt: skip
            for role in dict.fromkeys(roles):
                people.grant(txn, ctx, p, role, actor=actor)
                p = _person(txn, p.username)
    finally:
        ctx.close()
    out.document(person_json(p))
    out.line(
        _("added {username} ({name}); roles: {roles}").format(
            username=p.username, name=p.name, roles=_roles_text(p)
        )
    )
    return EXIT_OK


def cmd_person_list(args: argparse.Namespace, out: Output, settings: Settings) -> int:
    ctx = open_dock(settings)
    try:
        with ctx.catalog.read() as txn:
            everyone = rows.list_people(txn)
    finally:
        ctx.close()
    out.document([person_json(p) for p in everyone])
    out.table(
        [_("USERNAME"), _("NAME"), _("BADGE"), _("UNIT"), _("OS USER"), _("ROLES"), _("STATE")],
        [
            [p.username, p.name, p.badge or "-", p.unit or "-", p.os_user or "-",
             _roles_text(p), _("disabled") if p.disabled else _("active")]
            for p in everyone
        ],
    )  # fmt: skip
    return EXIT_OK


def cmd_person_role(args: argparse.Namespace, out: Output, settings: Settings) -> int:
    role = _role(args.role)
    ctx, actor = _managing(settings)
    try:
        with ctx.catalog.write() as txn:
            p = _person(txn, args.username)
            change = people.grant if args.grant else people.revoke
            change(txn, ctx, p, role, actor=actor)
            p = _person(txn, args.username)
    finally:
        ctx.close()
    out.document(person_json(p))
    done = (
        _("granted {role} to {username}; roles now: {roles}")
        if args.grant
        else _("revoked {role} from {username}; roles now: {roles}")
    )
    out.line(done.format(role=role.value, username=p.username, roles=_roles_text(p)))
    return EXIT_OK


def cmd_person_disable(args: argparse.Namespace, out: Output, settings: Settings) -> int:
    ctx, actor = _managing(settings)
    try:
        with ctx.catalog.write() as txn:
            people.disable(txn, ctx, _person(txn, args.username), actor=actor)
            p = _person(txn, args.username)
    finally:
        ctx.close()
    out.document(person_json(p))
    out.line(_("disabled {username}").format(username=p.username))
    return EXIT_OK


def cmd_person_passwd(args: argparse.Namespace, out: Output, settings: Settings) -> int:
    password = _password(args.password_stdin)
    ctx = _managing(settings)[0]
    try:
        with ctx.catalog.write() as txn:
            p = _person(txn, args.username)
            rows.set_password_hash(txn, p.id, hash_password(password))
    finally:
        ctx.close()
    out.document({"person": p.username, "password": "set"})
    out.line(_("password set for {username}").format(username=p.username))
    return EXIT_OK


def cmd_access_log(args: argparse.Namespace, out: Output, settings: Settings) -> int:
    since = parse_time(args.since, settings) if args.since else None
    until = parse_time(args.until, settings) if args.until else None
    if args.csv and out.json_mode:
        raise UsageError(
            _("--csv and --json exclude each other"), hint=_("Choose one output format.")
        )
    if not 0 < args.limit <= rows.MAX_PAGE or args.offset < 0:
        raise UsageError(
            _("--limit takes 1 to {max}, --offset 0 or more").format(max=rows.MAX_PAGE)
        )
    ctx = open_dock(settings)
    try:
        me = acting(ctx)[1]
        _may(me, Action.VIEW_ACCESS_LOG, _("the access log"))
        with ctx.catalog.read() as txn:
            events = rows.access_events(txn, person=args.person, item_id=args.item,
                                        case=args.case, since=since, until=until,
                                        limit=args.limit, offset=args.offset)  # fmt: skip
    finally:
        ctx.close()
    docs = [access_json(e) for e in events]
    out.document(docs)
    if args.csv:
        w = csv.writer(out.stream, lineterminator="\n")
        w.writerow(["seq", "time", "type", "actor", "item", "case", "action", "detail"])
        for e, d in zip(events, docs, strict=True):
            w.writerow([e.seq, e.time, e.type, e.actor, e.item or "", d.get("case") or "",
                        d.get("action") or "", e.data])  # fmt: skip
        return EXIT_OK
    out.table(
        [_("SEQ"), _("WHEN"), _("TYPE"), _("WHO"), _("ITEM"), _("CASE"), _("WHAT")],
        [
            [e.seq, out.when(parse_event_time(e.time)), e.type, e.actor, e.item or "-",
             d.get("case") or "-", d.get("action") or d.get("what") or "-"]
            for e, d in zip(events, docs, strict=True)
        ],
    )  # fmt: skip
    return EXIT_OK


def _roles_text(p: Person) -> str:
    names = [_role_text(Role(r)) for r in sorted(p.roles) if r in set(Role)]
    return ", ".join(names) or "-"


def _role_text(role: Role) -> str:
    shown = _(ROLE_LABELS[role])
    return role.value if shown == role.value else f"{shown} {role.value}"


def person_json(p: Person) -> dict[str, Any]:
    return {
        "id": p.id,
        "username": p.username,
        "name": p.name,
        "badge": p.badge,
        "unit": p.unit,
        "os_user": p.os_user,
        "roles": sorted(p.roles),
        "disabled": p.disabled,
        "actor": p.actor,
    }


def access_json(e: Event) -> dict[str, Any]:
    data = json.loads(e.data)
    return {
        "seq": e.seq,
        "time": e.time,
        "type": e.type,
        "actor": e.actor,
        "item": e.item,
        **{k: v for k, v in data.items() if k not in ("seq", "time", "type", "actor", "item")},
    }
