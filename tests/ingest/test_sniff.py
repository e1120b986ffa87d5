"""Which container a file is, by its first bytes: every real recording is recognised, and a
playlist, a list or text never is."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from ingest.media import sniff as sniffing
from ingest.media.probe import ffprobe, sniff_file
from ingest.media.sniff import (
    AAC,
    AIFF,
    AMR,
    ASF,
    AVI,
    CAF,
    DV,
    FLAC,
    FLV,
    GIF,
    JPEG,
    MATROSKA,
    MP3,
    MP4,
    MPEG_PS,
    MPEG_TS,
    MXF,
    OGG,
    PNG,
    TIFF,
    W64,
    WAV,
    WEBP,
    Container,
    sniff,
)

VIDEO = ["-f", "lavfi", "-i", "testsrc2=size=64x48:rate=10:duration=0.5"]
AUDIO = ["-f", "lavfi", "-i", "sine=frequency=440:sample_rate=8000:duration=0.5"]
DV_PAL = ["-f", "lavfi", "-i", "testsrc2=size=720x576:rate=25:duration=0.2", "-target", "pal-dv"]
STILL = [*VIDEO, "-frames:v", "1"]
# what ffmpeg writes (arguments, then the container it must be sniffed as, and its codec)
WRITTEN = {
    "mp4": ([*VIDEO, "-c:v", "libx264", "-f", "mp4"], MP4, "h264"),
    "mov": ([*VIDEO, "-c:v", "mjpeg", "-f", "mov"], MP4, "mjpeg"),
    "3gp": ([*VIDEO, "-c:v", "h263", "-s", "128x96", "-f", "3gp"], MP4, "h263"),
    "m4a": ([*AUDIO, "-c:a", "aac", "-f", "ipod"], MP4, "aac"),
    "mkv": ([*VIDEO, "-c:v", "mpeg4", "-f", "matroska"], MATROSKA, "mpeg4"),
    "webm": ([*VIDEO, "-c:v", "libvpx", "-f", "webm"], MATROSKA, "vp8"),
    "avi": ([*VIDEO, "-c:v", "mjpeg", "-f", "avi"], AVI, "mjpeg"),
    "wav": ([*AUDIO, "-f", "wav"], WAV, "pcm_s16le"),
    "rf64": ([*AUDIO, "-rf64", "always", "-f", "wav"], WAV, "pcm_s16le"),
    "w64": ([*AUDIO, "-f", "w64"], W64, "pcm_s16le"),
    "ts": ([*VIDEO, "-c:v", "mpeg2video", "-f", "mpegts"], MPEG_TS, "mpeg2video"),
    "m2ts": ([*VIDEO, "-c:v", "mpeg2video", "-mpegts_m2ts_mode", "1", "-f", "mpegts"],
             MPEG_TS, "mpeg2video"),
    "vob": ([*VIDEO, "-c:v", "mpeg2video", "-f", "vob"], MPEG_PS, "mpeg2video"),
    "mxf": ([*VIDEO, "-c:v", "mpeg2video", "-r", "25", "-f", "mxf"], MXF, "mpeg2video"),
    "wmv": ([*VIDEO, "-c:v", "wmv2", "-f", "asf"], ASF, "wmv2"),
    "flv": ([*VIDEO, "-c:v", "flv", "-f", "flv"], FLV, "flv1"),
    "dv": ([*DV_PAL, "-f", "dv"], DV, "dvvideo"),
    "mp3": ([*AUDIO, "-c:a", "libmp3lame", "-write_id3v2", "0", "-f", "mp3"], MP3, "mp3"),
    "mp3-id3": ([*AUDIO, "-c:a", "libmp3lame", "-metadata", "title=x", "-f", "mp3"], MP3, "mp3"),
    "aac": ([*AUDIO, "-c:a", "aac", "-f", "adts"], AAC, "aac"),
    "flac": ([*AUDIO, "-f", "flac"], FLAC, "flac"),
    "ogg": ([*AUDIO, "-c:a", "libvorbis", "-f", "ogg"], OGG, "vorbis"),
    "opus": ([*AUDIO, "-ar", "48000", "-c:a", "libopus", "-f", "ogg"], OGG, "opus"),
    "aiff": ([*AUDIO, "-f", "aiff"], AIFF, "pcm_s16be"),
    "caf": ([*AUDIO, "-f", "caf"], CAF, "pcm_s16be"),
    "jpeg": ([*STILL, "-f", "image2", "-update", "1"], JPEG, "mjpeg"),
    "png": ([*STILL, "-c:v", "png", "-f", "image2", "-update", "1"], PNG, "png"),
    "gif": ([*STILL, "-f", "gif"], GIF, "gif"),
    "tiff": ([*STILL, "-c:v", "tiff", "-f", "image2", "-update", "1"], TIFF, "tiff"),
    "webp": ([*STILL, "-c:v", "libwebp", "-f", "webp"], WEBP, "webp"),
}  # fmt: skip

# the corpus's fuzzer crashes of 6 and 15 bytes that only look like MPEG audio by their name
NOT_CONTAINERS = {"fuzz_mp3_ArithmeticException.mp3", "fuzz_mp3_ArrayIndexOOB.mp3"}
EXPECTED = {".mp4": MP4, ".mov": MP4, ".heic": MP4, ".avi": AVI, ".wav": WAV, ".dv": DV,
            ".mts": MPEG_TS, ".jpg": JPEG}  # fmt: skip


def test_every_real_recording_is_sniffed_as_the_container_its_name_says(real_media: Path) -> None:
    """The corpus's phones, GoPros, dashcams, field recorders and camcorders (M2TS with its
    192-byte packets, QuickTime without 'ftyp', DV) each open with their own demuxer."""
    found: dict[str, Container | None] = {
        f.name: sniff_file(f).container for f in sorted(real_media.iterdir())
    }
    expected = {n: EXPECTED[Path(n).suffix.lower()] for n in found if n not in NOT_CONTAINERS}
    assert {n: c for n, c in found.items() if n not in NOT_CONTAINERS} == expected
    assert {n: found[n] for n in NOT_CONTAINERS} == dict.fromkeys(NOT_CONTAINERS)


def test_generated_clips_audio_and_photos_are_sniffed(media: dict[str, Path]) -> None:
    """What ffmpeg and exiftool make for the tests: MP4 (also cut short), WAV, JPEG."""
    got = {k: sniff_file(p).container for k, p in media.items()}
    assert got == {"clip": MP4, "clip2": MP4, "wav": WAV, "jpg": JPEG, "cut": MP4,
                   "garbage": None}  # fmt: skip


@pytest.mark.parametrize(
    ("head", "playlist"),
    [
        (b"#EXTM3U\n#EXT-X-TARGETDURATION:6\n#EXTINF:6,\n/media/a.ts\n", "an M3U/HLS playlist"),
        (b"\xef\xbb\xbf  #extm3u\r\n#EXTINF:-1,x\r\nfile:///etc/passwd\r\n", "an M3U/HLS playlist"),
        (b"[playlist]\nFile1=/media/a.mp4\nNumberOfEntries=1\n", "a PLS playlist"),
        (b"ffconcat version 1.0\nfile '/media/a.mp4'\n", "an ffconcat list"),
        (
            b'<?xml version="1.0"?>\n<!-- made -->\n<MPD xmlns="urn:mpeg:dash:schema:mpd:2011">',
            "a DASH manifest",
        ),
        (
            b'<?xml version="1.0"?><playlist version="1" xmlns="http://xspf.org/ns/0/">',
            "an XSPF playlist",
        ),
        (b"<ASX version='3.0'><Entry><Ref href='a.wmv'/></Entry></ASX>", "an ASX playlist"),
    ],
)
def test_playlists_are_no_container_and_are_named_as_playlists(head: bytes, playlist: str) -> None:
    """Texts that make ffmpeg read other files are recognised as what they are, never as media."""
    got = sniff(head)
    assert (got.container, got.playlist) == (None, playlist)
    assert got.describe() == f"{playlist}, which names other files (never followed)"


@pytest.mark.parametrize(
    ("head", "looks_like"),
    [
        (b"", "an empty file"),
        (b"camera settings\nres=1080p\n", "text"),
        (b"\x00\x01not a video at all" * 4, "unknown data starting 00 01 6e 6f 74 20 61 20"),
        (
            b"ID3\x03\x00\x00\x00\x00\x00\x04abcd#EXTM3U\n",
            "an ID3 tag without MP3, AAC or FLAC audio",
        ),
        (b"G" + b"x" * 400, "text"),  # one 'sync byte' is no transport stream
    ],
)
def test_anything_else_is_no_container(head: bytes, looks_like: str) -> None:
    """Text, unknown bytes, and an ID3 tag in front of something that is not audio."""
    got = sniff(head)
    assert (got.container, got.playlist, got.looks_like) == (None, None, looks_like)
    assert got.describe() == f"not a media container evidock reads ({looks_like})"


def _ts(packet: int, offset: int, count: int) -> bytes:
    one = b"\x00" * offset + b"\x47" + b"\xff" * (packet - offset - 1)
    return one * count


@pytest.mark.parametrize(
    ("head", "container"),
    [
        (_ts(188, 0, 3), MPEG_TS),
        (_ts(192, 4, 3), MPEG_TS),  # M2TS: a 4-byte time code before each packet
        (b"\xff\xfb\x90\x64" + b"\x00" * 40, MP3),  # MPEG-1 layer III, 128 kbit/s, 44.1 kHz
        (b"\xff\xf1\x50\x80\x02\x1f\xfc" + b"\x00" * 40, AAC),  # ADTS, 44.1 kHz
        (b"ID3\x04\x00\x00\x00\x00\x00\x0a" + b"\x00" * 10 + b"\xff\xfb\x90\x64", MP3),
        (b"ID3\x04\x00\x00\x00\x00\x00\x02\x00\x00fLaC\x00\x00\x00\x22", FLAC),
        (b"\x00\x00\x00\x00moov" + b"\x00" * 8, MP4),  # a 'to the end of the file' box
    ],
)
def test_containers_without_a_fixed_magic_are_recognised(head: bytes, container: Container) -> None:
    """Sync bytes at every packet, frame headers with valid fields, ID3-tagged audio."""
    assert sniff(head).container == container


def test_audio_behind_an_id3_tag_longer_than_the_head_is_read_after_the_tag(
    tmp_path: Path,
) -> None:
    """An MP3 whose ID3 tag holds 100 KiB of cover art is still an MP3."""
    size = 100 * 1024
    syncsafe = bytes((size >> s) & 0x7F for s in (21, 14, 7, 0))
    path = tmp_path / "x"
    path.write_bytes(b"ID3\x03\x00\x00" + syncsafe + b"\x00" * size + b"\xff\xfb\x90\x64" * 64)
    assert sniff_file(path).container == MP3
    path.write_bytes(b"ID3\x03\x00\x00" + syncsafe + b"\x00" * size + b"#EXTM3U\n/a.ts\n")
    assert sniff_file(path).container is None


@pytest.mark.parametrize("kind", sorted(WRITTEN))
def test_each_container_ffmpeg_writes_is_sniffed_and_opens_with_its_own_demuxer(
    tmp_path: Path, kind: str
) -> None:
    """Recorders' containers, written by ffmpeg under a name without extension (as stored):
    sniffed as what they are, and ffprobe reads their stream through that demuxer alone."""
    args, container, codec = WRITTEN[kind]
    path = tmp_path / "stored"
    subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-y", *args, str(path)],
                   check=True, timeout=60)  # fmt: skip
    assert sniff_file(path).container == container
    out = ffprobe(path, container=container, timeout_s=60)
    assert out.error is None and out.data is not None
    assert [s["codec_name"] for s in out.data["streams"]] == [codec]


def test_an_amr_recording_is_sniffed_and_opens_as_amr(tmp_path: Path) -> None:
    """AMR-NB as phones and voice recorders write it (ffmpeg has no AMR encoder here): the
    '#!AMR' header, then 12.2 kbit/s frames."""
    path = tmp_path / "stored"
    path.write_bytes(b"#!AMR\n" + (b"\x3c" + bytes(31)) * 50)
    assert sniff_file(path).container == AMR
    out = ffprobe(path, container=AMR, timeout_s=60)
    assert out.error is None and out.data is not None
    assert [s["codec_name"] for s in out.data["streams"]] == ["amr_nb"]


def test_every_container_names_a_demuxer_the_installed_ffmpeg_has() -> None:
    """A misspelt demuxer would make ffprobe refuse every file of that kind."""
    listing = subprocess.run(["ffprobe", "-hide_banner", "-demuxers"], capture_output=True,
                             text=True, check=True, timeout=60).stdout  # fmt: skip
    known = {name for line in listing.splitlines()[4:] if len(line.split()) > 1
             for name in line.split()[1].split(",")}  # fmt: skip
    ours = {c.demuxer for c in vars(sniffing).values() if isinstance(c, Container)}
    # a floor: containers are added over time; it guards the scan of the module finding them
    assert len(ours) >= 25 and ours <= known
