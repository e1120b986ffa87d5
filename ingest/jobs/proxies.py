"""Review proxies of one item: what to make, making it, refusing an incomplete one, recording it.

Per media kind: video -> an H.264/AAC MP4 proxy, a poster JPEG and a contact sheet JPEG;
audio -> an AAC M4A proxy and a waveform PNG; photo -> a downscaled JPEG. Everything is made
from the STORED copy (re-hashed first) into staging files, probed with ffprobe and compared
with the source (streams and duration: ffmpeg may exit 0 having dropped a stream); only when
all are complete are they filed, content-addressed, in the derived store
(``store/derived/sha256/ab/cd/<hex>``, apart from the originals that ``evidock verify`` audits)
and recorded in ONE transaction with the job's completion: a ``derived_media`` row and a
``transcoded`` custody event each, naming both hashes, the tool, its version and its arguments.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from i18n import N_, _
from ingest.config import WorkerSettings
from ingest.context import Context
from ingest.errors import IngestError
from ingest.media import transcode as tc
from ingest.media.kinds import PHOTO, media_kind
from ingest.media.probe import ffprobe, sniff_file
from ingest.media.sniff import Container
from ingest.media.streams import AUDIO_PROXY, IMAGE, VIDEO_PROXY, Streams, incomplete, summarize
from storage.blobs.hashing import sha256_path
from storage.blobs.localstore import LocalStore, Staging
from storage.catalog.derived import DerivedOps
from storage.catalog.jobs import FAILED, JobKind, JobOps
from storage.catalog.objects import queue_upload
from storage.catalog.session import Transaction
from storage.errors import StoreIntegrityError
from storage.records import Item, Job
from verify.log.events import EventType

logger = logging.getLogger(__name__)

PROXY, POSTER, SHEET, WAVEFORM = "proxy", "poster", "contact_sheet", "waveform"


@dataclass(frozen=True, slots=True, kw_only=True)
class ProxyState:
    """What an item listing shows of its proxies: the derivatives, the job's state, and why
    there is no proxy when the job failed for good."""

    derived: tuple[tuple[str, str], ...]  # (kind, sha256)
    state: str | None  # the newest transcode job's state; None: no job
    note: str | None


def proxy_states(txn: Transaction, item_ids: Sequence[int]) -> dict[int, ProxyState]:
    derived = DerivedOps(txn).for_items(item_ids)
    jobs = JobOps(txn).latest_for_items(item_ids, kind=JobKind.TRANSCODE)
    found: dict[int, ProxyState] = {}
    for i in item_ids:
        job = jobs.get(i)
        failed = job is not None and job.state == FAILED
        found[i] = ProxyState(
            derived=tuple((d.kind, d.sha256) for d in derived.get(i, [])),
            state=job.state if job else None,
            note=_("no proxy: {error}").format(error=job.last_error) if failed and job else None,
        )
    return found


def derived_store(ctx: Context) -> LocalStore:
    return LocalStore(ctx.settings.store_dir / "derived")


class ProxyError(IngestError):
    code = "proxy-incomplete"
    hint = N_("The original is untouched; no proxy is recorded for it.")


class NotMediaContainer(IngestError):
    code = "not-media-container"
    hint = N_(
        "The original is stored as evidence and flagged; ffmpeg is never given a file that is "
        "no media container (it could read other files through it), so it has no proxy."
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class Made:
    kind: str
    format: str
    sha256: str
    size: int
    command: tc.Command
    checked: Streams


@dataclass(frozen=True, slots=True, kw_only=True)
class Work:
    """What a worker hands to ``make_proxies``: its job, seams for progress and stopping."""

    job: Job
    owner: str
    settings: WorkerSettings
    progress: Callable[[float], None] = lambda pct: None
    should_stop: Callable[[], bool] = lambda: False


def make_proxies(ctx: Context, work: Work) -> list[Made]:
    """Make, check, file and record every derivative of the job's item; see the module doc."""
    if work.job.item_id is None:
        raise ProxyError(_("a transcode job without an item"))
    with ctx.catalog.read() as txn:
        item = txn.item(work.job.item_id)
    source = ctx.store.path_for(item.sha256)
    found, _size = sha256_path(source)
    if found != item.sha256:
        raise StoreIntegrityError(
            _(
                "stored original of item #{item} does not match its hash: expected "
                "{expected}, found {found}; no proxy is made from it"
            ).format(item=item.id, expected=item.sha256, found=found)
        )
    container, src = _probe(ctx, source, _("the stored original"))
    store = derived_store(ctx)
    store.prepare()
    plans = _plan(item, src, container, work.settings)
    with contextlib.ExitStack() as stack:
        made: list[tuple[Made, Staging]] = []
        for n, (kind, fmt, check, build) in enumerate(plans):
            staging = stack.enter_context(store.staging())
            cmd = build(source, staging.path)
            tc.run(
                cmd, timeout_s=work.settings.timeout_s, duration_s=src.duration_s,
                nice=work.settings.nice, should_stop=work.should_stop,
                on_progress=_share(work.progress, n, len(plans)),
            )  # fmt: skip
            made_by = _("the {kind} ffmpeg made").format(kind=kind)
            _ignored, out = _probe(ctx, staging.path, made_by, made_by_us=True)
            problems = incomplete(check, src, out)
            if problems:
                raise ProxyError(
                    _("{kind} refused as incomplete: {problems}").format(
                        kind=kind, problems="; ".join(problems)
                    )
                )
            sha, size = sha256_path(staging.path)
            m = Made(kind=kind, format=fmt, sha256=sha, size=size, command=cmd, checked=out)
            made.append((m, staging))
        for m, staging in made:
            store.file(staging, m.sha256, m.size)
    results = [m for m, _staged in made]
    _record(ctx, work, item, src, results, store)
    return results


