"""Configuration: TOML file plus ``EVIDOCK_*`` environment, parsed once into frozen settings.

This is the only module that reads ``os.environ``. Every key has a default, so ``EVIDOCK_HOME``
alone is enough to run a dock in a folder.
"""

from __future__ import annotations

import os
import re
import socket
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ingest.errors import ConfigError
from storage.s3config import ADDRESSING_STYLES, CHECKSUM_BEHAVIOURS, LOCK_MODES, MIB, S3Config
from verify.note import NoteError, VerifierKey, parse_verifier_key

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


@dataclass(frozen=True, slots=True, kw_only=True)
class ProbeSettings:
    exiftool: str = "exiftool"
    ffprobe: str = "ffprobe"
    timeout_s: float = 60.0


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
    if path is None and env.get("EVIDOCK_CONFIG"):
        path = Path(env["EVIDOCK_CONFIG"])
    if path is None and SYSTEM_CONFIG.is_file():
        path = SYSTEM_CONFIG
    raw: dict[str, Any] = {}
    if path is not None:
        try:
            raw = tomllib.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError as e:
            raise ConfigError(f"configuration file {path} does not exist") from e
        except tomllib.TOMLDecodeError as e:
            raise ConfigError(f"configuration file {path} is not valid TOML: {e}") from e
        except OSError as e:
            raise ConfigError(f"cannot read configuration file {path}: {e.strerror}") from e
    return parse(raw, env=env, source=str(path) if path else "defaults")


def parse(raw: Mapping[str, Any], *, env: Mapping[str, str], source: str) -> Settings:
    known = {
        "data_dir",
        "catalog_url",
        "timezone",
        "offload_deadline_hours",
        "archive_deadline_days",
        "device_clock_zone",
        "store",
        "s3",
        "dock",
        "worker",
        "probe",
        "compliance",
        "verify",
    }
    unknown = sorted(set(raw) - known)
    if unknown:
        raise ConfigError(f"{source}: unknown key(s) {', '.join(unknown)}")
    if env.get("EVIDOCK_HOME"):
        data_dir = Path(env["EVIDOCK_HOME"])
    elif "data_dir" in raw:
        data_dir = Path(_str(raw, "data_dir", source))
    else:
        data_dir = Path(env.get("HOME", "/root")) / ".local/share/evidock"
    data_dir = data_dir.expanduser().absolute()
    catalog_url = env.get("EVIDOCK_CATALOG_URL") or raw.get("catalog_url")
    if catalog_url is None:
        catalog_url = f"sqlite:///{data_dir / 'catalog.db'}"
    if not isinstance(catalog_url, str):
        raise ConfigError(f"{source}: catalog_url must be a string")
    timezone = _zone(raw.get("timezone", "Asia/Shanghai"), "timezone", source)
    device_zone = _zone(raw.get("device_clock_zone", timezone), "device_clock_zone", source)
    hours = raw.get("offload_deadline_hours", 24)
    if not isinstance(hours, int | float) or hours <= 0:
        raise ConfigError(f"{source}: offload_deadline_hours must be a positive number")
    days = raw.get("archive_deadline_days", 30)
    if not isinstance(days, int) or days <= 0:
        raise ConfigError(f"{source}: archive_deadline_days must be a positive whole number")
    store = _store(_table(raw, "store", source), _table(raw, "s3", source), source)
    dock_raw = _table(raw, "dock", source)
    name = env.get("EVIDOCK_DOCK_NAME") or dock_raw.get("name") or _default_dock_name()
    if not isinstance(name, str) or not _NAME.match(name):
        raise ConfigError(
            f"{source}: [dock] name {name!r} must be 1-63 letters, digits, '.', '_' or '-'"
        )
    parallel = dock_raw.get("parallel_devices", 4)
    if not isinstance(parallel, int) or not 1 <= parallel <= 64:
        raise ConfigError(f"{source}: [dock] parallel_devices must be between 1 and 64")
    per_disk = dock_raw.get("per_disk", 1)
    if not isinstance(per_disk, int) or not 1 <= per_disk <= 16:
        raise ConfigError(f"{source}: [dock] per_disk must be between 1 and 16")
    settle = dock_raw.get("settle_seconds", 3.0)
    grace = dock_raw.get("stop_grace_seconds", 20.0)
    for key, value in (("settle_seconds", settle), ("stop_grace_seconds", grace)):
        if not isinstance(value, int | float) or value < 0:
            raise ConfigError(f"{source}: [dock] {key} must be a number of seconds >= 0")
    limits = {}
    for key, default, high in (("max_depth", 64, 256), ("max_entries", 200_000, 10_000_000),
                               ("max_watched_folders", 1024, 100_000)):  # fmt: skip
        value = dock_raw.get(key, default)
        if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= high:
            raise ConfigError(f"{source}: [dock] {key} must be a whole number between 1 and {high}")
        limits[key] = value
    watchdog = env.get("WATCHDOG_USEC", "")
    probe_raw = _table(raw, "probe", source)
    timeout = probe_raw.get("timeout_s", 60.0)
    if not isinstance(timeout, int | float) or timeout <= 0:
        raise ConfigError(f"{source}: [probe] timeout_s must be a positive number")
    return Settings(
        data_dir=data_dir,
        catalog_url=catalog_url,
        timezone=timezone,
        offload_deadline_hours=float(hours),
        archive_deadline_days=days,
        device_clock_zone=device_zone,
        store=store,
        dock=DockSettings(
            name=name,
            watch=tuple(Path(w) for w in dock_raw.get("watch", [])),
            metrics_address=str(dock_raw.get("metrics_address", "127.0.0.1:9108")),
            parallel_devices=parallel,
            per_disk=per_disk,
            wipe_after_offload=bool(dock_raw.get("wipe_after_offload", False)),
            udev=bool(dock_raw.get("udev", True)),
            settle_seconds=float(settle),
            stop_grace_seconds=float(grace),
            mount_root=Path(str(dock_raw.get("mount_root", "/run/evidock/media"))),
            profiles_dir=Path(str(dock_raw.get("profiles_dir", "/etc/evidock/profiles.d"))),
            max_depth=limits["max_depth"],
            max_entries=limits["max_entries"],
            max_watched_folders=limits["max_watched_folders"],
        ),
        probe=ProbeSettings(
            exiftool=str(probe_raw.get("exiftool", "exiftool")),
            ffprobe=str(probe_raw.get("ffprobe", "ffprobe")),
            timeout_s=float(timeout),
        ),
        source=source,
        notify_socket=env.get("NOTIFY_SOCKET") or None,
        watchdog_usec=int(watchdog) if watchdog.isdigit() else None,
        compliance=_compliance(_table(raw, "compliance", source), source),
        worker=_worker(_table(raw, "worker", source), source),
        verify=_verify(_table(raw, "verify", source), source),
    )


