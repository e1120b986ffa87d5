"""What a package's receipt and a case's A/V index say: frozen records, the CSV and the HTML.

Pure but for ``write_av_index_csv``: the documents are built here as HTML text (every value
escaped), and ``ingest.export.pdf`` turns them into PDF. A document is in the reader's language
(``i18n.current()``: Chinese by default, English with --lang en), its ``lang`` attribute too;
the CSV headers stay as they are (programs read them). A SHA-256 is printed in two halves of
32 hex digits, one above the other, in a monospaced face, so that a person compares it with
``sha256sum`` half by half.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from html import escape
from pathlib import Path
from string import Formatter

import i18n
from i18n import N_, NP_, _, n_, p_
from ingest.cases.vocab import RECORD_TYPES, STAGES, Term
from storage.blobs.durable import atomic_write

PURPOSE = "disclosure purpose"  # the sense of these words (i18n.p_): not the case vocabulary
# (the literal again in NP_ below: Babel reads the context only from a literal)
PURPOSES = {  # Art. 30 (and 27): why a party or a body receives the recordings, by code
    "查阅": NP_("disclosure purpose", "inspection"),
    "复制": NP_("disclosure purpose", "copying"),
    "诉讼": NP_("disclosure purpose", "litigation"),
    "复议": NP_("disclosure purpose", "administrative review"),
    "归档": NP_("disclosure purpose", "archiving"),
}
ROLES = {"original": N_("original"), "view-copy": N_("view copy"), "proxy": N_("review proxy")}
HTML_LANG = {"zh": "zh-CN", "en": "en"}  # a document's lang attribute, by i18n language


def purpose_label(code: str) -> str:
    """A purpose code (``查阅``) as the reader says it; an unknown code as it is."""
    return p_(PURPOSE, PURPOSES[code]) if code in PURPOSES else code


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
  @bottom-center { content: %(footer)s; font-size: 7.5pt; color: #555; } }
html, body { font-family: "Noto Sans CJK SC", sans-serif; font-size: 9pt; line-height: 1.35; }
@page { font-family: "Noto Sans CJK SC", sans-serif; }
h1 { font-size: 15pt; margin: 0 0 2mm 0; } h2 { font-size: 11pt; margin: 5mm 0 2mm 0; }
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
_COUNTERS = {"page": "counter(page)", "pages": "counter(pages)"}


def _page(title: str, footer: str, body: str, *, landscape: bool = False) -> str:
    """A whole document in the reader's language: ``lang`` set, the page numbers said in it."""
    style = STYLE % {"footer": _footer_content(footer)}
    if landscape:
        style = style.replace("size: A4;", "size: A4 landscape;")
    lang = HTML_LANG.get(i18n.current(), "en")
    return (f'<!DOCTYPE html><html lang="{lang}"><head><meta charset="utf-8">'
            f"<title>{escape(title)}</title><style>{style}</style></head>"
            f"<body>{body}</body></html>")  # fmt: skip


def _footer_content(footer: str) -> str:
    """The CSS ``content`` of the page footer: ``footer``, then 'page N of M' as the reader
    says it, the numbers being CSS counters."""
    parts = [f'"{_css_string(footer)}  "']
    for text, field, _spec, _conv in Formatter().parse(_("page {page} of {pages}")):
        if text:
            parts.append(f'"{_css_string(text)}"')
        if field is not None:
            parts.append(_COUNTERS.get(field, '""'))
    return " ".join(parts)


def _css_string(text: str) -> str:
    """``text`` for inside a CSS string: anything but letters, digits and a few marks escaped
    (a quote, a backslash or '</style>' in an office name ends nothing)."""
    return "".join(c if c.isalnum() or c in " ·-_.:/" else f"\\{ord(c):x} " for c in text)


def _columns(*percent: int) -> str:
    return "<colgroup>" + "".join(f'<col style="width:{p}%">' for p in percent) + "</colgroup>"


def _hash(sha256: str) -> str:
    return f'<span class="hash">{escape(sha256[:32])}<br>{escape(sha256[32:])}</span>'


def _size(n: int) -> str:
    return f"{n:,}"


def _heads(labels: Sequence[str]) -> str:
    """Table headers; each label translated (a label without words, like SHA-256, as it is)."""
    return "".join(f"<th>{escape(_(label))}</th>" for label in labels)


# the receipt's table heads and signature lines, translated where they are shown
RECEIPT_COLUMNS = (N_("No."), N_("item"), N_("path"), N_("role"), N_("size (bytes)"),
                   N_("recording start"), "SHA-256")  # fmt: skip
SIGN_LINES = (N_("Received by"), N_("ID document number"), N_("Signature"), N_("Date"),
              N_("Handed over by"))  # fmt: skip
INDEX_COLUMNS = (N_("item"), N_("stage"), N_("record type"), N_("start"), N_("end"),
                 N_("officer"), N_("file"), "SHA-256")  # fmt: skip


