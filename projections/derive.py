"""``items``: each item's current state, folded from its ``custody_events`` in SQL.

One aggregation, two sources. A rebuild folds every item's full history once. The
incremental path folds only a page: each touched item's current ``items`` row enters as a
*seed* (a pseudo-event that sets every field to what it is now, at the item's last
projected version), followed by the page's new rows. A fold over (state so far, new events)
equals a fold over the whole history, so both paths give the same table, and a page costs
O(page + items) instead of a scan of the whole history.

What each kind does to the state is generated from the kinds table (``domain/kinds.py``),
the same one ``ItemState.evolve`` applies (a test checks the projection against the
aggregates' own state): a kind with a status sets ``status``, ``holder`` and ``consignee``;
its location rule sets or clears ``location``; the fields its rule copies from the event
(identity, verdict) are taken from its row. Owner statements (``owner_statements``, joined
to their ``custody_events`` row) fold by ``STATEMENT_RULES`` (``domain/ownership.py``):
``owner`` and ``reported_missing``, and a consignment's transit; a custody event that sets
the status ends the ownership, as ``ownership.after_custody`` does.

``items`` is the corrected view: only *standing* rows have effects (accepted, not declared
in error, not themselves a declaration). A declaration changes the effect of an earlier
row, which a seed cannot undo, so a page holding one folds its items' whole history again
(``refold``); ``apply.mark_declared`` has marked the declared rows first.
"""

from __future__ import annotations

from collections.abc import Callable

import duckdb

from domain.kinds import RULES, Kind
from domain.ownership import STATEMENT_RULES, StatementRule
from ledger.records import OWNER_RECORD

#: The ``items`` columns a kind's rule can copy from its event (``KindRule.sets``).
COPIED = ("brand", "model", "serial", "tag_uid", "verdict", "certificate")


def _in(kinds: list[Kind]) -> str:
    return ", ".join(f"'{k.value}'" for k in kinds) or "NULL"


def _stated(test: Callable[[StatementRule], bool]) -> str:
    """The owner statement kinds whose rule (``STATEMENT_RULES``) passes ``test``."""
    kinds = [k for k, r in STATEMENT_RULES.items() if test(r)]
    return ", ".join(f"'{k.value}'" for k in kinds) or "NULL"


def _status_of_statement() -> str:
    whens = " ".join(
        f"WHEN '{k.value}' THEN '{r.status.value}'" for k, r in STATEMENT_RULES.items() if r.status
    )
    return f"CASE owner_kind {whens} END"


def _status_of_kind() -> str:
    whens = " ".join(
        f"WHEN '{k.value}' THEN '{r.status.value}'" for k, r in RULES.items() if r.status
    )
    return f"CASE kind {whens} END"


def sql_withdrawing() -> str:
    """The kinds that declare an earlier event in error, as an SQL list."""
    return _in([k for k, r in RULES.items() if r.withdraws])


#: A row whose effect the corrected view folds.
STANDING = f"(accepted AND NOT declared_in_error AND kind NOT IN ({sql_withdrawing()}))"


#: Each row's owner statement, if it is one (``custody_events`` holds a row per record).
_WITH_STATEMENTS = """custody_events LEFT JOIN (
        SELECT item_id, version, kind AS owner_kind, owner AS stated_owner,
               reason AS stated_reason, consignee AS stated_consignee
        FROM owner_statements) USING (item_id, version)"""


def _event_effects() -> str:
    holders = [k for k, r in RULES.items() if r.holder == "actor"]
    transit = [k for k, r in RULES.items() if r.opens_transit]
    placed = [k for k, r in RULES.items() if r.location != "keep"]
    unplaced = [k for k, r in RULES.items() if r.location == "none"]
    statused = [k for k, r in RULES.items() if r.status]
    # A consignment withdraws the verdict (the item is inspected again before a sale).
    consigns = _stated(lambda r: r.consigns)
    copies = ",\n           ".join(
        f"{STANDING} AND kind IN ({_in([k for k, r in RULES.items() if f in r.sets])})"
        + (f" OR owner_kind IN ({consigns})" if f == "verdict" else "")
        + f" AS sets_{f}"
        for f in COPIED
    )
    # A custody event that sets the status ends the ownership (``ownership.after_custody``).
    ends = f"{STANDING} AND kind IN ({_in(statused)})"
    return f"""
    SELECT item_id, version,
           CASE WHEN {STANDING} THEN {_status_of_kind()} ELSE {_status_of_statement()} END AS st,
           CASE WHEN kind IN ({_in(holders)}) THEN party_id END AS holder,
           CASE WHEN kind IN ({_in(transit)}) THEN counterparty
                WHEN owner_kind IN ({consigns}) THEN stated_consignee END AS consignee,
           CASE WHEN {STANDING} AND kind IN ({_in(placed)}) THEN 'set' ELSE 'keep' END AS loc_rule,
           CASE WHEN kind NOT IN ({_in(unplaced)}) THEN location END AS location,
           {", ".join(COPIED)},
           {copies},
           CASE WHEN {STANDING} THEN kind END AS last_kind,
           CASE WHEN {STANDING} THEN occurred_at END AS last_at,
           CASE WHEN NOT accepted AND record <> '{OWNER_RECORD}' THEN 1 ELSE 0 END AS flags,
           ({ends}) OR owner_kind IN ({_stated(lambda r: r.owner != "keep")}) AS sets_owner,
           CASE WHEN owner_kind IN ({_stated(lambda r: r.owner == "key")})
                THEN stated_owner END AS owner,
           ({ends}) OR owner_kind IN ({_stated(lambda r: r.missing != "keep")}) AS sets_missing,
           CASE WHEN owner_kind IN ({_stated(lambda r: r.missing == "reason")})
                THEN stated_reason END AS missing
    FROM {_WITH_STATEMENTS}"""


