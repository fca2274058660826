"""``items``: each item's current state, folded from its ``custody_events`` in SQL.

One aggregation, two sources. A rebuild folds every item's full history once. The
incremental path folds only a page: each touched item's current ``items`` row enters as a
*seed* (a pseudo-event that sets every field to what it is now, at the item's last
projected version), followed by the page's new rows. A fold over (state so far, new events)
equals a fold over the whole history, so both paths give the same table, and a page costs
O(page + items) instead of a scan of the whole history.

The effects mirror ``Item._apply_custody`` in ``domain/items.py`` (a test checks the
projection against the aggregates' own state):

- a status-changing kind sets ``status``, ``holder`` and ``consignee``;
- arrivals set ``location``, a sale clears it, an inventory scan (``observing``) moves it
  only while the item is in custody;
- commissioning sets ``brand/model/serial/tag_uid``, an inspection ``verdict/certificate``.
"""

from __future__ import annotations

import duckdb

STATUS_OF_KIND = """CASE kind
        WHEN 'commissioning' THEN 'in_custody'
        WHEN 'shipping' THEN 'in_transit'
        WHEN 'void_shipping' THEN 'in_custody'
        WHEN 'receiving' THEN 'in_custody'
        WHEN 'retail_selling' THEN 'sold'
        WHEN 'returning' THEN 'in_custody'
        WHEN 'decommissioning' THEN 'retired'
    END"""

ARRIVALS = "'commissioning', 'void_shipping', 'receiving', 'returning'"

#: custody_events rows as effects (columns shared with SEED_EFFECTS, in the same order).
EVENT_EFFECTS = f"""
    SELECT item_id, version,
           CASE WHEN accepted THEN {STATUS_OF_KIND} END AS st,
           CASE WHEN kind IN ({ARRIVALS}) THEN party_id END AS holder,
           CASE WHEN kind = 'shipping' THEN counterparty END AS consignee,
           CASE WHEN NOT accepted THEN 'keep'
                WHEN kind IN ({ARRIVALS}, 'retail_selling') THEN 'set'
                WHEN kind = 'observing' THEN 'set_if_in_custody'
                ELSE 'keep' END AS loc_rule,
           CASE WHEN kind <> 'retail_selling' THEN location END AS location,
           accepted AND kind = 'commissioning' AS identified,
           brand, model, serial, tag_uid,
           accepted AND kind = 'inspecting' AS inspected,
           verdict, certificate,
           CASE WHEN accepted THEN kind END AS last_kind,
           CASE WHEN accepted THEN occurred_at END AS last_at,
           CASE WHEN record IN ('sighted', 'flagged') THEN 1 ELSE 0 END AS flags
    FROM custody_events"""

#: items rows as one pseudo-event each: "everything is as it is now".
SEED_EFFECTS = """
    SELECT item_id, version, status AS st, holder, consignee, 'set' AS loc_rule, location,
           brand IS NOT NULL AS identified, brand, model, serial, tag_uid,
           verdict IS NOT NULL AS inspected, verdict, certificate,
           last_event_kind AS last_kind, last_event_at AS last_at, open_flags AS flags
    FROM items"""

FOLD = """
WITH effects AS ({source}),
ordered AS (
    SELECT *,
           coalesce(last_value(st IGNORE NULLS) OVER (
               PARTITION BY item_id ORDER BY version
               ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 'unregistered') AS before
    FROM effects
)
SELECT item_id,
       arg_max(brand, version) FILTER (WHERE identified) AS brand,
       arg_max(model, version) FILTER (WHERE identified) AS model,
       arg_max(serial, version) FILTER (WHERE identified) AS serial,
       arg_max(tag_uid, version) FILTER (WHERE identified) AS tag_uid,
       arg_max(verdict, version) FILTER (WHERE inspected) AS verdict,
       arg_max(certificate, version) FILTER (WHERE inspected) AS certificate,
       coalesce(arg_max(st, version) FILTER (WHERE st IS NOT NULL), 'unregistered') AS status,
       arg_max_null(holder, version) FILTER (WHERE st IS NOT NULL) AS holder,
       arg_max_null(location, version) FILTER (
           WHERE loc_rule = 'set' OR (loc_rule = 'set_if_in_custody' AND before = 'in_custody')
       ) AS location,
       arg_max_null(consignee, version) FILTER (WHERE st IS NOT NULL) AS consignee,
       arg_max(last_kind, version) FILTER (WHERE last_kind IS NOT NULL) AS last_event_kind,
       arg_max_null(last_at, version) FILTER (WHERE last_kind IS NOT NULL) AS last_event_at,
       max(version) AS version,
       sum(flags)::BIGINT AS open_flags
FROM ordered
GROUP BY item_id
ORDER BY item_id
"""


def derive_page(con: duckdb.DuckDBPyConnection, after_notification: int) -> None:
    """Fold the custody rows of notifications after ``after_notification`` into ``items``.

    Those rows are the page just inserted; notification ids grow with insertion order, so
    DuckDB's zone maps skip all older row groups.
    """
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE page_rows AS {EVENT_EFFECTS} WHERE notification_id > ?",
        [after_notification],
    )
    con.execute("CREATE OR REPLACE TEMP TABLE touched AS SELECT DISTINCT item_id FROM page_rows")
    source = (
        f"{SEED_EFFECTS} WHERE item_id IN (SELECT item_id FROM touched) "
        "UNION ALL SELECT * FROM page_rows"
    )
    con.execute(f"CREATE OR REPLACE TEMP TABLE folded AS {FOLD.format(source=source)}")
    con.execute("DELETE FROM items WHERE item_id IN (SELECT item_id FROM touched)")
    con.execute("INSERT INTO items SELECT * FROM folded")


def derive_all(con: duckdb.DuckDBPyConnection) -> None:
    """Fold every item's whole history (the rebuild)."""
    con.execute("DELETE FROM items")
    con.execute(f"INSERT INTO items {FOLD.format(source=EVENT_EFFECTS)}")
