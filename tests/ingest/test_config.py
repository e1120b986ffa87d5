"""Configuration is checked, not coerced: a value of the wrong type, an unknown key or section,
a value out of range stops the start with the file, the key and what to write instead."""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest

from ingest.config import SCHEMA, Settings, parse
from ingest.configkeys import where
from ingest.errors import ConfigError, exit_code_for

SOURCE = "/etc/evidock/evidock.toml"
ENV = {"EVIDOCK_HOME": "/tmp/evidock-config-test"}


def _parse(text: str, env: dict[str, str] | None = None) -> Settings:
    return parse(tomllib.loads(text), env=ENV if env is None else env, source=SOURCE)


def _refused(text: str, env: dict[str, str] | None = None) -> str:
    with pytest.raises(ConfigError) as e:
        _parse(text, env)
    assert exit_code_for(e.value) == 2
    return str(e.value)


def test_a_quoted_boolean_is_refused_not_read_as_true() -> None:
    """wipe_after_offload = "false" used to switch wiping on; now it names the fix."""
    message = _refused('[dock]\nwipe_after_offload = "false"\n')
    assert message == (
        f'{SOURCE}: [dock] wipe_after_offload = "false" is a string, not true or false: '
        "write wipe_after_offload = false without quotes"
    )


def test_a_string_where_a_list_belongs_is_refused_not_split_into_letters() -> None:
    """watch = "/srv/dropbox" used to become the roots "/", "s", "r", ...; now it is refused."""
    message = _refused('[dock]\nwatch = "/srv/dropbox"\n')
    assert message == (
        f'{SOURCE}: [dock] watch = "/srv/dropbox" is a string, not a list of paths (strings): '
        'write watch = ["/srv/dropbox"]'
    )


def test_a_boolean_where_a_number_belongs_is_refused_not_read_as_one() -> None:
    """offload_deadline_hours = true used to be a 1-hour deadline."""
    message = _refused("offload_deadline_hours = true\n")
    assert message == (
        f"{SOURCE}: offload_deadline_hours = true is a boolean, not a number: "
        "write offload_deadline_hours = 24"
    )


def test_a_misspelt_key_is_refused_with_the_nearest_known_key() -> None:
    """settle_secnds is no longer ignored: the message suggests the key, in its section."""
    assert _refused("[dock]\nsettle_secnds = 1\n") == (
        f"{SOURCE}: [dock] settle_secnds is an unknown key; did you mean settle_seconds?"
    )
    assert _refused("[probe]\nsettle_secnds = 1\n") == (
        f"{SOURCE}: [probe] settle_secnds is an unknown key; did you mean [dock] settle_seconds?"
    )
    assert _refused("watch = []\n") == (
        f"{SOURCE}: watch is an unknown key; did you mean [dock] watch?"
    )


def test_an_unknown_section_is_refused_with_the_nearest_known_one() -> None:
    """A misspelt [dokc] would leave every dock setting at its default."""
    assert _refused('[dokc]\nname = "dock-01"\n') == (
        f"{SOURCE}: [dokc] is an unknown section; did you mean [dock]?"
    )


