"""``evidock person ...``, ``access-log``, ``case confidentiality`` and the CLI's actor."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable

import pytest
from sqlalchemy import text

from ingest.cli.audit import verify_run
from ingest.cli.main import main
from ingest.config import Settings
from ingest.context import Context
from storage.catalog import people as rows
from tests.access.conftest import Office

Cli = Callable[..., tuple[int, str, str]]


@pytest.fixture
def evidock(
    monkeypatch: pytest.MonkeyPatch, settings: Settings, capsys: pytest.CaptureFixture[str]
) -> Cli:
    """``evidock ARGS...`` run by ``as_user`` (SUDO_USER), optionally with ``stdin``:
    (exit code, stdout, stderr)."""
    monkeypatch.setenv("EVIDOCK_HOME", str(settings.data_dir))
    monkeypatch.setenv("EVIDOCK_CATALOG_URL", settings.catalog_url)
    monkeypatch.setenv("EVIDOCK_DOCK_NAME", settings.dock.name)
    monkeypatch.delenv("EVIDOCK_CONFIG", raising=False)

    def run(*argv: str, as_user: str = "operator", stdin: str = "") -> tuple[int, str, str]:
        monkeypatch.setenv("SUDO_USER", as_user)
        monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
        capsys.readouterr()
        rc = main(list(argv))
        out = capsys.readouterr()
        return rc, out.out, out.err

    return run


def _events(ctx: Context, *types: str) -> list[tuple[str, str, dict[str, object]]]:
    with ctx.catalog.read() as txn:
        return [(e.type, e.actor, json.loads(e.data)) for e in txn.log.events() if e.type in types]


def test_unmapped_operator_adds_people_and_is_told_once(ctx: Context, evidock: Cli) -> None:
    """An OS user that maps to no person acts as user:<name>, is told so once (in the reader's
    language), and the events name that actor; the password comes from stdin, never the log."""
    rc, out, err = evidock("person", "add", "li.na", "--name", "李娜", "--os-user", "lina",
                           "--role", "custodian", "--role", "auditor", "--password-stdin",
                           "--json", stdin="correct horse\n")  # fmt: skip
    assert rc == 0, err
    assert json.loads(out)["roles"] == ["auditor", "custodian"]
    assert err.count("operator") >= 1 and err.count("\n") == 1
    assert "maps to no person" in err and "未对应任何人员" not in err
    assert [(t, a) for t, a, _ in _events(ctx, "person_added", "role_granted")] == [
        ("person_added", "user:operator"),
        ("role_granted", "user:operator"),
        ("role_granted", "user:operator"),
    ]
    with ctx.catalog.read() as txn:
        p = rows.person_by_username(txn, "li.na")
        assert p is not None and rows.password_hash(txn, p.id) is not None
    assert "correct horse" not in json.dumps(_events(ctx, "person_added"))
    rc, _, err = evidock("--lang", "zh", "person", "add", "wang.wu", "--name", "王五")
    assert rc == 0 and "系统用户 operator 未对应任何人员" in err and "maps to" not in err


def test_mapped_admin_acts_as_person_and_others_are_refused(ctx: Context, evidock: Cli) -> None:
    """Mapped to an admin, the CLI records person:<username> and prints no notice; a mapped
    custodian may not manage people (exit 2, refusal with who to ask)."""
    assert evidock("person", "add", "chief", "--name", "王强", "--os-user", "wq",
                   "--role", "admin")[0] == 0  # fmt: skip
    rc, _, err = evidock("person", "add", "li.na", "--name", "李娜", "--os-user", "lina",
                         as_user="wq")  # fmt: skip
    assert (rc, err) == (0, "")
    assert evidock("person", "grant", "li.na", "custodian", as_user="wq")[0] == 0
    rc, _, err = evidock("person", "revoke", "chief", "admin", as_user="lina")
    assert rc == 2 and "access-refused" in err and "the system administrator" in err
    rc, _, err = evidock("--lang", "zh", "person", "revoke", "chief", "admin", as_user="lina")
    assert rc == 2 and "access-refused" in err
    assert (
        "管理人员和角色仅限系统管理员" in err
        and "系统管理员" in err
        and "administrators" not in err
    )
    assert evidock("person", "disable", "li.na", as_user="wq")[0] == 0
    assert [(t, a) for t, a, _ in _events(ctx, "role_granted", "person_disabled")][-2:] == [
        ("role_granted", "person:chief"),
        ("person_disabled", "person:chief"),
    ]
    rc, out, _ = evidock("person", "list", "--json")
    listed = {p["username"]: p for p in json.loads(out)}
    assert listed["li.na"]["disabled"] and listed["li.na"]["roles"] == ["custodian"]


def test_totp_enrolment_is_an_event_and_verify_compares_it(ctx: Context, evidock: Cli) -> None:
    """``evidock console --totp-enrol`` changes a second factor: ``second_factor_changed``
    names who ran it (enrolled, then replaced), never the secret; verify stays clean, and a
    secret removed behind the log's back is a person-mismatch."""
    assert evidock("person", "add", "chief", "--name", "王强", "--os-user", "wq",
                   "--role", "admin")[0] == 0  # fmt: skip
    assert evidock("person", "add", "li.na", "--name", "李娜")[0] == 0
    for _ in range(2):
        rc, out, err = evidock("console", "--totp-enrol", "li.na", as_user="wq")
        assert (rc, err) == (0, ""), err
    secret = out.split("secret=")[1].split("&")[0]
    assert _events(ctx, "second_factor_changed") == [
        ("second_factor_changed", "person:chief",
         {"person": "li.na", "factor": "totp", "change": "enrolled"}),
        ("second_factor_changed", "person:chief",
         {"person": "li.na", "factor": "totp", "change": "replaced"}),
    ]  # fmt: skip
    assert secret not in json.dumps(_events(ctx, "second_factor_changed"))
    assert _problems(ctx) == []
    rc, _, err = evidock("console", "--totp-enrol", "nobody")
    assert rc == 2 and "nobody" in err
    with ctx.catalog.engine.begin() as conn:
        conn.execute(text("DELETE FROM console_totp"))
    assert ("person-mismatch", "person li.na, field second_factor") in _problems(ctx)


