"""The message catalog is whole: every marked message has its Chinese, with the same values."""

from __future__ import annotations

import ast
import gettext
import string
import subprocess
import sys
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po

import i18n
from tests.i18n.unmarked import MARKERS, find

ROOT = Path(__file__).resolve().parents[2]
PO = i18n.LOCALE_DIR / "zh_CN" / "LC_MESSAGES" / "evidock.po"
SOURCES = ("ingest", "storage", "verify", "devices", "i18n")
FOLDERS = (
    "ingest/cli",
    "ingest/console",
    "ingest/dock",
    "ingest/jobs",
    "ingest/metrics",
    "ingest/export",
    "ingest/pipeline",
    "ingest/access",
    "ingest/cases",
    "ingest/media",
    "storage",
    "verify",
    "devices",
)


def _extract(tmp_path: Path) -> Catalog:
    pot = tmp_path / "evidock.pot"
    subprocess.run(
        [sys.executable, "-m", "babel.messages.frontend", "-q", "extract", "-F", "babel.cfg",
         "-k", "n_:1,2", "-k", "p_:1c,2", "-k", "NP_:1c,2", "--no-location", "-o", str(pot),
         *SOURCES],
        cwd=ROOT, check=True,
    )  # fmt: skip
    with pot.open("rb") as f:
        return read_po(f)


def _catalog() -> Catalog:
    with PO.open("rb") as f:
        return read_po(f, locale="zh_CN")


def _fields(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name is not None}


def _ids(message_id: str | tuple[str, ...] | list[str] | None) -> tuple[str, ...]:
    if message_id is None:
        return ()
    return (message_id,) if isinstance(message_id, str) else tuple(message_id)


def test_every_message_in_the_source_has_its_chinese(tmp_path: Path) -> None:
    """make locale was run and every message translated: none missing, empty or fuzzy."""
    source = _extract(tmp_path)
    po = _catalog()
    missing = []
    for m in source:
        if not m.id:
            continue
        t = po.get(m.id, context=m.context)
        strings = () if t is None else _ids(t.string)
        if t is None or t.fuzzy or not strings or not all(strings):
            missing.append(_ids(m.id)[0])
    assert not missing, f"{len(missing)} messages without Chinese (make locale): {missing[:20]}"


def test_the_catalog_holds_no_message_the_source_no_longer_has(tmp_path: Path) -> None:
    """A stale translation is dead weight that a reviewer would still read."""
    source = {(m.context, m.id if isinstance(m.id, str) else m.id[0]) for m in _extract(tmp_path)}
    stale = [m.id for m in _catalog() if m.id and (m.context, _ids(m.id)[0]) not in source]
    assert not stale, f"stale entries (make locale drops them): {stale[:20]}"


def test_a_translation_keeps_the_values_of_its_message() -> None:
    """{item}, {n}: a translation that loses or renames one would fail or lie at run time."""
    wrong = []
    for m in _catalog():
        if not m.id:
            continue
        expected = set().union(*(_fields(i) for i in _ids(m.id)))
        for s in _ids(m.string):
            if s and _fields(s) != expected:
                wrong.append((m.id, s))
    assert not wrong, wrong[:20]


def test_the_compiled_catalog_is_the_one_in_the_po() -> None:
    """The .mo that evidock reads at run time says what the .po says (make compiles it)."""
    mo = gettext.translation(i18n.DOMAIN, i18n.LOCALE_DIR, languages=["zh_CN"])
    differ = [
        m.id
        for m in _catalog()
        if isinstance(m.id, str)
        and m.id
        and m.string
        and (mo.pgettext(m.context, m.id) if m.context else mo.gettext(m.id)) != m.string
    ]
    assert not differ, f"evidock.mo is older than evidock.po (make): {differ[:10]}"


@pytest.mark.parametrize("folder", FOLDERS)
def test_what_people_read_goes_through_the_catalog(folder: str) -> None:
    """Errors, hints, printed lines, table headers and help texts are marked for translation."""
    found = [str(u) for u in find(ROOT / folder)]
    assert not found, "\n".join(found)


def test_messages_are_marked_as_literals() -> None:
    """_() of an f-string, a concatenation or a formatted text cannot be extracted, nor can a
    _() inside an f-string: the reader would get English. (A name is fine: a constant marked
    with N_, or an error's hint.)"""
    bad = []
    for base in SOURCES:
        for path in (ROOT / base).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if (
                    isinstance(node, ast.Call)
                    and isinstance(node.func, ast.Name)
                    and node.func.id in MARKERS
                    and any(
                        isinstance(a, ast.JoinedStr | ast.BinOp | ast.Call)
                        for a in node.args[: 2 if node.func.id in ("n_", "p_", "NP_") else 1]
                    )
                ):
                    bad.append(f"{path.relative_to(ROOT)}:{node.lineno}")
                if isinstance(node, ast.JoinedStr):  # Babel on 3.11 does not look inside
                    bad.extend(
                        f"{path.relative_to(ROOT)}:{inner.lineno} (inside an f-string)"
                        for inner in ast.walk(node)
                        if isinstance(inner, ast.Call)
                        and isinstance(inner.func, ast.Name)
                        and inner.func.id in MARKERS
                        and any(isinstance(a, ast.Constant) for a in inner.args)
                    )
    assert not bad, bad
