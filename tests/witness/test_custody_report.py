"""Custody reports carry the witnesses' cosignatures and the RFC 3161 token of their
checkpoint, and ``evidock verify-proof`` checks them offline (issue 15)."""

from __future__ import annotations

import base64
import dataclasses
import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ingest.cli.main import main
from ingest.config import TrustSettings, WitnessSettings
from ingest.context import LOG_ORIGIN, Context
from ingest.pipeline.run import ingest_device
from tests.witness.tsa import Tsa, running_tsa
from verify.log.events import EventType
from verify.log.note import parse_verifier_key
from verify.log.signing import generate_private_key
from verify.proofs import check_report
from verify.tsa.rfc3161 import load_chain
from verify.witness.cosignature import cosign, cosigner_key
from verify.witness.server import WitnessServer
from verify.witness.state import init_state, load_key
from verify.witness.submit import note_body

Cli = Any

# What the reports carry is the same whatever the database: these run on SQLite only.
pytestmark = pytest.mark.parametrize("catalog_url", ["sqlite"], indirect=True)

WITNESS = "legal.example/w1"


@dataclasses.dataclass(frozen=True)
class Trusted:
    ctx: Context
    witness_vkey: str
    chain: Path  # the TSA's chain as it publishes it


@pytest.fixture
def trusted(ctx: Context, camera: Path, tmp_path: Path) -> Iterator[Trusted]:
    """A witness and a TSA serving; the dock pinned to both in its config file; four items
    docked, their checkpoint cosigned and timestamped."""
    state = tmp_path / "witness"
    key, _ = init_state(state, WITNESS)
    name, seed = load_key(state)
    server = WitnessServer(("127.0.0.1", 0), state=state, name=name, seed=seed,
                           logs={LOG_ORIGIN: [parse_verifier_key(ctx.key.verifier)]})  # fmt: skip
    thread = threading.Thread(target=server.serve_forever)
    thread.start()
    url = f"http://127.0.0.1:{server.server_port}"
    try:
        with running_tsa(tmp_path / "tsa") as tsa:
            chain = tsa.folder / "chain.pem"
            _write_config(ctx, url, key.vkey, tsa)
            trust = TrustSettings(witnesses=(WitnessSettings(url=url, key=key),),
                                  witness_quorum=1, witness_grace_seconds=0, tsa_url=tsa.url,
                                  tsa_chain=load_chain(chain.read_bytes()))  # fmt: skip
            dock = dataclasses.replace(ctx, settings=dataclasses.replace(ctx.settings, trust=trust))
            report = ingest_device(dock, camera, serial="CAM-1", officer=None, actor="user:test")
            assert report.checkpoint_size == 13
            yield Trusted(ctx=dock, witness_vkey=key.vkey, chain=chain)
    finally:
        server.shutdown()
        thread.join()
        server.server_close()


def _write_config(ctx: Context, url: str, vkey: str, tsa: Tsa) -> None:
    path = ctx.settings.data_dir / "evidock.toml"
    path.write_text(
        f'[trust]\nwitnesses = [{{url = "{url}", key = "{vkey}"}}]\nwitness_quorum = 1\n'
        f'tsa_url = "{tsa.url}"\ntsa_certificates = "{tsa.folder / "chain.pem"}"\n',
        encoding="utf-8",
    )


