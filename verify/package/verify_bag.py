#!/usr/bin/env python3
"""Check an evidock evidence package (a BagIt bag, RFC 8493) with nothing but Python.

    python3 verify_bag.py BAG [--key 'dock-01+1a2b3c4d+AbCd...']

BAG is the bag's folder or its .zip. Standard library only: this file is copied verbatim
into every package as ``verify_bag.py``, and ``evidock verify-export`` runs the same code.
It checks, and lists every problem (code, expected, found) before exiting 1:

1. bagit.txt, bag-info.txt (Payload-Oxum) and both manifests: every file and its SHA-256;
2. custody/events.jsonl: each event's RFC 6962 leaf hash and its inclusion proof against the
   root in custody/checkpoint;
3. custody/checkpoint: the Ed25519 signature (RFC 8032, computed below) of the signed note
   (C2SP signed-note) with the office's key (--key), else with the key in custody/keys/;
4. that each original's SHA-256 is the one its custody events name, and that each view copy
   (and each review proxy of an archive) is named by a ``transcoded`` event as derived from
   an original.
"""

from __future__ import annotations

import base64
import hashlib
import json
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

CHUNK = 1 << 20
BAGIT_TXT = b"BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\n"
EVENTS = "custody/events.jsonl"
CHECKPOINT = "custody/checkpoint"
FILES = "custody/files.json"  # which item each payload file is, and what it was made from
ORIGIN = "evidock/custody-log"
HASH_EVENTS = ("acquired", "verified", "stored")
REQUIRED_INFO = ("Payload-Oxum", "Bagging-Date", "External-Identifier")


@dataclass(frozen=True)
class Finding:
    code: str
    subject: str
    expected: str
    found: str

    def line(self) -> str:
        return f"[{self.code}] {self.subject}: expected {self.expected}, found {self.found}"


