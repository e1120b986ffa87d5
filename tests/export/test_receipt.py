"""receipt.pdf and the A/V index (issue 17): real WeasyPrint, read back with poppler; in the
reader's language (issue 20): Chinese as the office reads it, English when asked."""

from __future__ import annotations

import csv
import hashlib
import shutil
import subprocess
from pathlib import Path

import pytest

import i18n
from ingest.export.pdf import render_av_index_pdf, render_pdf, render_receipt
from ingest.export.receipt import (
    INDEX_HEADER,
    IndexRow,
    Receipt,
    ReceiptFile,
    av_index_html,
    receipt_html,
    write_av_index_csv,
)

pytestmark = pytest.mark.skipif(
    shutil.which("pdftotext") is None, reason="poppler-utils: scripts/system-deps.sh test"
)
RECIPIENT = "当事人 张三'\"<b>&"
CASE = "京朝公（治）行罚决字〔2026〕17号"


def sha(n: int) -> str:
    return hashlib.sha256(f"file {n}".encode()).hexdigest()


def receipt(n_files: int) -> Receipt:
    files = tuple(
        ReceiptFile(path=f"data/{'originals' if n % 2 else 'copies'}/BWC-P1/2026/12/06/"
                    f"执法记录仪_FILE{n:04d}_{'长文件名' * 4}.MP4",
                    sha256=sha(n), size=10_000_000 + n,
                    role="original" if n % 2 else "view-copy", item_id=n,
                    recorded_start="2026-12-06T09:00:00+08:00" if n % 3 else None)
        for n in range(n_files)
    )  # fmt: skip
    return Receipt(package_id="pkg-20261206-0001", case_number=CASE, recipient=RECIPIENT,
                   purpose="诉讼", approved_by="审批人 李四", approved_at="2026-12-06 10:00",
                   requested_by="申请人 王五", exported_at="2026-12-06 10:05",
                   office="朝阳分局执法办案中心", checkpoint_size=4321, files=files)  # fmt: skip


def pdf_text(path: Path) -> str:
    return subprocess.run(["pdftotext", "-enc", "UTF-8", str(path), "-"], capture_output=True,
                          text=True, check=True, timeout=120).stdout  # fmt: skip


def pdf_fonts(path: Path) -> list[list[str]]:
    out = subprocess.run(["pdffonts", str(path)], capture_output=True, text=True, check=True,
                         timeout=60).stdout  # fmt: skip
    return [line.split() for line in out.splitlines()[2:]]


def test_a_receipt_of_200_files_shows_the_chinese_and_every_sha256(tmp_path: Path) -> None:
    """Rendered in Chinese, pdftotext finds the Chinese headings, the recipient, the case, the
    acknowledgement lines, the page footer and both halves of every file's sha256, and no
    English beside them; only the CJK fonts are used, all embedded."""
    dest = tmp_path / "receipt.pdf"
    r = receipt(200)
    with i18n.speaking("zh"):
        render_receipt(r, dest)
    text = pdf_text(dest)
    for expected in ("音视频证据移交回执", RECIPIENT, CASE, "用途", "诉讼", "审批人 李四",
                     "签收人", "日期", "签名", "原件", "查看副本", "朝阳分局执法办案中心",
                     "4321 条保管事件", "本人已收到上列文件共 200 个", "第 1 页，共"):  # fmt: skip
        assert expected in text, expected
    for english in ("Receipt", "Received by", "Signature", "litigation", "view copy", "page 1"):
        assert english not in text, english
    missing = [f.sha256 for f in r.files if f.sha256[:32] not in text or f.sha256[32:] not in text]
    assert missing == []
    assert "FILE0199" in text and "10,000,199" in text
    fonts = pdf_fonts(dest)
    assert fonts and all("CJK" in row[0] for row in fonts), fonts
    assert all(row[-5] == "yes" for row in fonts), fonts  # the 'emb' column


