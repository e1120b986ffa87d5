"""What kind of media an item is, and whether it gets a review proxy: pure, from its facts.

The pipeline queues a transcode job in the item's own transaction and the job workers make the
proxies; both decide with these functions, so the rule lives below both of them.
"""

from __future__ import annotations

from storage.catalog.jobs import JobKind
from storage.records import MediaFacts

TRANSCODE = JobKind.TRANSCODE  # the job kind that makes an item's review proxies (an alias)
VIDEO, AUDIO, PHOTO = "video", "audio", "photo"

FLAG_EMPTY = "empty"  # a file of no bytes: stored and flagged, never probed or transcoded
FLAG_NOT_MEDIA = "not_media_container"  # its first bytes are no container: ffprobe never ran
FLAG_PLAYLIST = "playlist"  # ... and it is a playlist (it names other files, never followed)


def media_kind(facts: MediaFacts) -> str | None:
    """video, audio or photo by what ingest found; None for a known non-media type."""
    mime = facts.mime_type or ""
    if mime.startswith("video/") or facts.video_codec:
        return VIDEO
    if mime.startswith("audio/") or facts.audio_codec:
        return AUDIO
    if mime.startswith("image/"):
        return PHOTO
    return None


def wants_proxy(facts: MediaFacts) -> bool:
    """Every video, audio and photo item gets a proxy job, and so does an item nobody could
    read (its failure is then shown as 'no proxy: <reason>'); other files do not, nor does a
    file that is no media container (a playlist named .MP4: ffmpeg never opens it) or an
    empty one (nothing to show)."""
    if FLAG_NOT_MEDIA in facts.flags or FLAG_EMPTY in facts.flags:
        return False
    return media_kind(facts) is not None or not facts.mime_type
