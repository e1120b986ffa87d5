"""What a stored file is, by its first bytes: pure functions, no tool runs.

Told nothing, ffprobe and ffmpeg choose a demuxer by the content, and some of theirs read other
files: an HLS or DASH playlist, an ffconcat list, an image2 pattern. A 100-byte playlist named
``.MP4`` on a card would then be recorded as the clip it names, or hold a worker forever when it
is "live". So evidence is given to them only as the container its own magic bytes show, opened
with that one demuxer (``-f``) and a whitelist of just it; a file that is no container on this
list is not given to them at all (it is still stored, and flagged).
"""

from __future__ import annotations

from dataclasses import dataclass

HEAD_BYTES = 8192  # enough for every check below (MPEG-TS: 8 packets of up to 204 bytes)


@dataclass(frozen=True, slots=True, kw_only=True)
class Container:
    """A media container evidock opens, and the one ffmpeg demuxer that opens it."""

    name: str  # for people and logs
    demuxer: str  # ffmpeg's ``-f`` (also the whole ``-format_whitelist``)


MP4 = Container(name="ISO-BMFF (MP4, MOV, 3GP, M4A, HEIC)", demuxer="mov")
MATROSKA = Container(name="Matroska/WebM", demuxer="matroska")
AVI = Container(name="AVI", demuxer="avi")
WAV = Container(name="WAV (RIFF, RF64, BW64)", demuxer="wav")
W64 = Container(name="Sony Wave64", demuxer="w64")
MPEG_TS = Container(name="MPEG-TS (TS, M2TS, MTS)", demuxer="mpegts")
MPEG_PS = Container(name="MPEG-PS (MPG, VOB)", demuxer="mpeg")
ASF = Container(name="ASF (WMV, WMA)", demuxer="asf")
FLV = Container(name="FLV", demuxer="flv")
DV = Container(name="DV", demuxer="dv")
DHAV = Container(name="Dahua DHAV", demuxer="dhav")
MXF = Container(name="MXF", demuxer="mxf")
MP3 = Container(name="MP3 (MPEG audio)", demuxer="mp3")
AAC = Container(name="AAC (ADTS)", demuxer="aac")
FLAC = Container(name="FLAC", demuxer="flac")
OGG = Container(name="Ogg", demuxer="ogg")
AMR = Container(name="AMR", demuxer="amr")
AIFF = Container(name="AIFF", demuxer="aiff")
DSS = Container(name="Olympus DSS", demuxer="dss")
CAF = Container(name="Core Audio (CAF)", demuxer="caf")
JPEG = Container(name="JPEG", demuxer="jpeg_pipe")
PNG = Container(name="PNG", demuxer="png_pipe")
GIF = Container(name="GIF", demuxer="gif")
TIFF = Container(name="TIFF", demuxer="tiff_pipe")
WEBP = Container(name="WebP", demuxer="webp_pipe")

# top-level boxes an ISO-BMFF / QuickTime file may start with (old QuickTime has no 'ftyp')
_BMFF_FIRST = (b"ftyp", b"moov", b"mdat", b"free", b"skip", b"wide", b"pnot", b"uuid")
_W64_RIFF = bytes.fromhex("726966662e91cf11a5d628db04c10000")
_ASF_HEADER = bytes.fromhex("3026b2758e66cf11a6d900aa0062ce6c")
_TS_LAYOUTS = ((0, 188), (4, 192), (0, 204))  # (offset of the first sync byte, packet size)
_MAGIC: tuple[tuple[bytes, Container], ...] = (
    (b"\x1a\x45\xdf\xa3", MATROSKA),
    (_W64_RIFF, W64),
    (_ASF_HEADER, ASF),
    (b"FLV\x01", FLV),
    (b"DHAV", DHAV),
    (bytes.fromhex("060e2b34020501010d0102"), MXF),  # a partition pack's key
    (b"fLaC", FLAC),
    (b"OggS", OGG),
    (b"#!AMR", AMR),
    (b"caff", CAF),
    (b"\x02dss", DSS),
    (b"\x03dss", DSS),
    (b"\x00\x00\x01\xba", MPEG_PS),
    (b"\xff\xd8\xff", JPEG),
    (b"\x89PNG\r\n\x1a\n", PNG),
    (b"GIF87a", GIF),
    (b"GIF89a", GIF),
    (b"II*\x00", TIFF),
    (b"MM\x00*", TIFF),
)
# texts that make a demuxer open other files: what each is called in a flag's reason
_PLAYLISTS = (
    (b"#extm3u", "an M3U/HLS playlist"),
    (b"[playlist]", "a PLS playlist"),
    (b"ffconcat", "an ffconcat list"),
    (b"<mpd", "a DASH manifest"),
    (b"<asx", "an ASX playlist"),
    (b"<smil", "a SMIL playlist"),
    (b"<playlist", "an XSPF playlist"),
)


@dataclass(frozen=True, slots=True, kw_only=True)
class Sniffed:
    """What a file's first bytes show: a container the tools may open, or why it is none."""

    container: Container | None
    playlist: str | None = None  # what kind of playlist, when it is one
    looks_like: str = ""  # for a file that is no container: what it looks like

    def describe(self) -> str:
        if self.container is not None:
            return self.container.name
        if self.playlist is not None:
            return f"{self.playlist}, which names other files (never followed)"
        return f"not a media container evidock reads ({self.looks_like})"


