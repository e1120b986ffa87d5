"""The CJK font that view copies and receipts are drawn with: Debian's fonts-noto-cjk.

One font for both, so the text burned into a picture and the text of its receipt look alike
and need one package. The file is looked up at fixed paths (never a path from the evidence or
the recipient's name), and a missing package is a usage error that says how to install it.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from i18n import _
from ingest.errors import UsageError

PACKAGE = "fonts-noto-cjk"
# Noto Sans CJK as Debian ships it: one TrueType collection, CFF outlines, every CJK script;
# its first face (JP) has every Han glyph that SC has, which is all drawtext can choose.
DEBIAN_FONTS: tuple[Path, ...] = (
    Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"),
    Path("/usr/share/fonts/opentype/noto/NotoSerifCJK-Regular.ttc"),
)
FAMILY = "Noto Sans CJK SC"  # the face receipts ask fontconfig for (the same file as above)


def cjk_font(*, candidates: Sequence[Path] = DEBIAN_FONTS) -> Path:
    """The first readable CJK font file of ``candidates``; UsageError with the apt-get line
    when there is none."""
    for path in candidates:
        if path.is_file():
            return path
    raise UsageError(
        _(
            "the CJK font ({package}) is not installed: view copies and receipts are drawn with it"
        ).format(package=PACKAGE),
        hint=_(
            "install it as root: apt-get install {package} (or run scripts/system-deps.sh demo)"
        ).format(package=PACKAGE),
    )
