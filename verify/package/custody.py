"""The ``custody/`` part of a package, as (path, bytes) pairs: pure.

- ``custody/events.jsonl``: one line per event, ``{"canonical", "leaf", "index", "proof"}``;
  ``canonical`` is the event's RFC 8785 text exactly as hashed, so a reader needs no RFC 8785
  library to recompute the leaf hash SHA-256(0x00 || canonical);
- ``custody/checkpoint``: the signed note; ``custody/checkpoint.body`` and
  ``custody/checkpoint.<key name>.sig``: its body and raw Ed25519 signature as separate files,
  so that ``openssl pkeyutl -verify -rawin`` checks them as they are;
- ``custody/keys/<name>.vkey`` (note verifier key) and ``<name>.pem`` (for openssl);
- ``custody/cosignatures.txt``, ``custody/keys/witnesses.txt`` and ``custody/checkpoint.tsr``
  when witnesses cosigned the checkpoint and a TSA stamped it.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from verify.log.events import canonical
from verify.log.note import parse_verifier_key
from verify.package.bag import public_key_pem
from verify.package.verify_bag import CHECKPOINT, EVENTS, split_note
from verify.proofs import ProvenEvent, TrustEvidence


def events_jsonl(events: Sequence[ProvenEvent]) -> bytes:
    lines = []
    for p in sorted(events, key=lambda p: p.event.seq):
        entry = {
            "canonical": canonical(p.event).decode("utf-8"),
            "leaf": p.leaf.hex(),
            "index": p.event.seq,
            "proof": [h.hex() for h in p.proof],
        }
        lines.append(json.dumps(entry, ensure_ascii=False, sort_keys=True) + "\n")
    return "".join(lines).encode("utf-8")


def custody_files(
    events: Sequence[ProvenEvent], *, note: str, verifier_key: str, trust: TrustEvidence
) -> list[tuple[str, bytes]]:
    """Every file of ``custody/`` for these proven events under the checkpoint ``note``."""
    key = parse_verifier_key(verifier_key)
    body, signatures = split_note(note)
    files = [
        (EVENTS, events_jsonl(events)),
        (CHECKPOINT, note.encode("utf-8")),
        (f"{CHECKPOINT}.body", body.encode("utf-8")),
        *((f"{CHECKPOINT}.{name}.sig", sig) for name, _, sig in signatures),
        (f"custody/keys/{key.name}.vkey", f"{verifier_key}\n".encode("ascii")),
        (f"custody/keys/{key.name}.pem", public_key_pem(key.public).encode("ascii")),
    ]
    if trust.cosignatures:
        text = "".join(line.rstrip("\n") + "\n" for line in trust.cosignatures)
        files.append(("custody/cosignatures.txt", text.encode("utf-8")))
    if trust.witness_keys:
        text = "".join(f"{k}\n" for k in trust.witness_keys)
        files.append(("custody/keys/witnesses.txt", text.encode("utf-8")))
    if trust.timestamp is not None:
        files.append((f"{CHECKPOINT}.tsr", trust.timestamp))
    return files
