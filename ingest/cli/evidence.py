"""``evidock ingest`` (one docking by hand) and ``evidock items`` (what the catalog holds)."""

from __future__ import annotations

import argparse
from dataclasses import replace
from pathlib import Path
from typing import Any

from devices.profiles import DeviceProfile, load_profiles, match_medium
from devices.walk import display_path
from i18n import N_, _, n_
from ingest.cli.common import examples, open_dock, parse_time
from ingest.config import Settings
from ingest.context import DOCKING_CACHE_KIB, os_actor
from ingest.errors import EXIT_FAILURE, EXIT_OK, UsageError
from ingest.jobs.proxies import ProxyState, proxy_states  # issue 5
from ingest.output import Output, RowSpill, item_json, pad, path_text, shown_path
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

# what became of each file of a one-shot ingest, as its line starts (shown with _())
_MARK = {
    "stored": N_("stored"),
    "already": N_("already"),
    "failed": N_("FAILED"),
    "not_acquired": N_("skipped"),
}


def add_parsers(sub: Any) -> None:
    s = sub.add_parser(
        "ingest",
        help=_("one-shot ingest of a mounted device or folder"),
        epilog=examples(
            "evidock ingest /media/BWC-7 --device BWC-7 --officer J1",
            "evidock ingest ./camera-copy --json",
        ),
    )
    s.add_argument("path", type=Path)
    s.add_argument("--device", metavar="SERIAL", help=_("serial of the device (registered or not)"))
    s.add_argument("--officer", metavar="BADGE", help=_("officer the recordings belong to"))
    s.add_argument(
        "--profile",
        metavar="NAME",
        help=_(
            "device profile to read it with (default: the one whose marker files are there, "
            "as the dock does, when --device is not given; 'none' for no profile)"
        ),
    )
    s.set_defaults(func=cmd_ingest)

    s = sub.add_parser(
        "items",
        help=_("list evidence items"),
        epilog=examples(
            "evidock items --device BWC-7",
            "evidock items --officer J1 --json",
            "evidock items --officer J0001 --from 2026-11-01 --flag late",
            "evidock items --case 2026-0001 --csv",
        ),
    )
    s.add_argument("--device", metavar="SERIAL")
    s.add_argument("--officer", metavar="BADGE")
    s.add_argument("--case", metavar="NUMBER", help=_("linked to this case"))
    s.add_argument("--from", dest="since", metavar="TIME", help=_("recorded at or after"))
    s.add_argument("--to", dest="until", metavar="TIME", help=_("recorded before"))
    s.add_argument(
        "--flag",
        action="append",
        default=[],
        choices=sorted(_FLAGS),
        help=_("only items with this flag (repeatable: all must hold)"),
    )
    s.add_argument(
        "--limit", type=int, help=_("a page of at most this many (max {n})").format(n=MAX_PAGE)
    )
    s.add_argument("--offset", type=int, default=0, help=_("skip this many (the next page)"))
    s.add_argument("--csv", action="store_true", help=_("CSV on stdout, for a spreadsheet"))
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
                _("no device profile is named {name!r}").format(name=args.profile),
                hint=_("available: {names}, none").format(names=names),
            )
        how = _("as --profile says")
    else:
        d = settings.dock
        paths = medium_paths(args.path, max_depth=d.max_depth, max_entries=d.max_entries)
        chosen = match_medium(profiles, paths)
        if chosen is None:
            return None, _(
                "device profile: none matched, the serial comes from the path "
                "(give --device SERIAL to name it)"
            )
        how = _("its marker files are on the medium")
    sources = tuple(s for s in chosen.serial_sources if s != "folder")
    why = _("device profile: {name} ({how})").format(name=chosen.name, how=how)
    return replace(chosen, serial_sources=sources), why


def cmd_ingest(args: argparse.Namespace, out: Output, settings: Settings) -> int:
    with RowSpill() as spill:
        return _ingest(args, out, settings, spill)