def _verify(raw: Mapping[str, Any], source: str) -> VerifySettings:
    unknown = sorted(set(raw) - {"trusted_keys"})
    if unknown:
        raise ConfigError(f"{source}: unknown key(s) in [verify]: {', '.join(unknown)}")
    texts = raw.get("trusted_keys", [])
    if not isinstance(texts, list) or not all(isinstance(t, str) for t in texts):
        raise ConfigError(f"{source}: [verify] trusted_keys must be a list of verifier keys")
    keys = []
    for text in texts:
        try:
            keys.append(parse_verifier_key(text))
        except NoteError as e:
            raise ConfigError(
                f"{source}: [verify] trusted_keys: {e}",
                hint="Copy each key as 'evidock init' prints it on its dock: name+keyid+key.",
            ) from e
    names = [k.name for k in keys]
    if len(set(names)) != len(names):
        raise ConfigError(f"{source}: [verify] trusted_keys names a key twice")
    return VerifySettings(trusted_keys=tuple(keys))


def _store(raw: Mapping[str, Any], s3_raw: Mapping[str, Any], source: str) -> StoreSettings:
    """[store] and [s3] (issue 8): where an item must be before it counts as offloaded."""
    unknown = sorted(set(raw) - {"system_of_record", "release_local_after_upload", "shared"})
    if unknown:
        raise ConfigError(f"{source}: unknown key(s) in [store]: {', '.join(unknown)}")
    sor_raw = raw.get("system_of_record", ["local"])
    if isinstance(sor_raw, str):
        sor_raw = [sor_raw]
    sor = tuple(dict.fromkeys(sor_raw))
    if not sor or any(b not in ("local", "s3") for b in sor):
        raise ConfigError(f"{source}: [store] system_of_record takes 'local' and/or 's3'")
    release = raw.get("release_local_after_upload", False)
    if not isinstance(release, bool):
        raise ConfigError(f"{source}: [store] release_local_after_upload must be true or false")
    if release and sor != ("s3",):
        raise ConfigError(
            f'{source}: [store] release_local_after_upload needs system_of_record = ["s3"]',
            hint="A local copy that is part of the system of record is never released.",
        )
    s3 = _s3(s3_raw, source, release=release) if s3_raw else None
    if "s3" in sor and s3 is None:
        raise ConfigError(
            f"{source}: [store] system_of_record names 's3' but there is no [s3] section",
            hint='Add [s3] with at least bucket = "..." (and endpoint_url for a non-AWS store).',
        )
    shared = raw.get("shared", False)
    if not isinstance(shared, bool):
        raise ConfigError(f"{source}: [store] shared must be true or false")
    return StoreSettings(system_of_record=sor, s3=s3, shared=shared)


