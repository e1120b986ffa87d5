"""Device profiles: parsing, matching by USB ids, labels and markers, serial rules. Pure."""

from __future__ import annotations

from pathlib import Path

import pytest

from devices.profiles import (
    ProfileError,
    UsbProps,
    claimed_serials,
    glob_regex,
    load_profiles,
    match_medium,
    parse_profile,
    serial_from_filenames,
    serial_mismatches,
    usb_candidates,
)
from devices.udev import UdevEvent, parse_property_dump, props_from_mapping

DATA = Path(__file__).resolve().parents[1] / "data" / "udev"


def _props(name: str) -> UsbProps:
    return props_from_mapping(parse_property_dump((DATA / name).read_text()))


def test_globs_keep_single_stars_inside_one_folder() -> None:
    """'*' never crosses '/', '**' does; character classes work."""
    assert glob_regex("DCIM/*.MP4").match("DCIM/A.MP4")
    assert not glob_regex("DCIM/*.MP4").match("DCIM/100/A.MP4")
    assert glob_regex("**/*.WAV").match("a/b/c.WAV") and glob_regex("**/*.WAV").match("c.WAV")
    assert glob_regex("REC_[0-9]*.MP4").match("REC_1.MP4")
    assert not glob_regex("REC_[0-9]*.MP4").match("REC_x.MP4")


def test_built_in_profiles_pick_the_right_kind_of_device() -> None:
    """GA/T 947 names beat a plain DCIM tree; WAVs alone make an audio recorder; docs nothing."""
    profiles = load_profiles()
    gat = ["DCIM/100GAT/BWC0042_J0001_20261126083000_0001.MP4"]
    assert match_medium(profiles, gat).name == "gat947-recorder"  # type: ignore[union-attr]
    assert match_medium(profiles, ["DCIM/100MEDIA/A.MP4"]).name == "dcim-camera"  # type: ignore[union-attr]
    assert match_medium(profiles, ["FOLDER01/ZOOM0001.WAV"]).name == "audio-recorder"  # type: ignore[union-attr]
    assert match_medium(profiles, ["docs/report.pdf", "music.flac"]) is None


def test_gat947_serial_comes_from_the_file_names() -> None:
    """The recorder's serial is read from its GA/T 947-style file names."""
    prof = next(p for p in load_profiles() if p.name == "gat947-recorder")
    names = ["DCIM/100GAT/BWC0042_J0001_20261126083000_0001.MP4"]
    assert serial_from_filenames(prof, names) == "BWC0042"
    assert prof.require_registered


def test_gat947_file_names_name_the_device_only_when_they_all_agree() -> None:
    """Two names claiming two serials name nobody (the first is no better than the other)."""
    prof = next(p for p in load_profiles() if p.name == "gat947-recorder")
    own = "DCIM/100GAT/BWC0042_J0001_20261126083000_0001.MP4"
    other = "DCIM/100GAT/AAAB_J0002_20261126090000_0001.MP4"
    assert serial_from_filenames(prof, [own, "DCIM/MISC.TXT", own]) == "BWC0042"
    assert serial_from_filenames(prof, [other, own]) is None
    assert claimed_serials(prof, [other, "DCIM/MISC.TXT", own]) == ["AAAB", None, "BWC0042"]
    assert serial_mismatches(prof, [other, "DCIM/MISC.TXT", own], "BWC0042") == {0: "AAAB"}
    assert serial_mismatches(None, [other], "BWC0042") == {}


def test_gat947_takes_the_mediums_identity_before_its_file_names() -> None:
    """USB serial, then the folder's name; the serial in file names comes last."""
    prof = next(p for p in load_profiles() if p.name == "gat947-recorder")
    assert prof.serial_sources == ("udev", "folder", "filename")


def test_usb_ids_and_labels_narrow_the_candidates() -> None:
    """A profile bound to USB ids fits only that device; unconstrained profiles fit all."""
    sony = _props("sony-storage-media-part1.properties")
    lg = _props("lg-flashdrive-disk.properties")
    bound = parse_profile(
        'name = "sony-cam"\npriority = 50\n[match]\nusb_ids = ["054c:0243"]\n'
        'label_pattern = "^Sony"\nmarker_globs = ["DCIM"]\n',
        source="test",
    )
    generic = load_profiles()
    assert usb_candidates([bound, *generic], sony)[0].name == "sony-cam"
    assert "sony-cam" not in [p.name for p in usb_candidates([bound, *generic], lg)]


def test_recorded_udev_dumps_become_plain_records() -> None:
    """Real devices' property dumps, in both udevadm output styles, parse to the same fields."""
    sony = _props("sony-storage-media-part1.properties")
    assert (sony.devnode, sony.devtype, sony.vendor_id, sony.model_id) == (
        "/dev/sdc1", "partition", "054c", "0243",
    )  # fmt: skip
    assert (sony.serial_short, sony.fs_type, sony.fs_label) == ("5A10101105904", "vfat", "Sony_8Gb")
    nokia = _props("nokia-s60-disk.properties")
    assert nokia.devtype == "disk" and nokia.serial_short == "358279034921039"
    assert _props("lg-flashdrive-disk.properties").serial_short == ""


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('name = "Bad Name"', "lowercase"),
        ('name = "x"\n[serial]\nsources = ["telepathy"]', "unknown serial source"),
        ('name = "x"\n[match]\nusb_ids = ["12:34"]', "vvvv:pppp"),
        ('name = "x"\n[media]\ntime_pattern = "("', "regular expression"),
        ('name = "x"\n[match\n', "not valid TOML"),
    ],
)
def test_broken_profiles_are_refused_with_the_reason(text: str, message: str) -> None:
    """A profile file with a mistake names the file and the mistake."""
    with pytest.raises(ProfileError, match=message):
        parse_profile(text, source="/etc/evidock/profiles.d/x.toml")


def test_drop_in_profile_replaces_a_built_in_of_the_same_name(tmp_path: Path) -> None:
    """An office can override a shipped profile by dropping a file with its name."""
    (tmp_path / "dcim.toml").write_text(
        'name = "dcim-camera"\npriority = 99\n[policy]\nrequire_registered = true\n'
    )
    prof = next(p for p in load_profiles([tmp_path]) if p.name == "dcim-camera")
    assert prof.require_registered and prof.priority == 99


def test_real_udev_monitor_starts_and_stops_cleanly() -> None:
    """The thin pyudev adapter opens a real netlink monitor and joins its thread on stop
    (skipped where the kernel's udev netlink is not available)."""
    from devices.udev import UdevSource

    seen: list[UdevEvent] = []
    source = UdevSource(seen.append)
    try:
        present = source.existing()
        source.start()
    except OSError as e:
        pytest.skip(f"no udev netlink here: {e}")
    source.stop()
    assert all(p.props.bus == "usb" for p in present)
    assert seen == []
