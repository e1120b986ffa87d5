"""A small office: officer J1's two recordings, a case handled by J2, and people with roles."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest

from ingest.access import people
from ingest.access.roles import Role
from ingest.cases.lifecycle import log_case
from ingest.context import Context
from storage.catalog import people as rows
from storage.catalog.caserecords import NewCase
from storage.catalog.cases import CaseOps
from storage.records import Person
from tests.cases.conftest import Clip, cli, clips, dock, lay_out, register

__all__ = ["cli", "clips"]

CASE = "凤里执罚〔2026〕9号"


@dataclass(frozen=True)
class Office:
    items: tuple[int, int]  # recorded by J1's camera
    case: str  # handled by J2, nothing linked yet

    def person(self, ctx: Context, username: str) -> Person:
        with ctx.catalog.read() as txn:
            p = rows.person_by_username(txn, username)
        assert p is not None
        return p


def open_case(ctx: Context, number: str, *, handler: str, level: str = "none") -> None:
    with ctx.catalog.write() as txn:
        case = CaseOps(txn).add_case(
            NewCase(number=number, title="", enforcement_type="penalty", procedure="simple",
                    handler=handler, reviewer=None, approver=None, confidentiality=level,
                    opened_at=ctx.clock() - timedelta(hours=1), opened_by="user:test")
        )  # fmt: skip
        log_case(txn, ctx, case, "case_opened")


PEOPLE = {
    "officer1": ("J1", Role.OFFICER),
    "handler": ("J2", Role.OFFICER),
    "keeper": (None, Role.CUSTODIAN),
    "checker": (None, Role.AUDITOR),
    "root.admin": (None, Role.ADMIN),
    "boss": (None, Role.SUPERVISOR),
}


@pytest.fixture
def office(ctx: Context, clips: dict[str, Clip], tmp_path: Path) -> Office:
    register(ctx, badge="J1", serial="BWC-1")
    register(ctx, badge="J2")
    cam = lay_out(tmp_path / "cam", ("REC_1.MP4", clips["fresh"]), ("REC_2.MP4", clips["old"]))
    report, _ = dock(ctx, cam, "BWC-1")
    ids = sorted(f.item for f in report.files if f.item is not None)
    open_case(ctx, CASE, handler="J2")
    with ctx.catalog.write() as txn:
        for username, (badge, role) in PEOPLE.items():
            p = people.add(txn, ctx, username=username, name=username, badge=badge, unit="",
                           os_user=username, password=None, actor="user:root")  # fmt: skip
            people.grant(txn, ctx, p, role, actor="user:root")
    a, b = ids
    return Office(items=(a, b), case=CASE)
