"""A device error reaches the operator in the language asked for (issue 20): a real ingest of
a device root that is a symbolic link, refused before anything is read."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

import i18n
from devices.profiles import ProfileError, parse_profile
from tests.procs import child_env, init

CJK = re.compile(r"[\u4e00-\u9fff]")


def test_a_device_root_given_as_a_link_is_refused_in_chinese_and_in_english(
    tmp_path: Path,
) -> None:
    """--lang zh says why and what to do in Chinese; --lang en says it in English only."""
    home = tmp_path / "home"
    env = init(child_env(home, f"sqlite:///{home / 'catalog.db'}", dock="dock-lang"))
    (tmp_path / "medium").mkdir()
    link = tmp_path / "link"
    link.symlink_to(tmp_path / "medium")

    def ingest(lang: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "ingest.cli.main", "--lang", lang,
             "ingest", str(link), "--device", "BWC-1"],
            env=env, capture_output=True, text=True, timeout=120,
        )  # fmt: skip

    zh = ingest("zh")
    assert zh.returncode == 2, zh.stderr
    assert f"{link} 是符号链接；请指定实际挂载点 [bad-device-root]" in zh.stderr
    assert "提示：请指定设备的挂载文件夹（须为目录，不能是文件或链接）。" in zh.stderr
    assert "symbolic link" not in zh.stderr
    en = ingest("en")
    assert en.returncode == 2, en.stderr
    assert f"{link} is a symbolic link; give the real mount point [bad-device-root]" in en.stderr
    assert "hint: Give the folder where the device is mounted" in en.stderr
    assert not CJK.search(en.stderr), en.stderr


def test_a_bad_profile_is_reported_in_the_readers_language() -> None:
    """The profile error names the file and the rule in Chinese under zh; its hint too."""
    with i18n.speaking("zh"):
        with pytest.raises(ProfileError) as caught:
            parse_profile('name = "Bad Name"\n', source="drop-in/bad.toml")
        message, hint = str(caught.value), i18n._(caught.value.hint)
    assert message == "drop-in/bad.toml：name 只能由小写字母、数字、'.'、'_' 或 '-' 组成"
    assert hint == "请修正消息中所指的设备配置文件（示例见 devices/profiles/*.toml）。"
