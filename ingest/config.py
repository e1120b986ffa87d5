"""Configuration: TOML file plus ``EVIDOCK_*`` environment, parsed once into frozen settings.

This is the only module that reads ``os.environ``. Every key has a default, so ``EVIDOCK_HOME``
alone is enough to run a dock in a folder. ``SCHEMA`` lists every key of every section with
its type, range and default; ``ingest.configkeys`` reads the file by it, refusing (never
coercing) a wrong type, a value out of range and an unknown key or section. Over the ~400-line
guide because the frozen settings records and that one table of every key belong together.
"""

from __future__ import annotations

import difflib
import os
import re
import socket
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from i18n import N_, _, choose, n_
from ingest import configkeys as ck
from ingest.errors import ConfigError
from storage.blobs.s3config import ADDRESSING_STYLES, CHECKSUM_BEHAVIOURS, LOCK_MODES, MIB, S3Config
from verify.log.note import NoteError, VerifierKey, parse_verifier_key
from verify.tsa.rfc3161 import TimestampError, TsaChain, load_chain
from verify.witness.cosignature import CosignerKey, parse_cosigner_key

SYSTEM_CONFIG = Path("/etc/evidock/evidock.toml")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$")


@dataclass(frozen=True, slots=True, kw_only=True)
class StoreSettings:
    system_of_record: tuple[str, ...] = ("local",)
    s3: S3Config | None = None  # [s3]: an object store, the system of record or a replica
    # data_dir/store is one file system on every node (NFS): any worker can run any job;
    # else jobs that read a dock's local store (proxies, uploads) run on that dock's node
    shared: bool = False

    @property
    def s3_is_record(self) -> bool:
        return "s3" in self.system_of_record


@dataclass(frozen=True, slots=True, kw_only=True)
class DockSettings:
    name: str
    watch: tuple[Path, ...] = ()
    metrics_address: str = "127.0.0.1:9108"
    parallel_devices: int = 4
    per_disk: int = 1
    wipe_after_offload: bool = False
    udev: bool = True
    settle_seconds: float = 3.0
    stop_grace_seconds: float = 20.0
    mount_root: Path = Path("/run/evidock/media")
    profiles_dir: Path = Path("/etc/evidock/profiles.d")
    # bounds on a device's tree (issue 23): what lies beyond stays on it, with the reason
    max_depth: int = 64  # folder levels entered below a device's root
    max_entries: int = 200_000  # entries listed on one device
    max_watched_folders: int = 1024  # folders of one watch-folder device watched for changes
    space_margin_mib: int = 256  # kept free on the store: a file that would eat it is not copied
    # issue 18: EvidockStoreNearlyFull fires below this much free space: one full camera
    alert_free_gib: int = 64


@dataclass(frozen=True, slots=True, kw_only=True)
class ProbeSettings:
    exiftool: str = "exiftool"
    ffprobe: str = "ffprobe"
    timeout_s: float = 60.0
    threads: int = 2  # files probed at the same time, each by its own exiftool (issue 19)


@dataclass(frozen=True, slots=True, kw_only=True)
class WorkerSettings:
    """[worker]: job workers, standalone (evidock worker) or embedded in the dock (issue 5)."""

    concurrency: int = 1
    metrics_address: str = "127.0.0.1:9109"
    embedded: bool = True
    preset: str = "veryfast"
    crf: int = 28
    contact_sheet_frames: int = 9
    max_attempts: int = 3
    lease_seconds: float = 300.0
    retry_seconds: float = 60.0
    poll_seconds: float = 5.0
    safety_poll_seconds: float = 300.0
    timeout_s: float = 3600.0
    nice: int = 10


X264_PRESETS = ("ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow",
                "slower", "veryslow", "placebo")  # fmt: skip


# 凤里执罚〔2026〕12号 (agency code, year in 〔〕, serial, 号) or 2026-0012.
DEFAULT_CASE_NUMBER_PATTERN = (
    r"^(?:[\u4e00-\u9fffA-Za-z]{1,20}〔(?:19|20)\d{2}〕\d{1,6}号|(?:19|20)\d{2}-\d{1,6})$"
)


