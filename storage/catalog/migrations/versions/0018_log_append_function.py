"""PostgreSQL: the first append of a transaction in one statement, a function that takes the
log's lock, chains, hashes, stores the leaf and the nodes it completes and moves the head
(issue 19: the lock is held until COMMIT; with the function it is held for that one statement
and the COMMIT, not for three round trips and the client's work between them)

The client sends the event's canonical bytes around its two fields that need the head (``prev``
and ``seq``: ``head || prev || middle || seq || tail``, see ``verify.log.events.canonical_parts``),
so RFC 8785 stays in one place; the function only joins them and computes SHA-256 (RFC 6962
leaf 0x00 and node 0x01 prefixes). It returns nothing when there is no head row yet or the
head's frontier does not belong to it: the client then appends as before (reading the nodes).
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
    p_time text, p_type text, p_item integer, p_actor text, p_dock text, p_data text,
    p_head bytea, p_middle bytea, p_tail bytea
) RETURNS TABLE (o_seq bigint, o_prev text, o_frontier bytea)
LANGUAGE plpgsql AS $fn$
DECLARE
    n bigint;
    last text;
    fr bytea;
    cnt integer;
    t integer := 0;
    leaf bytea;
    cur bytea;
    packed bytea;
BEGIN
    SELECT h.size, h.last_leaf, h.frontier INTO n, last, fr
        FROM log_head h WHERE h.id = 1 FOR UPDATE;
    IF NOT FOUND THEN
        RETURN;
    END IF;
    cnt := length(replace(n::bit(64)::text, '0', ''));
    IF fr IS NULL OR length(fr) <> 40 + 32 * cnt OR substring(fr FROM 1 FOR 8) <> int8send(n)
            OR encode(substring(fr FROM 9 FOR 32), 'hex') <> last THEN
        RETURN;
    END IF;
    leaf := sha256('\x00'::bytea || p_head || convert_to(last, 'UTF8') || p_middle
                   || convert_to(n::text, 'UTF8') || p_tail);
    INSERT INTO custody_event (seq, time, type, item_id, actor, dock, data, prev)
        VALUES (n, p_time, p_type, p_item, p_actor, p_dock, p_data, last);
    INSERT INTO log_node (level, idx, hash) VALUES (0, n, leaf);
    cur := leaf;
    WHILE ((n >> t) & 1) = 1 LOOP
        cur := sha256('\x01'::bytea || substring(fr FROM 41 + 32 * (cnt - 1 - t) FOR 32) || cur);
        t := t + 1;
        INSERT INTO log_node (level, idx, hash) VALUES (t, n >> t, cur);
    END LOOP;
    packed := int8send(n + 1) || leaf || substring(fr FROM 41 FOR 32 * (cnt - t)) || cur;
    UPDATE log_head SET size = n + 1, last_leaf = encode(leaf, 'hex'), frontier = packed
        WHERE id = 1;
    o_seq := n;
    o_prev := last;
    o_frontier := packed;
    RETURN NEXT;
END
$fn$
"""


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(FUNCTION)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "DROP FUNCTION IF EXISTS evidock_log_append("
            "text, text, integer, text, text, text, bytea, bytea, bytea)"
        )
