"""An idle dock: CPU and wake-ups of ``evidock dock`` with an empty watch folder and no device.

Each dock is a real ``evidock dock --watch W --no-udev`` process on its own data dir (SQLite),
started with a notify socket (READY=1 is awaited, its messages are read as systemd does). Once
all are ready and have settled, every process is sampled at the start and the end of the same
window of ``--size`` seconds (default 60, 10 with --quick; the issue asks for 10 min: 600):

- CPU: utime + stime + cutime + cstime from /proc/PID/stat, as a fraction of one core (clock
  ticks; the run-time sum of /proc/PID/task/*/schedstat gives the same to the nanosecond);
- wake-ups: voluntary context switches of all its threads (/proc/PID/task/*/status: a thread
  that blocked and was woken), per second, and per thread for the dock as systemd runs it;
  involuntary ones (preemptions, more of them on a busy machine) are counted apart.

Baseline in the same window: a Python interpreter that only sleeps. Docks measured side by
side (each variant switches one source of wake-ups off, so their differences attribute them):
``as systemd runs it`` (metrics endpoint on, embedded job worker, WatchdogSec=120 as in
systemd/evidock-dock.service: a WATCHDOG=1 ping every 60 s), ``metrics off``, and ``bare
loop`` (metrics off, no embedded worker, no watchdog). Target (issue 19): < 0.5 % of a core
and no periodic wake-ups without an event.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.common import Options, note, scratch, table

TICK = os.sysconf("SC_CLK_TCK")
WATCHDOG_USEC = 120_000_000  # WatchdogSec=120 of systemd/evidock-dock.service
MAX_SECONDS = 3600  # a --size above it is meant for the parts that count items
SETTLE_S = 3.0  # after READY: the worker's first claim, the first status write


@dataclass(frozen=True, slots=True)
class Sample:
    ticks: int  # utime + stime + cutime + cstime
    run_ns: int  # sum of the threads' schedstat run time
    switches: dict[int, int]  # per thread: voluntary context switches (wake-ups)
    preempted: int  # involuntary context switches of all threads


def sample(pid: int) -> Sample:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = sum(int(x) for x in fields[11:15])  # utime stime cutime cstime (fields 14-17)
    run_ns, switches, preempted = 0, {}, 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            run_ns += int((task / "schedstat").read_text().split()[0])
            for line in (task / "status").read_text().splitlines():
                if line.startswith("voluntary_ctxt_switches:"):
                    switches[int(task.name)] = int(line.split()[1])
                elif line.startswith("nonvoluntary_ctxt_switches:"):
                    preempted += int(line.split()[1])
        except (FileNotFoundError, ProcessLookupError):
            continue  # a thread that ended between the listing and the read
    return Sample(ticks=ticks, run_ns=run_ns, switches=switches, preempted=preempted)


class NotifySocket:
    """systemd's side of sd_notify for one dock: reads every datagram as it comes."""

    def __init__(self) -> None:
        self.address = f"@evidock-bench-{uuid.uuid4().hex}"
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind("\0" + self.address[1:])
        self.sock.settimeout(0.2)
        self.messages: list[tuple[float, str]] = []
        self._stop = threading.Event()
        self._reader = threading.Thread(target=self._read, name="bench-notify", daemon=True)
        self._reader.start()

    def _read(self) -> None:
        while not self._stop.is_set():
            try:
                msg = self.sock.recv(65536).decode("utf-8", "replace")
            except TimeoutError:
                continue
            self.messages.append((time.monotonic(), msg))

    def ready(self) -> bool:
        return any("READY=1" in m for _, m in list(self.messages))

    def between(self, t0: float, t1: float) -> list[str]:
        return [m for t, m in list(self.messages) if t0 <= t < t1]

    def close(self) -> None:
        self._stop.set()
        self._reader.join()
        self.sock.close()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _env(home: Path, extra: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("EVIDOCK_", "NOTIFY_"))}
    env.pop("WATCHDOG_USEC", None)
    env.update(EVIDOCK_HOME=str(home / "data"), EVIDOCK_CATALOG_URL=f"sqlite:///{home}/c.db",
               EVIDOCK_DOCK_NAME=f"idle-{home.name}", EVIDOCK_LANG="en", **extra)  # fmt: skip
    return env


