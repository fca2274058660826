"""The projection's tables and views (DuckDB DDL); docs/analysts.md documents every column.

Tables are derived data only: every one can be dropped and rebuilt from the event store and
the chain. ``items`` is itself a pure function of ``custody_events`` (see ``derive.py``), so
the incremental path and the rebuild agree by construction.
"""

from __future__ import annotations

import duckdb

from domain.kinds import RULES, kinds_where

#: Bumped when a table's shape changes; a projection written by another version is rebuilt.
SCHEMA_VERSION = 3

TABLES: dict[str, str] = {
    "projection_tracking": """
        name VARCHAR PRIMARY KEY,
        position BIGINT NOT NULL""",
    "projection_meta": """
        key VARCHAR PRIMARY KEY,
        value VARCHAR NOT NULL""",
    "parties": """
        party_id VARCHAR NOT NULL,
        name VARCHAR NOT NULL,
        role VARCHAR NOT NULL,
        registered_at TIMESTAMPTZ NOT NULL""",
    "devices": """
        party_id VARCHAR NOT NULL,
        device_id VARCHAR NOT NULL,
        public_key VARCHAR NOT NULL,
        enrolled_at TIMESTAMPTZ NOT NULL,
        revoked_at TIMESTAMPTZ,
        effective_from TIMESTAMPTZ,
        recorded_at TIMESTAMPTZ NOT NULL""",
    "custody_events": """
        item_id VARCHAR NOT NULL,
        version BIGINT NOT NULL,
        notification_id BIGINT NOT NULL,
        record VARCHAR NOT NULL,
        accepted BOOLEAN NOT NULL,
        event_id VARCHAR,
        kind VARCHAR,
        party_id VARCHAR,
        role VARCHAR,
        device_id VARCHAR,
        location VARCHAR,
        counterparty VARCHAR,
        occurred_at TIMESTAMPTZ,
        recorded_at TIMESTAMPTZ NOT NULL,
        tag_uid VARCHAR,
        brand VARCHAR,
        model VARCHAR,
        serial VARCHAR,
        verdict VARCHAR,
        certificate VARCHAR,
        reason VARCHAR,
        latitude DOUBLE,
        longitude DOUBLE,
        declared_event_id VARCHAR,
        declared_in_error BOOLEAN NOT NULL,
        declaration_version BIGINT,
        declared_by VARCHAR,
        declared_at TIMESTAMPTZ,
        declared_reason VARCHAR,
        corrective_event_ids VARCHAR[],
        leaf_hash VARCHAR,
        block_height BIGINT,
        leaf_index BIGINT""",
    "owner_statements": """
        item_id VARCHAR NOT NULL,
        version BIGINT NOT NULL,
        notification_id BIGINT NOT NULL,
        statement_id VARCHAR NOT NULL,
        kind VARCHAR NOT NULL,
        owner VARCHAR NOT NULL,
        occurred_at TIMESTAMPTZ NOT NULL,
        recorded_at TIMESTAMPTZ NOT NULL,
        reason VARCHAR,
        consignee VARCHAR""",
    "flags": """
        item_id VARCHAR NOT NULL,
        version BIGINT NOT NULL,
        signal VARCHAR NOT NULL,
        detail VARCHAR NOT NULL,
        evidence_event_id VARCHAR,
        party_id VARCHAR,
        location VARCHAR,
        raised_at TIMESTAMPTZ NOT NULL""",
    "items": """
        item_id VARCHAR NOT NULL,
        brand VARCHAR,
        model VARCHAR,
        serial VARCHAR,
        tag_uid VARCHAR,
        verdict VARCHAR,
        certificate VARCHAR,
        status VARCHAR NOT NULL,
        holder VARCHAR,
        location VARCHAR,
        consignee VARCHAR,
        last_event_kind VARCHAR,
        last_event_at TIMESTAMPTZ,
        version BIGINT NOT NULL,
        open_flags BIGINT NOT NULL,
        owner VARCHAR,
        reported_missing VARCHAR""",
    "blocks": """
        height BIGINT NOT NULL,
        block_hash VARCHAR,
        merkle_root VARCHAR NOT NULL,
        prev_hash VARCHAR NOT NULL,
        first_notification BIGINT NOT NULL,
        last_notification BIGINT NOT NULL,
        leaf_count BIGINT NOT NULL,
        sealed_at TIMESTAMPTZ NOT NULL,
        acc_root VARCHAR,
        acc_size BIGINT,
        header_version BIGINT""",
}

#: The point lookups analysts run most (one item's history, one item's state).
INDEXES: dict[str, str] = {
    "custody_events_item": "custody_events (item_id)",
    "items_item": "items (item_id)",
    "owner_statements_item": "owner_statements (item_id)",
}

