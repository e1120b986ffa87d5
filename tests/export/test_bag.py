"""Disclosure packages (issue 17): request, approve, build a BagIt bag, and check it offline
with the LoC validator, evidock verify-export, verify_bag.py under a bare python3 -I, and the
stock commands (sha256sum -c, openssl pkeyutl -verify) of its VERIFY.md."""

from __future__ import annotations

import hashlib
import inspect
import json
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path

import bagit
import pytest

from ingest.config import Settings
from ingest.context import Context, open_context
from ingest.export.build import PackageRefused
from ingest.export.requests import ExportRefused, approve_export, request_export
from ingest.export.run import build_export
from ingest.pipeline.run import ingest_device
from storage.catalog.exports import Export
from storage.records import Person
from tests.conftest import make_settings
from verify.log.events import EventType
from verify.package import verify_bag
from verify.package.verify_bag import check_bag

APPROVER = Person(id=9, username="li.approver", name="李审批", badge=None, unit="法制科",
                  roles=frozenset({"approver"}), os_user=None, disabled=False)  # fmt: skip
OFFICER = Person(id=8, username="wang.officer", name="王警官", badge="B1", unit="一队",
                 roles=frozenset({"officer"}), os_user=None, disabled=False)  # fmt: skip


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return make_settings(tmp_path / "home", f"sqlite:///{tmp_path}/catalog.db")


@pytest.fixture
def docked(settings: Settings, camera: Path) -> Iterator[Context]:
    """A dock that has ingested the test camera (two clips, a photo, a WAV)."""
    c = open_context(settings, create=True)
    ingest_device(c, camera, serial="BWC-1", officer=None, actor="user:test")
    yield c
    c.close()


def approved(ctx: Context, *, originals: bool = True, copies: bool = False) -> Export:
    with ctx.catalog.read() as txn:
        ids = [i.id for i in txn.items()]
    with ctx.catalog.write() as txn:
        e = request_export(txn, ctx, case=None, items=ids, recipient="某区人民法院",
                           purpose="诉讼", originals=originals, copies=copies,
                           actor="person:wang.officer")  # fmt: skip
        return approve_export(txn, ctx, e.id, actor=APPROVER.actor, person=APPROVER)


