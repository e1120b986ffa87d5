"""The CJK font of view copies and receipts."""

from __future__ import annotations

from pathlib import Path

import pytest

from ingest.errors import UsageError
from ingest.export.fonts import cjk_font


def test_the_debian_cjk_font_is_found() -> None:
    """fonts-noto-cjk is installed (scripts/system-deps.sh): a collection file."""
    assert cjk_font().suffix == ".ttc" and cjk_font().stat().st_size > 1_000_000


def test_a_missing_font_names_the_package_to_install(tmp_path: Path) -> None:
    """No font: a usage error whose hint is the apt-get line."""
    with pytest.raises(UsageError, match="fonts-noto-cjk") as err:
        cjk_font(candidates=(tmp_path / "none.ttc",))
    assert "apt-get install fonts-noto-cjk" in err.value.hint
