"""The ledger's stored records, read in bulk: rows and the layout of their state.

Bulk readers (the projections) read the stored JSON instead of decoding each event into
domain objects, which is several times slower. This module is the documented contract
they read through:

* :func:`select_rows` — notifications as plain tuples ``(id, topic, originator id,
  originator version, state bytes)``, from SQLite straight through its cursor (no
  per-row objects), from any other store through the recorder;
* the state of a record is eventsourcing's ``JSONTranscoder`` output: a JSON object of the
  event's fields, custom values as ``{"_type_": <name>, "_data_": …}`` with the names of
  ``ledger/transcodings.py`` (``custody_event``: a ``CustodyEvent.to_primitive`` object,
  ``bytes_b64``: base64, ``datetime_iso``: ISO 8601), plus ``timestamp``;
  :data:`STATE_FIELDS` lists the fields bulk readers use, with their JSON types (a
  one-element list: an array of that type);
* :func:`state_json` — the state as JSON text, without the signed envelope (bulk readers
  never show it, and it is half of every item record);
* :func:`stored_leaf_source` — what a record of a signed item event (leaf kind ``E``)
  contributes to its leaf, its envelope sliced out of the state where the application
  writes it (the anchor seals every item record; decoding each into domain objects was
  half of its CPU).
"""

from __future__ import annotations

import base64
import binascii
import sys
from collections.abc import Collection, Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypeGuard

from eventsourcing.application import Application
from eventsourcing.persistence import Mapper, Notification
from eventsourcing.sqlite import SQLiteApplicationRecorder

from ledger.records import ITEM_RECORDS, LeafSource, topic_of
from ledger.transcodings import BytesAsBase64

if TYPE_CHECKING:
    from eventsourcing.postgres import PostgresAggregateRecorder

#: A stored record: notification id, topic, originator id, originator version, state.
Row = tuple[int, str, str, int, bytes]

_CUSTODY_FIELDS: Mapping[str, str | list[str]] = {
    "event_id": "string",
    "kind": "string",
    "party_id": "string",
    "device_id": "string",
    "location": "string",
    "occurred_at": "timestamp",
    "counterparty": "string",
    "tag_uid": "string",
    "brand": "string",
    "model": "string",
    "serial": "string",
    "verdict": "string",
    "certificate": "string",
    "reason": "string",
    "latitude": "number",
    "longitude": "number",
    "declared_event_id": "string",  # an error declaration's (absent from other events)
    "error_reason": "string",
    "corrective_event_ids": ["string"],
}

#: An owner statement's fields (``owner_statement``: ``OwnerStatement.to_primitive``).
_STATEMENT_FIELDS: Mapping[str, str] = {
    "statement_id": "string",
    "kind": "string",
    "owner_key": "string",
    "occurred_at": "timestamp",
    "reason": "string",
    "consignee": "string",
}

#: The state fields bulk readers use, by event: ``{"_data_": …}`` marks a transcoded value.
#: A field an event lacks reads as null (old records lack fields added since).
STATE_FIELDS: Mapping[str, Any] = {
    "timestamp": {"_data_": "timestamp"},
    "custody": {"_data_": _CUSTODY_FIELDS},  # Item.Commissioned, CustodyRecorded, Sighted
    "evidence": {"_data_": _CUSTODY_FIELDS},  # Item.Flagged
    "statement": {"_data_": _STATEMENT_FIELDS},  # Item.OwnerStated
    "signal": "string",  # Item.Flagged, Item.Sighted
    "detail": "string",
    "name": "string",  # Party.Registered
    "role": "string",
    "device_id": "string",  # Party.DeviceEnrolled, DeviceRevoked
    "public_key": "string",
    "enrolled_at": {"_data_": "timestamp"},
    "effective_from": {"_data_": "timestamp"},  # Party.DeviceEnrolled (null: enrolled_at)
    "revoked_at": {"_data_": "timestamp"},
}

ENVELOPE_MEMBER = b',"envelope":{"_type_":"' + BytesAsBase64.name.encode() + b'","_data_":"'
#: How a signed item record's state ends: the envelope's base64, then its value's and the
#: state's braces (the envelope is the last member the application writes).
ENVELOPE_TAIL = b'"}}'
#: Stored topics of the item events whose leaf is their signed envelope (kind ``E``), of
#: class version 1 (a later version's record is upcast on decoding: decode it).
SIGNED_LEAF_TOPICS = frozenset(
    topic_of(r.event)
    for r in ITEM_RECORDS
    if r.leaf == "E" and getattr(r.event, "class_version", 1) == 1
)


def select_rows(ledger: Application[str], start: int, limit: int) -> list[Row]:
    """Up to ``limit`` stored records from notification ``start`` on, in id order."""
    recorder = ledger.recorder
    if (
        isinstance(recorder, SQLiteApplicationRecorder)
        and recorder.datastore.originator_id_type == "text"
    ):
        statement = (
            "SELECT rowid, topic, originator_id, originator_version, state "
            f"FROM {recorder.events_table_name} WHERE rowid>=? ORDER BY rowid LIMIT ?"
        )
        with recorder.datastore.transaction(commit=False) as c:
            cursor = c.sqlite_cursor
            cursor.row_factory = None
            cursor.execute(statement, (start, limit))
            rows: list[Row] = cursor.fetchall()
        return rows
    return rows_of(recorder.select_notifications(start=start, limit=limit))