#: Kinds that move custody (a hand-over), as opposed to scans and inspections.
HANDOVER_KINDS = (
    "'commissioning', 'shipping', 'void_shipping', 'receiving', "
    "'retail_selling', 'returning', 'decommissioning', 'intake'"
)
CREATING_KINDS = ", ".join(f"'{k.value}'" for k in kinds_where("creates"))
PROVENANCE_CASES = " ".join(
    f"WHEN '{k.value}' THEN '{RULES[k].provenance}'" for k in kinds_where("creates")
)
CLONE_SIGNALS = (
    "'duplicate_commissioning', 'location_conflict', 'impossible_travel', 'scan_after_sale'"
)

VIEWS: dict[str, str] = {
    "chain_of_custody": f"""
        SELECT item_id,
               row_number() OVER (PARTITION BY item_id ORDER BY version) AS step,
               version, kind, party_id, role, counterparty, location, occurred_at, recorded_at,
               block_height, leaf_index
        FROM custody_events
        WHERE accepted AND NOT declared_in_error AND kind IN ({HANDOVER_KINDS})""",
    "inventory_by_location": """
        SELECT location, holder, brand, count(*) AS items,
               count(*) FILTER (WHERE open_flags > 0) AS flagged_items
        FROM items
        WHERE status = 'in_custody'
        GROUP BY ALL""",
    "dwell_time": f"""
        WITH moves AS (
            SELECT item_id, version, kind, party_id, location, occurred_at,
                   lead(occurred_at) OVER w AS next_at
            FROM custody_events
            WHERE accepted AND NOT declared_in_error AND kind IN ({HANDOVER_KINDS})
            WINDOW w AS (PARTITION BY item_id ORDER BY version)
        )
        SELECT item_id, location, party_id AS holder, kind AS arrived_by,
               occurred_at AS arrived_at, next_at AS departed_at,
               date_diff('second', occurred_at, next_at) / 3600.0 AS hours,
               date_diff('second', occurred_at, coalesce(next_at, now())) / 3600.0
                   AS hours_so_far
        FROM moves
        WHERE kind IN ('commissioning', 'void_shipping', 'receiving', 'returning', 'intake')""",
    "suspected_clones": f"""
        SELECT f.item_id, i.brand, i.model, i.serial, i.status, i.holder, i.location,
               count(*) AS clone_flags,
               list(DISTINCT f.signal ORDER BY f.signal) AS signals,
               list(DISTINCT f.party_id ORDER BY f.party_id)
                   FILTER (WHERE f.party_id IS NOT NULL) AS seen_by,
               min(f.raised_at) AS first_flagged_at,
               max(f.raised_at) AS last_flagged_at
        FROM flags f LEFT JOIN items i USING (item_id)
        WHERE f.signal IN ({CLONE_SIGNALS})
        GROUP BY ALL""",
    "appraiser_activity": """
        SELECT e.party_id AS appraiser_id, p.name AS appraiser_name, e.item_id,
               i.brand, i.model, i.serial, e.verdict, e.certificate, e.location,
               e.occurred_at, e.block_height, e.leaf_index
        FROM custody_events e
        JOIN parties p USING (party_id)
        LEFT JOIN items i USING (item_id)
        WHERE e.accepted AND NOT e.declared_in_error AND e.kind IN ('inspecting', 'intake')
              AND p.role = 'appraiser'""",
    # Who put each item on the ledger, and how: a brand's commissioning or an appraiser's
    # pre-owned intake (the first standing event that created it).
    "provenance": f"""
        SELECT item_id, kind AS registered_by_kind, party_id AS registered_by,
               p.name AS registered_by_name, p.role AS registered_by_role, occurred_at,
               replace(CASE kind {PROVENANCE_CASES} END, '{{who}}', coalesce(p.name, party_id))
                   AS provenance
        FROM custody_events LEFT JOIN parties p USING (party_id)
        WHERE accepted AND NOT declared_in_error AND kind IN ({CREATING_KINDS})
        QUALIFY row_number() OVER (PARTITION BY item_id ORDER BY version) = 1""",
}


def create_schema(con: duckdb.DuckDBPyConnection) -> None:
    """Create what is missing; existing tables are left as they are."""
    for name, columns in TABLES.items():
        con.execute(f"CREATE TABLE IF NOT EXISTS {name} ({columns})")
    for name, target in INDEXES.items():
        con.execute(f"CREATE INDEX IF NOT EXISTS {name} ON {target}")
    for name, query in VIEWS.items():
        con.execute(f"CREATE OR REPLACE VIEW {name} AS {query}")
    con.execute(
        "INSERT OR REPLACE INTO projection_meta VALUES ('schema_version', ?)",
        [str(SCHEMA_VERSION)],
    )


def content_tables() -> list[str]:
    """Tables whose content is the projection (what rebuild and incremental must agree on)."""
    return [name for name in TABLES if name != "projection_meta"]


def stored_schema_version(con: duckdb.DuckDBPyConnection) -> int | None:
    """The schema version a projection file was written with (None: a new file)."""
    try:
        row = con.execute(
            "SELECT value FROM projection_meta WHERE key = 'schema_version'"
        ).fetchone()
    except duckdb.CatalogException:
        return None
    return int(row[0]) if row else None
