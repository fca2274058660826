"""Set-wise application of one staged batch: every statement handles the whole batch.

Nothing here commits; the projector wraps a batch and its tracking position in one
transaction. Order matters only within a batch: parties before the custody events whose
role they give, custody events before the items derived from them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import duckdb

from ledger.records import (
    DEVICE_ENROLLED,
    DEVICE_REVOKED,
    ITEM_MODULE,
    OWNER_RECORD,
    PARTY_MODULE,
    PARTY_REGISTERED,
    sql_flag_field,
    sql_is_accepted,
    sql_is_flag,
    sql_record_name,
)
from projections.derive import derive_page, sql_withdrawing
from projections.staging import Page


def apply_ledger(
    con: duckdb.DuckDBPyConnection, page: Page, *, derive_items: bool, leaves_ahead: bool = False
) -> None:
    """Apply TEMP table ``staged`` (see ``staging.stage_ledger``).

    ``leaves_ahead``: the chain was read first (a rebuild) and TEMP ``leaves_ahead`` holds
    its leaves; rows take their anchor as they are inserted instead of by a later UPDATE.
    """
    if page.has_parties:
        _apply_parties(con)
    anchors = "NULL, NULL, NULL"
    join = ""
    if leaves_ahead:
        anchors = "a.leaf_hash, a.block_height, a.leaf_index"
        # Only blocks overlapping this page; zone maps skip the rest of the table.
        join = f"""LEFT JOIN (SELECT * FROM leaves_ahead
                              WHERE last_n >= {page.first_id} AND first_n <= {page.last_id}) a
                   ON a.item_id = o AND a.version = v"""
    con.execute(
        f"""
        INSERT INTO custody_events
        SELECT o, v, n, {sql_record_name()}, {sql_is_accepted()},
               c.event_id, c.kind, c.party_id, p.role, c.device_id, c.location,
               c.counterparty, c.occurred_at, ts, c.tag_uid, c.brand, c.model,
               c.serial, c.verdict, c.certificate, c.reason, c.latitude, c.longitude,
               c.declared_event_id, FALSE, NULL,
               CASE WHEN c.declared_event_id IS NOT NULL THEN c.party_id END,
               CASE WHEN c.declared_event_id IS NOT NULL THEN c.occurred_at END,
               c.error_reason, c.corrective_event_ids,
               {anchors}
        FROM staged LEFT JOIN parties p ON p.party_id = c.party_id
        {join}
        WHERE module = '{ITEM_MODULE}'"""
    )
    if page.has_owner:
        _apply_owner_statements(con)
    declared = mark_declared(con, page.first_id)
    if page.has_flags:
        con.execute(
            f"""
            INSERT INTO flags
            SELECT o, v, {sql_flag_field("signal")}, {sql_flag_field("detail")},
                   c.event_id, c.party_id, c.location, ts
            FROM staged
            WHERE module = '{ITEM_MODULE}' AND {sql_is_flag()}"""
        )
    if derive_items:
        derive_page(con, after_notification=page.first_id - 1, refold=declared)


def mark_declared(con: duckdb.DuckDBPyConnection, first_id: int) -> bool:
    """Mark the events that this page's accepted declarations declare in error (by whom,
    when, why, in which version); True if there were any (their items' view changes)."""
    declarations = f"""
        SELECT item_id, version, declared_event_id, declared_by, declared_at, declared_reason,
               corrective_event_ids
        FROM custody_events
        WHERE notification_id >= {first_id} AND accepted AND kind IN ({sql_withdrawing()})"""
    (count,) = con.execute(f"SELECT count(*) FROM ({declarations})").fetchall()[0]
    if not count:
        return False
    con.execute(
        f"""
        UPDATE custody_events
        SET declared_in_error = TRUE, declaration_version = d.version,
            declared_by = d.declared_by, declared_at = d.declared_at,
            declared_reason = d.declared_reason, corrective_event_ids = d.corrective_event_ids
        FROM ({declarations}) d
        WHERE custody_events.item_id = d.item_id
          AND custody_events.event_id = d.declared_event_id
          AND custody_events.accepted
          AND custody_events.kind NOT IN ({sql_withdrawing()})"""
    )
    return True


def _apply_owner_statements(con: duckdb.DuckDBPyConnection) -> None:
    """Owner statements, the key shown by its fingerprint only (``ownership.fingerprint``)."""
    con.execute(
        f"""
        INSERT INTO owner_statements
        SELECT o, v, n, os.statement_id, os.kind, {sql_fingerprint("os.owner_key")},
               os.occurred_at, ts, os.reason, os.consignee
        FROM staged
        WHERE module = '{ITEM_MODULE}' AND {sql_record_name()} = '{OWNER_RECORD}'
        ORDER BY n"""
    )


def sql_fingerprint(key: str) -> str:
    """``domain.owner_statement.fingerprint`` in SQL: SHA-256 of the 32-byte key, its first 16 hex
    digits in groups of four."""
    return f"array_to_string(regexp_extract_all(left(sha256(unhex({key})), 16), '....'), ' ')"


def _apply_parties(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(
        f"""
        INSERT INTO parties
        SELECT o, name, role, ts FROM staged
        WHERE module = '{PARTY_MODULE}' AND event = '{PARTY_REGISTERED}' ORDER BY n"""
    )
    con.execute(
        f"""
        INSERT INTO devices
        SELECT o, device_id, public_key, enrolled_at, NULL, effective_from, ts FROM staged
        WHERE module = '{PARTY_MODULE}' AND event = '{DEVICE_ENROLLED}' ORDER BY n"""
    )
    con.execute(
        f"""
        UPDATE devices SET revoked_at = r.revoked_at
        FROM (SELECT o, device_id, revoked_at FROM staged
              WHERE module = '{PARTY_MODULE}' AND event = '{DEVICE_REVOKED}') r
        WHERE devices.party_id = r.o AND devices.device_id = r.device_id"""
    )


def apply_blocks(con: duckdb.DuckDBPyConnection, blocks: Sequence[dict[str, Any]]) -> None:
    """Insert sealed blocks and stamp their leaves onto the ``custody_events`` rows."""
    if not blocks:
        return
    insert_blocks(con, blocks)
    stage_leaves(con, blocks, "page_leaves", replace=True)
    # The rows are replaced, not UPDATEd: replaying its WAL after a crash, DuckDB (2.0.1)
    # drops the VARCHAR part of such an UPDATE on rows a checkpoint wrote without a leaf
    # hash (leaf_hash NULL beside block_height; tests/projections/test_wal_replay.py).
    # A row is anchored once, so the copies are told from the originals by block_height;
    # only the blocks' notification range is read (zone maps skip the rest of the table).
    first = min(int(b["header"]["first_notification"]) for b in blocks)
    last = max(int(b["header"]["last_notification"]) for b in blocks)
    unanchored = f"""c.item_id = a.item_id AND c.version = a.version AND c.block_height IS NULL
        AND c.notification_id BETWEEN {first} AND {last}"""
    con.execute(
        f"""
        INSERT INTO custody_events
        SELECT c.* REPLACE (a.leaf_hash AS leaf_hash, a.block_height AS block_height,
                            a.leaf_index AS leaf_index)
        FROM custody_events c, page_leaves a WHERE {unanchored}"""
    )
    con.execute(f"DELETE FROM custody_events c USING page_leaves a WHERE {unanchored}")


def insert_blocks(con: duckdb.DuckDBPyConnection, blocks: Sequence[dict[str, Any]]) -> None:
    """``blocks`` are decoded ``Block.Sealed`` states (``header``, ``leaves``, ``items``) with
    the header's ``block_hash`` added (see ``writer.decode_block``)."""
    headers = [b["header"] for b in blocks]
    con.execute(
        """
        INSERT INTO blocks
        SELECT h, bh, mr, ph, fn, ln, lc, sa::TIMESTAMPTZ, ar, asz, hv
        FROM (SELECT unnest($1) h, unnest($2) mr, unnest($3) ph, unnest($4) fn, unnest($5) ln,
                     unnest($6) lc, unnest($7) sa, unnest($8) ar, unnest($9) asz, unnest($10) hv,
                     unnest($11) bh)
        ORDER BY h""",
        [
            [int(h["height"]) for h in headers],
            [str(h["merkle_root"]) for h in headers],
            [str(h["prev_hash"]) for h in headers],
            [int(h["first_notification"]) for h in headers],
            [int(h["last_notification"]) for h in headers],
            [int(h["leaf_count"]) for h in headers],
            [str(h["sealed_at"]) for h in headers],
            [_opt_str(h.get("acc_root")) for h in headers],
            [_opt_int(h.get("acc_size")) for h in headers],
            [_opt_int(h.get("version")) for h in headers],
            [str(b["block_hash"]) for b in blocks],
        ],
    )


LEAVES_COLUMNS = (
    "item_id VARCHAR, version BIGINT, leaf_hash VARCHAR, block_height BIGINT, "
    "leaf_index BIGINT, first_n BIGINT, last_n BIGINT"
)


def stage_leaves(
    con: duckdb.DuckDBPyConnection, blocks: Sequence[dict[str, Any]], table: str, *, replace: bool
) -> None:
    """Every leaf of ``blocks`` into TEMP ``table``, with its block's notification range.

    DuckDB unnests the leaves from each block's stored JSON (``state_json``): a million
    leaves crossing from Python as seven lists of values would take seconds.
    """
    if replace:
        con.execute(f"CREATE OR REPLACE TEMP TABLE {table} ({LEAVES_COLUMNS})")
    headers = [b["header"] for b in blocks]
    con.execute(
        f"""
        INSERT INTO {table}
        SELECT item[1], item[2]::BIGINT, leaf_hash, h, leaf_index, fn, ln
        FROM (
            SELECT h, fn, ln, unnest(s.leaves) AS leaf_hash, unnest(s.items) AS item,
                   unnest(range(len(s.leaves))) AS leaf_index
            FROM (
                SELECT h, fn, ln, json_transform(j, '{_LEAVES_SHAPE}') AS s
                FROM (SELECT unnest($1) AS h, unnest($2) AS fn, unnest($3) AS ln,
                             unnest($4) AS j)
            )
        )""",
        [
            [int(h["height"]) for h in headers],
            [int(h["first_notification"]) for h in headers],
            [int(h["last_notification"]) for h in headers],
            [str(b["state_json"]) for b in blocks],
        ],
    )


_LEAVES_SHAPE = '{"leaves": ["VARCHAR"], "items": [["VARCHAR"]]}'


def _opt_str(value: object) -> str | None:
    return None if value is None else str(value)


def _opt_int(value: object) -> int | None:
    return None if value is None else int(str(value))
