"""Strings a person reads that bypass the catalog: the check behind test_catalog (issue 20).

A message is marked when it goes through ``_()``, ``n_()`` or ``N_()``. What this finds, in
the source of a folder, is text shown to a person that is not: the message or hint of an
error of ours, a ``hint = "..."`` class attribute, a line given to ``Output.line`` or
``print``, the headers of ``Output.table``, a ``help=``/``description=``/``epilog=`` of the
command line. Text without a word in it (``"-"``, ``f"{a}: {b}"``) needs no translation. A
line may say ``# untranslated: <why>`` (an identifier, a code a program reads).
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

MARKERS = frozenset({"_", "n_", "N_", "p_", "NP_"})
# programming errors: their text is for a developer's traceback, never printed for a person
BUILTIN_ERRORS = frozenset(
    {
        "ValueError",
        "TypeError",
        "RuntimeError",
        "AssertionError",
        "NotImplementedError",
        "KeyError",
        "AttributeError",
        "IndexError",
        "StopIteration",
        "SystemExit",
        "OSError",
        "LookupError",
    }
)
PERSON_KEYWORDS = frozenset({"hint", "help", "description", "epilog"})
WORD = re.compile(r"[A-Za-z]{2,}|[\u4e00-\u9fff]")
PRAGMA = "# untranslated:"


@dataclass(frozen=True, slots=True, kw_only=True)
class Unmarked:
    path: Path
    line: int
    what: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.what}"


# Copied verbatim into every disclosure package as the recipient's own checker: it must stay
# standard library only, with no import of ours (import-linter says so), so it cannot use the
# catalog. Its report stays English; its problem codes are the ones evidock prints.
NOT_OURS_TO_TRANSLATE = frozenset({Path("verify/package/verify_bag.py")})


def find(root: Path) -> Iterator[Unmarked]:
    for path in sorted(root.rglob("*.py")):
        if any(path.as_posix().endswith(skip.as_posix()) for skip in NOT_OURS_TO_TRANSLATE):
            continue
        source = path.read_text(encoding="utf-8")
        lines = source.splitlines()
        for node, what in _person_text(ast.parse(source, filename=str(path))):
            first, last = node.lineno, getattr(node, "end_lineno", node.lineno) or node.lineno
            if any(PRAGMA in lines[n - 1] for n in range(max(1, first - 1), last + 1)):
                continue
            yield Unmarked(path=path, line=first, what=what)


def _has_words(node: ast.AST) -> bool:
    """A literal (or the literal parts of an f-string, or a concatenation) that holds words."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return bool(WORD.search(node.value))
    if isinstance(node, ast.JoinedStr):
        return any(_has_words(v) for v in node.values if isinstance(v, ast.Constant))
    if isinstance(node, ast.BinOp):
        return _has_words(node.left) or _has_words(node.right)
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
        # "...".format(...) and "...".join(...) on a literal
        return node.func.attr in {"format", "join"} and _has_words(node.func.value)
    return False


def _name(func: ast.expr) -> str:
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute):
        return func.attr
    return ""


def _person_text(tree: ast.AST) -> Iterator[tuple[ast.expr | ast.stmt, str]]:
    for node in ast.walk(tree):
        if isinstance(node, ast.Raise) and isinstance(node.exc, ast.Call):
            name = _name(node.exc.func)
            if name not in BUILTIN_ERRORS and node.exc.args and _has_words(node.exc.args[0]):
                yield node, f"message of {name} not marked with _()"
        if isinstance(node, ast.Call):
            name = _name(node.func)
            for kw in node.keywords:
                if kw.arg in PERSON_KEYWORDS and _has_words(kw.value):
                    yield kw.value, f"{kw.arg}= not marked with _()"
            if name in {"line", "print"} and node.args and _has_words(node.args[0]):
                yield node, f"{name}() of text not marked with _()"
            if name == "table" and node.args:
                headers = node.args[0]
                if isinstance(headers, ast.List | ast.Tuple) and any(
                    _has_words(h) for h in headers.elts
                ):
                    yield node, f"{name}() headers not marked with _()"
        if isinstance(node, ast.ClassDef):
            for stmt in node.body:
                if (
                    isinstance(stmt, ast.Assign)
                    and any(isinstance(t, ast.Name) and t.id == "hint" for t in stmt.targets)
                    and _has_words(stmt.value)
                ):
                    yield stmt, "class hint not marked with N_()"