@pytest.fixture
def cli(
    trusted: Trusted, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> Cli:
    """``evidock ARGS...`` with the dock's config file: (exit code, stdout, stderr)."""
    settings = trusted.ctx.settings
    monkeypatch.setenv("EVIDOCK_HOME", str(settings.data_dir))
    monkeypatch.setenv("EVIDOCK_CATALOG_URL", settings.catalog_url)
    monkeypatch.setenv("EVIDOCK_DOCK_NAME", settings.dock.name)
    monkeypatch.setenv("EVIDOCK_CONFIG", str(settings.data_dir / "evidock.toml"))

    def run(*argv: str) -> tuple[int, str, str]:
        capsys.readouterr()
        rc = main(list(argv))
        out = capsys.readouterr()
        return rc, out.out, out.err

    return run


def report(cli: Cli) -> dict[str, Any]:
    rc, out, err = cli("custody", "2", "--json")
    assert rc == 0, err
    doc: dict[str, Any] = json.loads(out)
    return doc


def verify_proof(
    cli: Cli, trusted: Trusted, doc: dict[str, Any], *args: str
) -> tuple[int, dict[str, Any], str]:
    path = trusted.ctx.settings.data_dir / "report.json"
    path.write_text(json.dumps(doc), encoding="utf-8")
    rc, out, err = cli("verify-proof", str(path), "--json", "--key", trusted.ctx.key.verifier,
                       *args)  # fmt: skip
    result: dict[str, Any] = json.loads(out)
    return rc, result, err


def pinned(trusted: Trusted, quorum: int = 1) -> tuple[str, ...]:
    return ("--witness-key", trusted.witness_vkey, "--witness-quorum", str(quorum),
            "--tsa-cert", str(trusted.chain))  # fmt: skip


def problem_codes(result: dict[str, Any]) -> list[str]:
    return sorted(p["code"] for p in result["problems"])


def test_report_of_a_cosigned_timestamped_checkpoint_verifies_offline(
    trusted: Trusted, cli: Cli
) -> None:
    """The report carries the cosignature, the pinned witness key and the token; with the
    published keys, a quorum of 1 and the TSA's chain, verify-proof accepts all of them."""
    doc = report(cli)
    cp = doc["checkpoint"]
    assert cp["size"] == 13 and cp["witness_keys"] == [trusted.witness_vkey]
    assert [line.split(" ")[1] for line in cp["cosignatures"]] == [WITNESS]
    assert base64.b64decode(cp["timestamp"])[:1] == b"\x30"  # a DER SEQUENCE
    rc, result, err = verify_proof(cli, trusted, doc, *pinned(trusted))
    assert (rc, problem_codes(result), err) == (0, [], "")
    assert result["cosigned_by"] == [WITNESS] and result["witness_keys_from_report"] == []
    assert result["timestamp"] is not None and result["timestamp_chain_checked"] is True


def test_witness_keys_taken_from_the_report_are_reported_as_such(
    trusted: Trusted, cli: Cli
) -> None:
    """Without --witness-key the report's own keys check the cosignatures, with a warning;
    without --tsa-cert the token is only matched to the note."""
    rc, result, err = verify_proof(cli, trusted, report(cli), "--witness-quorum", "1")
    assert rc == 0 and result["cosigned_by"] == [WITNESS]
    assert result["witness_keys_from_report"] == [WITNESS]
    assert "as given by the report" in err
    assert result["timestamp"] is not None and result["timestamp_chain_checked"] is False


def test_a_flipped_cosignature_byte_is_a_bad_signature(trusted: Trusted, cli: Cli) -> None:
    """One bit of the stored cosignature changed: witness-bad-signature, and the quorum fails."""
    doc = report(cli)
    line = doc["checkpoint"]["cosignatures"][0]
    blob = bytearray(base64.b64decode(line.split(" ")[2]))
    blob[-1] ^= 0x01
    doc["checkpoint"]["cosignatures"] = [
        f"{line.rsplit(' ', 1)[0]} {base64.b64encode(bytes(blob)).decode()}\n"
    ]
    rc, result, _ = verify_proof(cli, trusted, doc, *pinned(trusted))
    assert rc == 1
    assert problem_codes(result) == ["witness-bad-signature", "witness-missing"]


def test_a_quorum_that_is_not_met_fails(trusted: Trusted, cli: Cli) -> None:
    """Asking for two witnesses when one cosigned: witness-missing and nothing else."""
    rc, result, _ = verify_proof(cli, trusted, report(cli), *pinned(trusted, quorum=2))
    assert rc == 1 and problem_codes(result) == ["witness-missing"]
    assert result["cosigned_by"] == [WITNESS]


def test_a_forgers_own_witness_counts_for_nothing_against_pinned_keys(
    trusted: Trusted, cli: Cli
) -> None:
    """A cosignature by a key the reader did not pin (even one the report names) is ignored."""
    doc = report(cli)
    seed = generate_private_key()
    forger = cosigner_key("forger.example/w", seed)
    body = note_body(doc["checkpoint"]["note"])
    doc["checkpoint"]["cosignatures"] = [
        cosign(body, name="forger.example/w", seed=seed, timestamp=1_800_000_000)
    ]
    doc["checkpoint"]["witness_keys"] = [forger.vkey]
    rc, result, _ = verify_proof(cli, trusted, doc, *pinned(trusted))
    assert rc == 1 and problem_codes(result) == ["witness-missing"]
    rc, result, err = verify_proof(cli, trusted, doc, "--witness-quorum", "1")
    assert rc == 0 and result["witness_keys_from_report"] == ["forger.example/w"]
    assert "as given by the report" in err


def test_a_removed_token_is_missing_when_the_tsa_chain_is_given(trusted: Trusted, cli: Cli) -> None:
    """No token in the report: timestamp-missing against the TSA's chain."""
    doc = report(cli)
    doc["checkpoint"]["timestamp"] = None
    rc, result, _ = verify_proof(cli, trusted, doc, *pinned(trusted))
    assert rc == 1 and problem_codes(result) == ["timestamp-missing"]


def test_a_token_of_another_checkpoint_is_invalid(trusted: Trusted, cli: Cli) -> None:
    """The token of a later checkpoint names another note: timestamp-invalid, with or
    without the chain; a token that is not DER is invalid too."""
    doc = report(cli)
    with trusted.ctx.catalog.write() as txn:
        trusted.ctx.custody.append(txn, type=EventType.VIEWED, actor="user:test", item=2, data={})
    trusted.ctx.checkpoint()
    later = report(cli)
    assert later["checkpoint"]["size"] > doc["checkpoint"]["size"]
    doc["checkpoint"]["timestamp"] = later["checkpoint"]["timestamp"]
    rc, result, _ = verify_proof(cli, trusted, doc, *pinned(trusted))
    assert rc == 1 and problem_codes(result) == ["timestamp-invalid"]
    rc, result, _ = verify_proof(cli, trusted, doc)
    assert rc == 1 and problem_codes(result) == ["timestamp-invalid"]
    doc["checkpoint"]["timestamp"] = base64.b64encode(b"not a token").decode()
    rc, result, _ = verify_proof(cli, trusted, doc)
    assert rc == 1 and problem_codes(result) == ["timestamp-invalid"]


def test_a_report_written_before_witnesses_still_verifies(trusted: Trusted, cli: Cli) -> None:
    """A report without the new fields (older evidock) checks as before; a demanded quorum
    or TSA then fails."""
    doc = report(cli)
    for k in ("cosignatures", "witness_keys", "timestamp"):
        del doc["checkpoint"][k]
    assert check_report(doc, origin=LOG_ORIGIN, trusted_key=trusted.ctx.key.verifier).ok
    rc, result, _ = verify_proof(cli, trusted, doc, *pinned(trusted))
    assert rc == 1 and problem_codes(result) == ["timestamp-missing", "witness-missing"]


def test_verify_proof_refuses_a_malformed_witness_key(trusted: Trusted, cli: Cli) -> None:
    """A --witness-key that is not a cosignature key is a usage error with a hint."""
    path = trusted.ctx.settings.data_dir / "r.json"
    path.write_text(json.dumps(report(cli)), encoding="utf-8")
    rc, _, err = cli("verify-proof", str(path), "--witness-key", "nonsense")
    assert rc == 2 and "--witness-key" in err


def test_human_reports_say_who_cosigned_and_when_the_tsa_stamped(
    trusted: Trusted, cli: Cli
) -> None:
    """custody and verify-proof, read by a person: the witnesses and the token's local time."""
    rc, out, _ = cli("custody", "2")
    assert rc == 0 and f"cosigned by 1 witness: {WITNESS}; timestamped by the TSA at " in out
    path = trusted.ctx.settings.data_dir / "r.json"
    path.write_text(json.dumps(report(cli)), encoding="utf-8")
    rc, out, _ = cli("verify-proof", str(path), "--key", trusted.ctx.key.verifier,
                     *pinned(trusted))  # fmt: skip
    assert rc == 0, out
    line = out.splitlines()[-1]
    assert line.startswith(f"cosigned by 1 witness: {WITNESS}; timestamped at ")
    assert line.endswith(" CST (TSA chain checked)")
