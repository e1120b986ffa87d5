"""A witness's own small state directory: its key, its settings, the latest checkpoints.

```
STATE/witness.key        PRIVATE+KEY+<name>+<key id>+base64(0x04 || seed), mode 0600
STATE/witness.toml       name = "...", [logs] "<origin>" = ["<log verifier key>", ...]
STATE/latest/<id>.note   the newest checkpoint cosigned for one origin, as submitted
```

Every file is written through ``storage.blobs.durable.atomic_write`` (temp file, fsync,
rename, fsync of the directory), so a crash leaves the old latest checkpoint or the new one.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import stat
import tomllib
from collections.abc import Mapping, Sequence
from pathlib import Path

from i18n import _
from storage.blobs.durable import atomic_write, makedirs_durable
from verify.log.note import NoteError, VerifierKey, parse_checkpoint, parse_verifier_key
from verify.log.signing import SEED_SIZE, generate_private_key
from verify.witness.cosignature import COSIGNATURE_ALGORITHM, CosignerKey, cosigner_key
from verify.witness.protocol import Latest

_PREFIX = "PRIVATE+KEY+"


class WitnessStateError(ValueError):
    code = "witness-state"

    def __init__(self, message: str, *, hint: str) -> None:
        super().__init__(message)
        self.hint = hint


def init_state(folder: Path, name: str) -> tuple[CosignerKey, bool]:
    """Make the state directory and the witness key (never replaced); (key, created)."""
    path = folder / "witness.key"
    if path.exists():
        found, seed = load_key(folder)
        if found != name:
            raise WitnessStateError(
                _("{folder} already holds the key of witness {found!r}, not {name!r}").format(
                    folder=folder, found=found, name=name
                ),
                hint=_("Use another --state directory, or the name the witness already has."),
            )
        return cosigner_key(found, seed), False
    seed = generate_private_key()
    key = cosigner_key(name, seed)  # checks the name
    makedirs_durable(folder, mode=0o700)
    raw = base64.b64encode(bytes([COSIGNATURE_ALGORITHM]) + seed).decode("ascii")
    text = f"{_PREFIX}{name}+{key.key_id.hex()}+{raw}\n"
    atomic_write(path, text.encode("ascii"), mode=0o600, exclusive=True)
    settings = folder / "witness.toml"
    if not settings.exists():
        atomic_write(settings, _toml(name, {}).encode("utf-8"), mode=0o644)
    return key, True


def load_key(folder: Path) -> tuple[str, bytes]:
    path = folder / "witness.key"
    fix = _("Run '{command}' once on this host.").format(
        command=f"evidock witness init --state {folder} --name NAME"
    )
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
        text = path.read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError) as e:
        raise WitnessStateError(
            _("cannot read the witness key {path}: {error}").format(path=path, error=e), hint=fix
        ) from e
    if mode & 0o077:
        raise WitnessStateError(
            _("witness key {path} is readable by others (mode {mode:o})").format(
                path=path, mode=mode
            ),
            hint=_("Run '{command}'.").format(command=f"chmod 600 {path}"),
        )
    parts = text.split("+", 4)
    try:
        raw = base64.b64decode(parts[4], validate=True) if len(parts) == 5 else b""
    except binascii.Error:
        raw = b""
    if not text.startswith(_PREFIX) or len(raw) != 1 + SEED_SIZE or raw[0] != 0x04:
        raise WitnessStateError(_("{path} is not a witness key").format(path=path), hint=fix)
    name, seed = parts[2], raw[1:]
    if cosigner_key(name, seed).key_id.hex() != parts[3]:
        raise WitnessStateError(
            _("{path}: the key id does not match the key").format(path=path), hint=fix
        )
    return name, seed


def load_logs(folder: Path) -> dict[str, list[VerifierKey]]:
    """The logs of ``witness.toml``: origin -> the verifier keys that may sign it."""
    path = folder / "witness.toml"
    if not path.exists():
        return {}
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
        logs = raw.get("logs", {})
        return {o: [parse_verifier_key(k) for k in keys] for o, keys in logs.items()}
    except (OSError, tomllib.TOMLDecodeError, NoteError, TypeError, AttributeError) as e:
        raise WitnessStateError(
            _("{path} is not a witness settings file: {error}").format(path=path, error=e),
            hint=_("Write {example}, one line per log.").format(
                example='[logs] "ORIGIN" = ["dock-01+1a2b3c4d+AQ..."]'
            ),
        ) from e


def parse_log_flag(text: str) -> tuple[str, VerifierKey]:
    """``ORIGIN=VKEY`` of ``evidock witness serve --log``."""
    origin, sep, vkey = text.rpartition("=")
    if not sep or not origin:
        raise WitnessStateError(
            _("--log {text!r} is not ORIGIN=VKEY").format(text=text),
            hint=_("Write e.g. {example}").format(
                example="--log evidock/custody-log=dock-01+1a2b3c4d+AQ..."
            ),
        )
    try:
        return origin, parse_verifier_key(vkey)
    except NoteError as e:
        raise WitnessStateError(
            _("--log {text!r}: {error}").format(text=text, error=e), hint=_(e.hint)
        ) from e


def latest_file(folder: Path, origin: str) -> Path:
    return folder / "latest" / f"{hashlib.sha256(origin.encode()).hexdigest()[:32]}.note"


def load_latest(folder: Path) -> dict[str, Latest]:
    found: dict[str, Latest] = {}
    for path in sorted((folder / "latest").glob("*.note")):
        note = path.read_text(encoding="utf-8")
        cp = parse_checkpoint(note[: note.rfind("\n\n") + 1])
        found[cp.origin] = Latest(origin=cp.origin, size=cp.size, root=cp.root, note=note)
    return found


def keep_latest(folder: Path, latest: Latest) -> None:
    """Durably replace the latest checkpoint of its origin (before the witness answers)."""
    atomic_write(latest_file(folder, latest.origin), latest.note.encode("utf-8"), mode=0o644)


def _toml(name: str, logs: Mapping[str, Sequence[str]]) -> str:
    lines = [f"name = {_q(name)}", "", "[logs]"]
    lines += [f"{_q(o)} = [{', '.join(_q(k) for k in keys)}]" for o, keys in logs.items()]
    return "\n".join(lines) + "\n"


def _q(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
