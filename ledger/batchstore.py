"""A batch of events and its tracking position in one transaction, the short way.

eventsourcing's store makes three objects per event on the way (a ``StoredEvent``, then a
``Notification`` and a ``Recording`` around it, for which it inserts row by row to learn
each row id; on PostgreSQL it also sends every row as a composite value, which psycopg
quotes in Python). The ingest's batches read none of them back: a batch store writes the
same rows — the state encoded by the ledger's transcoder as eventsourcing's ``Mapper``
encodes it (:class:`BatchRows`, the one home of that), into the same table, with the
position in the same transaction — in one statement: :class:`SQLiteBatchStore` here,
``PostgresBatchStore`` in ledger/pgbatchstore.py. Stored bytes are the mapper's, byte for
byte (tests/ledger/test_batchstore.py, test_pgbatchstore.py); any store they do not know
(a cipher or compressor, UUID ids, another recorder) keeps eventsourcing's path.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from eventsourcing.persistence import Mapper, Recorder, Tracking
from eventsourcing.sqlite import SQLiteProcessRecorder
from eventsourcing.utils import get_topic

from ledger.stored import is_postgres
from ledger.transcodings import StateTranscoder

#: A stored record's columns: originator id, originator version, topic, state.
Row = tuple[str, int, str, bytes]
#: An event's attributes that its record keeps in columns, not in its state.
COLUMNS = ("originator_id", "originator_version")


class BatchStore(Protocol):
    def put(self, events: Sequence[Any], tracking: Tracking | None) -> None:
        """The events, then the position, in one transaction (eventsourcing's
        ``IntegrityError`` if a version or the position is taken already)."""


def batch_store(mapper: Mapper[Any], recorder: Recorder) -> BatchStore | None:
    """The batch store for this mapper and recorder, or None (eventsourcing's store
    writes)."""
    if is_postgres(recorder):
        # Imported only here: a SQLite ledger need not import psycopg.
        from ledger.pgbatchstore import PostgresBatchStore

        return PostgresBatchStore.of(mapper, recorder)
    return SQLiteBatchStore.of(mapper, recorder)


def plain_text_ids(mapper: Mapper[Any], originator_id_type: str) -> bool:
    """Whether rows of this mapper, with ids of this type, are :class:`BatchRows`'."""
    return originator_id_type == "text" and mapper.cipher is None and mapper.compressor is None


class BatchRows:
    """``Mapper.to_stored_event``'s columns for events, without the ``StoredEvent``s."""

    def __init__(self, mapper: Mapper[Any]) -> None:
        transcoder = mapper.transcoder
        self.encode = transcoder.encode
        #: The ledger's transcoder spells an event's attributes without a copy of them.
        self.encode_without = (
            transcoder.encode_without if isinstance(transcoder, StateTranscoder) else None
        )
        #: Event class -> its topic and class version (as the mapper finds them).
        self.classes: dict[type, tuple[str, int]] = {}

    def rows(self, events: Sequence[Any]) -> list[Row]:
        """``Mapper.to_stored_event``'s columns for each event."""
        encode, encode_without, classes = self.encode, self.encode_without, self.classes
        rows: list[Row] = []
        for event in events:
            cls = type(event)
            known = classes.get(cls)
            if known is None:
                known = classes[cls] = (get_topic(cls), getattr(cls, "class_version", 1))
            topic, class_version = known
            members = vars(event)
            if encode_without is not None and class_version == 1:
                state = encode_without(members, COLUMNS)
            else:
                kept = {name: value for name, value in members.items() if name not in COLUMNS}
                if class_version > 1:
                    kept["class_version"] = class_version
                state = encode(kept)
            rows.append((members["originator_id"], members["originator_version"], topic, state))
        return rows


class SQLiteBatchStore(BatchRows):
    """Inserts one batch's events, and its position, as eventsourcing's SQLite process
    recorder would, with one ``executemany``."""

    def __init__(self, mapper: Mapper[Any], recorder: SQLiteProcessRecorder) -> None:
        super().__init__(mapper)
        self.recorder = recorder

    @classmethod
    def of(cls, mapper: Mapper[Any], recorder: Recorder) -> SQLiteBatchStore | None:
        """The batch store for this mapper and recorder, or None if it is not a plain
        SQLite process recorder of text ids (then eventsourcing's store writes)."""
        if type(recorder) is SQLiteProcessRecorder and plain_text_ids(
            mapper, recorder.datastore.originator_id_type
        ):
            return cls(mapper, recorder)
        return None

    def put(self, events: Sequence[Any], tracking: Tracking | None) -> None:
        """The events, then the position, in one transaction (eventsourcing's
        ``IntegrityError`` if a version or the position is taken already)."""
        rows = self.rows(events)
        recorder = self.recorder
        with recorder.datastore.transaction(commit=True) as cursor:
            if rows:
                cursor.executemany(recorder.insert_events_statement, rows)
            if tracking is not None:
                recorder._insert_tracking(cursor, tracking)
