"""PostgreSQL: appends in one statement, a function that takes the log's lock, chains, hashes,
stores the events, their leaves and the nodes they complete, and moves the head (issue 19).

The lock is held until COMMIT. With the function it is held for that one statement and the
COMMIT, which the catalog sends together with it for the events appended at commit
(``CustodyLog.append_at_commit``), instead of for three round trips and the client's work
between them.

The client sends each event's canonical bytes around its two fields that need the head (``prev``
and ``seq``: ``head || prev || middle || seq || tail``, see ``verify.log.events.canonical_parts``),
so RFC 8785 stays in one place; the function only joins them and computes SHA-256 (RFC 6962
leaf 0x00 and node 0x01 prefixes). It creates the head row of a new catalog, and reads the
frontier from the stored nodes when the head's is missing or belongs to another head, as the
client's own append does; a missing node fails the statement (and so the transaction).
SQLite: nothing (one writer at a time, no round trips).

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-06 20:00:00
"""

from __future__ import annotations

from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None

FUNCTION = r"""
CREATE OR REPLACE FUNCTION evidock_log_append(
    p_time text[], p_type text[], p_item integer[], p_actor text[], p_dock text[],
    p_data text[], p_head bytea[], p_middle bytea[], p_tail bytea[]
) RETURNS TABLE (o_first bigint, o_prev text, o_frontier bytea)
LANGUAGE plpgsql AS $fn$
DECLARE
    n bigint;
    first_seq bigint;
    last text;
    first_prev text;
    fr bytea;
    subtrees bytea;
    node bytea;
    cnt integer;
    t integer;
    lv integer;
    i integer;
    leaf bytea;
    cur bytea;
BEGIN
    SELECT h.size, h.last_leaf, h.frontier INTO n, last, fr
        FROM log_head h WHERE h.id = 1 FOR UPDATE;
    IF NOT FOUND THEN
        -- writers starting on a new catalog race to create the head: the loser's INSERT
        -- waits for the winner's commit and does nothing
        INSERT INTO log_head (id, size, last_leaf) VALUES (1, 0, repeat('0', 64))
            ON CONFLICT (id) DO NOTHING;
        SELECT h.size, h.last_leaf, h.frontier INTO STRICT n, last, fr
            FROM log_head h WHERE h.id = 1 FOR UPDATE;
    END IF;
    cnt := length(replace(n::bit(64)::text, '0', ''));
    IF fr IS NOT NULL AND length(fr) = 40 + 32 * cnt AND substring(fr FROM 1 FOR 8) = int8send(n)
            AND encode(substring(fr FROM 9 FOR 32), 'hex') = last THEN
        subtrees := substring(fr FROM 41);
    ELSE
        -- no frontier for this head (a catalog from before it, a head rewritten by hand):
        -- its perfect subtrees from the stored nodes, largest first
        subtrees := '\x'::bytea;
        FOR lv IN REVERSE 62..0 LOOP
            IF ((n >> lv) & 1) = 1 THEN
                SELECT hash INTO node FROM log_node WHERE level = lv AND idx = (n >> lv) - 1;
                IF node IS NULL THEN
                    RAISE EXCEPTION 'log node (%, %) is missing', lv, (n >> lv) - 1;
                END IF;
                subtrees := subtrees || node;
            END IF;
        END LOOP;
    END IF;
    first_seq := n;
    first_prev := last;
    FOR i IN 1 .. coalesce(array_length(p_time, 1), 0) LOOP
        leaf := sha256('\x00'::bytea || p_head[i] || convert_to(last, 'UTF8') || p_middle[i]
                       || convert_to(n::text, 'UTF8') || p_tail[i]);
        INSERT INTO custody_event (seq, time, type, item_id, actor, dock, data, prev)
            VALUES (n, p_time[i], p_type[i], p_item[i], p_actor[i], p_dock[i], p_data[i], last);
        INSERT INTO log_node (level, idx, hash) VALUES (0, n, leaf);
        cur := leaf;
        t := 0;
        WHILE ((n >> t) & 1) = 1 LOOP
            cur := sha256('\x01'::bytea
                          || substring(subtrees FROM length(subtrees) - 31 FOR 32) || cur);
            subtrees := substring(subtrees FROM 1 FOR length(subtrees) - 32);
            t := t + 1;
            INSERT INTO log_node (level, idx, hash) VALUES (t, n >> t, cur);
        END LOOP;
        subtrees := subtrees || cur;
        n := n + 1;
        last := encode(leaf, 'hex');
    END LOOP;
    fr := int8send(n) || decode(last, 'hex') || subtrees;
    UPDATE log_head SET size = n, last_leaf = last, frontier = fr WHERE id = 1;
    o_first := first_seq;
    o_prev := first_prev;
    o_frontier := fr;
    RETURN NEXT;
END
$fn$
"""


ONE = r"""
CREATE OR REPLACE FUNCTION evidock_log_append(
    p_time text, p_type text, p_item integer, p_actor text, p_dock text,
    p_data text, p_head bytea, p_middle bytea, p_tail bytea
) RETURNS TABLE (o_first bigint, o_prev text, o_frontier bytea)
LANGUAGE sql AS $fn$
    SELECT * FROM evidock_log_append(ARRAY[p_time], ARRAY[p_type], ARRAY[p_item],
        ARRAY[p_actor], ARRAY[p_dock], ARRAY[p_data], ARRAY[p_head], ARRAY[p_middle],
        ARRAY[p_tail])
$fn$
"""
"""One event: the same, with the arrays made by the server (a client's arrays cost more to
send than the rest of a one-event transaction)."""


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(FUNCTION)
        op.execute(ONE)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "DROP FUNCTION IF EXISTS evidock_log_append("
            "text, text, integer, text, text, text, bytea, bytea, bytea)"
        )
        op.execute(
            "DROP FUNCTION IF EXISTS evidock_log_append("
            "text[], text[], integer[], text[], text[], text[], bytea[], bytea[], bytea[])"
        )