def run_bag_script(bag: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """The bag's own verify_bag.py, isolated (-I): no evidock, no site-packages."""
    script = bag / "verify_bag.py" if bag.is_dir() else None
    if script is None:
        with zipfile.ZipFile(bag) as z:
            script = bag.parent / "extracted-verify_bag.py"
            script.write_bytes(z.read("verify_bag.py"))
    return subprocess.run([sys.executable, "-I", str(script), str(bag), *args],
                          capture_output=True, text=True, timeout=120, cwd="/")  # fmt: skip


@pytest.fixture
def bag(docked: Context, tmp_path: Path) -> Path:
    export = approved(docked)
    out = tmp_path / "out" / "export-1"
    out.parent.mkdir()
    build_export(docked, export.id, out, actor="person:li.approver")
    return out


def test_a_built_bag_passes_the_loc_validator_verify_export_and_its_own_script(
    bag: Path, docked: Context
) -> None:
    """bagit-python validates it; the checker and the isolated script find no problem."""
    bagit.Bag(str(bag)).validate()
    found, counts = check_bag(bag, docked.key.verifier)
    assert found == []
    assert counts["files"] == 4 and counts["events"] >= 12
    run = run_bag_script(bag, "--key", docked.key.verifier)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "OK" in run.stdout


def test_the_bag_script_is_the_checker_itself(bag: Path) -> None:
    """verify_bag.py in the bag is byte for byte the module evidock verify-export runs."""
    assert (bag / "verify_bag.py").read_bytes() == Path(inspect.getfile(verify_bag)).read_bytes()


def test_originals_are_named_by_item_and_hash_and_match_the_store(
    bag: Path, docked: Context
) -> None:
    """data/originals/<id>-<sha prefix>.<ext>, never the device's names; same bytes."""
    with docked.catalog.read() as txn:
        items = txn.items()
    names = sorted(p.name for p in (bag / "data" / "originals").iterdir())
    assert names == sorted(
        f"{i.id}-{i.sha256[:16]}.{i.original_path_display.rsplit('.', 1)[1].lower()}" for i in items
    )
    for i in items:
        (f,) = (bag / "data" / "originals").glob(f"{i.id}-*")
        assert hashlib.sha256(f.read_bytes()).hexdigest() == i.sha256


def test_stock_tools_check_the_bag_as_verify_md_says(bag: Path, docked: Context) -> None:
    """sha256sum -c on both manifests and the openssl command of VERIFY.md, verbatim."""
    readme = (bag / "VERIFY.md").read_text(encoding="utf-8")
    openssl = next(line for line in readme.splitlines() if line.startswith("openssl pkeyutl"))
    for cmd in ("sha256sum -c manifest-sha256.txt", "sha256sum -c tagmanifest-sha256.txt",
                openssl):  # fmt: skip
        run = subprocess.run(cmd, shell=True, cwd=bag, capture_output=True, text=True, timeout=60)
        assert run.returncode == 0, cmd + run.stdout + run.stderr
    assert "Signature Verified Successfully" in run.stdout
    (bag / "custody" / "checkpoint.body").write_bytes(b"evidock/custody-log\n1\nAAAA\n")
    run = subprocess.run(openssl, shell=True, cwd=bag, capture_output=True, text=True, timeout=60)
    assert run.returncode != 0


def test_package_sha256_of_a_folder_is_its_tagmanifest_and_exported_names_it(
    bag: Path, docked: Context
) -> None:
    """Each item gets an 'exported' event naming the package's own sha256."""
    sha = hashlib.sha256((bag / "tagmanifest-sha256.txt").read_bytes()).hexdigest()
    with docked.catalog.read() as txn:
        exported = txn.log.events_of_type(EventType.EXPORTED.value)
        n = len(txn.items())
    assert len(exported) == n
    assert {json.loads(e.data)["package_sha256"] for e in exported} == {sha}


def _codes(bag: Path, key: str) -> set[str]:
    found, _ = check_bag(bag, key)
    script = run_bag_script(bag, "--key", key)
    assert script.returncode == (1 if found else 0)
    script_codes = {line.split("]")[0][1:] for line in script.stdout.splitlines()
                    if line.startswith("[")}  # fmt: skip
    assert script_codes == {f.code for f in found}  # the script and evidock agree
    return script_codes


def test_a_flipped_payload_byte_is_named(bag: Path, docked: Context) -> None:
    """payload-mismatch names the file."""
    f = next((bag / "data" / "originals").iterdir())
    raw = bytearray(f.read_bytes())
    raw[len(raw) // 2] ^= 0x01
    f.chmod(0o644)
    f.write_bytes(bytes(raw))
    found, _ = check_bag(bag, docked.key.verifier)
    assert [(x.code, x.subject) for x in found] == [
        ("payload-mismatch", f"data/originals/{f.name}")
    ]
    assert _codes(bag, docked.key.verifier) == {"payload-mismatch"}
    with pytest.raises(bagit.BagValidationError):
        bagit.Bag(str(bag)).validate()


def test_a_removed_event_line_is_found_even_with_the_manifest_rewritten(
    bag: Path, docked: Context
) -> None:
    """The tag manifest names events.jsonl; rewriting it too leaves originals unproven."""
    events = bag / "custody" / "events.jsonl"
    lines = events.read_text(encoding="utf-8").splitlines(keepends=True)
    kept = [x for x in lines if '\\"type\\":\\"acquired\\"' not in x or '\\"item\\":1,' not in x]
    assert len(kept) == len(lines) - 1
    events.write_text("".join(kept), encoding="utf-8")
    assert _codes(bag, docked.key.verifier) == {
        "tag-file-mismatch",
        "item-event-missing",
        "event-count-mismatch",
    }
    tm = bag / "tagmanifest-sha256.txt"
    sha = hashlib.sha256(events.read_bytes()).hexdigest()
    tm.write_text("".join(
        f"{sha}  custody/events.jsonl\n" if line.endswith(" custody/events.jsonl\n") else line
        for line in tm.read_text().splitlines(keepends=True)
    ))  # fmt: skip
    found, _ = check_bag(bag, docked.key.verifier)
    assert {(f.code, f.found) for f in found} == {
        ("item-event-missing", "no acquired"),
        ("event-count-mismatch", str(len(kept))),
    }


def test_a_replaced_checkpoint_is_refused(bag: Path, docked: Context, tmp_path: Path) -> None:
    """A checkpoint signed by another key does not verify with the office's key."""
    other = open_context(make_settings(tmp_path / "other", f"sqlite:///{tmp_path}/o.db",
                                       dock="dock-test"), create=True)  # fmt: skip
    try:
        other.checkpoint()
        with other.catalog.read() as txn:
            note = txn.log.checkpoints()[-1].note
    finally:
        other.close()
    (bag / "custody" / "checkpoint").write_text(note, encoding="utf-8")
    codes = _codes(bag, docked.key.verifier)
    assert "checkpoint-bad-signature" in codes and "tag-file-mismatch" in codes


def test_an_edited_bag_info_is_named(bag: Path, docked: Context) -> None:
    """bag-info.txt is covered by the tag manifest."""
    info = bag / "bag-info.txt"
    info.write_text(info.read_text(encoding="utf-8").replace("某区人民法院", "别人"), "utf-8")
    found, _ = check_bag(bag, docked.key.verifier)
    assert [(f.code, f.subject) for f in found] == [("tag-file-mismatch", "bag-info.txt")]
    assert _codes(bag, docked.key.verifier) == {"tag-file-mismatch"}


def test_a_zip_package_is_streamed_zip64_and_checks_the_same(
    docked: Context, tmp_path: Path
) -> None:
    """The zip's own sha256 is the one recorded; its members carry zip64 records."""
    export = approved(docked)
    out = tmp_path / "export.zip"
    _, built = build_export(docked, export.id, out, actor="person:li.approver")
    assert built.sha256 == hashlib.sha256(out.read_bytes()).hexdigest()
    assert check_bag(out, docked.key.verifier)[0] == []
    assert run_bag_script(out, "--key", docked.key.verifier).returncode == 0
    with zipfile.ZipFile(out) as z:
        assert z.testzip() is None
        z.extractall(tmp_path / "unzipped")
    bagit.Bag(str(tmp_path / "unzipped")).validate()


def test_only_an_approver_or_custodian_approves(docked: Context) -> None:
    """An officer is refused with a message that says whom to ask; nothing is recorded."""
    with docked.catalog.write() as txn:
        e = request_export(txn, docked, case=None, items=[1], recipient="当事人 张三",
                           purpose="查阅", originals=False, copies=True,
                           actor="person:wang.officer")  # fmt: skip
    for who in (OFFICER, None):
        with pytest.raises(ExportRefused, match="approve"), docked.catalog.write() as txn:
            approve_export(txn, docked, e.id, actor="user:nobody", person=who)
    with docked.catalog.read() as txn:
        assert txn.log.events_of_type(EventType.EXPORT_APPROVED.value) == []


def test_an_unapproved_export_is_not_built(docked: Context, tmp_path: Path) -> None:
    with docked.catalog.write() as txn:
        e = request_export(txn, docked, case=None, items=[1], recipient="当事人 张三",
                           purpose="查阅", originals=True, copies=False,
                           actor="person:wang.officer")  # fmt: skip
    with pytest.raises(PackageRefused, match="not approved"):
        build_export(docked, e.id, tmp_path / "x", actor="person:x")
    assert not (tmp_path / "x").exists()


def test_an_item_whose_fixity_failed_needs_an_override_with_a_reason(
    docked: Context, tmp_path: Path
) -> None:
    """The latest fixity event failed: refused; with a reason it goes and the reason is kept."""
    with docked.catalog.write() as txn:
        docked.custody.append(txn, type=EventType.FIXITY_FAILED, actor="audit", item=1,
                              data={"sha256": "0" * 64})  # fmt: skip
    export = approved(docked)
    with pytest.raises(PackageRefused, match="fixity"):
        build_export(docked, export.id, tmp_path / "a", actor="person:x")
    assert not (tmp_path / "a").exists() and not list(tmp_path.glob(".a.partial"))
    build_export(docked, export.id, tmp_path / "b", actor="person:x", override_reason="法院要求")
    with docked.catalog.read() as txn:
        ev = txn.log.events_of_type(EventType.EXPORTED.value)[0]
    assert json.loads(ev.data)["fixity_override"] == {"items": [1], "reason": "法院要求"}


def test_view_copies_are_recorded_as_derived_from_their_originals(
    docked: Context, tmp_path: Path
) -> None:
    """Each copy has a transcoded (view-copy) event naming it and its original; the bag
    checks, and a copy swapped for other bytes is named."""
    export = approved(docked, originals=False, copies=True)
    out = tmp_path / "copies"
    build_export(docked, export.id, out, actor="person:li.approver")
    copies = sorted((out / "data" / "copies").iterdir())
    assert len(copies) == 4 and not (out / "data" / "originals").exists()
    with docked.catalog.read() as txn:
        made = [json.loads(e.data) for e in txn.log.events_of_type("transcoded")]
    views = {d["derivative_sha256"]: d["source_sha256"] for d in made if d["kind"] == "view-copy"}
    assert {hashlib.sha256(c.read_bytes()).hexdigest() for c in copies} == set(views)
    assert check_bag(out, docked.key.verifier)[0] == []
    bagit.Bag(str(out)).validate()
    shutil.copyfile(copies[1], copies[0])
    codes = {f.code for f in check_bag(out, docked.key.verifier)[0]}
    assert codes == {"payload-mismatch", "file-entry-mismatch", "copy-without-origin"} or (
        "payload-mismatch" in codes
    )


def _cli(settings: Settings, *argv: str) -> tuple[int, str]:
    """``evidock ARGS`` in this process; (exit code, stdout)."""
    import io

    from ingest.cli.main import build_parser
    from ingest.output import Output

    args = build_parser().parse_args(list(argv))
    buf = io.StringIO()
    code = args.func(args, Output(json_mode=args.json, zone=settings.zone, stream=buf), settings)
    return code, buf.getvalue()


def test_verify_export_lists_every_problem_and_exits_1(
    bag: Path, docked: Context, settings: Settings, tmp_path: Path
) -> None:
    """OK with the key given as a file; after two edits, both are listed (code, expected,
    found) and the exit code is 1."""
    key_file = tmp_path / "office.vkey"
    key_file.write_text(docked.key.verifier + "\n")
    code, text = _cli(settings, "verify-export", str(bag), "--key", str(key_file))
    assert code == 0 and "OK" in text
    info = bag / "bag-info.txt"
    info.write_text(info.read_text(encoding="utf-8") + "Extra: x\n", encoding="utf-8")
    f = next((bag / "data" / "originals").iterdir())
    f.chmod(0o644)
    f.write_bytes(f.read_bytes() + b"!")
    code, text = _cli(settings, "--json", "verify-export", str(bag), "--key", docked.key.verifier)
    doc = json.loads(text)
    assert code == 1 and doc["ok"] is False
    assert {(p["code"], p["subject"]) for p in doc["problems"]} == {
        ("tag-file-mismatch", "bag-info.txt"),
        ("payload-mismatch", f"data/originals/{f.name}"),
        ("payload-oxum", "bag-info.txt Payload-Oxum"),
    }
    code, text = _cli(settings, "verify-export", str(bag))
    assert code == 1 and "PROBLEM [payload-mismatch]" in text and "expected: sha256" in text


def test_export_request_prints_the_export_id_and_records_the_request(
    docked: Context, settings: Settings
) -> None:
    """The request is a custody event naming recipient, purpose and items."""
    code, text = _cli(settings, "export", "request", "--item", "1", "--item", "2",
                      "--for", "当事人 张三", "--purpose", "查阅")  # fmt: skip
    assert code == 0 and text.splitlines()[0] == "1"
    with docked.catalog.read() as txn:
        [ev] = txn.log.events_of_type(EventType.EXPORT_REQUESTED.value)
    data = json.loads(ev.data)
    assert data == {"export": 1, "case": None, "items": [1, 2], "recipient": "当事人 张三",
                    "purpose": "查阅", "originals": False, "copies": True}  # fmt: skip


def test_approval_through_the_cli_needs_a_person_with_the_role(
    docked: Context, tmp_path: Path, camera: Path
) -> None:
    """The OS user (SUDO_USER) maps to a person: an officer is refused (exit 2, an
    access_denied event), an approver approves, then the package is built and named."""
    from ingest.access import people
    from ingest.access.roles import Role
    from ingest.config import parse

    with docked.catalog.write() as txn:
        for user, role in (("wang", Role.OFFICER), ("li", Role.APPROVER)):
            p = people.add(txn, docked, username=user, name=user, badge=None, unit="u",
                           os_user=user, password=None, actor="user:admin")  # fmt: skip
            people.grant(txn, docked, p, role, actor="user:admin")

    def as_user(user: str) -> Settings:
        env = {"EVIDOCK_HOME": str(docked.settings.data_dir), "SUDO_USER": user,
               "EVIDOCK_CATALOG_URL": docked.settings.catalog_url,
               "EVIDOCK_DOCK_NAME": docked.settings.dock.name}  # fmt: skip
        return parse({}, env=env, source="tests")

    code, text = _cli(as_user("wang"), "export", "request", "--item", "1", "--for", "某区法院",
                      "--purpose", "诉讼")  # fmt: skip
    assert code == 0
    with pytest.raises(ExportRefused, match="approver"):
        _cli(as_user("wang"), "export", "approve", "1")
    with docked.catalog.read() as txn:
        [denied] = txn.log.events_of_type(EventType.ACCESS_DENIED.value)
    assert denied.actor == "person:wang" and json.loads(denied.data)["action"] == "approve-export"
    assert _cli(as_user("li"), "export", "approve", "1")[0] == 0
    out = tmp_path / "p.zip"
    code, text = _cli(as_user("li"), "export", "build", "1", "--out", str(out))
    sha = hashlib.sha256(out.read_bytes()).hexdigest()
    assert code == 0 and text.splitlines()[0] == str(out) and sha in text
    with docked.catalog.read() as txn:
        [approved_ev] = txn.log.events_of_type(EventType.EXPORT_APPROVED.value)
        [exported] = txn.log.events_of_type(EventType.EXPORTED.value)
    assert approved_ev.actor == "person:li" and exported.actor == "person:li"


def test_verify_rebuilds_the_export_row_from_its_events(bag: Path, docked: Context) -> None:
    """An export row edited outside evidock (another recipient) is an export-mismatch."""
    import sqlite3

    from ingest.context import LOG_ORIGIN
    from verify.audit.run import run_audit

    def audit_codes() -> set[str]:
        audit = run_audit(docked.catalog, docked.store, dock=docked.dock.name,
                          local_key=docked.key, origin=LOG_ORIGIN, quick=True)  # fmt: skip
        return {p.code for p in audit.problems}

    assert audit_codes() == set()
    db = sqlite3.connect(docked.settings.data_dir.parent / "catalog.db")
    with db:
        db.execute("UPDATE export SET recipient = '别人' WHERE id = 1")
    db.close()
    assert audit_codes() == {"export-mismatch"}


def test_a_package_is_recorded_before_it_is_published_and_a_kill_leaves_nothing_unrecorded(
    docked: Context, tmp_path: Path
) -> None:
    """The states a SIGKILL leaves on either side of the ``exported`` commit: before it, a
    staged package nobody recorded (removed by the next build, which then succeeds); after
    it, the recorded package still staged (put in place by the next attempt, which says it
    was built already)."""
    export = approved(docked)
    out = tmp_path / "export.zip"
    staged = tmp_path / ".export.zip.partial"
    staged.write_bytes(b"half a package from a killed build")
    _, built = build_export(docked, export.id, out, actor="person:li.approver")
    assert not staged.exists() and check_bag(out, docked.key.verifier)[0] == []

    out.rename(staged)  # killed after the commit, before the rename
    with pytest.raises(PackageRefused, match="built already"):
        build_export(docked, export.id, out, actor="person:li.approver")
    assert not staged.exists()
    assert hashlib.sha256(out.read_bytes()).hexdigest() == built.sha256