def _share(progress: Callable[[float], None], n: int, of: int) -> Callable[[float], None]:
    """Progress of step ``n`` of ``of`` as a percentage of the whole job."""
    return lambda pct: progress((n + pct / 100) / of * 100)


def _probe(
    ctx: Context, path: Path, what: str, *, made_by_us: bool = False
) -> tuple[Container, Streams]:
    """The container of a file (by its first bytes) and its streams (by ffprobe, opening it
    as that container only). A file that is no container is refused before any tool runs."""
    sniffed = sniff_file(path)
    if sniffed.container is None:
        if made_by_us:
            raise ProxyError(
                _("{what} is {found}: not a playable file").format(
                    what=what, found=sniffed.describe()
                )
            )
        raise NotMediaContainer(
            _("{what} is {found}; no proxy is made of it").format(
                what=what, found=sniffed.describe()
            )
        )
    out = ffprobe(path, container=sniffed.container, executable=ctx.settings.probe.ffprobe,
                  timeout_s=ctx.settings.probe.timeout_s)  # fmt: skip
    if out.data is None or not out.data.get("streams"):
        why = tc.tidy(out.error or _("no streams found"))
        if made_by_us:  # ffmpeg exited 0 and wrote nothing playable
            raise ProxyError(
                _("{what} is empty ({why}): nothing of the source could be decoded").format(
                    what=what, why=why
                )
            )
        raise tc.TranscodeError(_("ffprobe cannot read {what}: {why}").format(what=what, why=why))
    return sniffed.container, summarize(out.data)


Build = Callable[[Path, Path], tc.Command]
Plan = tuple[str, str, str, Build]  # kind, format, completeness check, command


def _plan(item: Item, src: Streams, c: Container, s: WorkerSettings) -> list[Plan]:
    kind = media_kind(item.facts)
    video, audio = src.video_index, src.audio_index
    if video is not None and (kind == PHOTO or src.still):
        return [(PROXY, "jpeg", IMAGE, lambda i, o: tc.photo(i, o, container=c, video=video))]
    if video is not None:
        d = src.duration_s or 0.0
        # distinct frame times (to the millisecond): a very short clip gives fewer frames
        times = sorted({round(d * (k + 0.5) / s.contact_sheet_frames, 3)
                        for k in range(s.contact_sheet_frames)})  # fmt: skip
        n = len(times)
        return [
            (PROXY, "mp4", VIDEO_PROXY,
             lambda i, o: tc.video_proxy(i, o, container=c, video=video, audio=audio,
                                         channels=src.channels, preset=s.preset, crf=s.crf)),
            (POSTER, "jpeg", IMAGE,
             lambda i, o: tc.poster(i, o, container=c, video=video, at_s=min(d * 0.1, 10.0))),
            (SHEET, "jpeg", IMAGE,
             lambda i, o: tc.contact_sheet(i, o, container=c, video=video, times=times,
                                           cols=math.ceil(math.sqrt(n)))),
        ]  # fmt: skip
    if audio is not None:
        return [
            (PROXY, "m4a", AUDIO_PROXY,
             lambda i, o: tc.audio_proxy(i, o, container=c, audio=audio,
                                         channels=src.channels)),
            (WAVEFORM, "png", IMAGE,
             lambda i, o: tc.waveform(i, o, container=c, audio=audio)),
        ]  # fmt: skip
    raise ProxyError(
        _("no video or audio stream to make a proxy of ({found})").format(found=src.describe())
    )


def _record(
    ctx: Context, work: Work, item: Item, src: Streams, made: list[Made], store: LocalStore
) -> None:
    tool = tc.tool_version()
    now = ctx.clock()
    with ctx.catalog.write() as txn:
        JobOps(txn).complete(work.job.id, owner=work.owner, now=now)
        derived = DerivedOps(txn)
        for m in made:
            args = m.command.recorded()
            derived.add(item_id=item.id, kind=m.kind, sha256=m.sha256, size=m.size,
                        params=json.dumps({"tool": tool, "args": args}), now=now)  # fmt: skip
            ctx.custody.append_at_commit(  # with the COMMIT: the log's lock for that only
                txn,
                type=EventType.TRANSCODED,
                actor=f"worker:{work.owner}",
                item=item.id,
                data={
                    "kind": m.kind,
                    "format": m.format,
                    "source_sha256": item.sha256,
                    "derivative_sha256": m.sha256,
                    "size": m.size,
                    "tool": "ffmpeg",
                    "tool_version": tool,
                    "args": args,
                    "store": "derived",
                    "key": store.key_for(m.sha256),
                    "checked": {"source": src.to_json(), "derivative": m.checked.to_json()},
                    "job": work.job.id,
                    "attempt": work.job.attempts,
                },
            )
        queue_upload(  # the proxies to S3 too (issue 8)
            txn, item.id, object_store=ctx.s3 is not None, shared=ctx.settings.store.shared,
            now=ctx.clock(),
        )  # fmt: skip
    logger.info(
        "proxies recorded item=%s sha256=%s job=%s derived=%s",
        item.id, item.sha256, work.job.id, ",".join(f"{m.kind}:{m.sha256[:12]}" for m in made),
    )  # fmt: skip