def _s3(raw: Mapping[str, Any], source: str, *, release: bool) -> S3Config:
    d = S3Config(bucket="-")
    known = {"endpoint_url", "bucket", "region", "prefix", "addressing_style",
             "object_lock_mode", "retention_days", "checksum_calculation",
             "multipart_threshold_mib", "part_size_mib", "connect_timeout_s",
             "read_timeout_s", "max_attempts"}  # fmt: skip
    unknown = sorted(set(raw) - known)
    if unknown:
        raise ConfigError(f"{source}: unknown key(s) in [s3]: {', '.join(unknown)}")

    def text(key: str, default: str, choices: tuple[str, ...] | None = None) -> str:
        v = raw.get(key, default)
        if not isinstance(v, str) or (choices is not None and v not in choices):
            allowed = f" (one of {', '.join(repr(c) for c in choices)})" if choices else ""
            raise ConfigError(f"{source}: [s3] {key} must be a string{allowed}")
        return v

    def number(key: str, default: float, low: float, high: float) -> float:
        v = raw.get(key, default)
        if not isinstance(v, int | float) or isinstance(v, bool) or not low <= v <= high:
            raise ConfigError(f"{source}: [s3] {key} must be a number {low:g}..{high:g}")
        return float(v)

    bucket = text("bucket", "")
    if not re.fullmatch(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]", bucket):
        raise ConfigError(f"{source}: [s3] bucket {bucket!r} is not an S3 bucket name")
    prefix = text("prefix", "")
    if prefix and (not prefix.endswith("/") or prefix.startswith("/") or ".." in prefix):
        raise ConfigError(f"{source}: [s3] prefix must be relative and end with '/', or be ''")
    endpoint = text("endpoint_url", "") or None
    if endpoint is not None and not re.match(r"^https?://", endpoint):
        raise ConfigError(f"{source}: [s3] endpoint_url must start with http:// or https://")
    mode = text("object_lock_mode", d.object_lock_mode, LOCK_MODES)
    part = int(number("part_size_mib", d.part_size / MIB, 5, 5120) * MIB)
    threshold = int(number("multipart_threshold_mib", d.multipart_threshold / MIB, 5, 5120) * MIB)
    return S3Config(
        bucket=bucket,
        endpoint_url=endpoint,
        region=text("region", d.region),
        prefix=prefix,
        addressing_style=text("addressing_style", d.addressing_style, ADDRESSING_STYLES),
        checksum_calculation=text(
            "checksum_calculation", d.checksum_calculation, CHECKSUM_BEHAVIOURS
        ),
        object_lock_mode=mode,
        retention_days=int(number("retention_days", d.retention_days, 1, 36500)),
        multipart_threshold=threshold,
        part_size=part,
        connect_timeout_s=number("connect_timeout_s", d.connect_timeout_s, 0.1, 600),
        read_timeout_s=number("read_timeout_s", d.read_timeout_s, 0.1, 3600),
        max_attempts=int(number("max_attempts", d.max_attempts, 1, 20)),
        release_local=release,
    )


