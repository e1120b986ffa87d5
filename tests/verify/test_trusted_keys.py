"""Published verifier keys ([verify] trusted_keys): a catalog whose other-dock key and
checkpoints were replaced by a forger verifies without them, and is caught with them."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

from ingest.cli.audit import verify_run
from ingest.config import Settings, VerifySettings
from ingest.context import Context, open_context
from tests.conftest import make_settings
from tests.verify.tamper import Sql
from verify.checkpoints import checkpoint_file
from verify.keys import load_or_create
from verify.log.note import parse_verifier_key, sign_note


def _with_keys(settings: Settings, *keys: str) -> Settings:
    published = tuple(parse_verifier_key(k) for k in keys)
    return dataclasses.replace(settings, verify=VerifySettings(trusted_keys=published))


def test_a_forged_key_of_another_dock_is_caught_by_the_published_keys(
    ingested: Context, settings: Settings, sql: Sql, tmp_path: Path
) -> None:
    """dock-b's key swapped in the catalog and its checkpoints re-signed with the new one:
    only the office's published key of dock-b tells the forgery apart."""
    b_settings = make_settings(settings.data_dir, settings.catalog_url, dock="dock-b")
    b = open_context(b_settings)
    try:
        _, taken = b.checkpoint()
        assert taken
        published = (ingested.key.verifier, b.key.verifier)
    finally:
        b.close()
    report, _, _ = verify_run(_with_keys(settings, *published), item=None, quick=True)
    assert report.ok, report.problems

    # the forger: a new key under dock-b's key name, written into the catalog, and every
    # checkpoint of dock-b (row and file) signed again with it
    forged, _ = load_or_create(tmp_path / "forger", "dock-b")
    sql("UPDATE dock SET public_key = :pk WHERE name = 'dock-b'", pk=forged.public)
    rows = sql(
        "SELECT c.id, c.size, c.note FROM checkpoint c JOIN dock d ON d.id = c.dock_id "
        "WHERE d.name = 'dock-b'"
    )
    assert rows
    folder = settings.store_dir / "checkpoints"
    for cp_id, cp_size, note in rows:
        body = note.split("\n\n", 1)[0] + "\n"
        new = sign_note(body, forged.name, forged.seed)
        sql("UPDATE checkpoint SET note = :n WHERE id = :i", n=new, i=cp_id)
        path = checkpoint_file(folder, cp_size, "dock-b")
        os.chmod(path, 0o644)
        path.write_text(new, encoding="utf-8")

    # the catalog vouches for its own keys: without published keys the forgery holds
    report, _, _ = verify_run(settings, item=None, quick=True)
    assert report.ok, report.problems
    # with them it does not
    report, _, _ = verify_run(_with_keys(settings, *published), item=None, quick=True)
    codes = {p.code for p in report.problems}
    assert "dock-key-mismatch" in codes
    assert codes & {"checkpoint-bad-signature", "checkpoint-unknown-key"}
    mismatch = next(p for p in report.problems if p.code == "dock-key-mismatch")
    assert "dock-b" in mismatch.subject and forged.public.hex() in mismatch.found
    assert not report.log_intact  # nothing is appended over a log whose keys are in doubt


def test_a_malformed_published_key_is_refused_at_start() -> None:
    """[verify] trusted_keys takes keys exactly as 'evidock init' prints them."""
    import pytest

    from ingest.config import parse
    from ingest.errors import ConfigError

    env = {"EVIDOCK_HOME": "/tmp/evidock-keys-test"}
    with pytest.raises(ConfigError, match="trusted_keys") as e:
        parse({"verify": {"trusted_keys": ["dock-01+zz+AAAA"]}}, env=env, source="t.toml")
    assert "evidock init" in e.value.hint
