"""``evidock ingest`` (one docking by hand) and ``evidock items`` (what the catalog holds)."""

from __future__ import annotations

import argparse
from dataclasses import replace
from pathlib import Path
from typing import Any

from devices.profiles import DeviceProfile, load_profiles, match_medium
from devices.walk import display_path
from ingest.cli.common import examples, open_dock, parse_time
from ingest.config import Settings
from ingest.context import os_actor
from ingest.errors import EXIT_FAILURE, EXIT_OK, UsageError
from ingest.jobs.proxies import ProxyState, proxy_states  # issue 5
from ingest.output import Output, item_json, path_text, shown_path
from ingest.pipeline.identity import medium_paths
from ingest.pipeline.run import FileResult, IngestReport, ingest_device
from storage.catalog.fixity import FLAG_FIXITY_FAILED, fixity_failed_items
from storage.catalog.search import (
    CLOCK,
    DAMAGED,
    FIXITY,
    LATE,
    MAX_PAGE,
    UNLINKED,
    ItemPage,
    ItemQuery,
    search_items,
)

_MARK = {"stored": "stored ", "already": "already", "failed": "FAILED ", "not_acquired": "skipped"}


def add_parsers(sub: Any) -> None:
    s = sub.add_parser(
        "ingest",
        help="one-shot ingest of a mounted device or folder",
        epilog=examples(
            "evidock ingest /media/BWC-7 --device BWC-7 --officer J1",
            "evidock ingest ./camera-copy --json",
        ),
    )
    s.add_argument("path", type=Path)
    s.add_argument("--device", metavar="SERIAL", help="serial of the device (registered or not)")
    s.add_argument("--officer", metavar="BADGE", help="officer the recordings belong to")
    s.add_argument(
        "--profile",
        metavar="NAME",
        help="device profile to read it with (default: the one whose marker files are there, "
        "as the dock does, when --device is not given; 'none' for no profile)",
    )
    s.set_defaults(func=cmd_ingest)

    s = sub.add_parser(
        "items",
        help="list evidence items",
        epilog=examples(
            "evidock items --device BWC-7",
            "evidock items --officer J1 --json",
            "evidock items --officer J0001 --from 2026-11-01 --flag late",
            "evidock items --case 2026-0001 --csv",
        ),
    )
    s.add_argument("--device", metavar="SERIAL")
    s.add_argument("--officer", metavar="BADGE")
    s.add_argument("--case", metavar="NUMBER", help="linked to this case")
    s.add_argument("--from", dest="since", metavar="TIME", help="recorded at or after")
    s.add_argument("--to", dest="until", metavar="TIME", help="recorded before")
    s.add_argument(
        "--flag",
        action="append",
        default=[],
        choices=sorted(_FLAGS),
        help="only items with this flag (repeatable: all must hold)",
    )
    s.add_argument("--limit", type=int, help=f"a page of at most this many (max {MAX_PAGE})")
    s.add_argument("--offset", type=int, default=0, help="skip this many (the next page)")
    s.add_argument("--csv", action="store_true", help="CSV on stdout, for a spreadsheet")
    s.set_defaults(func=cmd_items)


def one_shot_profile(
    args: argparse.Namespace, settings: Settings
) -> tuple[DeviceProfile | None, str]:
    """The profile a one-shot ingest reads the medium with, and a line that says why.

    Like the dock: the highest-priority profile whose marker files are there, unless
    ``--device`` names the device or ``--profile`` names the profile. A folder given by hand is
    named by whoever copied it, so its name is not taken as the serial ("folder" source): the
    serial comes from the medium (serial file, GA/T 947 file names) or from its path."""
    if args.profile == "none" or (args.device and args.profile is None):
        return None, ""
    profiles = load_profiles([settings.dock.profiles_dir])
    if args.profile is not None:
        chosen = next((p for p in profiles if p.name == args.profile), None)
        if chosen is None:
            names = ", ".join(p.name for p in profiles)
            raise UsageError(
                f"没有名为 {args.profile!r} 的设备档案 / no device profile is named "
                f"{args.profile!r}",
                hint=f"可用 / available: {names}, none",
            )
        how = "按 --profile 指定 / as --profile says"
    else:
        d = settings.dock
        paths = medium_paths(args.path, max_depth=d.max_depth, max_entries=d.max_entries)
        chosen = match_medium(profiles, paths)
        if chosen is None:
            return None, (
                "设备档案：无匹配，序列号取自路径 / device profile: none matched, the serial "
                "comes from the path (give --device SERIAL to name it)"
            )
        how = "其标志文件在介质上 / its marker files are on the medium"
    sources = tuple(s for s in chosen.serial_sources if s != "folder")
    return replace(
        chosen, serial_sources=sources
    ), f"设备档案 device profile: {chosen.name} ({how})"


