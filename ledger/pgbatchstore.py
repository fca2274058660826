"""A batch of events and its tracking position in one PostgreSQL transaction, the short way.

eventsourcing's PostgreSQL process recorder sends a batch as one array of composite
values, which psycopg spells as quoted text in Python (a regular expression per field:
most of the ingest's save time). :class:`PostgresBatchStore` writes the same rows into
the same table — the columns of ledger/batchstore.py's :class:`BatchRows` — as four
binary arrays unnested by the server, in the recorder's order and under its guarantees:

* the tracking position first, by the recorder's own statement (a position recorded
  already returns no row: eventsourcing's ``IntegrityError``, nothing saved);
* then the recorder's ``LOCK TABLE … IN EXCLUSIVE MODE`` and ``NOTIFY``: one writer at a
  time is issued notification ids and commits before the next is issued any, so the
  anchor and projectors, reading in id order, never pass a gap that fills later;
* then one ``INSERT … SELECT FROM unnest(…)``: ids in the batch's order (a version taken
  already: ``IntegrityError``, nothing saved).

All of it in one pipeline: one round trip, then the commit's.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from eventsourcing.persistence import (
    IntegrityError,
    InterfaceError,
    Mapper,
    OperationalError,
    Recorder,
    Tracking,
)
from eventsourcing.postgres import PostgresProcessRecorder
from eventsourcing.utils import retry
from psycopg.sql import SQL, Identifier

from ledger.batchstore import BatchRows, plain_text_ids


class PostgresBatchStore(BatchRows):
    """Inserts one batch's events, and its position, as eventsourcing's PostgreSQL process
    recorder would, in one statement and one round trip before the commit."""

    def __init__(self, mapper: Mapper[Any], recorder: PostgresProcessRecorder) -> None:
        super().__init__(mapper)
        self.recorder = recorder
        self.insert_rows = SQL(
            "INSERT INTO {schema}.{table} (originator_id, originator_version, topic, state) "
            "SELECT * FROM unnest(%b::text[], %b::bigint[], %b::text[], %b::bytea[])"
        ).format(
            schema=Identifier(recorder.datastore.schema),
            table=Identifier(recorder.events_table_name),
        )

    @classmethod
    def of(cls, mapper: Mapper[Any], recorder: Recorder) -> PostgresBatchStore | None:
        """The batch store for this mapper and recorder, or None if it is not a plain
        PostgreSQL process recorder of text ids with single-row tracking and without
        database functions (then eventsourcing's store writes)."""
        if (
            type(recorder) is PostgresProcessRecorder
            and plain_text_ids(mapper, recorder.datastore.originator_id_type)
            and recorder.datastore.single_row_tracking
            and not recorder.datastore.enable_db_functions
        ):
            return cls(mapper, recorder)
        return None

    @retry((InterfaceError, OperationalError), max_attempts=10, wait=0.2)  # the recorder's
    def put(self, events: Sequence[Any], tracking: Tracking | None) -> None:
        """The position, then the events, in one transaction (eventsourcing's
        ``IntegrityError`` if the position or a version is taken already)."""
        rows = self.rows(events)
        recorder = self.recorder
        with (
            recorder.datastore.get_connection() as conn,
            conn.pipeline() as pipeline,
            conn.transaction(),
            conn.cursor() as position,
            conn.cursor() as curs,
        ):
            if tracking is not None:
                position.execute(
                    recorder.insert_tracking_statement,
                    {
                        "application_name": tracking.application_name,
                        "notification_id": tracking.notification_id,
                    },
                    prepare=True,
                )
            if rows:
                recorder._lock_table(curs)
                recorder._notify_channel(curs)
                columns = [list(column) for column in zip(*rows, strict=True)]
                curs.execute(self.insert_rows, columns, prepare=True)
            pipeline.sync()  # a taken version raises here, and nothing is committed
            if tracking is not None and position.fetchone() is None:
                raise IntegrityError(  # the recorder's words; the transaction rolls back
                    f"Failed to record tracking for {tracking.application_name} "
                    f"{tracking.notification_id}"
                )