def _worker(raw: Mapping[str, Any], source: str) -> WorkerSettings:
    """[worker], checked key by key (issue 5)."""
    d = WorkerSettings()
    unknown = sorted(set(raw) - set(WorkerSettings.__dataclass_fields__))
    if unknown:
        raise ConfigError(f"{source}: unknown key(s) in [worker]: {', '.join(unknown)}")

    def whole(key: str, low: int, high: int) -> int:
        v = raw.get(key, getattr(d, key))
        if not isinstance(v, int) or isinstance(v, bool) or not low <= v <= high:
            raise ConfigError(f"{source}: [worker] {key} must be a whole number {low}..{high}")
        return v

    def seconds(key: str) -> float:
        v = raw.get(key, getattr(d, key))
        if not isinstance(v, int | float) or isinstance(v, bool) or v < 0:
            raise ConfigError(f"{source}: [worker] {key} must be a number of seconds >= 0")
        return float(v)

    preset = raw.get("preset", d.preset)
    if preset not in X264_PRESETS:
        raise ConfigError(
            f"{source}: [worker] preset {preset!r} is not an x264 preset",
            hint=f"Use one of: {', '.join(X264_PRESETS)}.",
        )
    lease = seconds("lease_seconds")
    if lease < 1:
        raise ConfigError(f"{source}: [worker] lease_seconds must be at least 1")
    return WorkerSettings(
        concurrency=whole("concurrency", 1, 64),
        metrics_address=str(raw.get("metrics_address", d.metrics_address)),
        embedded=bool(raw.get("embedded", d.embedded)),
        preset=preset,
        crf=whole("crf", 0, 51),
        contact_sheet_frames=whole("contact_sheet_frames", 1, 36),
        max_attempts=whole("max_attempts", 1, 100),
        lease_seconds=lease,
        retry_seconds=seconds("retry_seconds"),
        poll_seconds=max(0.05, seconds("poll_seconds")),
        timeout_s=max(1.0, seconds("timeout_s")),
        nice=whole("nice", 0, 19),
    )


def _compliance(raw: Mapping[str, Any], source: str) -> ComplianceSettings:
    unknown = sorted(set(raw) - set(ComplianceSettings.__dataclass_fields__))
    if unknown:
        raise ConfigError(f"{source}: unknown key(s) in [compliance]: {', '.join(unknown)}")
    pattern = raw.get("case_number_pattern", DEFAULT_CASE_NUMBER_PATTERN)
    try:
        re.compile(pattern)
    except (re.error, TypeError) as e:
        raise ConfigError(
            f"{source}: [compliance] case_number_pattern is not a regular expression: {e}"
        ) from e
    numbers: dict[str, float] = {}
    for key in ("link_slack_minutes", "important_slack_hours", "clock_skew_hours",
                "clock_tolerance_minutes"):  # fmt: skip
        value = raw.get(key, getattr(ComplianceSettings(), key))
        if not isinstance(value, int | float) or isinstance(value, bool) or value < 0:
            raise ConfigError(f"{source}: [compliance] {key} must be a number >= 0")
        numbers[key] = float(value)
    return ComplianceSettings(
        case_number_pattern=pattern,
        link_slack_minutes=numbers["link_slack_minutes"],
        important_slack_hours=numbers["important_slack_hours"],
        clock_skew_hours=numbers["clock_skew_hours"],
        clock_tolerance_minutes=numbers["clock_tolerance_minutes"],
    )


def _default_dock_name() -> str:
    host = re.sub(r"[^A-Za-z0-9._-]", "-", socket.gethostname())[:63]
    return host if host and _NAME.match(host) else "dock-01"


def _zone(value: object, key: str, source: str) -> str:
    if not isinstance(value, str):
        raise ConfigError(f"{source}: {key} must be a zone name such as 'Asia/Shanghai'")
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError) as e:
        raise ConfigError(
            f"{source}: {key} {value!r} is not a known time zone (use e.g. 'Asia/Shanghai')"
        ) from e
    return value


def _str(raw: Mapping[str, Any], key: str, source: str) -> str:
    v = raw[key]
    if not isinstance(v, str):
        raise ConfigError(f"{source}: {key} must be a string")
    return v


def _table(raw: Mapping[str, Any], key: str, source: str) -> Mapping[str, Any]:
    v = raw.get(key, {})
    if not isinstance(v, dict):
        raise ConfigError(f"{source}: [{key}] must be a table")
    return v