@dataclass(frozen=True, slots=True, kw_only=True)
class ComplianceSettings:
    """[compliance]: case numbers, automatic linking to cases, checks of camera clocks."""

    case_number_pattern: str = DEFAULT_CASE_NUMBER_PATTERN
    link_slack_minutes: float = 15.0
    important_slack_hours: float = 12.0
    clock_skew_hours: float = 24.0
    clock_tolerance_minutes: float = 60.0


@dataclass(frozen=True, slots=True, kw_only=True)
class VerifySettings:
    """[verify]: the verifier keys the office published for its docks (``evidock init``
    prints each one); checkpoints of those docks are checked against these, not the catalog."""

    trusted_keys: tuple[VerifierKey, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class WitnessSettings:
    """One [trust] witnesses entry: where the witness listens, and its pinned key."""

    url: str
    key: CosignerKey
    retired_at: datetime | None = None  # its cosignatures made later count for nothing

    def active(self, at: datetime) -> bool:
        return self.retired_at is None or at < self.retired_at


@dataclass(frozen=True, slots=True, kw_only=True)
class TrustSettings:
    """[trust] (issue 15): the witnesses every checkpoint goes to, and what verify demands."""

    witnesses: tuple[WitnessSettings, ...] = ()
    witness_quorum: int = 0
    witness_grace_seconds: float = 3600.0
    witness_timeout_s: float = 5.0
    tsa_url: str = ""  # an RFC 3161 time-stamping authority for every checkpoint note
    tsa_chain: TsaChain | None = None  # its pinned certificates: the TSA's first, root last


@dataclass(frozen=True, slots=True, kw_only=True)
class ConsoleSettings:
    """[console] (issue 16): the evidence console's web server. With tls_cert and tls_key it
    serves HTTPS itself; without, it listens on localhost behind a reverse proxy (README)."""

    listen: str = "127.0.0.1"
    port: int = 8443
    tls_cert: Path | None = None
    tls_key: Path | None = None
    session_minutes: int = 30  # a session ends this long after its last request
    metrics_address: str = "127.0.0.1:9110"  # evidock_console_* counters; "off" for none
    behind_proxy: bool = False  # trust X-Forwarded-Proto/-For of one reverse proxy
    threads: int = 8

    @property
    def tls(self) -> bool:
        return self.tls_cert is not None


@dataclass(frozen=True, slots=True, kw_only=True)
class Settings:
    data_dir: Path
    catalog_url: str
    timezone: str
    offload_deadline_hours: float
    archive_deadline_days: int
    device_clock_zone: str
    store: StoreSettings
    dock: DockSettings
    probe: ProbeSettings
    source: str
    notify_socket: str | None = None
    watchdog_usec: int | None = None
    compliance: ComplianceSettings = ComplianceSettings()
    worker: WorkerSettings = WorkerSettings()
    verify: VerifySettings = VerifySettings()
    # fault tests only (EVIDOCK_TEST_STOP_AT): an ingest or a case operation sends itself
    # test_stop_signal (EVIDOCK_TEST_STOP_SIGNAL: KILL, the default, or STOP) when it
    # reaches this stage (ingest.pipeline.stages, ingest.cases.steps); never set in service
    test_stop_at: str | None = None
    test_stop_signal: str | None = None
    trust: TrustSettings = TrustSettings()
    console: ConsoleSettings = ConsoleSettings()
    office: str = ""  # the exporting office named in packages and receipts (issue 17)
    # the account that ran sudo (SUDO_USER): the CLI acts as that person, not as root (issue 16)
    sudo_user: str | None = None

    @property
    def store_dir(self) -> Path:
        return self.data_dir / "store"

    @property
    def keys_dir(self) -> Path:
        return self.data_dir / "keys"

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


def load(config_path: Path | None = None, *, environ: Mapping[str, str] | None = None) -> Settings:
    """Find, read and validate the configuration; every problem is a ConfigError with a fix."""
    env = os.environ if environ is None else environ
    path = config_path
    if path is None:
        named = _env(env, "EVIDOCK_CONFIG")
        path = Path(named) if named is not None else None
    if path is None and SYSTEM_CONFIG.is_file():
        path = SYSTEM_CONFIG
    raw: dict[str, Any] = {}
    if path is not None:
        try:
            raw = tomllib.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError as e:
            raise ConfigError(
                _("configuration file {path} does not exist").format(path=path)
            ) from e
        except tomllib.TOMLDecodeError as e:
            raise ConfigError(
                _("configuration file {path} is not valid TOML: {error}").format(path=path, error=e)
            ) from e
        except UnicodeDecodeError as e:
            raise ConfigError(
                _("configuration file {path} is not UTF-8 text: {error}").format(path=path, error=e)
            ) from e
        except OSError as e:
            raise ConfigError(
                _("cannot read configuration file {path}: {error}").format(
                    path=path, error=e.strerror
                )
            ) from e
    return parse(raw, env=env, source=str(path) if path else "defaults")


def reader_language(requested: str | None, *, environ: Mapping[str, str] | None = None) -> str:
    """The language of what this command says: ``--lang``, else ``EVIDOCK_LANG``, else the
    locale (``LANGUAGE``, ``LC_ALL``, ``LC_MESSAGES``, ``LANG``), else Chinese."""
    env = os.environ if environ is None else environ
    try:
        return choose(requested, env)
    except ValueError as e:
        raise ConfigError(
            _("unknown language {value!r}").format(value=requested or env.get("EVIDOCK_LANG")),
            hint=_("Use --lang zh or --lang en (or EVIDOCK_LANG=zh|en)."),
        ) from e


# -- the rules of single values (each says what is wrong after the value, translated) --------
def _zone_rule(value: str) -> str | None:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        return _('is not a known time zone: write e.g. "Asia/Shanghai"')
    return None


def _name_rule(value: str) -> str | None:
    return None if _NAME.match(value) else _("must be 1-63 letters, digits, '.', '_' or '-'")


def _command_rule(value: str) -> str | None:
    return _("is empty: write the program's name or path") if not value.strip() else None


def _url_rule(value: str) -> str | None:
    if re.match(r"^(sqlite|postgresql)(\+\w+)?://", value):
        return None
    return _(
        "is not a catalog URL: write sqlite:////var/lib/evidock/catalog.db or "
        "postgresql+psycopg://USER@HOST/DATABASE"
    )


def _address_rule(value: str) -> str | None:
    if value in ("", "off"):
        return None
    host, colon, port = value.rpartition(":")
    if colon and port.isdigit() and int(port) <= 65535 and host.strip() == host:
        return None
    return _('is not HOST:PORT: write e.g. "127.0.0.1:9108", or "off" for no endpoint')


def _bucket_rule(value: str) -> str | None:
    if re.fullmatch(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]", value):
        return None
    return _("is not an S3 bucket name (3-63 lower-case letters, digits, '.' and '-')")


def _prefix_rule(value: str) -> str | None:
    if value and (not value.endswith("/") or value.startswith("/") or ".." in value):
        return _('must be relative and end with \'/\' (e.g. "district-7/"), or be ""')
    return None


def _endpoint_rule(value: str) -> str | None:
    if value and not re.match(r"^https?://", value):
        return _("must start with http:// or https:// (or leave it out for AWS)")
    return None


def _regex_rule(value: str) -> str | None:
    try:
        re.compile(value)
    except re.error as e:
        return _("is not a regular expression: {error}").format(error=e)
    return None


def _verifier_rule(value: str) -> str | None:
    try:
        parse_verifier_key(value)
    except NoteError as e:
        return _("is not a verifier key: {error}").format(error=e)
    return None


_DOCK = DockSettings(name="-")
_PROBE = ProbeSettings()
_WORKER = WorkerSettings()
_COMPLIANCE = ComplianceSettings()
_S3 = S3Config(bucket="-")
_TRUST = TrustSettings()
_CONSOLE = ConsoleSettings()

SCHEMA: dict[str, dict[str, ck.Key]] = {
    "": {
        "data_dir": ck.path(None),
        "catalog_url": ck.text(None, check=_url_rule),
        "timezone": ck.text("Asia/Shanghai", check=_zone_rule),
        "device_clock_zone": ck.text(None, check=_zone_rule),
        "offload_deadline_hours": ck.number(24.0, positive=True),
        "archive_deadline_days": ck.whole(30, 1),
        "office": ck.text(""),
    },
    "store": {
        "system_of_record": ck.texts(("local",), choices=("local", "s3")),
        "release_local_after_upload": ck.flag(False),
        "shared": ck.flag(StoreSettings().shared),
    },
    "s3": {
        "endpoint_url": ck.text("", check=_endpoint_rule),
        "bucket": ck.text(None, check=_bucket_rule, required=True, example='"evidence"'),
        "region": ck.text(_S3.region),
        "prefix": ck.text(_S3.prefix, check=_prefix_rule),
        "addressing_style": ck.text(_S3.addressing_style, choices=ADDRESSING_STYLES),
        "object_lock_mode": ck.text(_S3.object_lock_mode, choices=LOCK_MODES),
        "retention_days": ck.whole(_S3.retention_days, 1, 36500),
        "checksum_calculation": ck.text(_S3.checksum_calculation, choices=CHECKSUM_BEHAVIOURS),
        "multipart_threshold_mib": ck.number(_S3.multipart_threshold / MIB, low=5, high=5120),
        "part_size_mib": ck.number(_S3.part_size / MIB, low=5, high=5120),
        "connect_timeout_s": ck.number(_S3.connect_timeout_s, low=0.1, high=600),
        "read_timeout_s": ck.number(_S3.read_timeout_s, low=0.1, high=3600),
        "max_attempts": ck.whole(_S3.max_attempts, 1, 20),
    },
    "dock": {
        "name": ck.text(None, check=_name_rule),
        "watch": ck.paths(_DOCK.watch, example='["/srv/evidock/dropbox"]'),
        "metrics_address": ck.text(_DOCK.metrics_address, check=_address_rule),
        "parallel_devices": ck.whole(_DOCK.parallel_devices, 1, 64),
        "per_disk": ck.whole(_DOCK.per_disk, 1, 16),
        "wipe_after_offload": ck.flag(_DOCK.wipe_after_offload),
        "udev": ck.flag(_DOCK.udev),
        "settle_seconds": ck.number(_DOCK.settle_seconds, low=0),
        "stop_grace_seconds": ck.number(_DOCK.stop_grace_seconds, low=0),
        "mount_root": ck.path(_DOCK.mount_root),
        "profiles_dir": ck.path(_DOCK.profiles_dir),
        "max_depth": ck.whole(_DOCK.max_depth, 1, 256),
        "max_entries": ck.whole(_DOCK.max_entries, 1, 10_000_000),
        "max_watched_folders": ck.whole(_DOCK.max_watched_folders, 1, 100_000),
        "space_margin_mib": ck.whole(_DOCK.space_margin_mib, 0, 1 << 20),
        "alert_free_gib": ck.whole(_DOCK.alert_free_gib, 0, 1 << 20),
    },
    "probe": {
        "exiftool": ck.text(_PROBE.exiftool, check=_command_rule),
        "ffprobe": ck.text(_PROBE.ffprobe, check=_command_rule),
        "timeout_s": ck.number(_PROBE.timeout_s, positive=True),
        "threads": ck.whole(_PROBE.threads, 1, 16),
    },
    "worker": {
        "concurrency": ck.whole(_WORKER.concurrency, 1, 64),
        "metrics_address": ck.text(_WORKER.metrics_address, check=_address_rule),
        "embedded": ck.flag(_WORKER.embedded),
        "preset": ck.text(_WORKER.preset, choices=X264_PRESETS),
        "crf": ck.whole(_WORKER.crf, 0, 51),
        "contact_sheet_frames": ck.whole(_WORKER.contact_sheet_frames, 1, 36),
        "max_attempts": ck.whole(_WORKER.max_attempts, 1, 100),
        "lease_seconds": ck.number(_WORKER.lease_seconds, low=1),
        "retry_seconds": ck.number(_WORKER.retry_seconds, low=0),
        "poll_seconds": ck.number(_WORKER.poll_seconds, low=0.05),
        "safety_poll_seconds": ck.number(_WORKER.safety_poll_seconds, low=0.05),
        "timeout_s": ck.number(_WORKER.timeout_s, low=1),
        "nice": ck.whole(_WORKER.nice, 0, 19),
    },
    "compliance": {
        "case_number_pattern": ck.text(_COMPLIANCE.case_number_pattern, check=_regex_rule),
        "link_slack_minutes": ck.number(_COMPLIANCE.link_slack_minutes, low=0),
        "important_slack_hours": ck.number(_COMPLIANCE.important_slack_hours, low=0),
        "clock_skew_hours": ck.number(_COMPLIANCE.clock_skew_hours, low=0),
        "clock_tolerance_minutes": ck.number(_COMPLIANCE.clock_tolerance_minutes, low=0),
    },
    "verify": {
        "trusted_keys": ck.texts(
            (),
            check=_verifier_rule,
            example='["dock-01+1a2b3c4d+AQ..."]',
            hint=N_("Copy each key as 'evidock init' prints it on its dock: name+keyid+key."),
        ),
    },
    "trust": {
        "witnesses": ck.tables(
            ("url", "key"),
            optional=("retired_at",),
            example='[{url = "http://witness.example:7380", key = "w1+1a2b3c4d+BA..."}]',
            hint=N_(
                "Copy each key as 'evidock witness init' prints it on the witness's host; "
                'a retired witness keeps its entry with retired_at = "2026-12-01T00:00+08:00".'
            ),
        ),
        "witness_quorum": ck.whole(_TRUST.witness_quorum, 0, 100),
        "witness_grace_seconds": ck.number(_TRUST.witness_grace_seconds, low=0),
        "witness_timeout_s": ck.number(_TRUST.witness_timeout_s, low=0.1, high=120),
        "tsa_url": ck.text("", check=_endpoint_rule),
        "tsa_certificates": ck.path(None),
    },
    "console": {
        "listen": ck.text(_CONSOLE.listen, check=_command_rule),
        "port": ck.whole(_CONSOLE.port, 1, 65535),
        "tls_cert": ck.path(None),
        "tls_key": ck.path(None),
        "session_minutes": ck.whole(_CONSOLE.session_minutes, 1, 24 * 60),
        "metrics_address": ck.text(_CONSOLE.metrics_address, check=_address_rule),
        "behind_proxy": ck.flag(_CONSOLE.behind_proxy),
        "threads": ck.whole(_CONSOLE.threads, 1, 256),
    },
}
"""Every key evidock reads, by section: type, range, default. Nothing else is accepted."""

ENVIRONMENT = (
    "EVIDOCK_CONFIG",
    "EVIDOCK_HOME",
    "EVIDOCK_CATALOG_URL",
    "EVIDOCK_DOCK_NAME",
    "EVIDOCK_LANG",  # zh or en: the language of what people read (issue 20; i18n.choose)
    "EVIDOCK_TEST_STOP_AT",  # the fault tests' hook: see Settings.test_stop_at
    "EVIDOCK_TEST_STOP_SIGNAL",  # ... and what it does there: KILL (default) or STOP
)


def parse(raw: Mapping[str, Any], *, env: Mapping[str, str], source: str) -> Settings:
    """Settings from a parsed TOML document and the environment; any mistake is a ConfigError
    that names the file, the key and what to write."""
    _check_environment(env)
    values = ck.read(raw, SCHEMA, source=source)
    top = values[""]
    home = _env(env, "EVIDOCK_HOME")
    if home is not None:
        data_dir = Path(home)
    elif top["data_dir"] is not None:
        data_dir = top["data_dir"]
    else:
        data_dir = Path(env.get("HOME", "/root")) / ".local/share/evidock"
    data_dir = data_dir.expanduser().absolute()
    catalog_url = _env(env, "EVIDOCK_CATALOG_URL", _url_rule) or top["catalog_url"]
    if catalog_url is None:
        catalog_url = f"sqlite:///{data_dir / 'catalog.db'}"
    dock = values["dock"]
    name = _env(env, "EVIDOCK_DOCK_NAME", _name_rule) or dock["name"] or _default_dock_name()
    watchdog = env.get("WATCHDOG_USEC", "")
    return Settings(
        data_dir=data_dir,
        catalog_url=catalog_url,
        timezone=top["timezone"],
        offload_deadline_hours=top["offload_deadline_hours"],
        archive_deadline_days=top["archive_deadline_days"],
        device_clock_zone=top["device_clock_zone"] or top["timezone"],
        store=_store(values["store"], values["s3"] if "s3" in raw else None, source),
        dock=DockSettings(**(dock | {"name": name})),
        probe=ProbeSettings(**values["probe"]),
        source=source,
        notify_socket=env.get("NOTIFY_SOCKET") or None,
        watchdog_usec=int(watchdog) if watchdog.isdigit() else None,
        compliance=ComplianceSettings(**values["compliance"]),
        worker=WorkerSettings(**values["worker"]),
        verify=_verify(values["verify"], source),
        test_stop_at=_env(env, "EVIDOCK_TEST_STOP_AT"),
        test_stop_signal=_env(env, "EVIDOCK_TEST_STOP_SIGNAL"),
        trust=_trust(values["trust"], source),
        console=_console(values["console"], source),
        office=top["office"],
        sudo_user=env.get("SUDO_USER") or None,
    )


def _env(env: Mapping[str, str], name: str, rule: ck.Check | None = None) -> str | None:
    """An ``EVIDOCK_*`` variable, held to the rule of the key it stands for; None if unset."""
    if name not in env:
        return None
    value = env[name]
    if not value.strip():
        raise ConfigError(
            _("environment: {name} is set but empty").format(name=name),
            hint=_("Unset it (unset {name}) or give it a value.").format(name=name),
        )
    problem = rule(value) if rule is not None else None
    if problem is not None:
        raise ConfigError(
            _("environment: {setting} {problem}").format(
                setting=f"{name}={value!r}", problem=problem
            ),
            hint=_(
                "Correct {name} in the environment (or in the unit's Environment=), or unset it."
            ).format(name=name),
        )
    return value


def _check_environment(env: Mapping[str, str]) -> None:
    """A variable that looks like one of ours but is not (EVIDOCK_DOCKNAME) is a typo that
    would silently leave the default in place."""
    for var in env:
        if var.startswith("EVIDOCK_") and var not in ENVIRONMENT:
            near = difflib.get_close_matches(var, ENVIRONMENT, n=1, cutoff=0.8)
            if near:
                raise ConfigError(
                    _(
                        "environment: {name} is not a variable evidock reads; did you mean {near}?"
                    ).format(name=var, near=near[0]),
                    hint=_("evidock reads {names}.").format(names=", ".join(ENVIRONMENT)),
                )


def _verify(values: Mapping[str, Any], source: str) -> VerifySettings:
    keys = tuple(parse_verifier_key(text) for text in values["trusted_keys"])
    names = [k.name for k in keys]
    if len(set(names)) != len(names):
        raise ConfigError(
            _("{source}: [verify] trusted_keys names a key twice").format(source=source)
        )
    return VerifySettings(trusted_keys=keys)


def _trust(values: Mapping[str, Any], source: str) -> TrustSettings:
    witnesses = []
    for i, entry in enumerate(values["witnesses"], start=1):
        at = _("{source}: [trust] witnesses: item {n}").format(source=source, n=i)
        if _endpoint_rule(entry["url"]) is not None or not entry["url"]:
            raise ConfigError(
                _("{at}: url = {url} must start with http:// or https://").format(
                    at=at, url=repr(entry["url"])
                )
            )
        try:
            key = parse_cosigner_key(entry["key"])
        except NoteError as e:
            raise ConfigError(
                _("{at}: key is not a witness key: {error}").format(at=at, error=e),
                hint=_(e.hint),
            ) from e
        retired = _retired_at(entry.get("retired_at"), at)
        witnesses.append(WitnessSettings(url=entry["url"], key=key, retired_at=retired))
    names = [w.key.name for w in witnesses]
    if len(set(names)) != len(names):
        raise ConfigError(
            _("{source}: [trust] witnesses names a witness twice").format(source=source)
        )
    serving = sum(w.retired_at is None for w in witnesses)
    if values["witness_quorum"] > serving:
        raise ConfigError(
            n_(
                "{source}: [trust] witness_quorum = {quorum} asks for more cosignatures than "
                "the {n} witness in [trust] witnesses that is not retired",
                "{source}: [trust] witness_quorum = {quorum} asks for more cosignatures than "
                "the {n} witnesses in [trust] witnesses that are not retired",
                serving,
            ).format(source=source, quorum=values["witness_quorum"], n=serving),
            hint=_("Add witnesses or lower witness_quorum."),
        )
    return TrustSettings(
        tsa_url=values["tsa_url"],
        tsa_chain=_tsa_chain(values["tsa_url"], values["tsa_certificates"], source),
        witnesses=tuple(witnesses),
        witness_quorum=values["witness_quorum"],
        witness_grace_seconds=values["witness_grace_seconds"],
        witness_timeout_s=values["witness_timeout_s"],
    )


def _retired_at(text: str | None, at: str) -> datetime | None:
    if text is None:
        return None
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        when = None
    if when is None or when.tzinfo is None:
        raise ConfigError(
            _("{at}: retired_at = {value} is not a time with its zone").format(
                at=at, value=repr(text)
            ),
            hint=_('Write the time the witness was retired like "2026-12-01T00:00+08:00".'),
        )
    return when


def _tsa_chain(url: str, path: Path | None, source: str) -> TsaChain | None:
    if not url and path is None:
        return None
    if not url or path is None:
        raise ConfigError(
            _("{source}: [trust] tsa_url and tsa_certificates go together").format(source=source),
            hint=_(
                "Give the TSA's URL and the PEM file of its certificate chain (TSA first, "
                "root last), or neither."
            ),
        )
    try:
        return load_chain(path.read_bytes())
    except OSError as e:
        raise ConfigError(
            _("{source}: [trust] tsa_certificates: cannot read {path}: {error}").format(
                source=source, path=path, error=e
            )
        ) from e
    except TimestampError as e:
        raise ConfigError(
            _("{source}: [trust] tsa_certificates = {path}: {error}").format(
                source=source, path=repr(str(path)), error=e
            )
        ) from e


def _console(values: Mapping[str, Any], source: str) -> ConsoleSettings:
    """[console]: a certificate needs its key (and the other way round)."""
    if (values["tls_cert"] is None) != (values["tls_key"] is None):
        raise ConfigError(
            _("{source}: [console] tls_cert and tls_key go together").format(source=source),
            hint=_(
                "Give both (the PEM certificate chain and its private key), or neither and "
                "put the console behind a reverse proxy that terminates TLS."
            ),
        )
    return ConsoleSettings(**values)


def _store(
    values: Mapping[str, Any], s3_values: Mapping[str, Any] | None, source: str
) -> StoreSettings:
    """[store] and [s3] (issue 8): where an item must be before it counts as offloaded."""
    sor = tuple(dict.fromkeys(values["system_of_record"]))
    if not sor:
        raise ConfigError(
            _(
                "{source}: [store] system_of_record = [] names no store: "
                'write system_of_record = ["local"]'
            ).format(source=source)
        )
    release = values["release_local_after_upload"]
    if release and sor != ("s3",):
        raise ConfigError(
            _(
                '{source}: [store] release_local_after_upload needs system_of_record = ["s3"]'
            ).format(source=source),
            hint=_("A local copy that is part of the system of record is never released."),
        )
    s3 = _s3(s3_values, release=release) if s3_values is not None else None
    if "s3" in sor and s3 is None:
        raise ConfigError(
            _("{source}: [store] system_of_record names 's3' but there is no [s3] section").format(
                source=source
            ),
            hint=_('Add [s3] with at least bucket = "..." (and endpoint_url for a non-AWS store).'),
        )
    return StoreSettings(system_of_record=sor, s3=s3, shared=values["shared"])


def _s3(v: Mapping[str, Any], *, release: bool) -> S3Config:
    return S3Config(
        bucket=v["bucket"],
        endpoint_url=v["endpoint_url"] or None,
        region=v["region"],
        prefix=v["prefix"],
        addressing_style=v["addressing_style"],
        checksum_calculation=v["checksum_calculation"],
        object_lock_mode=v["object_lock_mode"],
        retention_days=v["retention_days"],
        multipart_threshold=int(v["multipart_threshold_mib"] * MIB),
        part_size=int(v["part_size_mib"] * MIB),
        connect_timeout_s=v["connect_timeout_s"],
        read_timeout_s=v["read_timeout_s"],
        max_attempts=v["max_attempts"],
        release_local=release,
    )


def _default_dock_name() -> str:
    host = re.sub(r"[^A-Za-z0-9._-]", "-", socket.gethostname())[:63]
    return host if host and _NAME.match(host) else "dock-01"