# -- reading a bag: a folder or a zip ---------------------------------------------------------
class Bag:
    """The files of a bag by their path inside it ('data/...', 'custody/...')."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.zip: zipfile.ZipFile | None = None
        self.prefix = ""
        if path.is_file():
            self.zip = zipfile.ZipFile(path)
            names = [n for n in self.zip.namelist() if not n.endswith("/")]
            top = {n.split("/", 1)[0] for n in names}  # a zip may hold the bag in one folder
            if "bagit.txt" not in names and len(top) == 1:
                self.prefix = next(iter(top)) + "/"
            self.names = sorted(n[len(self.prefix) :] for n in names if n.startswith(self.prefix))
        else:
            self.names = sorted(
                p.relative_to(path).as_posix() for p in path.rglob("*") if p.is_file()
            )

    def open(self, name: str) -> BinaryIO:
        if self.zip is not None:
            return self.zip.open(self.prefix + name)  # type: ignore[return-value]
        return (self.path / name).open("rb")

    def read(self, name: str) -> bytes:
        with self.open(name) as f:
            return f.read()

    def size(self, name: str) -> int:
        if self.zip is not None:
            return self.zip.getinfo(self.prefix + name).file_size
        return (self.path / name).stat().st_size

    def sha256(self, name: str) -> tuple[str, int]:
        digest, size = hashlib.sha256(), 0
        with self.open(name) as f:
            while block := f.read(CHUNK):
                digest.update(block)
                size += len(block)
        return digest.hexdigest(), size


# -- Ed25519 verification, RFC 8032 section 5.1.7, in plain integers ------------------------
P = 2**255 - 19
L = 2**252 + 27742317777372353535851937790883648493
D = -121665 * pow(121666, P - 2, P) % P
SQRT_M1 = pow(2, (P - 1) // 4, P)
Point = tuple[int, int, int, int]  # extended coordinates (X, Y, Z, T), x = X/Z, y = Y/Z


def _add(a: Point, b: Point) -> Point:
    x1, y1, z1, t1 = a
    x2, y2, z2, t2 = b
    aa, bb = (y1 - x1) * (y2 - x2) % P, (y1 + x1) * (y2 + x2) % P
    cc, dd = 2 * t1 * t2 * D % P, 2 * z1 * z2 % P
    e, f, g, h = bb - aa, dd - cc, dd + cc, bb + aa
    return (e * f % P, g * h % P, f * g % P, e * h % P)


def _times(n: int, point: Point) -> Point:
    result: Point = (0, 1, 1, 0)  # the neutral element
    while n:
        if n & 1:
            result = _add(result, point)
        point, n = _add(point, point), n >> 1
    return result


def _same(a: Point, b: Point) -> bool:
    return (a[0] * b[2] - b[0] * a[2]) % P == 0 and (a[1] * b[2] - b[1] * a[2]) % P == 0


def _decode_point(raw: bytes) -> Point | None:
    y = int.from_bytes(raw, "little")
    sign, y = y >> 255, y & ((1 << 255) - 1)
    if y >= P:
        return None
    x2 = (y * y - 1) * pow(D * y * y + 1, P - 2, P) % P
    x = pow(x2, (P + 3) // 8, P)
    if (x * x - x2) % P:
        x = x * SQRT_M1 % P
    if (x * x - x2) % P or (x == 0 and sign):
        return None
    if x & 1 != sign:
        x = P - x
    return (x, y, 1, x * y % P)


_BASE = _decode_point((4 * pow(5, P - 2, P) % P).to_bytes(32, "little"))


def ed25519_verify(public: bytes, message: bytes, signature: bytes) -> bool:
    """[S]B == R + [SHA-512(R || A || M)]A, with S < L and A, R valid points."""
    if len(public) != 32 or len(signature) != 64 or _BASE is None:
        return False
    a, r = _decode_point(public), _decode_point(signature[:32])
    s = int.from_bytes(signature[32:], "little")
    if a is None or r is None or s >= L:
        return False
    h = int.from_bytes(hashlib.sha512(signature[:32] + public + message).digest(), "little")
    return _same(_times(s, _BASE), _add(r, _times(h % L, a)))


# -- signed notes and checkpoints (c2sp.org/signed-note, c2sp.org/tlog-checkpoint) ------------
@dataclass(frozen=True)
class NoteKey:
    name: str
    key_id: bytes
    public: bytes


def parse_key(text: str) -> NoteKey:
    """``<name>+<hex key id>+<base64(0x01 || public key)>``, the key id checked."""
    name, hex_id, data = text.strip().split("+", 2)
    raw = base64.b64decode(data, validate=True)
    if raw[:1] != b"\x01" or len(raw) != 33:
        raise ValueError("not an Ed25519 note key")
    key = NoteKey(name=name, key_id=bytes.fromhex(hex_id), public=raw[1:])
    if note_key_id(name, key.public) != key.key_id:
        raise ValueError("the key id does not belong to the key")
    return key


def note_key_id(name: str, public: bytes) -> bytes:
    return hashlib.sha256(name.encode() + b"\n\x01" + public).digest()[:4]


def split_note(text: str) -> tuple[str, list[tuple[str, bytes, bytes]]]:
    """The note body (ending in a newline) and its signatures as (name, key id, signature)."""
    cut = text.rfind("\n\n")
    if cut < 0 or not text.endswith("\n"):
        raise ValueError("no signature block")
    sigs = []
    for line in text[cut + 2 : -1].split("\n"):
        dash, name, data = line.split(" ", 2)
        raw = base64.b64decode(data, validate=True)
        if dash != "\N{EM DASH}" or len(raw) != 68:
            raise ValueError(f"not an Ed25519 signature line: {line!r}")
        sigs.append((name, raw[:4], raw[4:]))
    return text[: cut + 1], sigs


def parse_checkpoint(body: str) -> tuple[str, int, bytes]:
    origin, size, root = body.split("\n")[:3]
    raw = base64.b64decode(root, validate=True)
    if len(raw) != 32 or not size.isdigit():
        raise ValueError("not a checkpoint body")
    return origin, int(size), raw


# -- RFC 6962 / RFC 9162 Merkle inclusion ----------------------------------------------------
def leaf_hash(data: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def verify_inclusion(leaf: bytes, index: int, size: int, proof: list[bytes], root: bytes) -> bool:
    """RFC 9162 section 2.1.3.2."""
    if not 0 <= index < size:
        return False
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            r = node_hash(r, p)
        fn, sn = fn >> 1, sn >> 1
    return sn == 0 and r == root


# -- the checks ------------------------------------------------------------------------------
def read_manifest(bag: Bag, name: str, out: list[Finding]) -> dict[str, str]:
    listed: dict[str, str] = {}
    for n, line in enumerate(bag.read(name).decode("utf-8").splitlines(), start=1):
        digest, sep, path = line.partition(" ")
        path = path.lstrip(" *").replace("%0D", "\r").replace("%0A", "\n").replace("%25", "%")
        if not sep or len(digest) != 64 or path in listed:
            out.append(Finding("manifest-malformed", f"{name} line {n}", "HASH PATH", line))
            continue
        listed[path] = digest.lower()
    return listed


def check_manifest(bag: Bag, name: str, files: list[str], out: list[Finding]) -> dict[str, str]:
    """Every listed file is there with its hash; every file of ``files`` is listed."""
    if name not in bag.names:
        out.append(Finding("manifest-missing", name, "the manifest", "no such file"))
        return {}
    listed = read_manifest(bag, name, out)
    for path, digest in listed.items():
        if path not in bag.names:
            out.append(Finding("file-missing", path, f"a file with sha256 {digest}", "none"))
            continue
        found, _ = bag.sha256(path)
        if found != digest:
            code = "payload-mismatch" if path.startswith("data/") else "tag-file-mismatch"
            out.append(Finding(code, path, f"sha256 {digest} ({name})", f"sha256 {found}"))
    for path in files:
        if path not in listed:
            out.append(Finding("file-unlisted", path, f"listed in {name}", "not listed"))
    return listed


def bag_info(bag: Bag, out: list[Finding]) -> dict[str, str]:
    info: dict[str, str] = {}
    label = ""
    for line in bag.read("bag-info.txt").decode("utf-8").splitlines():
        if line[:1] in (" ", "\t") and label:
            info[label] += " " + line.strip()
            continue
        label, _, value = line.partition(":")
        label = label.strip()
        info[label] = value.strip()
    for field in REQUIRED_INFO:
        if field not in info:
            out.append(Finding("bag-info-missing", f"bag-info.txt {field}", "a value", "none"))
    return info


def check_structure(bag: Bag, out: list[Finding]) -> dict[str, str]:
    """bagit.txt, the manifests and Payload-Oxum; returns the payload manifest."""
    for need in ("bagit.txt", "bag-info.txt", EVENTS, CHECKPOINT, FILES):
        if need not in bag.names:
            out.append(Finding("file-missing", need, "the file", "none"))
    if "bagit.txt" in bag.names and bag.read("bagit.txt") != BAGIT_TXT:
        out.append(Finding("bag-declaration", "bagit.txt", repr(BAGIT_TXT), "other text"))
    payload = [n for n in bag.names if n.startswith("data/")]
    listed = check_manifest(bag, "manifest-sha256.txt", payload, out)
    tags = [n for n in bag.names if not n.startswith("data/") and n != "tagmanifest-sha256.txt"]
    check_manifest(bag, "tagmanifest-sha256.txt", tags, out)
    if "bag-info.txt" in bag.names:
        oxum = bag_info(bag, out).get("Payload-Oxum")
        octets = sum(bag.size(n) for n in payload)
        if oxum is not None and oxum != f"{octets}.{len(payload)}":
            found = f"{octets}.{len(payload)} (bytes.files in data/)"
            out.append(Finding("payload-oxum", "bag-info.txt Payload-Oxum", oxum, found))
    return listed


def check_checkpoint(
    bag: Bag, key_text: str | None, out: list[Finding]
) -> tuple[int, bytes] | None:
    """The signed tree (size, root) when the note verifies with the key."""
    if CHECKPOINT not in bag.names:
        return None
    keys = [key_text] if key_text else [
        bag.read(n).decode() for n in bag.names if n.startswith("custody/keys/") and
        n.endswith(".vkey")
    ]  # fmt: skip
    try:
        trusted = [parse_key(k) for k in keys]
        body, sigs = split_note(bag.read(CHECKPOINT).decode("utf-8"))
        origin, size, root = parse_checkpoint(body)
    except (ValueError, UnicodeDecodeError) as e:
        out.append(Finding("checkpoint-malformed", CHECKPOINT, "a signed note", str(e)))
        return None
    good = [
        key.name
        for key in trusted
        for name, key_id, sig in sigs
        if (name, key_id) == (key.name, key.key_id)
        and ed25519_verify(key.public, body.encode("utf-8"), sig)
    ]
    if not good:
        want = ", ".join(f"{k.name}+{k.key_id.hex()}" for k in trusted) or "a key (--key)"
        found = ", ".join(f"{n}+{i.hex()}" for n, i, _ in sigs) or "no signature"
        out.append(Finding("checkpoint-bad-signature", CHECKPOINT, f"signed by {want}",
                           f"signatures of {found} that do not verify"))  # fmt: skip
        return None
    if origin != ORIGIN:
        out.append(Finding("checkpoint-wrong-origin", CHECKPOINT, ORIGIN, origin))
    for name, _, sig in sigs:  # the separate files for openssl must be these
        sig_file = f"custody/checkpoint.{name}.sig"
        if sig_file in bag.names and bag.read(sig_file) != sig:
            out.append(Finding("checkpoint-files", sig_file, "the note's signature", "other bytes"))
    if "custody/checkpoint.body" in bag.names and bag.read("custody/checkpoint.body") != (
        body.encode("utf-8")
    ):
        out.append(Finding("checkpoint-files", "custody/checkpoint.body", "the note's body",
                           "other bytes"))  # fmt: skip
    return size, root


def check_events(bag: Bag, tree: tuple[int, bytes] | None, out: list[Finding]) -> list[Any]:
    """Each line's leaf hash and inclusion proof; returns the events (parsed) that hold."""
    events: list[Any] = []
    if EVENTS not in bag.names:
        return events
    last = -1
    for n, line in enumerate(bag.read(EVENTS).decode("utf-8").splitlines(), start=1):
        where = f"{EVENTS} line {n}"
        try:
            entry = json.loads(line)
            canonical = entry["canonical"].encode("utf-8")
            event = json.loads(canonical)
            leaf, index = bytes.fromhex(entry["leaf"]), int(entry["index"])
            proof = [bytes.fromhex(h) for h in entry["proof"]]
        except (ValueError, KeyError, TypeError, AttributeError) as e:
            out.append(Finding("event-malformed", where, "canonical, leaf, index, proof", str(e)))
            continue
        if leaf_hash(canonical) != leaf:
            found = leaf_hash(canonical).hex()
            out.append(Finding("event-leaf-mismatch", where, f"leaf {leaf.hex()}", found))
            continue
        if index != event.get("seq") or index <= last:
            out.append(Finding("event-out-of-order", where, f"seq {index} after {last}",
                               f"seq {event.get('seq')}"))  # fmt: skip
        last = index
        if tree is not None and not verify_inclusion(leaf, index, tree[0], proof, tree[1]):
            out.append(Finding("event-proof-invalid", where,
                               f"event #{index} in the signed tree of size {tree[0]}",
                               "a proof that does not lead to its root"))  # fmt: skip
            continue
        events.append(event)
    return events