#: custody_events rows as effects (columns shared with SEED_EFFECTS, in the same order).
EVENT_EFFECTS = _event_effects()

#: items rows as one pseudo-event each: "everything is as it is now".
SEED_EFFECTS = f"""
    SELECT item_id, version, status AS st, holder, consignee, 'set' AS loc_rule, location,
           {", ".join(COPIED)},
           {", ".join(f"{f} IS NOT NULL AS sets_{f}" for f in COPIED)},
           last_event_kind AS last_kind, last_event_at AS last_at, open_flags AS flags,
           TRUE AS sets_owner, owner, TRUE AS sets_missing, reported_missing AS missing
    FROM items"""

_COPIED_FOLD = ",\n       ".join(
    f"arg_max_null({f}, version) FILTER (WHERE sets_{f}) AS {f}" for f in COPIED
)

FOLD = (
    """
WITH effects AS ({source})
SELECT item_id,
       """
    + _COPIED_FOLD
    + """,
       coalesce(arg_max(st, version) FILTER (WHERE st IS NOT NULL), 'unregistered') AS status,
       arg_max_null(holder, version) FILTER (WHERE st IS NOT NULL) AS holder,
       arg_max_null(location, version) FILTER (WHERE loc_rule = 'set') AS location,
       arg_max_null(consignee, version) FILTER (WHERE st IS NOT NULL) AS consignee,
       arg_max(last_kind, version) FILTER (WHERE last_kind IS NOT NULL) AS last_event_kind,
       arg_max_null(last_at, version) FILTER (WHERE last_kind IS NOT NULL) AS last_event_at,
       max(version) AS version,
       sum(flags)::BIGINT AS open_flags,
       arg_max_null(owner, version) FILTER (WHERE sets_owner) AS owner,
       arg_max_null(missing, version) FILTER (WHERE sets_missing) AS reported_missing
FROM effects
GROUP BY item_id
ORDER BY item_id
"""
)


def derive_page(
    con: duckdb.DuckDBPyConnection, after_notification: int, *, refold: bool = False
) -> None:
    """Fold the custody rows of notifications after ``after_notification`` into ``items``.

    Those rows are the page just inserted; notification ids grow with insertion order, so
    DuckDB's zone maps skip all older row groups. ``refold``: the page holds declarations,
    whose items are folded from their whole history instead of their seed.
    """
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE page_rows AS {EVENT_EFFECTS} WHERE notification_id > ?",
        [after_notification],
    )
    con.execute("CREATE OR REPLACE TEMP TABLE touched AS SELECT DISTINCT item_id FROM page_rows")
    refolded = "SELECT NULL::VARCHAR AS item_id WHERE FALSE"
    if refold:
        refolded = f"""SELECT DISTINCT item_id FROM custody_events
                       WHERE notification_id > {int(after_notification)}
                         AND accepted AND kind IN ({sql_withdrawing()})"""
    con.execute(f"CREATE OR REPLACE TEMP TABLE refolded AS {refolded}")
    source = (
        f"{SEED_EFFECTS} WHERE item_id IN (SELECT item_id FROM touched) "
        "AND item_id NOT IN (SELECT item_id FROM refolded) "
        "UNION ALL SELECT * FROM page_rows WHERE item_id NOT IN (SELECT item_id FROM refolded) "
        f"UNION ALL {EVENT_EFFECTS} WHERE item_id IN (SELECT item_id FROM refolded)"
    )
    con.execute(f"CREATE OR REPLACE TEMP TABLE folded AS {FOLD.format(source=source)}")
    con.execute("DELETE FROM items WHERE item_id IN (SELECT item_id FROM touched)")
    con.execute("INSERT INTO items SELECT * FROM folded")


def derive_all(con: duckdb.DuckDBPyConnection) -> None:
    """Fold every item's whole history (the rebuild)."""
    con.execute("DELETE FROM items")
    con.execute(f"INSERT INTO items {FOLD.format(source=EVENT_EFFECTS)}")