# (TOML, what the message says after the file name), for every section
BAD = [
    ("data_dir = 7", 'data_dir = 7 is a whole number, not a path (a string): write data_dir = "7"'),
    ('catalog_url = "mysql://db/e"', 'catalog_url = "mysql://db/e" is not a catalog URL'),
    ('timezone = "Mars/Olympus"', 'timezone = "Mars/Olympus" is not a known time zone'),
    ("offload_deadline_hours = 0", "offload_deadline_hours = 0 must be more than 0"),
    ('offload_deadline_hours = "24"', "write offload_deadline_hours = 24 without quotes"),
    ("offload_deadline_hours = nan", "offload_deadline_hours = nan is not a finite number"),
    ("archive_deadline_days = 30.5", "archive_deadline_days = 30.5 is a number, not a whole"),
    ("archive_deadline_days = 0", "archive_deadline_days = 0 is out of range: it takes at least 1"),
    ("store = 1", "store = 1 is a whole number, not a section: write it as a [store] section"),
    ('[store]\nsystem_of_record = "s3"', 'write system_of_record = ["s3"]'),
    ('[store]\nsystem_of_record = ["locl"]', '[store] system_of_record: item 1, "locl", is not one'
     ' of "local", "s3"; did you mean "local"?'),
    ("[store]\nshared = 1", "[store] shared = 1 is a whole number, not true or false: write "
     "shared = true"),
    ('[s3]\nregion = "us-east-1"', '[s3] has no bucket: write bucket = "evidence"'),
    ('[s3]\nbucket = "evidence"\nobject_lock_mode = "compliance"', 'did you mean "COMPLIANCE"?'),
    ('[s3]\nbucket = "evidence"\nretention_days = 3650.0', "[s3] retention_days = 3650.0 is a "
     "number, not a whole number: write retention_days = 3650"),
    ('[s3]\nbucket = "evidence"\nconnect_timeout_s = 0', "[s3] connect_timeout_s = 0 is out of "
     "range: it takes from 0.1 to 600"),
    ('[s3]\nbucket = "evidence"\nsecret_access_key = "x"', "[s3] secret_access_key is an unknown "
     "key"),
    ('[dock]\nname = "dock 01"', '[dock] name = "dock 01" must be 1-63 letters'),
    ("[dock]\nparallel_devices = 0", "[dock] parallel_devices = 0 is out of range: it takes from "
     "1 to 64"),
    ('[dock]\nudev = "yes"', '[dock] udev = "yes" is a string, not true or false: write udev = '
     "true or udev = false"),
    ('[dock]\nmetrics_address = "9108"', '[dock] metrics_address = "9108" is not HOST:PORT'),
    ('[dock]\nwatch = ["/srv/a", 2]', '[dock] watch = ["/srv/a", 2]: item 2, 2, is a whole '
     "number, not a string"),
    ("[dock]\nsettle_seconds = -1", "[dock] settle_seconds = -1 is out of range: it takes at "
     "least 0"),
    ('[probe]\nffprobe = ""', '[probe] ffprobe = "" is empty'),
    ("[probe]\ntimeout_s = false", "[probe] timeout_s = false is a boolean, not a number: write "
     "timeout_s = 60"),
    ('[worker]\npreset = "fastest"', '[worker] preset = "fastest" is not one of'),
    ("[worker]\nconcurrency = true", "[worker] concurrency = true is a boolean, not a whole "
     "number: write concurrency = 1"),
    ('[worker]\nembedded = "false"', "write embedded = false without quotes"),
    ("[worker]\npoll_seconds = 0", "[worker] poll_seconds = 0 is out of range: it takes at "
     "least 0.05"),
    ('[compliance]\ncase_number_pattern = "(["', '[compliance] case_number_pattern = "([" is '
     "not a regular expression"),
    ('[compliance]\nlink_slack_minutes = "15"', "write link_slack_minutes = 15 without quotes"),
    ('[verify]\ntrusted_keys = "dock-01+1a2b3c4d+AQ"', '[verify] trusted_keys = '
     '"dock-01+1a2b3c4d+AQ" is a string, not a list of strings'),
    ('[verify]\ntrusted_keys = ["dock-01+zz+AAAA"]', '[verify] trusted_keys: item 1, '
     '"dock-01+zz+AAAA", is not a verifier key'),
]  # fmt: skip


@pytest.mark.parametrize(("text", "message"), BAD)
def test_each_section_refuses_a_bad_value_naming_file_key_and_fix(text: str, message: str) -> None:
    """Top level, [store], [s3], [dock], [probe], [worker], [compliance], [verify]: each
    mistake is a ConfigError (exit 2) whose message starts with the file and says the fix."""
    refused = _refused(text + "\n")
    assert refused.startswith(f"{SOURCE}: ")
    assert message in refused


def _wrong_type(kind: str) -> object:
    """A TOML value of another type than ``kind`` that a coercing reader would have taken."""
    return {"bool": "true", "int": True, "number": True, "text": 5, "path": 5,
            "texts": "x", "paths": "x", "tables": ["x"]}[kind]  # fmt: skip


@pytest.mark.parametrize(
    ("section", "name"), [(s, k) for s, keys in SCHEMA.items() for k in keys]
)  # fmt: skip
def test_every_key_of_every_section_refuses_a_value_of_another_type(
    section: str, name: str
) -> None:
    """No key is read by coercion: a wrong type is refused naming [section] key."""
    value = _wrong_type(SCHEMA[section][name].kind)
    raw: dict[str, Any] = {name: value} if not section else {section: {name: value}}
    if section == "s3" and name != "bucket":
        raw["s3"]["bucket"] = "evidence"
    with pytest.raises(ConfigError) as e:
        parse(raw, env=ENV, source=SOURCE)
    assert str(e.value).startswith(f"{SOURCE}: {where(section, name)} = ")