def check_files(bag: Bag, listed: dict[str, str], events: list[Any], out: list[Finding]) -> None:
    """Each original is named by its item's custody events; each copy by its derivation."""
    if FILES not in bag.names:
        return
    named: dict[int, set[str]] = {}  # item -> the sha256 its acquired/verified/stored name
    derived: dict[str, set[str]] = {}  # derivative sha256 -> the sources transcoded names
    for ev in events:
        data = ev.get("data") or {}
        if ev.get("type") in HASH_EVENTS and isinstance(ev.get("item"), int):
            named.setdefault(ev["item"], set()).add(str(data.get("sha256")))
        if ev.get("type") == "transcoded":
            made = derived.setdefault(str(data.get("derivative_sha256")), set())
            made.add(str(data.get("source_sha256")))
    files = json.loads(bag.read(FILES))
    originals = {f["sha256"] for f in files if f["role"] == "original"}
    known = originals | {s for v in named.values() for s in v}
    described = {f["path"] for f in files}
    for path in listed:
        if path not in described:
            out.append(Finding("file-undescribed", path, f"an entry in {FILES}", "none"))
    kinds: dict[int, set[str]] = {}
    for ev in events:
        if isinstance(ev.get("item"), int):
            kinds.setdefault(ev["item"], set()).add(str(ev.get("type")))
    for item in sorted({f["item"] for f in files if f["role"] == "original"}):
        if lacking := [t for t in HASH_EVENTS if t not in kinds.get(item, set())]:
            want = f"its {', '.join(HASH_EVENTS)} events"
            out.append(Finding("item-event-missing", f"item #{item}", want,
                               f"no {', '.join(lacking)}"))  # fmt: skip
    for f in files:
        path, sha = f["path"], f["sha256"]
        if listed.get(path) != sha:
            out.append(Finding("file-entry-mismatch", path, f"sha256 {sha} ({FILES})",
                               f"sha256 {listed.get(path)} (manifest)"))  # fmt: skip
        if f["role"] == "original" and sha not in named.get(f["item"], set()):
            found = ", ".join(sorted(named.get(f["item"], set()))) or "no such event"
            out.append(Finding("payload-not-in-custody", path,
                               f"an acquired/verified/stored event of item #{f['item']} "
                               f"naming sha256 {sha}", found))  # fmt: skip
        if f["role"] in ("view-copy", "proxy"):
            source, sources = f.get("source_sha256"), derived.get(sha, set())
            if source not in sources or source not in known:
                out.append(Finding("copy-without-origin", path,
                                   f"a transcoded event deriving sha256 {sha} from original "
                                   f"{source}", ", ".join(sorted(sources)) or "none"))  # fmt: skip