#: Ids per query of :func:`present_ids` (SQLite allows 32,766 parameters).
PRESENT_CHUNK = 500


def present_ids(ledger: Application[str], ids: Collection[str]) -> set[str] | None:
    """Which of ``ids`` have stored events, asked in one query per ``PRESENT_CHUNK`` ids;
    None if this store is not one whose table this knows (then load each)."""
    recorder = ledger.recorder
    wanted = sorted(i for i in ids if "\x00" not in i)  # PostgreSQL text holds no NUL
    found: set[str] = set()
    for first in range(0, len(wanted), PRESENT_CHUNK):
        chunk = wanted[first : first + PRESENT_CHUNK]
        if (
            isinstance(recorder, SQLiteApplicationRecorder)
            and recorder.datastore.originator_id_type == "text"
        ):
            marks = ",".join("?" * len(chunk))
            statement = (
                f"SELECT DISTINCT originator_id FROM {recorder.events_table_name} "
                f"WHERE originator_id IN ({marks})"
            )
            with recorder.datastore.transaction(commit=False) as c:
                cursor = c.sqlite_cursor
                cursor.row_factory = None
                cursor.execute(statement, chunk)
                found.update(row[0] for row in cursor.fetchall())
        elif is_postgres(recorder) and recorder.datastore.originator_id_type == "text":
            from psycopg.sql import SQL, Identifier

            query = SQL(
                "SELECT DISTINCT originator_id FROM {schema}.{table} WHERE originator_id = ANY(%s)"
            ).format(
                schema=Identifier(recorder.datastore.schema),
                table=Identifier(recorder.events_table_name),
            )
            with recorder.datastore.get_connection() as conn, conn.cursor() as curs:
                curs.execute(query, (chunk,))
                found.update(str(row["originator_id"]) for row in curs.fetchall())
        else:
            return None
    return found


def is_postgres(recorder: object) -> TypeGuard[PostgresAggregateRecorder]:
    # A PostgreSQL store has imported eventsourcing.postgres to make its recorder; a SQLite
    # one need not pay for importing it (and psycopg) to learn that it is not one.
    module = sys.modules.get("eventsourcing.postgres")
    return module is not None and isinstance(recorder, module.PostgresAggregateRecorder)


def rows_of(notifications: Sequence[Notification]) -> list[Row]:
    return [
        (n.id, n.topic, str(n.originator_id), n.originator_version, n.state) for n in notifications
    ]


def state_json(mapper: Mapper[Any], state: bytes) -> str:
    """A record's state as JSON text without its signed envelope (decrypted and
    decompressed first if the store does that)."""
    if mapper.cipher is not None:
        state = mapper.cipher.decrypt(state)
    if mapper.compressor is not None:
        state = mapper.compressor.decompress(state)
    return without_envelope(state).decode()


def plain(mapper: Mapper[Any]) -> bool:
    """Whether stored states are plain JSON (then :func:`without_envelope` applies)."""
    return mapper.cipher is None and mapper.compressor is None


def without_envelope(state: bytes) -> bytes:
    """Plain stored JSON minus its ``envelope`` member (base64 holds no quote, so the
    value ends at the first ``"}``)."""
    start = state.find(ENVELOPE_MEMBER)
    if start < 0:
        return state
    end = state.find(b'"}', start + len(ENVELOPE_MEMBER))
    return state[:start] + state[end + 2 :]


def stored_envelope(state: bytes) -> bytes | None:
    """The signed envelope of a plain stored state whose last top-level member is
    ``envelope`` as the application writes it (strict base64, no escapes), as the
    transcoder decodes it; None for any other state (then decode the record). Only the
    envelope is read: the anchor seals the record's bytes as they are, and the audit
    decodes and checks every record (tests/anchoring/test_tamper.py)."""
    start = state.rfind(ENVELOPE_MEMBER)
    if start < 0 or not state.endswith(ENVELOPE_TAIL):
        return None
    data = state[start + len(ENVELOPE_MEMBER) : -len(ENVELOPE_TAIL)]
    # Strict base64 holds no quote or backslash (the member is this one object, the
    # text its own value) and nothing the lenient decoder would skip.
    try:
        return base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        return None


def stored_leaf_source(mapper: Mapper[Any], n: Notification) -> LeafSource | None:
    """What a stored signed item event contributes to its leaf, read from its state
    without decoding the event: exactly ``leaf_source`` of the decoded event, since the
    event's ``envelope`` is that member. None for other records and other layouts (a
    cipher, a compressor, another spelling): then decode the record."""
    if n.topic not in SIGNED_LEAF_TOPICS or not plain(mapper) or type(n.state) is not bytes:
        return None
    envelope = stored_envelope(n.state)
    if envelope is None:
        return None
    return LeafSource(str(n.originator_id), n.originator_version, "E", envelope)