@pytest.mark.parametrize("section", [s for s in SCHEMA if s])
def test_every_section_refuses_an_unknown_key(section: str) -> None:
    """An unknown key in any section is refused, not ignored."""
    raw: dict[str, Any] = {section: {"zz_not_a_key": 1}}
    if section == "s3":
        raw["s3"]["bucket"] = "evidence"
    with pytest.raises(ConfigError, match=rf"\[{section}\] zz_not_a_key is an unknown key"):
        parse(raw, env=ENV, source=SOURCE)


def test_the_documented_values_are_read_with_their_types() -> None:
    """Integers where numbers are asked are taken; lists become tuples of paths."""
    s = _parse(
        'offload_deadline_hours = 12\n[dock]\nwatch = ["/srv/a", "/srv/b"]\n'
        "settle_seconds = 1\nwipe_after_offload = true\n[worker]\npoll_seconds = 0.5\n"
    )
    assert s.offload_deadline_hours == 12.0 and isinstance(s.offload_deadline_hours, float)
    assert s.dock.watch == (Path("/srv/a"), Path("/srv/b"))
    assert s.dock.settle_seconds == 1.0 and s.dock.wipe_after_offload is True
    assert s.worker.poll_seconds == 0.5


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"EVIDOCK_HOME": ""}, "environment: EVIDOCK_HOME is set but empty"),
        ({**ENV, "EVIDOCK_DOCK_NAME": "dock 01"},
         "environment: EVIDOCK_DOCK_NAME='dock 01' must be 1-63 letters"),
        ({**ENV, "EVIDOCK_CATALOG_URL": "/var/lib/evidock/catalog.db"}, "is not a catalog URL"),
        ({**ENV, "EVIDOCK_DOCKNAME": "dock-02"},
         "environment: EVIDOCK_DOCKNAME is not a variable evidock reads; "
         "did you mean EVIDOCK_DOCK_NAME?"),
    ],
)  # fmt: skip
def test_environment_values_are_held_to_the_same_rules(env: dict[str, str], message: str) -> None:
    """EVIDOCK_* variables are checked like the keys they stand for; a misspelt one is named."""
    assert message in _refused("", env)


def test_the_cli_exits_2_naming_the_file_and_the_key(tmp_path: Path) -> None:
    """A misspelt key stops any command with exit 2, the file, the key and the fix; no trace."""
    config = tmp_path / "evidock.toml"
    config.write_text("[dock]\nsettle_secnds = 3\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("EVIDOCK_")}
    env["EVIDOCK_HOME"] = str(tmp_path / "home")
    p = subprocess.run(
        [sys.executable, "-m", "ingest.cli.main", "--config", str(config), "items"],
        env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert p.returncode == 2
    assert p.stderr.startswith(
        f"evidock: {config}: [dock] settle_secnds is an unknown key; "
        "did you mean settle_seconds? [bad-config]\n"
    )
    assert "Traceback" not in p.stderr and p.stdout == ""
    assert not (tmp_path / "home").exists()


def test_a_configuration_mistake_is_explained_in_chinese_under_zh(tmp_path: Path) -> None:
    """evidock --lang zh with a wrong value says in Chinese what is wrong, what to write
    instead and what to do; the file, the key, the value and the code stay as they are."""
    config = tmp_path / "evidock.toml"
    config.write_text('[dock]\nwipe_after_offload = "false"\n')
    env = {k: v for k, v in os.environ.items() if not k.startswith("EVIDOCK_")}
    env["EVIDOCK_HOME"] = str(tmp_path / "home")
    p = subprocess.run(
        [sys.executable, "-m", "ingest.cli.main", "--lang", "zh", "--config", str(config),
         "items"],
        env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert p.returncode == 2
    assert p.stderr == (
        f'evidock：{config}：[dock] wipe_after_offload = "false" 是字符串，'
        "不是布尔值 true 或 false：请写成 wipe_after_offload = false（不加引号） [bad-config]\n"
        "提示：请修改配置文件（参见 README 的“Configuration”一节）。\n"
    )
    assert p.stdout == "" and not (tmp_path / "home").exists()
