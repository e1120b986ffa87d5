"""A catalog with everything the monitoring reports on, and the personal data it must not leak:
two named officers with their cameras (one not docked for three days), a closed case past its
archive deadline, an open case, an item waiting 21 hours for storage; and a camera to dock
whose file names carry an officer's name and badge, with one clip recorded 30 h ago (late)
and one 1 h ago."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from ingest.cases.lifecycle import log_assignment, log_case, log_device, log_officer
from ingest.context import Context
from storage.catalog.caserecords import NewCase
from storage.catalog.cases import CaseOps
from storage.records import MediaFacts, NewItem
from tests.cases.conftest import Clip, lay_out
from verify.log.events import EventType

DOCKED = "BWC-0042"  # docked in the tests
UNDOCKED = "BWC-0099"  # in service, never docked for three days
SPOOLED = "REC-SPOOL-7"  # the device of the item waiting for storage (not in service)
PENDING_FOR = timedelta(hours=21)
UNDOCKED_FOR = timedelta(days=3)


@dataclass(frozen=True, slots=True, kw_only=True)
class Scenario:
    personal: tuple[str, ...]  # strings that must never appear in a metric
    serials: tuple[str, ...]


def populate(ctx: Context) -> Scenario:
    now = ctx.clock()
    officers = (("J0042", "王伟", "Wang Wei"), ("J0077", "李娜", "Li Na"))
    with ctx.catalog.write() as txn:
        for badge, name, latin in officers:
            officer = txn.add_officer(
                badge=badge,
                name=f"{name} ({latin})",
                unit="凤里街道综合执法队",
                certificate_no=f"CERT-{badge}",
                now=now - timedelta(days=30),
            )
            log_officer(txn, ctx, officer, actor="user:test")  # as the commands record it
        for serial, badge, since in (
            (DOCKED, "J0042", timedelta(days=10)),
            (UNDOCKED, "J0077", UNDOCKED_FOR),
        ):
            device = txn.add_device(
                serial=serial, kind="body-camera", vendor="", model="", profile="",
                registered=True, now=now - since,
            )  # fmt: skip
            log_device(txn, ctx, device, actor="user:test")
            txn.assign_device(serial=serial, badge=badge, start=now - since)
            log_assignment(txn, ctx, serial=serial, badge=badge, start=now - since,
                           actor="user:test")  # fmt: skip
        cases = CaseOps(txn)
        for number, opened in (("凤里执罚〔2026〕12号", 60), ("凤里执罚〔2026〕13号", 5)):
            opened_case = cases.add_case(
                NewCase(
                    number=number, title="占道经营", enforcement_type="penalty",
                    procedure="general", handler="J0042", reviewer="J0077", approver=None,
                    confidentiality="personal-privacy", opened_at=now - timedelta(days=opened),
                    opened_by="user:王伟",
                )
            )  # fmt: skip
            log_case(txn, ctx, opened_case, "case_opened")
        closed = now - timedelta(days=40)
        closed_case = cases.close_case(
            "凤里执罚〔2026〕12号", at=closed, due=closed + timedelta(days=30), by="user:李娜"
        )
        log_case(txn, ctx, closed_case, "case_closed")
        spool = txn.add_device(
            serial=SPOOLED, kind="audio-recorder", vendor="", model="", profile="",
            registered=False, now=now - PENDING_FOR,
        )  # fmt: skip
        session = txn.open_session(
            dock_id=ctx.dock.id, device_id=spool.id, source="/媒体/王伟", now=now - PENDING_FOR
        )
        item = txn.insert_item(
            NewItem(
                sha256="ab" * 32, size=1234, device_id=spool.id, officer_id=None,
                session_id=session, original_path="王伟/J0042/录音.WAV".encode(),
                original_path_display="王伟/J0042/录音.WAV", source_mtime_ns=0,
                acquired_at=now - PENDING_FOR, facts=MediaFacts(),
            ),
            state="pending",
            durable_at=None,
        )  # fmt: skip
        ctx.custody.append(
            txn, type=EventType.ACQUIRED, actor="dock:test", item=item.id,
            data={"sha256": item.sha256, "size": item.size, "device": SPOOLED},
        )  # fmt: skip
        txn.close_session(session, outcome="complete", now=now - PENDING_FOR)
    personal = (
        *(x for o in officers for x in o),
        "凤里执罚",
        "〔2026〕",
        "凤里街道",
        "CERT-J",
        "占道经营",
        "录音",
        "DCIM",
        "REC_J0042",
    )
    return Scenario(personal=personal, serials=(DOCKED, UNDOCKED))


def camera(root: Path, clips: dict[str, Clip]) -> Path:
    """The docked camera: a late clip and a timely one, named with the officer's name and
    badge as some recorders do."""
    cam = lay_out(root, ("REC_J0042_王伟_old.MP4", clips["old"]))
    lay_out(cam, ("REC_J0042_王伟_fresh.MP4", clips["fresh"]))
    return cam


def place(cam: Path, watch: Path) -> Path:
    """Drop the camera into a watch folder as the folder that plays the device."""
    dest = watch / DOCKED
    shutil.move(str(cam), dest)
    return dest