def check_bag(path: Path, key: str | None = None) -> tuple[list[Finding], dict[str, int]]:
    """Every problem of the bag at ``path``, and counts of what was checked."""
    out: list[Finding] = []
    bag = Bag(path)
    listed = check_structure(bag, out)
    tree = check_checkpoint(bag, key, out)
    events = check_events(bag, tree, out)
    if "bag-info.txt" in bag.names and EVENTS in bag.names:
        said = bag_info(bag, []).get("Custody-Events")
        lines = len(bag.read(EVENTS).splitlines())
        if said is not None and said != str(lines):
            want = f"{said} events (bag-info.txt Custody-Events)"
            out.append(Finding("event-count-mismatch", EVENTS, want, f"{lines}"))
    check_files(bag, listed, events, out)
    counts = {"files": len(listed), "events": len(events), "tree_size": tree[0] if tree else 0}
    return out, counts


def main(argv: list[str]) -> int:
    args = list(argv)
    key = None
    if "--key" in args:
        at = args.index("--key")
        key = args[at + 1] if at + 1 < len(args) else None
        del args[at : at + 2]
    if len(args) != 1 or key == "":
        print("usage: python3 verify_bag.py BAG [--key NAME+KEYID+KEY]", file=sys.stderr)
        return 2
    found, counts = check_bag(Path(args[0]), key)
    for f in found:
        print(f.line())
    if found:
        print(f"FAILED / 未通过: {len(found)} problem(s)")
        return 1
    print(f"OK / 通过: {counts['files']} files, {counts['events']} custody events in the signed "
          f"log of size {counts['tree_size']}")  # fmt: skip
    if key is None:
        print("note / 注意: the key in custody/keys/ was used; compare it with the office's "
              "published key, or give --key / 请与机关公布的公钥核对")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
