"""Writing a BagIt bag (RFC 8493) as a folder or a single zip, streamed.

A ``BagWriter`` takes files one at a time (payload under ``data/``, tag files elsewhere),
hashes each while it writes it and remembers (path, sha256, size); ``finish`` writes
``bagit.txt``, ``bag-info.txt`` with Payload-Oxum, ``manifest-sha256.txt`` and
``tagmanifest-sha256.txt`` and returns the package's own sha256: of the zip file, or of the
folder's ``tagmanifest-sha256.txt`` (which names every other file's hash).

No file is ever held in memory: copies go through one reused buffer. The zip is written with
ZIP_STORED and zip64 headers to a stream that cannot seek (so each member carries a data
descriptor and the zip's own hash is computed as it is written).
"""

from __future__ import annotations

import base64
import hashlib
import os
import shutil
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path, PurePosixPath
from typing import BinaryIO

from i18n import _
from verify.package.verify_bag import BAGIT_TXT

CHUNK = 1 << 20
_ED25519_SPKI = bytes.fromhex("302a300506032b6570032100")  # RFC 8410 SubjectPublicKeyInfo


class BagPathError(ValueError):
    """A path inside the bag that is not a plain relative POSIX path."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Entry:
    path: str
    sha256: str
    size: int


def public_key_pem(public: bytes) -> str:
    """An Ed25519 public key as the PEM that ``openssl pkeyutl -pubin`` reads."""
    der = base64.b64encode(_ED25519_SPKI + public).decode("ascii")
    return f"-----BEGIN PUBLIC KEY-----\n{der}\n-----END PUBLIC KEY-----\n"


def bag_info_text(fields: Sequence[tuple[str, str]]) -> str:
    """``Label: value`` lines; line breaks inside a value become spaces."""
    return "".join(f"{k}: {' '.join(v.split())}\n" for k, v in fields)


def manifest_text(entries: Sequence[Entry]) -> str:
    return "".join(f"{e.sha256}  {_escape(e.path)}\n" for e in sorted(entries, key=_by_path))


def payload_oxum(entries: Sequence[Entry]) -> str:
    return f"{sum(e.size for e in entries)}.{len(entries)}"


def _by_path(e: Entry) -> str:
    return e.path


def _escape(path: str) -> str:
    return path.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _checked(path: str) -> str:
    p = PurePosixPath(path)
    if p.is_absolute() or not p.parts or any(part in ("", ".", "..") for part in p.parts):
        raise BagPathError(_("not a relative path inside the bag: {path!r}").format(path=path))
    return p.as_posix()


class _HashingFile:
    """A write-only, non-seekable file that hashes what passes through to ``raw``."""

    def __init__(self, raw: BinaryIO) -> None:
        self.raw = raw
        self.digest = hashlib.sha256()
        self.pos = 0

    def write(self, data: bytes) -> int:
        self.digest.update(data)
        self.raw.write(data)
        self.pos += len(data)
        return len(data)

    def tell(self) -> int:
        return self.pos

    def seek(self, *_: object) -> int:
        raise OSError("not seekable")

    def flush(self) -> None:
        self.raw.flush()


class BagWriter:
    """One bag being written to ``out``: a folder (must not exist) or ``*.zip``."""

    def __init__(self, out: Path) -> None:
        self.out = out
        self.is_zip = out.suffix.lower() == ".zip"
        self.payload: list[Entry] = []
        self.tags: list[Entry] = []
        self._buf = bytearray(CHUNK)
        self.partial = partial_of(out)
        if self.is_zip:
            self._raw: BinaryIO = self.partial.open("xb")
            self._hashing = _HashingFile(self._raw)
            self._zip: zipfile.ZipFile | None = zipfile.ZipFile(  # type: ignore[call-overload]
                self._hashing,
                "w",
                compression=zipfile.ZIP_STORED,
                allowZip64=True,
            )
        else:
            self._zip = None
            self.partial.mkdir(mode=0o750)

    def add_stream(self, path: str, src: BinaryIO) -> Entry:
        """Copy ``src`` to ``path`` in the bag through one buffer, hashing it."""
        path = _checked(path)
        digest, size, view = hashlib.sha256(), 0, memoryview(self._buf)
        with self._open(path) as dst:
            while n := src.readinto(view):  # type: ignore[attr-defined]
                digest.update(view[:n])
                dst.write(view[:n])
                size += n
        return self._entry(Entry(path=path, sha256=digest.hexdigest(), size=size))

    def add_file(self, path: str, src: Path) -> Entry:
        with src.open("rb", buffering=0) as f:
            return self.add_stream(path, f)

    def add_bytes(self, path: str, data: bytes) -> Entry:
        path = _checked(path)
        with self._open(path) as dst:
            dst.write(data)
        return self._entry(
            Entry(path=path, sha256=hashlib.sha256(data).hexdigest(), size=len(data))
        )

    def _entry(self, e: Entry) -> Entry:
        (self.payload if e.path.startswith("data/") else self.tags).append(e)
        return e

    def _open(self, path: str) -> BinaryIO:
        if self._zip is not None:
            info = zipfile.ZipInfo(path, date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_STORED
            info.external_attr = 0o444 << 16
            return self._zip.open(info, "w", force_zip64=True)  # type: ignore[return-value]
        target = self.partial / path
        target.parent.mkdir(parents=True, exist_ok=True)
        return target.open("xb")

    def finish(
        self, info: Sequence[tuple[str, str]], *, bagging_date: date, publish: bool = True
    ) -> str:
        """The bag's tag files, then (``publish``) the package in place; returns the package's
        sha256. Without ``publish`` it stays at ``partial`` until ``publish()``: a disclosure
        is recorded before it is where anyone finds it."""
        fields = [
            *info,
            ("Bagging-Date", bagging_date.isoformat()),
            ("Payload-Oxum", payload_oxum(self.payload)),
        ]
        self.add_bytes("bagit.txt", BAGIT_TXT)
        self.add_bytes("bag-info.txt", bag_info_text(fields).encode("utf-8"))
        self.add_bytes("manifest-sha256.txt", manifest_text(self.payload).encode("utf-8"))
        tagmanifest = manifest_text(self.tags).encode("utf-8")
        path = "tagmanifest-sha256.txt"
        with self._open(path) as dst:
            dst.write(tagmanifest)
        if self._zip is not None:
            self._zip.close()
            self._raw.flush()
            os.fsync(self._raw.fileno())
            self._raw.close()
            sha = self._hashing.digest.hexdigest()
        else:
            sha = hashlib.sha256(tagmanifest).hexdigest()
        if publish:
            self.publish()
        return sha

    def publish(self) -> None:
        publish(self.partial, self.out)

    def abort(self) -> None:
        """Remove what was written (the package was refused or failed half-way)."""
        if self._zip is not None:
            self._raw.close()
            self.partial.unlink(missing_ok=True)
        else:
            shutil.rmtree(self.partial, ignore_errors=True)


def partial_of(out: Path) -> Path:
    """Where the package for ``out`` is written before it is published."""
    return out.with_name(f".{out.name}.partial")


def publish(partial: Path, out: Path) -> None:
    """The finished package under its name (``out`` never existed: nothing is replaced)."""
    os.rename(partial, out)
