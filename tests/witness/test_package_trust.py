"""Packages carry the witnesses' cosignatures and the RFC 3161 token of their checkpoint
(issue 17 on issue 15), and the token checks with openssl as VERIFY.md says."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from ingest.export.build import Spec, build_package
from tests.witness.test_custody_report import Trusted, trusted
from verify.package.verify_bag import check_bag

pytestmark = pytest.mark.parametrize("catalog_url", ["sqlite"], indirect=True)
__all__ = ["trusted"]


def test_a_package_carries_cosignatures_and_a_token_openssl_accepts(
    trusted: Trusted, tmp_path: Path
) -> None:
    """custody/cosignatures.txt names the witness; openssl ts -verify checks the token over
    custody/checkpoint with the TSA's chain; the bag checks."""
    ctx = trusted.ctx
    with ctx.catalog.read() as txn:
        ids = tuple(i.id for i in txn.items())
    spec = Spec(package_id="t", case_number=None, items=ids, originals=True, copies=False,
                recipient="法院", purpose="诉讼", requested_by="x", approved_by="x",
                approved_at=None)  # fmt: skip
    out = tmp_path / "bag"
    build_package(ctx, spec, out, now=ctx.clock())
    assert check_bag(out, ctx.key.verifier)[0] == []
    lines = (out / "custody" / "cosignatures.txt").read_text(encoding="utf-8").splitlines()
    assert [line.split()[1] for line in lines] == ["legal.example/w1"]
    assert (out / "custody" / "keys" / "witnesses.txt").read_text().strip() == (
        trusted.witness_vkey
    )
    readme = (out / "VERIFY.md").read_text(encoding="utf-8")
    assert "openssl ts -verify -data custody/checkpoint -in custody/checkpoint.tsr" in readme
    run = subprocess.run(
        ["openssl", "ts", "-verify", "-data", "custody/checkpoint", "-in",
         "custody/checkpoint.tsr", "-CAfile", str(trusted.chain)],
        cwd=out, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert run.returncode == 0 and "Verification: OK" in run.stdout, run.stdout + run.stderr