def test_a_receipt_asked_in_english_reads_in_english(tmp_path: Path) -> None:
    """With English asked (the suite's language) the same receipt has English headings,
    purpose, roles and acknowledgement; names and the case stay as they were written."""
    dest = tmp_path / "receipt.pdf"
    render_receipt(receipt(3), dest)
    text = " ".join(pdf_text(dest).split())  # a narrow column wraps "view copy"
    for expected in ("Receipt for disclosed audio-visual evidence", "litigation", "Received by",
                     "original", "view copy", RECIPIENT, CASE, "4321 custody events",
                     "I have received the 3 files listed above.", "page 1 of 1"):  # fmt: skip
        assert expected in text, expected
    assert "移交回执" not in text and "签收人" not in text
    assert '<html lang="en">' in receipt_html(receipt(1))
    with i18n.speaking("zh"):
        assert '<html lang="zh-CN">' in receipt_html(receipt(1))


def test_the_av_index_pdf_lists_each_recording_with_its_terms(tmp_path: Path) -> None:
    """Stage and record type codes are shown by their names; every sha256 is there."""
    rows = [IndexRow(item_id=n, stage="investigation", record_type="hearing",
                     start="2026-12-06T09:00:00+08:00", end=None, officer="警号 012345 赵六",
                     sha256=sha(n), file=f"data/originals/FILE{n}.MP4")
            for n in range(12)]  # fmt: skip
    dest = tmp_path / "av-index.pdf"
    with i18n.speaking("zh"):
        render_av_index_pdf(CASE, rows, dest)
    text = pdf_text(dest)
    assert (
        "音视频资料索引" in text
        and "12 段关联录像" in text
        and CASE in text
        and "调查取证" in text
        and "听证" in text
    )
    assert all(sha(n)[:32] in text and sha(n)[32:] in text for n in range(12))
    assert all(row[-5] == "yes" for row in pdf_fonts(dest))


def test_the_av_index_csv_opens_in_excel_as_chinese_and_runs_no_formula(tmp_path: Path) -> None:
    """UTF-8 with a byte-order mark; a value starting with '=' is kept as text."""
    rows = [IndexRow(item_id=7, stage="investigation", record_type="hearing", start=None,
                     end="2026-12-06T09:30:00+08:00", officer="=HYPERLINK(\"x\")",
                     sha256=sha(7), file="data/originals/执法记录仪.MP4")]  # fmt: skip
    dest = tmp_path / "av-index.csv"
    write_av_index_csv(rows, dest)
    raw = dest.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    with dest.open(encoding="utf-8-sig", newline="") as f:
        got = list(csv.reader(f))
    assert tuple(got[0]) == INDEX_HEADER
    assert got[1] == ["7", "investigation", "hearing", "", "2026-12-06T09:30:00+08:00",
                      "'=HYPERLINK(\"x\")", sha(7), "data/originals/执法记录仪.MP4"]  # fmt: skip


def test_no_value_can_break_out_of_the_html() -> None:
    """Names and offices are escaped: markup in them is text, the footer string stays closed."""
    r = receipt(1)
    hostile = Receipt(**{**{f: getattr(r, f) for f in r.__slots__},
                         "office": 'x"; } body { display:none } </style><script>'})  # fmt: skip
    html = receipt_html(hostile)
    assert "<b>" not in html and "<script>" not in html and html.count("</style>") == 1
    assert "<b>" not in av_index_html("<b>", [])


def test_a_document_fetches_no_file(tmp_path: Path) -> None:
    """A local stylesheet named in the HTML is not loaded (it would add its text)."""
    sheet = tmp_path / "secret.css"
    sheet.write_text('body::after { content: "secret-7f3a" }', encoding="utf-8")
    dest = tmp_path / "out.pdf"
    render_pdf(f'<link rel="stylesheet" href="{sheet.as_uri()}"><p>正文 body</p>', dest)
    text = pdf_text(dest)
    assert "正文" in text and "secret-7f3a" not in text