def _start_dock(home: Path, *, metrics: bool, worker: bool, watchdog: bool) -> tuple[Any, ...]:
    config = home / "evidock.toml"
    config.write_text(f"[worker]\nembedded = {'true' if worker else 'false'}\n")
    notify = NotifySocket()
    extra = {"EVIDOCK_CONFIG": str(config), "NOTIFY_SOCKET": notify.address}
    if watchdog:
        extra["WATCHDOG_USEC"] = str(WATCHDOG_USEC)
    env = _env(home, extra)
    cli = [sys.executable, "-m", "ingest.cli.main"]
    subprocess.run([*cli, "init"], env=env, check=True, capture_output=True, timeout=120)
    address = f"127.0.0.1:{_free_port()}" if metrics else "off"
    proc = subprocess.Popen(
        [*cli, "dock", "--watch", str(home / "watch"), "--no-udev", "--metrics-address", address],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    return proc, notify


VARIANTS = (  # name, metrics endpoint, embedded worker, watchdog pings
    ("as systemd runs it", True, True, True),
    ("metrics off", False, True, True),
    ("bare loop", False, False, False),
)


def run(opts: Options) -> dict[str, Any]:
    asked = [n for n in opts.sizes if n <= MAX_SECONDS]  # larger: another part's item count
    seconds = float(asked[0]) if asked else (10.0 if opts.quick else 60.0)
    with scratch(opts, "idle") as base:
        procs: dict[str, subprocess.Popen[bytes]] = {}
        notifies: dict[str, NotifySocket] = {}
        try:
            procs["baseline: python sleeping"] = subprocess.Popen(
                [sys.executable, "-c", "import time; time.sleep(1e6)"]
            )
            for i, (name, metrics, worker, watchdog) in enumerate(VARIANTS):
                home = base / f"d{i}"
                home.mkdir()
                procs[name], notifies[name] = _start_dock(
                    home, metrics=metrics, worker=worker, watchdog=watchdog
                )
            deadline = time.monotonic() + 120
            while not all(n.ready() for n in notifies.values()):
                for name, p in procs.items():
                    if p.poll() is not None:
                        err = p.stderr.read().decode() if p.stderr else ""
                        raise RuntimeError(f"{name} exited with {p.returncode}: {err[-2000:]}")
                if time.monotonic() > deadline:
                    raise RuntimeError("a dock never said READY=1")
                time.sleep(0.1)
            time.sleep(SETTLE_S)
            note(f"{len(VARIANTS)} docks ready; measuring {seconds:g} s of idleness")
            load0 = Path("/proc/loadavg").read_text().strip()
            t0 = time.monotonic()
            before = {name: sample(p.pid) for name, p in procs.items()}
            time.sleep(seconds)
            after = {name: sample(p.pid) for name, p in procs.items()}
            t1 = time.monotonic()
            load1 = Path("/proc/loadavg").read_text().strip()
            for name, p in procs.items():
                if p.poll() is not None:
                    raise RuntimeError(f"{name} ended during the window ({p.returncode})")
        finally:
            for p in procs.values():
                if p.poll() is None:
                    p.send_signal(signal.SIGTERM)
            for p in procs.values():
                try:
                    p.wait(timeout=60)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()
                if p.stderr is not None:
                    p.stderr.close()
            for n in notifies.values():
                n.close()
    return _report(procs, notifies, before, after, t0, t1, (load0, load1))


def _report(
    procs: dict[str, Any], notifies: dict[str, NotifySocket], before: dict[str, Sample],
    after: dict[str, Sample], t0: float, t1: float, load: tuple[str, str],
) -> dict[str, Any]:  # fmt: skip
    wall = t1 - t0
    out: dict[str, Any] = {"seconds": wall, "loadavg_start": load[0], "loadavg_end": load[1]}
    base_name = next(iter(procs))
    rows = []
    for name in procs:
        b, a = before[name], after[name]
        cpu = (a.ticks - b.ticks) / TICK / wall
        cpu_ns = (a.run_ns - b.run_ns) / 1e9 / wall
        per_thread = {t: (a.switches[t] - b.switches.get(t, 0)) / wall for t in a.switches}
        wakeups = sum(per_thread.values())
        preempted = (a.preempted - b.preempted) / wall
        msgs = notifies[name].between(t0, t1) if name in notifies else []
        pings = sum("WATCHDOG=1" in m for m in msgs)
        threads = sorted(per_thread.values(), reverse=True)
        out[name] = {"cpu_fraction": cpu, "cpu_fraction_schedstat": cpu_ns,
                     "wakeups_per_s": wakeups, "threads": len(a.switches),
                     "preemptions_per_s": preempted,
                     "notify_messages": len(msgs), "watchdog_pings": pings,
                     "per_thread_wakeups_per_s": threads}  # fmt: skip
        rows.append([name, f"{cpu * 100:.3f} %", f"{cpu_ns * 100:.3f} %", f"{wakeups:.2f}",
                     f"{preempted:.2f}", len(a.switches),
                     f"{len(msgs)} ({pings} WATCHDOG)"])  # fmt: skip
    print(table(f"idle for {wall:.0f} s: CPU (fraction of one core) and wake-ups (voluntary "
                f"context switches of all threads) per second; load {load[0]} -> {load[1]}",
                ["process", "CPU (ticks)", "CPU (schedstat)", "wake-ups/s", "preempted/s",
                 "threads", "notify msgs"], rows))  # fmt: skip
    base = out[base_name]
    main = out[VARIANTS[0][0]]
    spread = ", ".join(f"{x:.2f}" for x in main["per_thread_wakeups_per_s"] if x > 0)
    note(f"{VARIANTS[0][0]}: wake-ups/s per thread {spread or 'none'}")
    for name, *_ in VARIANTS:
        r = out[name]
        r["wakeups_over_baseline_per_s"] = r["wakeups_per_s"] - base["wakeups_per_s"]
        r["cpu_over_baseline"] = r["cpu_fraction_schedstat"] - base["cpu_fraction_schedstat"]
        ok = r["cpu_fraction"] < 0.005
        note(f"{name}: {r['cpu_fraction'] * 100:.3f} % of a core (target < 0.5 %: "
             f"{'met' if ok else 'MISSED'}), {r['wakeups_over_baseline_per_s']:.2f} wake-ups/s "
             "over the sleeping baseline")  # fmt: skip
    return out
