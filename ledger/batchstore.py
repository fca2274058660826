"""A batch of events and its tracking position in one SQLite transaction, the short way.

eventsourcing's store makes three objects per event on the way (a ``StoredEvent``, then a
``Notification`` and a ``Recording`` around it, for which it inserts row by row to learn
each row id). The ingest's batches read none of them back: :class:`SQLiteBatchStore`
writes the same rows — the state encoded by the ledger's transcoder as eventsourcing's
``Mapper`` encodes it, the same statements, the events and then the position in one
transaction — with one ``executemany``. Stored bytes are the mapper's, byte for byte
(tests/ledger/test_batchstore.py); any store it does not know (PostgreSQL, a cipher or
compressor, UUID ids) keeps eventsourcing's path.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from eventsourcing.persistence import Mapper, Recorder, Tracking
from eventsourcing.sqlite import SQLiteProcessRecorder
from eventsourcing.utils import get_topic

from ledger.transcodings import StateTranscoder

#: A stored record's columns: originator id, originator version, topic, state.
Row = tuple[str, int, str, bytes]
#: An event's attributes that its record keeps in columns, not in its state.
COLUMNS = ("originator_id", "originator_version")


class SQLiteBatchStore:
    """Inserts one batch's events, and its position, as eventsourcing's SQLite process
    recorder would, without the per-event objects it makes on the way."""

    def __init__(self, mapper: Mapper[Any], recorder: SQLiteProcessRecorder) -> None:
        transcoder = mapper.transcoder
        self.encode = transcoder.encode
        #: The ledger's transcoder spells an event's attributes without a copy of them.
        self.encode_without = (
            transcoder.encode_without if isinstance(transcoder, StateTranscoder) else None
        )
        self.recorder = recorder
        #: Event class -> its topic and class version (as the mapper finds them).
        self.classes: dict[type, tuple[str, int]] = {}

    @classmethod
    def of(cls, mapper: Mapper[Any], recorder: Recorder) -> SQLiteBatchStore | None:
        """The batch store for this mapper and recorder, or None if it is not a plain
        SQLite process recorder of text ids (then eventsourcing's store writes)."""
        if (
            type(recorder) is SQLiteProcessRecorder
            and recorder.datastore.originator_id_type == "text"
            and mapper.cipher is None
            and mapper.compressor is None
        ):
            return cls(mapper, recorder)
        return None

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
