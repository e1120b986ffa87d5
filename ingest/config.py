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

SYSTEM_CONFIG = Path("/etc/evidock/evidock.toml")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$")


@dataclass(frozen=True, slots=True, kw_only=True)
class StoreSettings:
    system_of_record: tuple[str, ...] = ("local",)


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
    store_raw = _table(raw, "store", source)
    sor = tuple(store_raw.get("system_of_record", ["local"]))
    if not sor or any(b not in ("local", "s3") for b in sor):
        raise ConfigError(f"{source}: [store] system_of_record takes 'local' and/or 's3'")
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
        store=StoreSettings(system_of_record=sor),
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
