"""The bay's receipt end to end (issue 20): a real `evidock dock` docks a camera with a late
clip; the kiosk page beside /metrics, `evidock status` and the journal then say what was
taken off, by whom, and that a clip was late."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from ingest.context import open_context
from tests.cases.conftest import Clip
from tests.conftest import make_settings
from tests.monitoring.dockproc import start_dock
from tests.monitoring.scenario import DOCKED, camera, place, populate

DOCK = "dock-kiosk"
LATE = "1 段录像超过24小时未上传 / 1 recording offloaded after the 24-hour deadline"


def _get(url: str) -> tuple[int, dict[str, str], str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as r:
            return r.status, dict(r.headers), r.read().decode("utf-8")
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read().decode("utf-8")


def _kiosk_when(port: int, text: str, timeout: float = 90) -> tuple[dict[str, str], str]:
    deadline = time.monotonic() + timeout
    body = ""
    while time.monotonic() < deadline:
        try:
            status, headers, body = _get(f"http://127.0.0.1:{port}/kiosk")
        except OSError:
            status, headers = 0, {}
        if status == 200 and text in body:
            return headers, body
        time.sleep(0.2)
    raise AssertionError(f"the kiosk never showed {text!r}; last page:\n{body}")


def test_a_docking_with_a_late_clip_shows_its_receipt_on_the_kiosk_status_and_journal(
    tmp_path: Path, catalog_url: str, clips: dict[str, Clip]
) -> None:
    """A camera with a clip recorded 30 h ago and one 1 h ago is docked in a watch folder: the
    kiosk page (all bays and the bay's own) names the camera and its officer, says the late
    clip plainly and refreshes itself under a CSP that allows no script; an unknown bay is
    404; `evidock status` prints the same receipt and `--json` holds it; the dock's log has it."""
    home = tmp_path / "home"
    settings = make_settings(home, catalog_url, dock=DOCK)
    ctx = open_context(settings, create=True)
    try:
        populate(ctx)
    finally:
        ctx.close()
    dock = start_dock(tmp_path, home, catalog_url, DOCK)
    port, env = dock.port, dock.env
    try:
        _kiosk_when(port, "no docking yet")
        place(camera(tmp_path / "cam", clips), dock.watch)
        headers, page = _kiosk_when(port, LATE.split(" / ")[1])
        status, _, own = _get(f"http://127.0.0.1:{port}/kiosk/{DOCKED}")
        missing, _, _ = _get(f"http://127.0.0.1:{port}/kiosk/BWC-NONE")
        metrics_status, _, metrics = _get(f"http://127.0.0.1:{port}/metrics")
        status_file = home / "run" / f"dock-{DOCK}.json"
        deadline = time.monotonic() + 60  # the status file follows the kiosk once the bay is done
        while time.monotonic() < deadline and '"receipt": {' not in status_file.read_text():
            time.sleep(0.2)
        shown = subprocess.run(
            [sys.executable, "-m", "ingest.cli.main", "status"], env=env, capture_output=True,
            text=True, timeout=60,
        )  # fmt: skip
        as_json = subprocess.run(
            [sys.executable, "-m", "ingest.cli.main", "--json", "status"], env=env,
            capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        dock.stop()
    finally:
        dock.reap()
    log = dock.log
    assert "Traceback" not in log, log
    # the kiosk: Chinese first, the officer and the camera, the late clip, nothing active
    zh, en = LATE.split(" / ")
    for html in (page, own):
        assert zh in html and en in html and html.index(zh) < html.index(en)
        assert "设备 BWC-0042 · 民警 J0042 王伟 (Wang Wei)" in html
        assert "2 个文件已上传" in html and "REC_J0042_王伟_old.MP4" in html
        assert '<meta http-equiv="refresh" content="10">' in html
        assert "<script" not in html and "<video" not in html and "<img" not in html
    assert status == 200 and missing == 404
    assert headers["Content-Security-Policy"] == "default-src 'none'; style-src 'unsafe-inline'"
    assert metrics_status == 200 and "evidock_dock_sessions_total" in metrics
    # evidock status, in words and as JSON
    assert shown.returncode == 0, shown.stderr
    assert LATE in shown.stdout and "民警 J0042" in shown.stdout
    doc = json.loads(as_json.stdout)
    (bay,) = doc["daemon"]["bays"]
    receipt = bay["receipt"]
    assert receipt["device"] == DOCKED and receipt["officers"] == [
        {"badge": "J0042", "name": "王伟 (Wang Wei)"}
    ]
    assert receipt["stored"] == 2 and len(receipt["late"]) == 1
    assert receipt["late"][0]["delay_s"] > 24 * 3600
    assert receipt["late"][0]["path"].endswith("REC_J0042_王伟_old.MP4")
    # the journal
    assert f"receipt session={receipt['session']} device={DOCKED}" in log
    assert LATE in log
