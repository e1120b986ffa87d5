"""The bay's receipt end to end (issue 20): a real `evidock dock` docks a camera with a late
clip; the kiosk page beside /metrics, `evidock status` and the journal then say what was
taken off, by whom, and that a clip was late: the page and the status in the reader's language
(Chinese by default), the journal in English key=value."""

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
LATE_ZH = "1 段录像超过24小时未上传"
LATE_EN = "1 recording offloaded after the 24-hour deadline"


def _get(url: str) -> tuple[int, dict[str, str], str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as r:
            return r.status, dict(r.headers), r.read().decode("utf-8")
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read().decode("utf-8")


def _kiosk_when(port: int, text: str, timeout: float = 90) -> tuple[dict[str, str], str]:
    """The kiosk page as a browser that asks for no language gets it, once it shows ``text``."""
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
    clip plainly in Chinese (English with ?lang=en) and refreshes itself under a CSP that
    allows no script; an unknown bay is 404; `evidock status` prints the same receipt in its
    reader's language and `--json` holds it; the dock, speaking Chinese, logs it in English."""
    home = tmp_path / "home"
    settings = make_settings(home, catalog_url, dock=DOCK)
    ctx = open_context(settings, create=True)
    try:
        populate(ctx)
    finally:
        ctx.close()
    dock = start_dock(tmp_path, home, catalog_url, DOCK, lang="zh")
    port, env = dock.port, dock.env
    try:
        _kiosk_when(port, "还没有接入采集记录")
        place(camera(tmp_path / "cam", clips), dock.watch)
        headers, page = _kiosk_when(port, LATE_ZH)
        status, _, own = _get(f"http://127.0.0.1:{port}/kiosk/{DOCKED}")
        _, _, english = _get(f"http://127.0.0.1:{port}/kiosk?lang=en")
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
        shown_en = subprocess.run(
            [sys.executable, "-m", "ingest.cli.main", "--lang", "en", "status"], env=env,
            capture_output=True, text=True, timeout=60,
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
    # the kiosk: Chinese alone, the officer and the camera, the late clip, nothing active
    for html in (page, own):
        assert LATE_ZH in html and LATE_EN not in html and '<html lang="zh-CN">' in html
        assert "设备 BWC-0042 · 执法人员 J0042 王伟 (Wang Wei)" in html
        assert "2 个文件已上传" in html and "REC_J0042_王伟_old.MP4" in html
        assert '<meta http-equiv="refresh" content="10">' in html
        assert "<script" not in html and "<video" not in html and "<img" not in html
    assert LATE_EN in english and LATE_ZH not in english and '<html lang="en">' in english
    assert "camera BWC-0042 · officer J0042 王伟 (Wang Wei)" in english
    assert status == 200 and missing == 404
    assert headers["Content-Security-Policy"] == "default-src 'none'; style-src 'unsafe-inline'"
    assert metrics_status == 200 and "evidock_dock_sessions_total" in metrics
    # evidock status, in words (its reader's language: Chinese here, English asked) and JSON
    assert shown.returncode == 0, shown.stderr
    assert LATE_ZH in shown.stdout and "执法人员 J0042" in shown.stdout
    assert LATE_EN not in shown.stdout
    assert shown_en.returncode == 0, shown_en.stderr
    assert LATE_EN in shown_en.stdout and "officer J0042" in shown_en.stdout
    doc = json.loads(as_json.stdout)
    (bay,) = doc["daemon"]["bays"]
    receipt = bay["receipt"]
    assert receipt["device"] == DOCKED and receipt["officers"] == [
        {"badge": "J0042", "name": "王伟 (Wang Wei)"}
    ]
    assert receipt["stored"] == 2 and len(receipt["late"]) == 1
    assert receipt["late"][0]["delay_s"] > 24 * 3600
    assert receipt["late"][0]["path"].endswith("REC_J0042_王伟_old.MP4")
    # the journal: English key=value, though the dock speaks Chinese to people
    assert f"receipt session={receipt['session']} device={DOCKED}" in log
    assert f"bay={DOCKED}: {LATE_EN}" in log and LATE_ZH not in log
