"""The bay's receipt (issue 20), as a pure function of a docking's report and what the catalog
measured after it; its text lines, its status-file form and the kiosk page made of it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from ingest.dock.kiosk import kiosk_pages, render
from ingest.dock.receipt import (
    BayReceipt,
    bay_name,
    make_receipt,
    receipt_from_json,
    receipt_json,
    receipt_lines,
)
from ingest.pipeline.results import FileOutcome, FileResult, IngestReport, SessionOutcome

ZONE = ZoneInfo("Asia/Shanghai")
DOCKED = datetime(2026, 12, 6, 9, 0, tzinfo=UTC)


def _report() -> IngestReport:
    files = (
        FileResult(path="DCIM/A.MP4", result=FileOutcome.STORED, item=1, size=10),
        FileResult(path="DCIM/B.MP4", result=FileOutcome.STORED, item=2, size=10),
        FileResult(path="DCIM/C.MP4", result=FileOutcome.STORED, item=3, size=10),
        FileResult(path="DCIM/D.MP4", result=FileOutcome.STORED, item=4, size=10),
        FileResult(path="DCIM/OLD.MP4", result=FileOutcome.ALREADY, item=9, size=10),
        FileResult(path="DCIM/X.MP4", result=FileOutcome.FAILED, reason="read error on the device"),
        FileResult(path="DCIM/Y.MP4", result=FileOutcome.FAILED, reason="read error on the device"),
        FileResult(
            path="MISC/notes.txt", result=FileOutcome.NOT_ACQUIRED, reason="not a media file"
        ),
    )
    return IngestReport(
        session=7, device="BWC-0042", officer="J0042", files=files,
        outcome=SessionOutcome.INCOMPLETE,
    )  # fmt: skip


def _receipt(**late: float) -> BayReceipt:
    return make_receipt(
        _report(),
        bay="BWC-0042",
        dock="dock-01",
        docked_at=DOCKED,
        finished_at=DOCKED + timedelta(minutes=4),
        deadline_hours=24,
        late={int(k.removeprefix("i")): v for k, v in late.items()},
        durations={1: 1800.0, 2: 3600.0, 3: 1800.0, 4: None, 9: 600.0},
        proxies_pending=2,
        officers={"J0042": "王伟"},
    )


def test_late_items_are_counted_and_said_plainly_with_their_delay() -> None:
    """Three late clips: '3 段录像超过24小时未上传 / 3 recordings offloaded after the 24-hour
    deadline', then each path with its delay after the recording ended."""
    r = _receipt(i1=30 * 3600 + 12 * 60, i2=25 * 3600, i3=86400 + 59)
    lines = receipt_lines(r, ZONE)
    assert "3 段录像超过24小时未上传 / 3 recordings offloaded after the 24-hour deadline" in lines
    assert (
        "  DCIM/A.MP4：录像结束 30 小时 12 分 后上传 / "
        "DCIM/A.MP4: offloaded 30 h 12 min after the recording ended"
    ) in lines
    assert [x.item for x in r.late] == [1, 2, 3]
    one = receipt_lines(_receipt(i4=90000.0), ZONE)
    assert "1 段录像超过24小时未上传 / 1 recording offloaded after the 24-hour deadline" in one


def test_nothing_late_is_said_too() -> None:
    """A docking without late items says that nothing passed the deadline."""
    lines = receipt_lines(_receipt(), ZONE)
    assert "没有超过24小时的录像 / nothing past the 24-hour deadline" in lines
    assert not any("recordings offloaded after" in x for x in lines)


def test_files_left_on_the_device_are_grouped_by_reason_with_their_paths() -> None:
    """Failed and not-acquired files are 'left on the device', one line per reason, with paths."""
    r = _receipt()
    assert r.left_count == 3
    lines = receipt_lines(r, ZONE)
    i = lines.index("2 个文件留在设备上：read error on the device / "
                    "2 files left on the device: read error on the device")  # fmt: skip
    assert lines[i + 1 : i + 3] == ["  DCIM/X.MP4", "  DCIM/Y.MP4"]
    assert (
        "1 个文件留在设备上：not a media file / 1 file left on the device: not a media file"
        in lines
    )


def test_hours_taken_off_sum_the_known_durations_of_the_stored_files_only() -> None:
    """Two hours from three stored clips (the one already stored is not counted); the stored
    clip of unknown length is said, not guessed."""
    r = _receipt()
    assert r.stored == 4 and r.already == 1
    assert r.recorded_s == 7200.0 and r.unknown_duration == 1
    lines = receipt_lines(r, ZONE)
    assert (
        "4 个文件已上传，录像共 2 小时 0 分，1 个时长未知 / "
        "4 files taken off, 2 h 0 min of recordings, 1 of unknown length"
    ) in lines
    assert "1 个文件此前已上传 / 1 file already taken off before" in lines
    assert "2 个预览视频待生成 / 2 review proxies pending" in lines
    assert lines[0] == "设备 BWC-0042 · 民警 J0042 王伟 / camera BWC-0042 · officer J0042 王伟"
    assert lines[1].startswith("停靠 2026-12-06 17:00，结束 2026-12-06 17:04（未全部完成）")


def test_the_status_file_form_reads_back_the_same_receipt() -> None:
    """receipt_json then receipt_from_json gives back an equal record."""
    r = _receipt(i2=100000.0)
    assert receipt_from_json(receipt_json(r)) == r


def test_bay_names_are_the_folder_name_or_the_usb_devnode() -> None:
    """A watch folder's bay is its own name; a USB medium's is usb-<devnode>."""
    assert bay_name("/srv/drop/BWC-0042", "folder") == "BWC-0042"
    assert bay_name("usb:/dev/sdb1", "usb") == "usb-sdb1"


def test_kiosk_page_escapes_device_names_and_refreshes_without_script() -> None:
    """A file name with markup and a bidi override reaches the page escaped (terminal-safe,
    then HTML); the page refreshes itself, has no script, no media and a strict CSP."""
    report = IngestReport(
        session=1, device="BWC-0042", officer=None,
        files=(FileResult(path="<script>alert(1)</script>\u202egnp.MP4",
                          result=FileOutcome.FAILED, reason="x"),),
    )  # fmt: skip
    r = make_receipt(
        report, bay="BWC-0042", dock="dock-01", docked_at=DOCKED, finished_at=DOCKED,
        deadline_hours=24, late={}, durations={}, proxies_pending=0,
    )  # fmt: skip
    html = render([r], dock="dock-01", zone=ZONE, title="t")
    assert "<script" not in html and "<img" not in html and "<video" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;\\u202egnp.MP4" in html
    assert '<meta http-equiv="refresh" content="10">' in html
    assert "民警 未知" in html and "officer unknown" in html
    page = kiosk_pages(lambda: [r], dock="dock-01", zone=ZONE)
    found = page("/kiosk/BWC-0042")
    assert found is not None and found.status == 200
    assert ("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'") in (
        found.headers
    )
    missing = page("/kiosk/BWC-9999")
    assert missing is not None and missing.status == 404
    assert page("/metrics") is None
