"""What an attacker with write access to the catalog or the store does, as test helpers."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable
from typing import Any

from ingest.context import LOG_ORIGIN, Context
from storage.catalog.logrows import GENESIS
from storage.records import Event
from verify.audit.run import AuditReport, run_audit
from verify.log.events import event_leaf
from verify.log.merkle import MemoryTree
from verify.problems import Problem

Sql = Callable[..., list[Any]]
Cli = Callable[..., tuple[int, str, str]]


def audit(ctx: Context, **kwargs: Any) -> AuditReport:
    return run_audit(
        ctx.catalog, ctx.store, dock=ctx.dock.name, local_key=ctx.key, origin=LOG_ORIGIN, **kwargs
    )


def codes(report: AuditReport) -> set[str]:
    return {p.code for p in report.problems}


def only(report: AuditReport, code: str) -> list[Problem]:
    return [p for p in report.problems if p.code == code]


def item_sha(ctx: Context, item: int) -> str:
    with ctx.catalog.read() as txn:
        return txn.item(item).sha256


def events(ctx: Context, start: int = 0, end: int = 1 << 40) -> list[Event]:
    with ctx.catalog.read() as txn:
        return txn.log.event_range(start, end)


def flip_byte(ctx: Context, sha256: str, offset: int = 100) -> None:
    path = ctx.store.path_for(sha256)
    os.chmod(path, 0o644)  # stored objects are 0444
    with open(path, "r+b") as f:
        f.seek(offset)
        b = f.read(1)
        f.seek(offset)
        f.write(bytes([b[0] ^ 0xFF]))


def write_event(sql: Sql, ev: Event, *, insert: bool = False) -> None:
    params = dict(
        seq=ev.seq, time=ev.time, type=ev.type, item=ev.item, actor=ev.actor,
        dock=ev.dock, data=ev.data, prev=ev.prev,
    )  # fmt: skip
    if insert:
        sql(
            "INSERT INTO custody_event (seq, time, type, item_id, actor, dock, data, prev) "
            "VALUES (:seq, :time, :type, :item, :actor, :dock, :data, :prev)",
            **params,
        )
    else:
        sql(
            "UPDATE custody_event SET time = :time, type = :type, item_id = :item, "
            "actor = :actor, dock = :dock, data = :data, prev = :prev WHERE seq = :seq",
            **params,
        )


def truncate_tail(ctx: Context, sql: Sql, keep: int) -> None:
    """Drop every event from ``keep`` on and make the head, tree and checkpoint rows agree."""
    last = event_leaf(events(ctx, keep - 1, keep)[0]).hex()
    sql("DELETE FROM custody_event WHERE seq >= :k", k=keep)
    for level in range(40):
        sql("DELETE FROM log_node WHERE level = :l AND idx >= :i", l=level, i=keep >> level)
    sql("DELETE FROM checkpoint WHERE size > :k", k=keep)
    sql("UPDATE log_head SET size = :k, last_leaf = :leaf", k=keep, leaf=last)


def rewrite_log(ctx: Context, sql: Sql, edit: Callable[[Event], Event]) -> None:
    """Edit events and rebuild the whole chain, tree and head to match: only signed
    checkpoints can tell."""
    prev, tree = GENESIS, MemoryTree()
    for ev in events(ctx):
        new = dataclasses.replace(edit(ev), prev=prev)
        write_event(sql, new)
        prev = event_leaf(new).hex()
        tree.append_leaf_hash(bytes.fromhex(prev))
    sql("DELETE FROM log_node")
    level = 0
    while tree.size >> level:
        for idx in range(tree.size >> level):
            sql(
                "INSERT INTO log_node (level, idx, hash) VALUES (:l, :i, :h)",
                l=level, i=idx, h=tree.read(level, idx),
            )  # fmt: skip
        level += 1
    sql("UPDATE log_head SET last_leaf = :leaf", leaf=prev)