def _problems(ctx: Context) -> list[tuple[str, str]]:
    report, _, _ = verify_run(ctx.settings, quick=True, item=None)
    return [(p.code, p.subject) for p in report.problems]


def test_bad_role_and_short_password_are_usage_errors(ctx: Context, evidock: Cli) -> None:
    """A role that is none and a password under 8 characters: exit 2 with a hint."""
    rc, _, err = evidock("person", "add", "x", "--name", "X", "--role", "king")
    assert rc == 2 and "not a role" in err
    rc, _, err = evidock("person", "add", "x", "--name", "X", "--password-stdin", stdin="short\n")
    assert rc == 2 and "8" in err


def test_state_secret_is_refused_and_new_levels_are_accepted(ctx: Context, evidock: Cli) -> None:
    """case open --confidentiality state-secret is refused (they do not belong here); the
    Art. 31 levels are accepted, and case confidentiality changes one with its reason."""
    ctx_badge = ("--handler", "J7", "--procedure", "simple", "--type", "penalty")
    with ctx.catalog.write() as txn:
        txn.add_officer(badge="J7", name="N", unit="", certificate_no="", now=ctx.clock())
    rc, _, err = evidock("case", "open", "凤里执罚〔2026〕1号", *ctx_badge,
                         "--confidentiality", "state-secret")  # fmt: skip
    assert rc == 2 and "state secrets do not belong in this system" in err
    rc, out, err = evidock("case", "open", "凤里执罚〔2026〕1号", *ctx_badge,
                           "--confidentiality", "个人信息", "--json")  # fmt: skip
    assert rc == 0, err
    assert json.loads(out)["confidentiality"] == "personal-information"
    rc, _, err = evidock(
        "case", "confidentiality", "凤里执罚〔2026〕1号", "国家秘密", "--reason", "x"
    )
    assert rc == 2 and "state secrets do not belong" in err
    rc, out, err = evidock("case", "confidentiality", "凤里执罚〔2026〕1号", "work-secret",
                           "--reason", "内部 internal", "--json")  # fmt: skip
    assert rc == 0, err
    [(_, actor, data)] = _events(ctx, "confidentiality_changed")
    assert actor == "user:operator"
    assert data == {"case": "凤里执罚〔2026〕1号", "from": "personal-information",
                    "to": "work-secret", "reason": "内部 internal"}  # fmt: skip


def test_custody_report_checks_access_and_records_the_view(
    ctx: Context, office: Office, evidock: Cli
) -> None:
    """A restricted item's custody report is refused to another officer (access_denied) and
    given to the custodian (viewed, naming the person); the access log shows both."""
    a, _ = office.items
    assert evidock("case", "link", office.case, str(a), "--stage", "investigation")[0] == 0
    assert evidock("case", "confidentiality", office.case, "personal-privacy",
                   "--reason", "minor")[0] == 0  # fmt: skip
    rc, _, err = evidock("custody", str(a), as_user="officer1")
    assert rc == 2 and "access-refused" in err and "the evidence custodian" in err
    rc, _, err = evidock("custody", str(a), "--json", as_user="keeper")
    assert rc == 0, err
    rc, out, err = evidock("access-log", "--item", str(a), "--json", as_user="checker")
    assert rc == 0, err
    assert [(e["type"], e["actor"]) for e in json.loads(out)] == [
        ("viewed", "person:keeper"),
        ("access_denied", "person:officer1"),
    ]
    rc, out, _ = evidock("access-log", "--person", "officer1", "--csv", as_user="keeper")
    [header, row] = list(csv.reader(io.StringIO(out)))
    assert header[:4] == ["seq", "time", "type", "actor"]
    assert row[2:4] == ["access_denied", "person:officer1"]
    rc, _, err = evidock("access-log", as_user="officer1")
    assert rc == 2 and "auditors" in err
    rc, _, err = evidock("access-log", as_user="root")
    assert rc == 0 and "maps to no person" in err


def test_case_show_of_a_restricted_case_is_checked_and_recorded(ctx: Context, evidock: Cli) -> None:
    """case show of a personal-privacy case: refused to an officer not on it (access_denied),
    shown to its handler (viewed; a second look within a minute shares that event)."""
    number = "凤里执罚〔2026〕3号"
    with ctx.catalog.write() as txn:
        for badge in ("J1", "J2"):
            txn.add_officer(badge=badge, name=badge, unit="", certificate_no="", now=ctx.clock())
    for user, badge in (("officer1", "J1"), ("handler", "J2")):
        assert evidock("person", "add", user, "--name", user, "--badge", badge, "--os-user",
                       user, "--role", "officer")[0] == 0  # fmt: skip
    assert evidock("case", "open", number, "--type", "penalty", "--procedure", "simple",
                   "--handler", "J2", "--confidentiality", "personal-privacy")[0] == 0  # fmt: skip
    rc, _, err = evidock("case", "show", number, as_user="officer1")
    assert rc == 2 and "access-refused" in err and "handler of its case" in err
    for _ in range(2):
        rc, out, err = evidock("case", "show", number, as_user="handler")
        assert rc == 0 and number in out, err
    assert [(t, a, d.get("case")) for t, a, d in _events(ctx, "viewed", "access_denied")] == [
        ("access_denied", "person:officer1", number),
        ("viewed", "person:handler", number),
    ]
