"""A small office for the console tests: two officers with a camera each, a clip of each
ingested and transcoded with the real tools, a restricted case and an open one, and people
with roles and passwords. Built once per module (ffmpeg is the slow part)."""

from __future__ import annotations

import dataclasses
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest

from ingest.access import people as access
from ingest.access.roles import Role
from ingest.cases.lifecycle import log_case
from ingest.cases.links import link_items
from ingest.context import Context, open_context
from ingest.jobs.worker import WorkerPool
from ingest.pipeline.run import ingest_device
from storage.catalog.caserecords import NewCase
from storage.catalog.cases import CaseOps
from tests.conftest import CLIP1, CLIP2, make_settings

RESTRICTED_CASE = "2026-0001"
OPEN_CASE = "2026-0002"
PASSWORD = {
    "li.na": "li-na-pass-2026",  # officer J1
    "zhang.wei": "zhang-wei-pass-2026",  # officer J2, handler of the restricted case
    "wang.fang": "wang-fang-pass-2026",  # custodian
    "zhao.min": "zhao-min-pass-2026",  # admin
    "sun.li": "sun-li-pass-2026",  # auditor
    "lock.me": "lock-me-pass-2026",  # officer, for the lockout
}
ROLES = {
    "li.na": (Role.OFFICER,),
    "zhang.wei": (Role.OFFICER,),
    "wang.fang": (Role.CUSTODIAN,),
    "zhao.min": (Role.ADMIN,),
    "sun.li": (Role.AUDITOR,),
    "lock.me": (Role.OFFICER,),
}
BADGE = {"li.na": "J1", "zhang.wei": "J2", "lock.me": "J3"}


@dataclass(frozen=True, slots=True, kw_only=True)
class World:
    ctx: Context
    restricted_item: int  # zhang.wei's clip, linked to the restricted case
    open_item: int  # li.na's clip, linked to the open case


def build_world(home: Path, media: dict[str, Path]) -> World:
    ctx = open_context(make_settings(home, f"sqlite:///{home}/catalog.db"), create=True)
    now = ctx.clock()
    with ctx.catalog.write() as txn:
        for badge, name, serial in (("J1", "李娜", "BWC-1"), ("J2", "张伟", "BWC-2"),
                                    ("J3", "锁定", "BWC-3")):  # fmt: skip
            txn.add_officer(badge=badge, name=name, unit="一中队", certificate_no="1", now=now)
            txn.add_device(serial=serial, kind="body-camera", vendor="Sim", model="1",
                           profile="", registered=True, now=now)  # fmt: skip
            txn.assign_device(serial=serial, badge=badge, start=now - timedelta(days=3))
        for username, roles in ROLES.items():
            person = access.add(txn, ctx, username=username, name=username, unit="一中队",
                                badge=BADGE.get(username), os_user=None,
                                password=PASSWORD[username], actor="user:test")  # fmt: skip
            for role in roles:
                access.grant(txn, ctx, person, role, actor="user:test")
    items = {}
    for serial, clip, name in (("BWC-1", media["clip"], CLIP1), ("BWC-2", media["clip2"], CLIP2)):
        card = home.parent / f"card-{serial}" / "DCIM"
        card.mkdir(parents=True)
        shutil.copy2(clip, card / name)
        report = ingest_device(ctx, card.parent, serial=serial, officer=None, actor="user:test")
        [stored] = [f for f in report.files if f.item is not None]
        assert stored.item is not None
        items[serial] = stored.item
    settings = dataclasses.replace(ctx.settings.worker, retry_seconds=0.0)
    WorkerPool(ctx, drain=True, settings=settings).run()
    for number, handler, level, item in (
        (RESTRICTED_CASE, "J2", "personal-privacy", items["BWC-2"]),
        (OPEN_CASE, "J1", "none", items["BWC-1"]),
    ):
        with ctx.catalog.write() as txn:
            case = CaseOps(txn).add_case(
                NewCase(number=number, title="占道经营", enforcement_type="penalty",
                        procedure="general", handler=handler, reviewer=None, approver=None,
                        confidentiality=level, opened_at=now - timedelta(hours=3),
                        opened_by="user:test")
            )  # fmt: skip
            log_case(txn, ctx, case, "case_opened")
        link_items(ctx, number=number, item_ids=[item], stage="investigation",
                   activity_id=None, why="on the clip", actor="user:test")  # fmt: skip
    ctx.checkpoint()
    return World(ctx=ctx, restricted_item=items["BWC-2"], open_item=items["BWC-1"])


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, media: dict[str, Path]) -> Iterator[World]:
    w = build_world(tmp_path_factory.mktemp("office") / "home", media)
    yield w
    w.ctx.close()
