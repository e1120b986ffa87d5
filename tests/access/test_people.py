"""People and roles in the catalog, each change a custody event naming its actor."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from ingest.access import people
from ingest.access.passwords import verify_password
from ingest.access.roles import Role
from ingest.context import Context
from ingest.errors import UsageError
from storage.catalog import people as rows
from storage.errors import AlreadyExists
from tests.conftest import make_settings


def _add(ctx: Context, username: str = "zhang.wei", **kw: object) -> None:
    args: dict[str, object] = dict(
        username=username, name="张伟", badge=None, unit="一中队", os_user=None, password=None,
        actor="user:root",
    )  # fmt: skip
    args.update(kw)
    with ctx.catalog.write() as txn:
        people.add(txn, ctx, **args)  # type: ignore[arg-type]


def test_person_added_granted_revoked_disabled_are_events(ctx: Context) -> None:
    """Adding a person and changing their roles changes the rows and appends one event each,
    naming the actor and the person; the password is not in the log."""
    _add(ctx, os_user="zw", password="s3cret")
    with ctx.catalog.write() as txn:
        p = rows.person_by_username(txn, "zhang.wei")
        assert p is not None and p.actor == "person:zhang.wei" and p.os_user == "zw"
        people.grant(txn, ctx, p, Role.CUSTODIAN, actor="person:boss")
        people.grant(txn, ctx, p, Role.AUDITOR, actor="person:boss")
    with ctx.catalog.write() as txn:
        p = rows.person_by_username(txn, "zhang.wei")
        assert p is not None and p.roles == {"custodian", "auditor"}
        people.revoke(txn, ctx, p, Role.AUDITOR, actor="person:boss")
        people.disable(txn, ctx, p, actor="person:boss")
    with ctx.catalog.read() as txn:
        p = rows.person_by_os_user(txn, "zw")
        assert p is not None and p.roles == {"custodian"} and p.disabled
        stored = rows.password_hash(txn, p.id)
        assert stored is not None and verify_password("s3cret", stored)
        events = [e for e in txn.log.events() if e.type.startswith(("person", "role"))]
    assert [(e.type, e.actor) for e in events] == [
        ("person_added", "user:root"),
        ("role_granted", "person:boss"),
        ("role_granted", "person:boss"),
        ("role_revoked", "person:boss"),
        ("person_disabled", "person:boss"),
    ]
    assert all(json.loads(e.data)["person"] == "zhang.wei" for e in events)
    assert "s3cret" not in events[0].data and stored not in events[0].data


def test_duplicate_username_and_os_user_are_refused(ctx: Context) -> None:
    """One username, one OS account: a second person with either is refused."""
    _add(ctx, os_user="zw")
    with pytest.raises(AlreadyExists):
        _add(ctx)
    with pytest.raises(AlreadyExists):
        _add(ctx, "li.na", os_user="zw")


def test_granting_a_held_role_or_revoking_one_not_held_is_refused(ctx: Context) -> None:
    """No event for a change that is none."""
    _add(ctx)
    with ctx.catalog.write() as txn:
        p = rows.person_by_username(txn, "zhang.wei")
        assert p is not None
        with pytest.raises(UsageError):
            people.revoke(txn, ctx, p, Role.ADMIN, actor="user:root")
        people.grant(txn, ctx, p, Role.ADMIN, actor="user:root")
        p = rows.person_by_username(txn, "zhang.wei")
        assert p is not None
        with pytest.raises(UsageError):
            people.grant(txn, ctx, p, Role.ADMIN, actor="user:root")


def test_badge_must_name_a_registered_officer(ctx: Context) -> None:
    """An officer's person links to the officer row of that badge."""
    from storage.errors import NotFound

    with pytest.raises(NotFound):
        _add(ctx, badge="J404")


def test_cli_actor_maps_sudo_user_to_a_person(ctx: Context, tmp_path: Path) -> None:
    """SUDO_USER (read by the config) is the invoking user; mapped to a person it is
    person:<username>, unmapped it stays user:<name>."""
    _add(ctx, os_user="zw")
    base = make_settings(tmp_path / "home", ctx.settings.catalog_url)
    mapped = replace(base, sudo_user="zw")
    stranger = replace(base, sudo_user="nobody-here")
    with ctx.catalog.read() as txn:
        actor, person = people.cli_actor(txn, mapped)
        assert actor == "person:zhang.wei" and person is not None
        assert people.cli_actor(txn, stranger) == ("user:nobody-here", None)
