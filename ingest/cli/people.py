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

from ingest.access import people
from ingest.access.passwords import hash_password
from ingest.access.roles import ROLE_NAMES, Action, Level, Relation, Role, decide
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


def add_parsers(sub: Any) -> None:
    person = sub.add_parser(
        "person",
        help="people who use evidock and their roles (custodian, reviewer, ...)",
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
        help="add a person (a custody event)",
        epilog=examples(
            "evidock person add zhang.wei --name 张伟 --badge J1 --unit 一中队 --role officer",
            "evidock person add li.na --name 李娜 --os-user lina --role custodian --password-stdin",
        ),
    )
    s.add_argument("username", help="login name, e.g. zhang.wei")
    s.add_argument("--name", required=True, help="full name, e.g. 张伟")
    s.add_argument("--badge", help="officer badge (a registered officer)")
    s.add_argument("--unit", default="", help="unit, e.g. 一中队")
    s.add_argument("--os-user", help="the OS account the CLI maps to this person")
    s.add_argument("--role", action="append", default=[], help=f"a role to grant: {ROLES}")
    s.add_argument(
        "--password-stdin", action="store_true", help="read a password from the first line of stdin"
    )
    s.set_defaults(func=cmd_person_add)

    s = acts.add_parser(
        "list",
        help="people, their roles and OS accounts",
        epilog=examples("evidock person list", "evidock person list --json"),
    )
    s.set_defaults(func=cmd_person_list)

    for name, what in (("grant", "give a role"), ("revoke", "take a role away")):
        s = acts.add_parser(
            name,
            help=f"{what} (a custody event)",
            epilog=examples(f"evidock person {name} zhang.wei reviewer"),
        )
        s.add_argument("username")
        s.add_argument("role", help=ROLES)
        s.set_defaults(func=cmd_person_role, grant=name == "grant")

    s = acts.add_parser(
        "disable",
        help="disable a person (a custody event); roles stay on record",
        epilog=examples("evidock person disable zhang.wei"),
    )
    s.add_argument("username")
    s.set_defaults(func=cmd_person_disable)

    s = acts.add_parser(
        "passwd",
        help="set a person's password (for the console)",
        epilog=examples(
            "evidock person passwd li.na", "evidock person passwd li.na --password-stdin"
        ),
    )
    s.add_argument("username")
    s.add_argument("--password-stdin", action="store_true", help="read it from stdin")
    s.set_defaults(func=cmd_person_passwd)

    s = sub.add_parser(
        "access-log",
        help="who saw what and when: views, plays, downloads, refusals, logins",
        epilog=examples(
            "evidock access-log",
            "evidock access-log --person zhang.wei --csv > access.csv",
            "evidock access-log --item 12",
        ),
    )
    s.add_argument("--person", help="a username (or an actor such as user:root)")
    s.add_argument("--item", type=int, help="an item id")
    s.add_argument("--case", help="a case number")
    s.add_argument("--since", metavar="TIME")
    s.add_argument("--until", metavar="TIME")
    s.add_argument("--limit", type=int, default=100)
    s.add_argument("--offset", type=int, default=0)
    s.add_argument("--csv", action="store_true", help="CSV on stdout")
    s.set_defaults(func=cmd_access_log)


def _role(text: str) -> Role:
    try:
        return Role(text.strip().lower())
    except ValueError:
        raise UsageError(f"{text!r} is not a role 不是角色", hint=f"Roles: {ROLES}.") from None


def _person(txn: Transaction, username: str) -> Person:
    p = rows.person_by_username(txn, username)
    if p is None:
        raise UsageError(f"no person {username!r} 无此人员", hint="List: evidock person list")
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
        text = getpass.getpass("密码 password: ")
        if getpass.getpass("再输一次 again: ") != text:
            raise UsageError("the two passwords differ 两次密码不一致")
    else:
        raise UsageError("no password given", hint="Pipe it in with --password-stdin.")
    if len(text) < 8:
        raise UsageError(
            "a password needs at least 8 characters 密码至少 8 个字符", hint="Choose a longer one."
        )
    return text


def _managing(settings: Settings) -> tuple[Context, str]:
    ctx = open_dock(settings)
    try:
        actor, me = acting(ctx)
        _may(me, Action.MANAGE_PEOPLE, "managing people 管理人员")
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
    out.line(f"已添加 added {p.username} ({p.name}); roles: {_roles_text(p)}")
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
        ["USERNAME", "NAME", "BADGE", "UNIT", "OS USER", "ROLES", "STATE"],
        [
            [p.username, p.name, p.badge or "-", p.unit or "-", p.os_user or "-",
             _roles_text(p), "停用 disabled" if p.disabled else "active"]
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
    done = "已授予 granted" if args.grant else "已撤销 revoked"
    out.line(f"{done} {role.value} {p.username}; roles now: {_roles_text(p)}")
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
    out.line(f"已停用 disabled {p.username}")
    return EXIT_OK


def cmd_person_passwd(args: argparse.Namespace, out: Output, settings: Settings) -> int:
    password = _password(args.password_stdin)
    ctx, _ = _managing(settings)
    try:
        with ctx.catalog.write() as txn:
            p = _person(txn, args.username)
            rows.set_password_hash(txn, p.id, hash_password(password))
    finally:
        ctx.close()
    out.document({"person": p.username, "password": "set"})
    out.line(f"已设置密码 password set for {p.username}")
    return EXIT_OK


def cmd_access_log(args: argparse.Namespace, out: Output, settings: Settings) -> int:
    since = parse_time(args.since, settings) if args.since else None
    until = parse_time(args.until, settings) if args.until else None
    if args.csv and out.json_mode:
        raise UsageError("--csv and --json exclude each other", hint="Choose one output format.")
    if not 0 < args.limit <= rows.MAX_PAGE or args.offset < 0:
        raise UsageError(f"--limit takes 1 to {rows.MAX_PAGE}, --offset 0 or more")
    ctx = open_dock(settings)
    try:
        _, me = acting(ctx)
        _may(me, Action.VIEW_ACCESS_LOG, "the access log 访问日志")
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
        ["SEQ", "WHEN", "TYPE", "WHO", "ITEM", "CASE", "WHAT"],
        [
            [e.seq, out.when(parse_event_time(e.time)), e.type, e.actor, e.item or "-",
             d.get("case") or "-", d.get("action") or d.get("what") or "-"]
            for e, d in zip(events, docs, strict=True)
        ],
    )  # fmt: skip
    return EXIT_OK


def _roles_text(p: Person) -> str:
    names = [f"{ROLE_NAMES[Role(r)][0]} {r}" for r in sorted(p.roles) if r in set(Role)]
    return ", ".join(names) or "-"


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