def cmd_ingest(args: argparse.Namespace, out: Output, settings: Settings) -> int:
    profile, why = one_shot_profile(args, settings)
    ctx = open_dock(settings)
    if why:
        out.line(why)

    def show(r: FileResult) -> None:
        ident = f"#{r.item}" if r.item is not None else "-"
        sha = r.sha256[:12] if r.sha256 else "-" * 12
        extra = f"  [{', '.join(r.flags)}]" if r.flags else ""
        why = f"  ({r.reason})" if r.reason and r.result != "stored" else ""
        path = shown_path(r.raw_path, r.path)
        out.line(f"{_MARK.get(r.result, r.result)}  {ident:>6}  {sha}  {path}{extra}{why}")

    try:
        report = ingest_device(
            ctx,
            args.path,
            serial=args.device,
            officer=args.officer,
            actor=os_actor(),
            on_file=show,
            profile=profile,
        )
    finally:
        ctx.close()
    summary = report.summary()
    out.document(
        {
            "session": report.session,
            "device": report.device,
            "officer": report.officer,
            "files": [
                {
                    "path": f.path,
                    "path_hex": f.raw_path.hex() if f.raw_path is not None else None,
                    "result": f.result,
                    "item": f.item,
                    "sha256": f.sha256,
                    "size": f.size,
                    "flags": list(f.flags),
                    "reason": f.reason,
                }
                for f in report.files
            ],
            "summary": summary,
            "outcome": report.outcome,
            "refused": report.refused_reason,  # why nothing was taken (issue 18: no space)
            "checkpoint_size": report.checkpoint_size,
            "serial_source": report.serial_source,
            "profile": report.profile,
            "serial_mismatch": [
                {"path": display_path(p), "path_hex": p.hex(), "serial": claim}
                for p, claim in report.serial_claims
            ],
        }
    )
    if report.serial_source not in (None, "given"):
        out.line(f"序列号来源 serial from: {report.serial_source}")
    out.line(
        f"session {report.session}, device {report.device}: {summary['stored']} stored, "
        f"{summary['already']} already in the catalog, {summary['failed']} failed, "
        f"{summary['not_acquired']} not acquired, {summary['flagged']} flagged"
    )
    serial_lines(out, report)
    if report.refused_reason:  # nothing was taken: the device is as it was
        out.line(f"docking refused: {report.refused_reason}")
    if summary["failed"]:
        out.line("Failed files stay on the device; see the reasons above and dock it again.")
    return EXIT_OK if report.ok else EXIT_FAILURE


def serial_lines(out: Output, report: IngestReport) -> None:
    """Files whose names claim another device's serial (issue 23): kept under this device."""
    if not report.serial_claims:
        return
    out.line(
        f"WARNING: {len(report.serial_claims)} file(s) named for another device; they came "
        f"off this medium and are filed under {report.device} ({report.serial_source}), "
        "flagged serial_mismatch:"
    )
    for p, claim in report.serial_claims:
        out.line(f"  {path_text(p)}  names {claim}")
    out.line("Check which camera recorded them before linking them to a case.")


