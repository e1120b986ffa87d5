"""What a package's receipt and a case's A/V index say: frozen records, the CSV and the HTML.

Pure but for ``write_av_index_csv``: the documents are built here as HTML text (every value
escaped), and ``ingest.export.pdf`` turns them into PDF. Every heading is Chinese with the
English beside it. A SHA-256 is printed in two halves of 32 hex digits, one above the other, in
a monospaced face, so that a person compares it with ``sha256sum`` half by half.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from html import escape
from pathlib import Path

from ingest.cases.vocab import RECORD_TYPES, STAGES, Term
from storage.blobs.durable import atomic_write

PURPOSES = {  # Art. 30: why a party or a body receives the recordings
    "查阅": "inspection",
    "复制": "copying",
    "诉讼": "litigation",
    "复议": "administrative review",
}
ROLES = {"original": "原件 original", "view-copy": "查看副本 view copy"}


@dataclass(frozen=True, slots=True, kw_only=True)
class ReceiptFile:
    path: str  # in the bag, e.g. data/originals/...
    sha256: str
    size: int
    role: str  # "original" | "view-copy"
    item_id: int
    recorded_start: str | None


@dataclass(frozen=True, slots=True, kw_only=True)
class Receipt:
    package_id: str
    case_number: str | None
    recipient: str
    purpose: str  # 查阅 | 复制 | 诉讼 | 复议
    approved_by: str
    approved_at: str
    requested_by: str
    exported_at: str
    office: str
    checkpoint_size: int
    files: tuple[ReceiptFile, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class IndexRow:
    item_id: int
    stage: str
    record_type: str
    start: str | None
    end: str | None
    officer: str
    sha256: str
    file: str


INDEX_HEADER = ("条目 item_id", "阶段 stage", "记录类型 record_type", "开始 start", "结束 end",
                "执法人员 officer", "SHA-256", "文件 file")  # fmt: skip
_FORMULA = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: str) -> str:
    """A text cell Excel will not run as a formula (a name or path may start with '=')."""
    return f"'{value}" if value.startswith(_FORMULA) else value


def av_index_csv(rows: Sequence[IndexRow]) -> bytes:
    """The A/V index as CSV in UTF-8 with a byte-order mark, so Excel shows the Chinese."""
    out = io.StringIO(newline="")
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(INDEX_HEADER)
    for r in rows:
        writer.writerow([r.item_id, _cell(r.stage), _cell(r.record_type), r.start or "",
                         r.end or "", _cell(r.officer), r.sha256, _cell(r.file)])  # fmt: skip
    return out.getvalue().encode("utf-8-sig")


def write_av_index_csv(rows: Sequence[IndexRow], dest: Path) -> None:
    """Write the A/V index CSV to ``dest`` durably (temp file, fsync, rename)."""
    atomic_write(dest, av_index_csv(rows))


# --- the HTML the PDFs are rendered from ---------------------------------------------------

STYLE = """
@page { size: A4; margin: 16mm 14mm 18mm 14mm;
  @bottom-center { content: "%(footer)s  第 " counter(page) " / " counter(pages) " 页  page "
    counter(page) " of " counter(pages); font-size: 7.5pt; color: #555; } }
html, body { font-family: "Noto Sans CJK SC", sans-serif; font-size: 9pt; line-height: 1.35; }
@page { font-family: "Noto Sans CJK SC", sans-serif; }
h1 { font-size: 15pt; margin: 0 0 2mm 0; } h2 { font-size: 11pt; margin: 5mm 0 2mm 0; }
.en { color: #444; font-weight: normal; }
table { border-collapse: collapse; width: 100%%; table-layout: fixed; }
th, td { border: 0.4pt solid #888; padding: 1mm 1.4mm; vertical-align: top; text-align: left;
  overflow-wrap: anywhere; }
th { background: #eee; font-weight: bold; }
table.facts th { width: 32%%; }
thead { display: table-header-group; } tr { break-inside: avoid; }
.hash { font-family: "Noto Sans Mono CJK SC", monospace; font-size: 7pt; white-space: nowrap; }
.num { text-align: right; white-space: nowrap; }
.sign td { border: none; padding: 5mm 1mm 1mm 0; }
.line { border-bottom: 0.6pt solid #000; width: 62%%; }
"""


def _page(title: str, footer: str, body: str, *, landscape: bool = False) -> str:
    style = STYLE % {"footer": _css_string(footer)}
    if landscape:
        style = style.replace("size: A4;", "size: A4 landscape;")
    return (f'<!DOCTYPE html><html lang="zh-CN"><head><meta charset="utf-8">'
            f"<title>{escape(title)}</title><style>{style}</style></head>"
            f"<body>{body}</body></html>")  # fmt: skip


def _css_string(text: str) -> str:
    """``text`` for inside a CSS string: anything but letters, digits and a few marks escaped
    (a quote, a backslash or '</style>' in an office name ends nothing)."""
    return "".join(c if c.isalnum() or c in " ·-_.:/" else f"\\{ord(c):x} " for c in text)


def _label(zh: str, en: str) -> str:
    return f'{escape(zh)} <span class="en">{escape(en)}</span>'


def _columns(*percent: int) -> str:
    return "<colgroup>" + "".join(f'<col style="width:{p}%">' for p in percent) + "</colgroup>"


def _hash(sha256: str) -> str:
    return f'<span class="hash">{escape(sha256[:32])}<br>{escape(sha256[32:])}</span>'


def _size(n: int) -> str:
    return f"{n:,}"


def receipt_html(r: Receipt) -> str:
    """The receipt of one package: what went to whom and why, each file, and the lines the
    recipient signs."""
    total = sum(f.size for f in r.files)
    facts = [
        ("包编号", "Package", r.package_id),
        ("案件编号", "Case number", r.case_number or "（无）none"),
        ("接收方", "Recipient", r.recipient),
        ("用途", "Purpose", f"{r.purpose} {PURPOSES.get(r.purpose, '')}".strip()),
        ("申请人", "Requested by", r.requested_by),
        ("批准人", "Approved by", r.approved_by),
        ("批准时间", "Approved at", r.approved_at),
        ("导出时间", "Exported at", r.exported_at),
        ("导出单位", "Exporting office", r.office),
        ("文件", "Files", f"{len(r.files)} 个 files, {_size(total)} 字节 bytes"),
        ("监管链检查点", "Custody checkpoint", f"{r.checkpoint_size} 条事件 events"),
    ]
    rows = "".join(f"<tr><th>{_label(zh, en)}</th><td>{escape(v)}</td></tr>" for zh, en, v in facts)
    files = "".join(
        f'<tr><td class="num">{n}</td><td class="num">{f.item_id}</td>'
        f"<td>{escape(f.path)}</td><td>{escape(ROLES.get(f.role, f.role))}</td>"
        f'<td class="num">{_size(f.size)}</td><td>{escape(f.recorded_start or "")}</td>'
        f"<td>{_hash(f.sha256)}</td></tr>"
        for n, f in enumerate(r.files, 1)
    )
    head = "".join(
        f"<th>{_label(zh, en)}</th>"
        for zh, en in (("序号", "#"), ("条目", "item"), ("路径", "path"), ("类别", "role"),
                       ("大小（字节）", "size (bytes)"), ("录制开始", "recorded"),
                       ("SHA-256", ""))
    )  # fmt: skip
    sign = "".join(
        f'<tr><td style="width:38%">{_label(zh, en)}：</td><td class="line">&nbsp;</td></tr>'
        for zh, en in (("签收人", "Received by"), ("证件号码", "ID document number"),
                       ("签名", "Signature"), ("日期", "Date"), ("移交人", "Handed over by"))
    )  # fmt: skip
    body = (
        f"<h1>{_label('音视频证据移交回执', 'Receipt for disclosed audio-visual evidence')}</h1>"
        f'<table class="facts">{rows}</table>'
        f"<h2>{_label('移交文件清单', 'Files disclosed')}</h2>"
        f"<p>{_label('每个文件可用 sha256sum 核对，与包内 manifest-sha256.txt 相同。', 'Check each file with sha256sum; the values are those of the package manifest-sha256.txt.')}</p>"  # noqa: E501
        f"<table>{_columns(4, 6, 27, 9, 11, 14, 29)}"
        f"<thead><tr>{head}</tr></thead><tbody>{files}</tbody></table>"
        f"<h2>{_label('接收方确认', 'Acknowledgement of receipt')}</h2>"
        f"<p>本人已收到上列文件共 {len(r.files)} 个。"
        f'<span class="en">I have received the {len(r.files)} files listed above.</span></p>'
        f'<table class="sign">{sign}</table>'
    )
    return _page("移交回执 Receipt", f"{r.package_id} · {r.office}", body)


def _term(code: str, table: Mapping[str, Term]) -> str:
    term = table.get(code)
    return term.label if term is not None else code


def av_index_html(case_number: str, rows: Sequence[IndexRow]) -> str:
    """The case file's A/V index as a table: each recording with its stage, record type,
    times, officer, file and sha256."""
    head = "".join(
        f"<th>{_label(zh, en)}</th>"
        for zh, en in (("条目", "item"), ("阶段", "stage"), ("记录类型", "record type"),
                       ("开始", "start"), ("结束", "end"), ("执法人员", "officer"),
                       ("文件", "file"), ("SHA-256", ""))
    )  # fmt: skip
    body_rows = "".join(
        f'<tr><td class="num">{r.item_id}</td><td>{escape(_term(r.stage, STAGES))}</td>'
        f"<td>{escape(_term(r.record_type, RECORD_TYPES))}</td>"
        f"<td>{escape(r.start or '')}</td><td>{escape(r.end or '')}</td>"
        f"<td>{escape(r.officer)}</td><td>{escape(r.file)}</td>"
        f"<td>{_hash(r.sha256)}</td></tr>"
        for r in rows
    )
    title = _label(f"案卷音视频资料索引 {case_number}", f"A/V index of case {case_number}")
    body = (
        f"<h1>{title}</h1><p>{len(rows)} 条 recordings</p>"
        f"<table>{_columns(5, 9, 10, 11, 11, 10, 24, 20)}"
        f"<thead><tr>{head}</tr></thead><tbody>{body_rows}</tbody></table>"
    )
    return _page("音视频资料索引 A/V index", f"{case_number}", body, landscape=True)


def report_html(
    title: tuple[str, str],
    facts: Sequence[tuple[str, str, str]],
    lines: Sequence[str],
    footer: str,
) -> str:
    """A text report (``overdue --pdf``, issue 20) as a printable page: a title, a table of
    facts (office, time, checkpoint) and the report's lines as they read in the terminal."""
    rows = "".join(f"<tr><th>{_label(zh, en)}</th><td>{escape(v)}</td></tr>" for zh, en, v in facts)
    text = "".join(
        f'<p style="margin:0;white-space:pre-wrap;font-size:8pt">{escape(line) or "&#160;"}</p>'
        for line in lines
    )
    body = f'<h1>{_label(*title)}</h1><table class="facts">{rows}</table><h2></h2>{text}'
    return _page(f"{title[0]} {title[1]}", footer, body)
