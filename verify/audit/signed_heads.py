"""Audit of the signed checkpoints: in the catalog and, write-once, in the store's folder.

Trust comes from the local dock key file, not from the catalog: the catalog's copy of this
dock's public key must equal it (a rewritten catalog could carry the rewriter's key). Other
docks' keys can only come from the catalog.

A checkpoint is opened in two steps: ``open_heads`` checks signatures and form before the log
is replayed (so the replay knows which sizes to capture roots at), ``check_heads`` compares
the signed roots with the recomputed ones and checks that successive checkpoints are
consistent (RFC 9162 consistency proofs over the stored tree).
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from i18n import _
from storage.records import Checkpoint as CheckpointRow
from storage.records import Dock
from verify.keyhistory import SignedText
from verify.keys import DockKey
from verify.log.merkle import NodeReader, consistency_proof, verify_consistency
from verify.log.note import (
    ForgedSignatureError,
    NoteError,
    UntrustedNoteError,
    VerifierKey,
    key_id,
    open_note,
    parse_checkpoint,
)
from verify.problems import Problem, Problems

_FILE_NAME = re.compile(r"^(\d{12})\.(.+)\.note$")


@dataclass(frozen=True, slots=True, kw_only=True)
class CheckpointFile:
    name: str
    text: str


@dataclass(frozen=True, slots=True, kw_only=True)
class SignedHead:
    """A checkpoint whose signature verified: who signed which tree, and where it was kept."""

    source: str
    dock: str
    size: int
    root: bytes
    is_file: bool


def read_checkpoint_files(folder: Path) -> list[CheckpointFile]:
    if not folder.is_dir():
        return []
    return [
        CheckpointFile(name=p.name, text=p.read_text(encoding="utf-8", errors="replace"))
        for p in sorted(folder.glob("*.note"))
    ]


def signed_texts(
    rows: Sequence[CheckpointRow], files: Sequence[CheckpointFile]
) -> list[SignedText]:
    """Every checkpoint note with the size it states (unverified: for the key-period check)."""
    out = []
    for source, text in itertools.chain(
        ((_row_source(r), r.note) for r in rows),
        ((_file_source(f), f.text) for f in files),
    ):
        try:
            size = parse_checkpoint(text[: text.rfind("\n\n") + 1]).size
        except NoteError:
            continue  # malformed: reported when it is opened
        out.append(SignedText(source=source, size=size, text=text))
    return out


def trusted_keys(
    docks: Sequence[Dock],
    *,
    local_name: str,
    local_key: DockKey | None,
    problems: Problems,
    published: Sequence[VerifierKey] = (),
) -> list[VerifierKey]:
    """The keys checkpoints are verified with: this dock's key file, and each other dock's
    public key from the catalog, unless the office published that dock's verifier key (the
    configuration's [verify] trusted_keys): then the published one, and a catalog key that
    differs from it is a problem (the catalog cannot vouch for the keys it holds)."""
    keys: list[VerifierKey] = []
    pub = {k.name: k for k in published}
    if local_key is None:
        problems.add(
            Problem(
                code="dock-key-missing",
                subject=_("signing key of this dock ({dock})").format(dock=local_name),
                expected=_("the key file in keys/"),
                found=_("no readable key file"),
            )
        )
    else:
        keys.append(_verifier(local_key.name, local_key.public))
        if local_key.name in pub and pub[local_key.name].public != local_key.public:
            problems.add(
                Problem(
                    code="dock-key-mismatch",
                    subject=_("signing key file of this dock ({dock})").format(dock=local_name),
                    expected=_("{key} (the published verifier key)").format(
                        key=pub[local_key.name].public.hex()
                    ),
                    found=local_key.public.hex(),
                )
            )
    for dock in docks:
        if dock.name == local_name and local_key is not None:
            if dock.public_key != local_key.public or dock.key_name != local_key.name:
                problems.add(
                    Problem(
                        code="dock-key-mismatch",
                        subject=_("public key of dock {dock} in the catalog").format(
                            dock=dock.name
                        ),
                        expected=_("{key} (the dock's key file)").format(
                            key=local_key.public.hex()
                        ),
                        found=dock.public_key.hex(),
                    )
                )
            continue
        known = pub.get(dock.key_name) or pub.get(dock.name)  # a renamed key is still pinned
        if known is not None:
            keys.append(known)
            if known.public != dock.public_key:
                problems.add(
                    Problem(
                        code="dock-key-mismatch",
                        subject=_("public key of dock {dock} in the catalog").format(
                            dock=dock.name
                        ),
                        expected=_("{key} (the published verifier key)").format(
                            key=known.public.hex()
                        ),
                        found=dock.public_key.hex(),
                    )
                )
            continue
        try:
            keys.append(_verifier(dock.key_name, dock.public_key))
        except NoteError as e:
            problems.add(
                Problem(
                    code="dock-key-invalid",
                    subject=_("public key of dock {dock} in the catalog").format(dock=dock.name),
                    expected=_("an Ed25519 note key"),
                    found=str(e),
                )
            )
    return keys


def _row_source(row: CheckpointRow) -> str:
    return _("checkpoint row {id} (dock {dock}, size {size})").format(
        id=row.id, dock=row.dock_name, size=row.size
    )


def _file_source(f: CheckpointFile) -> str:
    return _("checkpoint file {name}").format(name=f.name)


def _verifier(name: str, public: bytes) -> VerifierKey:
    return VerifierKey(name=name, key_id=key_id(name, public), public=public)


def open_heads(
    rows: Sequence[CheckpointRow],
    files: Sequence[CheckpointFile],
    keys: Sequence[VerifierKey],
    *,
    origin: str,
    problems: Problems,
) -> list[SignedHead]:
    """Every checkpoint whose signature and form hold; each other one is a problem."""
    heads: list[SignedHead] = []
    for row in rows:
        source = _row_source(row)
        head = _open(source, row.note, keys, origin, problems, is_file=False)
        if head is None:
            continue
        found = (head.dock, head.size, head.root.hex())
        if found != (row.dock_name, row.size, row.root):
            problems.add(
                Problem(
                    code="checkpoint-row-mismatch",
                    subject=source,
                    expected=_("dock, size and root of its signed note: {found}").format(
                        found=found
                    ),
                    found=str((row.dock_name, row.size, row.root)),
                )
            )
        heads.append(head)
    for f in files:
        source = _file_source(f)
        head = _open(source, f.text, keys, origin, problems, is_file=True)
        if head is None:
            continue
        m = _FILE_NAME.match(f.name)
        if m is None or (int(m.group(1)), m.group(2)) != (head.size, head.dock):
            problems.add(
                Problem(
                    code="checkpoint-file-misnamed",
                    subject=source,
                    expected=_("the name {name} (its signed content)").format(
                        name=f"{head.size:012d}.{head.dock}.note"
                    ),
                    found=f.name,
                )
            )
        heads.append(head)
    return heads


def _open(
    source: str,
    text: str,
    keys: Sequence[VerifierKey],
    origin: str,
    problems: Problems,
    *,
    is_file: bool,
) -> SignedHead | None:
    def problem(code: str, expected: str, found: str) -> None:
        problems.add(Problem(code=code, subject=source, expected=expected, found=found))

    try:
        note = open_note(text, keys)
        cp = parse_checkpoint(note.body)
    except ForgedSignatureError as e:
        problem("checkpoint-bad-signature", _("a valid signature by a dock key"), str(e))
        return None
    except UntrustedNoteError as e:
        problem("checkpoint-unknown-key", _("a signature by a known dock key"), str(e))
        return None
    except NoteError as e:
        problem("checkpoint-malformed", _("a signed tlog checkpoint"), str(e))
        return None
    if cp.origin != origin:
        problem("checkpoint-wrong-origin", _("origin {origin!r}").format(origin=origin),
                repr(cp.origin))  # fmt: skip
        return None
    return SignedHead(
        source=source, dock=note.signers[0], size=cp.size, root=cp.root, is_file=is_file
    )


def check_heads(
    heads: Sequence[SignedHead],
    *,
    log_size: int,
    roots: Mapping[int, bytes],
    read_node: NodeReader,
    problems: Problems,
) -> list[SignedHead]:
    """Compare signed roots with the log; returns the heads beyond the log, to be rechecked
    against a fresh view (a checkpoint being taken right now is not yet in our snapshot)."""
    beyond = [h for h in heads if h.size > log_size]
    within = [h for h in heads if h.size <= log_size]
    for h in within:
        recomputed = roots.get(h.size)
        if recomputed is None:
            found = _("fewer than {size} events in the catalog: no tree of that size").format(
                size=h.size
            )
        elif recomputed != h.root:
            found = _("root {hash} (recomputed from the events in the catalog)").format(
                hash=recomputed.hex()
            )
        else:
            continue
        problems.add(
            Problem(
                code="checkpoint-root-mismatch",
                subject=h.source,
                expected=_("root {hash} at size {size} (signed)").format(
                    hash=h.root.hex(), size=h.size
                ),
                found=found,
            )
        )
    _check_consistency(within, read_node, problems)
    return beyond


def _check_consistency(heads: Sequence[SignedHead], read: NodeReader, problems: Problems) -> None:
    distinct = sorted({(h.size, h.root): h for h in heads}.values(), key=lambda h: h.size)
    for old, new in itertools.pairwise(distinct):
        if old.size == new.size:
            ok = False
        else:
            try:
                proof = consistency_proof(old.size, new.size, read)
            except LookupError:
                continue  # a missing stored node is reported by the replay
            ok = verify_consistency(old.size, new.size, old.root, new.root, proof)
        if not ok:
            problems.add(
                Problem(
                    code="checkpoint-inconsistent",
                    subject=_("{new} after {old}").format(new=new.source, old=old.source),
                    expected=_(
                        "a tree of size {new} that extends the signed tree of size {old} (RFC "
                        "9162 consistency proof)"
                    ).format(new=new.size, old=old.size),
                    found=_("no valid consistency proof from the stored tree"),
                )
            )


def match_rows_and_files(
    heads: Sequence[SignedHead], *, local_dock: str, log_size: int, problems: Problems
) -> list[SignedHead]:
    """This dock's rows need their write-once file; returns files without a row (to recheck)."""
    rows = {(h.dock, h.size) for h in heads if not h.is_file}
    files = {(h.dock, h.size) for h in heads if h.is_file}
    for h in heads:
        if not h.is_file and h.dock == local_dock and (h.dock, h.size) not in files:
            problems.add(
                Problem(
                    code="checkpoint-file-missing",
                    subject=h.source,
                    expected=_("its write-once copy {name} in checkpoints/").format(
                        name=f"{h.size:012d}.{h.dock}.note"
                    ),
                    found=_("no such file"),
                )
            )
    return [h for h in heads if h.is_file and h.size <= log_size and (h.dock, h.size) not in rows]
