"""Adapter for WeasyPrint: the only module that imports ``weasyprint``.

The receipt and the A/V index are HTML built in ``ingest.export.receipt`` (in the reader's
language, ``i18n.current()``); WeasyPrint lays them out with pango and embeds a subset of
Debian's Noto Sans CJK (CFF outlines, which it embeds as they are), so the Chinese shows as
text, not boxes, and stays searchable. No document fetches anything: the HTML has no links,
images or remote styles, and its URL fetcher allows no protocol at all.

``weasyprint`` is imported when a PDF is laid out, not with this module: loading it (pango,
fontconfig, its CSS tables) takes a second or more, and every ``evidock`` command imports this
module through the CLI, though few of them print anything.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from ingest.export.fonts import cjk_font
from ingest.export.receipt import (
    IndexRow,
    Label,
    Receipt,
    av_index_html,
    receipt_html,
    report_html,
)
from storage.blobs.durable import atomic_write


def render_pdf(html: str, dest: Path) -> None:
    """Lay ``html`` out as PDF and write it to ``dest`` durably."""
    import weasyprint  # here, not at the top: loaded only when a PDF is made (module doc)

    cjk_font()  # a clear error with the apt-get line rather than a PDF of empty boxes
    no_fetch = weasyprint.URLFetcher(allowed_protocols=frozenset())  # no file:, no http:
    document = weasyprint.HTML(string=html, url_fetcher=no_fetch).render()
    atomic_write(dest, document.write_pdf())


def render_receipt(receipt: Receipt, dest: Path) -> None:
    """receipt.pdf in the reader's language; every file with its sha256; signature lines."""
    render_pdf(receipt_html(receipt), dest)


def render_av_index_pdf(case_number: str, rows: Sequence[IndexRow], dest: Path) -> None:
    """The case file's A/V index as a PDF table (A4 landscape)."""
    render_pdf(av_index_html(case_number, rows), dest)


def render_report(
    title: Label,
    facts: Sequence[tuple[str, str] | tuple[str, str, str]],
    lines: Sequence[str],
    footer: str,
    dest: Path,
) -> None:
    """A text report as a printable PDF (``overdue --pdf``)."""
    render_pdf(report_html(title, facts, lines, footer), dest)