def sniff(head: bytes) -> Sniffed:
    """The container of a file whose first ``HEAD_BYTES`` (or all, if shorter) are ``head``.

    A file that starts with an ID3 tag is audio after it: ``head`` must then reach past the tag
    (see ``id3v2_end``), else use ``sniff_after_id3`` on the bytes after it."""
    end = id3v2_end(head)
    if end:
        return sniff_after_id3(head[end:])
    found = _container(head)
    if found is not None:
        return Sniffed(container=found)
    playlist = _playlist(head)
    if playlist is not None:
        return Sniffed(container=None, playlist=playlist)
    return Sniffed(container=None, looks_like=_looks_like(head))


def id3v2_end(head: bytes) -> int:
    """Where the ID3v2 tag at the start of ``head`` ends (0: there is none)."""
    if len(head) < 10 or head[:3] != b"ID3" or head[3] not in (2, 3, 4) or head[5] & 0x0F:
        return 0
    size = head[6:10]
    if any(b & 0x80 for b in size):
        return 0
    length = (size[0] << 21) | (size[1] << 14) | (size[2] << 7) | size[3]
    return 10 + length + (10 if head[5] & 0x10 else 0)


def sniff_after_id3(body: bytes) -> Sniffed:
    """An ID3 tag heads MP3, AAC or FLAC audio; anything else behind it is no container."""
    body = body.lstrip(b"\x00")  # padding some writers put after the tag
    if _mpeg_audio(body):
        return Sniffed(container=MP3)
    if _adts(body):
        return Sniffed(container=AAC)
    if body.startswith(b"fLaC"):
        return Sniffed(container=FLAC)
    return Sniffed(container=None, looks_like="an ID3 tag without MP3, AAC or FLAC audio")


def _container(h: bytes) -> Container | None:
    for magic, container in _MAGIC:
        if h.startswith(magic):
            return container
    if h[4:8] in _BMFF_FIRST and _box_size_ok(int.from_bytes(h[:4], "big")):
        return MP4
    if h[:4] == b"RIFF":
        return {b"AVI ": AVI, b"AVIX": AVI, b"WAVE": WAV, b"WEBP": WEBP}.get(h[8:12])
    if h[:4] in (b"RF64", b"BW64") and h[8:12] == b"WAVE":
        return WAV
    if h[:4] == b"FORM" and h[8:12] in (b"AIFF", b"AIFC"):
        return AIFF
    if len(h) >= 4 and int.from_bytes(h[:4], "big") & 0xFFFFFF7F == 0x1F07003F:
        return DV  # a DIF header block
    if _transport_stream(h):
        return MPEG_TS
    if _mpeg_audio(h):
        return MP3
    if _adts(h):
        return AAC
    return None


def _box_size_ok(size: int) -> bool:
    return size in (0, 1) or size >= 8  # 0: to the end of the file; 1: a 64-bit size follows


def _transport_stream(h: bytes) -> bool:
    """A sync byte (0x47) at the start of each of the first packets (at least two)."""
    for offset, size in _TS_LAYOUTS:
        packets = min(8, (len(h) - offset) // size)
        if packets >= 2 and all(h[offset + i * size] == 0x47 for i in range(packets)):
            return True
    return False


def _mpeg_audio(h: bytes) -> bool:
    """An MPEG-1/2/2.5 audio frame header (layer I-III) with a valid bit rate and rate."""
    if len(h) < 4 or h[0] != 0xFF or h[1] & 0xE0 != 0xE0:
        return False
    version, layer = (h[1] >> 3) & 3, (h[1] >> 1) & 3
    bitrate, rate = h[2] >> 4, (h[2] >> 2) & 3
    return version != 1 and layer != 0 and bitrate != 15 and rate != 3


def _adts(h: bytes) -> bool:
    """An AAC ADTS frame header with a valid sampling rate and frame length."""
    if len(h) < 7 or h[0] != 0xFF or h[1] & 0xF6 != 0xF0:
        return False
    rate = (h[2] >> 2) & 0x0F
    length = ((h[3] & 0x03) << 11) | (h[4] << 3) | (h[5] >> 5)
    return rate < 13 and length >= 7


def _playlist(h: bytes) -> str | None:
    text = h.removeprefix(b"\xef\xbb\xbf").lstrip().lower()
    # an XML playlist names itself by its root element, after a prolog, doctype or comments
    while text.startswith((b"<?", b"<!")) and b">" in text:
        text = text[text.index(b">") + 1 :].lstrip()
    for start, what in _PLAYLISTS:
        if text.startswith(start):
            return what
    return None


def _looks_like(h: bytes) -> str:
    if not h:
        return "an empty file"
    try:
        text = h.decode("utf-8")
    except UnicodeDecodeError as e:
        if e.start < len(h) - 3:  # not merely a character cut at the end of the head
            return f"unknown data starting {h[:8].hex(' ')}"
        text = h[: e.start].decode("utf-8")
    if any(c < " " and c not in "\t\n\r\f" for c in text):
        return f"unknown data starting {h[:8].hex(' ')}"
    return "text"