def receipt_html(r: Receipt) -> str:
    """The receipt of one package: what went to whom and why, each file, and the lines the
    recipient signs; in the reader's language."""
    total = sum(f.size for f in r.files)
    n = len(r.files)
    facts = [
        (_("Package"), r.package_id),
        (_("Case number"), r.case_number or _("(none)")),
        (_("Recipient"), r.recipient),
        (_("Purpose"), purpose_label(r.purpose)),
        (_("Requested by"), r.requested_by),
        (_("Approved by"), r.approved_by),
        (_("Approved at"), r.approved_at),
        (_("Exported at"), r.exported_at),
        (_("Exporting office"), r.office),
        (_("Files"), n_("{n} file, {bytes} bytes", "{n} files, {bytes} bytes", n).format(
            n=n, bytes=_size(total))),
        (_("Custody checkpoint"), n_("{n} custody event", "{n} custody events",
                                     r.checkpoint_size).format(n=r.checkpoint_size)),
    ]  # fmt: skip
    rows = "".join(f"<tr><th>{escape(k)}</th><td>{escape(v)}</td></tr>" for k, v in facts)
    files = "".join(
        f'<tr><td class="num">{i}</td><td class="num">{f.item_id}</td>'
        f"<td>{escape(f.path)}</td><td>{escape(_(ROLES[f.role]) if f.role in ROLES else f.role)}"
        f'</td><td class="num">{_size(f.size)}</td><td>{escape(f.recorded_start or "")}</td>'
        f"<td>{_hash(f.sha256)}</td></tr>"
        for i, f in enumerate(r.files, 1)
    )
    signed = [_("{label}:").format(label=_(label)) for label in SIGN_LINES]
    sign = "".join(
        f'<tr><td style="width:38%">{escape(s)}</td><td class="line">&nbsp;</td></tr>'
        for s in signed
    )
    check = _(
        "Check each file with sha256sum; the values are those of the package manifest-sha256.txt."
    )
    received = n_(
        "I have received the {n} file listed above.", "I have received the {n} files listed above.",
        n,
    ).format(n=n)  # fmt: skip
    heading = _("Receipt for disclosed audio-visual evidence")
    disclosed, acknowledged = _("Files disclosed"), _("Acknowledgement of receipt")
    body = (
        f"<h1>{escape(heading)}</h1>"
        f'<table class="facts">{rows}</table>'
        f"<h2>{escape(disclosed)}</h2>"
        f"<p>{escape(check)}</p>"
        f"<table>{_columns(4, 6, 27, 9, 11, 14, 29)}"
        f"<thead><tr>{_heads(RECEIPT_COLUMNS)}</tr></thead><tbody>{files}</tbody></table>"
        f"<h2>{escape(acknowledged)}</h2>"
        f"<p>{escape(received)}</p>"
        f'<table class="sign">{sign}</table>'
    )
    return _page(_("Receipt"), f"{r.package_id} · {r.office}", body)


def _term(code: str, table: Mapping[str, Term]) -> str:
    term = table.get(code)
    return term.label if term is not None else code


def av_index_html(case_number: str, rows: Sequence[IndexRow]) -> str:
    """The case file's A/V index as a table: each recording with its stage, record type,
    times, officer, file and sha256; in the reader's language."""
    body_rows = "".join(
        f'<tr><td class="num">{r.item_id}</td><td>{escape(_term(r.stage, STAGES))}</td>'
        f"<td>{escape(_term(r.record_type, RECORD_TYPES))}</td>"
        f"<td>{escape(r.start or '')}</td><td>{escape(r.end or '')}</td>"
        f"<td>{escape(r.officer)}</td><td>{escape(r.file)}</td>"
        f"<td>{_hash(r.sha256)}</td></tr>"
        for r in rows
    )
    title = _("A/V index of case {case}").format(case=case_number)
    count = n_("{n} linked recording", "{n} linked recordings", len(rows)).format(n=len(rows))
    body = (
        f"<h1>{escape(title)}</h1><p>{escape(count)}</p>"
        f"<table>{_columns(5, 9, 10, 11, 11, 10, 24, 20)}"
        f"<thead><tr>{_heads(INDEX_COLUMNS)}</tr></thead><tbody>{body_rows}</tbody></table>"
    )
    return _page(_("A/V index"), f"{case_number}", body, landscape=True)


Label = str | tuple[str, str]  # a translated label, or (Chinese, English) from an older caller


def _one(label: Label) -> str:
    """A label in the reader's language: as it is, or the half of a (Chinese, English) pair."""
    if isinstance(label, str):
        return label
    zh, en = label
    return zh if i18n.current() == "zh" else en


def report_html(
    title: Label,
    facts: Sequence[tuple[str, str] | tuple[str, str, str]],
    lines: Sequence[str],
    footer: str,
) -> str:
    """A text report (``overdue --pdf``, issue 20) as a printable page: a title, a table of
    facts (office, time, checkpoint) and the report's lines as they read in the terminal.
    Titles and labels come translated; a (Chinese, English) pair is read in one language."""
    shown = [(_one(f[0]) if len(f) == 2 else _one((f[0], f[1])), f[-1]) for f in facts]
    rows = "".join(f"<tr><th>{escape(k)}</th><td>{escape(v)}</td></tr>" for k, v in shown)
    text = "".join(
        f'<p style="margin:0;white-space:pre-wrap;font-size:8pt">{escape(line) or "&#160;"}</p>'
        for line in lines
    )
    heading = _one(title)
    body = f'<h1>{escape(heading)}</h1><table class="facts">{rows}</table><h2></h2>{text}'
    return _page(heading, footer, body)