# the shell's flag names -> the search's (storage.catalog.search)
_FLAGS = {"late": LATE, "damaged": DAMAGED, "clock": CLOCK, "fixity-failed": FIXITY,
          "unlinked": UNLINKED}  # fmt: skip


def _searching(args: argparse.Namespace) -> bool:
    return bool(args.case or args.since or args.until or args.flag or args.limit or args.offset)


def cmd_items(args: argparse.Namespace, out: Output, settings: Settings) -> int:
    """Every item (by device or officer), or a page of a search (issue 20: case, time range,
    flags), newest recording first."""
    since = parse_time(args.since, settings) if args.since else None
    until = parse_time(args.until, settings) if args.until else None
    page: ItemPage | None = None
    ctx = open_dock(settings)
    try:
        with ctx.catalog.read() as txn:
            if _searching(args):
                query = ItemQuery(case=args.case, officer=args.officer, device=args.device,
                                  since=since, until=until,
                                  flags=frozenset(_FLAGS[f] for f in args.flag),
                                  limit=args.limit or 50, offset=max(0, args.offset))  # fmt: skip
                page = search_items(txn, query)
                order = [h.id for h in page.hits]
                found = {i.id: i for i in txn.items(ids=order)}
                items = [found[i] for i in order]
            else:
                items = txn.items(device=args.device, officer=args.officer)
            proxies = proxy_states(txn, [i.id for i in items])  # issue 5
            ids = [i.id for i in items]
            failing = fixity_failed_items(txn, ids if len(ids) <= 500 else None)  # issue 18
    finally:
        ctx.close()
    docs = [
        item_json(
            i, p.derived, proxy_state=p.state, proxy_note=p.note,
            fixity_failed=i.id in failing,
        )
        for i, p in ((i, proxies[i.id]) for i in items)
    ]  # fmt: skip
    if page is None:
        out.document(docs)
    else:
        out.document({"items": docs, "offset": page.offset, "limit": page.limit,
                      "more": page.more})  # fmt: skip
    headers = ["ID", "SHA256", "SIZE", "DEVICE", "OFFICER", "RECORDED", "STATE", "FLAGS"]
    show = out.csv if args.csv and not out.json_mode else out.table
    show(
        [*headers, "PROXY", "PATH"],
        [
            [
                i.id,
                i.sha256[:12],
                i.size,
                i.device_serial,
                i.officer_badge or "-",
                out.when(i.facts.recorded_start),
                FIXITY_STATE if i.id in failing else i.state,
                ",".join((*i.facts.flags, *((FLAG_FIXITY_FAILED,) if i.id in failing else ())))
                or "-",
                _proxy_cell(proxies[i.id]),
                path_text(i.original_path),
            ]
            for i in items
        ],
    )
    if args.csv:
        return EXIT_OK
    if page is not None:
        shown = f"{page.offset + 1}-{page.offset + len(items)}" if items else "0"
        more = f"; next page: --offset {page.offset + page.limit}" if page.more else ""
        out.line(f"第 {shown} 条 / items {shown}{more}")
    for i in items:  # issue 5: why an item has no proxy
        if proxies[i.id].note:
            out.line(f"#{i.id} {proxies[i.id].note}")
    if failing:
        out.line(fixity_line(sorted(failing)))
    return EXIT_OK


FIXITY_STATE = "fixity failed"  # what listings show for an item whose stored copy failed


def fixity_line(ids: list[int]) -> str:
    """The warning under a listing with items whose stored bytes failed fixity (issue 18)."""
    listed = ", ".join(f"#{i}" for i in ids)
    return (
        f"固定性校验失败 fixity failed: {listed} — a stored copy did not match its hash at the "
        "last check (evidock verify --item ID names it); linking needs --override-fixity --reason"
    )


def _proxy_cell(p: ProxyState) -> str:
    """The PROXY column of 'evidock items' (issue 5)."""
    if p.derived:
        return ",".join(k for k, _ in p.derived)
    return {None: "-", "failed": "NO PROXY"}.get(p.state, p.state or "-")