def _ingest(args: argparse.Namespace, out: Output, settings: Settings, spill: RowSpill) -> int:
    """Each file's line printed as it is done, or (--json) its entry spilled until the
    document is printed: the report keeps counts only (issue 19: flat memory)."""
    profile, why = one_shot_profile(args, settings)
    ctx = open_dock(settings, sqlite_cache_kib=DOCKING_CACHE_KIB)
    if why:
        out.line(why)

    def show(r: FileResult) -> None:
        if out.json_mode:
            spill.add(_file_json(r))
            return
        ident = f"#{r.item}" if r.item is not None else "-"
        sha = r.sha256[:12] if r.sha256 else "-" * 12
        extra = f"  [{', '.join(r.flags)}]" if r.flags else ""
        why = f"  ({r.reason})" if r.reason and r.result != "stored" else ""
        path = shown_path(r.raw_path, r.path)
        mark = _(_MARK[r.result]) if r.result in _MARK else r.result
        out.line(f"{pad(mark, 7)}  {ident:>6}  {sha}  {path}{extra}{why}")

    try:
        report = ingest_device(
            ctx,
            args.path,
            serial=args.device,
            officer=args.officer,
            actor=os_actor(),
            on_file=show,
            profile=profile,
            keep_files=False,
        )
    finally:
        ctx.close()
    summary = report.summary()
    out.document_rows(
        {
            "session": report.session,
            "device": report.device,
            "officer": report.officer,
            "files": None,  # each file's entry, in the order they were done: from the spill
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
        },
        "files",
        spill,
    )
    if report.serial_source not in (None, "given"):
        out.line(_("serial from: {source}").format(source=report.serial_source))
    out.line(
        _(
            "session {session}, device {device}: {stored} stored, {already} already in the "
            "catalog, {failed} failed, {not_acquired} not acquired, {flagged} flagged"
        ).format(
            session=report.session,
            device=report.device,
            stored=summary["stored"],
            already=summary["already"],
            failed=summary["failed"],
            not_acquired=summary["not_acquired"],
            flagged=summary["flagged"],
        )
    )
    serial_lines(out, report)
    if report.refused_reason:  # nothing was taken: the device is as it was
        out.line(_("docking refused: {reason}").format(reason=report.refused_reason))
    if summary["failed"]:
        out.line(_("Failed files stay on the device; see the reasons above and dock it again."))
    return EXIT_OK if report.ok else EXIT_FAILURE


def _file_json(f: FileResult) -> dict[str, Any]:
    """One file's entry in ``evidock ingest --json``."""
    return {
        "path": f.path,
        "path_hex": f.raw_path.hex() if f.raw_path is not None else None,
        "result": f.result,
        "item": f.item,
        "sha256": f.sha256,
        "size": f.size,
        "flags": list(f.flags),
        "reason": f.reason,
    }


def serial_lines(out: Output, report: IngestReport) -> None:
    """Files whose names claim another device's serial (issue 23): kept under this device."""
    if not report.serial_claims:
        return
    n = len(report.serial_claims)
    out.line(
        n_(
            "WARNING: {n} file named for another device; it came off this medium and is filed "
            "under {device} ({source}), flagged serial_mismatch:",
            "WARNING: {n} files named for another device; they came off this medium and are "
            "filed under {device} ({source}), flagged serial_mismatch:",
            n,
        ).format(n=n, device=report.device, source=report.serial_source)
    )
    for p, claim in report.serial_claims:
        out.line("  " + _("{path}  names {serial}").format(path=path_text(p), serial=claim))
    out.line(_("Check which camera recorded them before linking them to a case."))


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
    as_csv = args.csv and not out.json_mode
    show = out.csv if as_csv else out.table
    show(
        list(COLUMNS) if as_csv else [_(c) for c in COLUMNS],
        [
            [
                i.id,
                i.sha256[:12],
                i.size,
                i.device_serial,
                i.officer_badge or "-",
                out.when(i.facts.recorded_start),
                (FIXITY_STATE if as_csv else _(FIXITY_STATE)) if i.id in failing else i.state,
                ",".join((*i.facts.flags, *((FLAG_FIXITY_FAILED,) if i.id in failing else ())))
                or "-",
                _proxy_cell(proxies[i.id], csv=as_csv),
                path_text(i.original_path),
            ]
            for i in items
        ],
    )
    if args.csv:
        return EXIT_OK
    if page is not None:
        shown = f"{page.offset + 1}-{page.offset + len(items)}" if items else "0"
        if page.more:
            out.line(
                _("items {shown}; next page: --offset {offset}").format(
                    shown=shown, offset=page.offset + page.limit
                )
            )
        else:
            out.line(_("items {shown}").format(shown=shown))
    for i in items:  # issue 5: why an item has no proxy
        if proxies[i.id].note:
            out.line(f"#{i.id} {proxies[i.id].note}")
    if failing:
        out.line(fixity_line(sorted(failing)))
    return EXIT_OK


COLUMNS = (N_("ID"), N_("SHA256"), N_("SIZE"), N_("DEVICE"), N_("OFFICER"), N_("RECORDED"),
           N_("STATE"), N_("FLAGS"), N_("PROXY"), N_("PATH"))  # fmt: skip
"""The columns of 'evidock items': translated in the table, English in ``--csv`` (the header
row a spreadsheet or a program reads the same in every language)."""
FIXITY_STATE = N_("fixity failed")
"""What listings show (through ``_()``) for an item whose stored copy failed fixity."""


def fixity_line(ids: list[int]) -> str:
    """The warning under a listing with items whose stored bytes failed fixity (issue 18)."""
    listed = ", ".join(f"#{i}" for i in ids)
    return _(
        "fixity failed: {items} — a stored copy did not match its hash at the last check "
        "(evidock verify --item ID names it); linking needs --override-fixity --reason"
    ).format(items=listed)


def _proxy_cell(p: ProxyState, *, csv: bool = False) -> str:
    """The PROXY column of 'evidock items' (issue 5): the kinds of review copy, or why none."""
    if p.derived:
        return ",".join(kind for kind, _path in p.derived)
    if p.state == "failed":
        return "NO PROXY" if csv else _("NO PROXY")
    return p.state or "-"
