"""The bay's receipt (issue 20), as a pure function of a docking's report and what the catalog
measured after it; its text lines (English, the suite's language, and Chinese), its status-file
form and the kiosk page made of it, in the language each request asks for."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import i18n
from ingest.dock.kiosk import kiosk_pages, render
from ingest.dock.receipt import (
    BayReceipt,
    bay_name,
    make_receipt,
    receipt_from_json,
    receipt_json,
    receipt_lines,
)
from ingest.metrics.prometheus import PageRequest
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
    """Three late clips: '3 recordings offloaded after the 24-hour deadline', then each path
    with its delay after the recording ended; one late clip is said in the singular."""
    r = _receipt(i1=30 * 3600 + 12 * 60, i2=25 * 3600, i3=86400 + 59)
    lines = receipt_lines(r, ZONE)
    assert "3 recordings offloaded after the 24-hour deadline" in lines
    assert "  DCIM/A.MP4: offloaded 30 h 12 min after the recording ended" in lines
    assert [x.item for x in r.late] == [1, 2, 3]
    one = receipt_lines(_receipt(i4=90000.0), ZONE)
    assert "1 recording offloaded after the 24-hour deadline" in one


def test_the_receipt_reads_in_chinese_alone_when_chinese_is_asked() -> None:
    """In Chinese the late line is '3 段录像超过24小时未上传', each delay and every other line
    Chinese too, with no English beside it (one language, not two)."""
    r = _receipt(i1=30 * 3600 + 12 * 60, i2=25 * 3600, i3=86400 + 59)
    with i18n.speaking("zh"):
        lines = receipt_lines(r, ZONE)
    assert "3 段录像超过24小时未上传" in lines
    assert "  DCIM/A.MP4：录像结束 30 小时 12 分 后上传" in lines
    assert lines[0] == "设备 BWC-0042 · 执法人员 J0042 王伟"
    assert lines[1] == "接入采集 2026-12-06 17:00，结束 2026-12-06 17:04（未全部完成）"
    assert "4 个文件已上传，录像共 2 小时 0 分，1 个时长未知" in lines
    assert "1 个文件此前已上传" in lines and "2 个查看副本待生成" in lines
    assert "2 个文件留在设备上：read error on the device" in lines
    english = ("offloaded", "taken off", "left on the device", "pending", "camera", "docked")
    assert not any(" / " in x or any(w in x for w in english) for x in lines), lines
    assert receipt_lines(r, ZONE)[0].startswith("camera BWC-0042")  # English again outside


def test_nothing_late_is_said_too() -> None:
    """A docking without late items says that nothing passed the deadline."""
    lines = receipt_lines(_receipt(), ZONE)
    assert "nothing offloaded after the 24-hour deadline" in lines
    assert not any("recordings offloaded after" in x for x in lines)
    with i18n.speaking("zh"):
        assert "没有录像超过24小时未上传" in receipt_lines(_receipt(), ZONE)


def test_files_left_on_the_device_are_grouped_by_reason_with_their_paths() -> None:
    """Failed and not-acquired files are 'left on the device', one line per reason, with paths."""
    r = _receipt()
    assert r.left_count == 3
    lines = receipt_lines(r, ZONE)
    i = lines.index("2 files left on the device: read error on the device")
    assert lines[i + 1 : i + 3] == ["  DCIM/X.MP4", "  DCIM/Y.MP4"]
    assert "1 file left on the device: not a media file" in lines


def test_hours_taken_off_sum_the_known_durations_of_the_stored_files_only() -> None:
    """Two hours from three stored clips (the one already stored is not counted); the stored
    clip of unknown length is said, not guessed."""
    r = _receipt()
    assert r.stored == 4 and r.already == 1
    assert r.recorded_s == 7200.0 and r.unknown_duration == 1
    lines = receipt_lines(r, ZONE)
    assert "4 files taken off, 2 h 0 min of recordings, 1 of unknown length" in lines
    assert "1 file already taken off before" in lines
    assert "2 review proxies pending" in lines
    assert lines[0] == "camera BWC-0042 · officer J0042 王伟"
    assert lines[1] == "docked 2026-12-06 17:00, finished 2026-12-06 17:04 (incomplete)"


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
    assert "officer unknown" in html and '<html lang="en">' in html
    page = kiosk_pages(lambda: [r], dock="dock-01", zone=ZONE)
    found = page(PageRequest(path="/kiosk/BWC-0042"))
    assert found is not None and found.status == 200
    assert ("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'") in (
        found.headers
    )
    missing = page(PageRequest(path="/kiosk/BWC-9999"))
    assert missing is not None and missing.status == 404
    assert page(PageRequest(path="/metrics")) is None


def _kiosk(r: BayReceipt, query: str = "", accept: str | None = None) -> str:
    page = kiosk_pages(lambda: [r], dock="dock-01", zone=ZONE)
    found = page(PageRequest(path="/kiosk", query=query, accept_language=accept))
    assert found is not None and found.status == 200
    return found.body.decode("utf-8")


def test_the_kiosk_speaks_chinese_unless_the_request_asks_for_english() -> None:
    """Whatever the dock's own language (English in the suite): no ask, or a browser asking for
    a language we lack, gives the Chinese page; ?lang=en or an English browser the English one;
    ?lang= wins over Accept-Language; each page links to the other language."""
    r = _receipt(i1=90000.0)
    assert i18n.current() == "en"
    for zh in (_kiosk(r), _kiosk(r, accept="de-DE"), _kiosk(r, "lang=zh", accept="en-US")):
        assert '<html lang="zh-CN">' in zh and "采集站 dock-01 上传回执" in zh
        assert "1 段录像超过24小时未上传" in zh and "执法人员 J0042 王伟" in zh
        assert "offloaded" not in zh and 'href="?lang=en"' in zh
    for en in (
        _kiosk(r, "lang=en"),
        _kiosk(r, accept="en-GB,zh;q=0.5"),
        _kiosk(r, "lang=fr", accept="en"),
        _kiosk(r, "lang=en-US"),
    ):
        assert '<html lang="en">' in en and "receipts of dock dock-01" in en
        assert "1 recording offloaded after the 24-hour deadline" in en
        assert "段录像" not in en and 'href="?lang=zh"' in en
    assert i18n.current() == "en"  # the request's language ended with it
    missing = kiosk_pages(lambda: [r], dock="d", zone=ZONE)(PageRequest(path="/kiosk/X"))
    assert missing is not None and "没有这个采集位：X" in missing.body.decode("utf-8")
