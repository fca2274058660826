"""The audit's fast path for device-signed item records (anchoring/audit_records.py's
``read_record``, the one place the audit reads a stored ledger record, tries it first).

The reference is :func:`~anchoring.audit_records.decode_record`: decode the record into
its event (every custody copy through ``CustodyEvent.from_primitive``), encode the event
again and compare every stored column. For the records that are most of every ledger, a
device-signed custody event (``Item.Commissioned``, ``Item.CustodyRecorded``), most of
that work is done twice: the audit decodes the same custody event from the signed
envelope, and requires the stored copy to equal it. :func:`fast_signed_record` therefore
builds the event from the envelope instead (the copy the record must hold) and accepts
the record only if the application writes exactly its stored bytes for that event. The
stored JSON is not parsed at all: the timestamp and the envelope are sliced out where the
application writes them (:func:`reference_pieces`; in one native pass, :func:`native_pieces`,
for the plain spelling), and the comparison of the whole state decides.

Fast accept, reference reject: the fast path only ever accepts; anything it does not
accept (another record type, a byte that differs, an unreadable envelope, a nested object
the transcoder would read as a transcoded value) goes through ``decode_record`` and the
later checks exactly as before, so every divergence and its message are unchanged. What
the fast path relies on is the stored codec's own round trip (``from_primitive`` of
``to_primitive`` of a custody event is that event, tests/domain/test_custody_event.py),
which eventsourcing needs anyway to load the aggregates it saved.

A new stored format (another transcoder, another layout) is not the fast path's: such
records take the reference path until this function learns them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from assay_headmap import SignedStateReader
from eventsourcing.persistence import DatetimeAsISO, JSONTranscoder, Mapper, Notification

from anchoring.fastread import plain_envelope, plain_envelope_header
from anchoring.leaves import read_envelope
from domain.custody import CustodyEvent
from domain.items import Item
from ledger.records import topic_of
from ledger.stored import ENVELOPE_MEMBER, ENVELOPE_TAIL
from ledger.transcodings import BytesAsBase64
from streams.envelope import Envelope, read_body

#: The device-signed item events, by stored topic: their class and whether it creates
#: the item (then the state names the aggregate's topic and the version is 1).
_SIGNED: dict[str, tuple[type[Any], bool]] = {
    topic_of(cls): (cls, created)
    for cls, created in ((Item.Commissioned, True), (Item.CustodyRecorded, False))
}
_ITEM_TOPIC = topic_of(Item)
#: The objects of a signed item event's state that the transcoder decodes as values:
#: its timestamp, custody copy and envelope (``"_type_"`` appears nowhere else in them,
#: not even in a string value, where the quotes would be escaped).
_TRANSCODED = 3
#: How its state begins: eventsourcing writes the timestamp first.
_TIMESTAMP = b'{"timestamp":{"_type_":"' + DatetimeAsISO.name.encode() + b'","_data_":"'
_MARKER = b'"_type_"'
#: The native reader of the pieces (:func:`native_pieces`), made once; [None]: none.
_readers: list[SignedStateReader | None] = []


@dataclass(frozen=True)
class SignedCopy:
    """A signed item event's envelope, opened, and the custody event its body holds."""

    envelope: Envelope
    custody: CustodyEvent


def fast_signed_record(mapper: Mapper[Any], n: Notification) -> tuple[Any, SignedCopy] | None:
    """The event of a device-signed item record built from its envelope, if its stored
    bytes are exactly what the application writes for that event; None: not shown here
    (the reference path decides)."""
    kind = _SIGNED.get(n.topic)
    transcoder = mapper.transcoder
    state = n.state
    if (
        kind is None
        or mapper.cipher is not None
        or mapper.compressor is not None
        or type(n.originator_id) is not str
        or type(state) is not bytes
        or not isinstance(transcoder, JSONTranscoder)
        or not state.startswith(_TIMESTAMP)
        or not state.endswith(ENVELOPE_TAIL)
    ):
        return None
    cls, created = kind
    if getattr(cls, "class_version", 1) != 1 or (created and n.originator_version != 1):
        return None
    pieces = native_pieces(transcoder, state) or reference_pieces(transcoder, state)
    if pieces is None:
        return None
    text, raw, opened = pieces
    try:
        timestamp = transcoder.names[DatetimeAsISO.name].decode(text)
        custody = read_body(opened)
    except Exception:
        return None
    fields: dict[str, Any] = {"timestamp": timestamp}
    if created:
        fields["originator_topic"] = _ITEM_TOPIC
    fields["custody"] = custody
    fields["envelope"] = raw
    if transcoder.encode(fields) != state:
        return None
    fields["originator_id"] = n.originator_id
    fields["originator_version"] = n.originator_version
    event = object.__new__(cls)  # as eventsourcing's mapper makes it
    object.__setattr__(event, "__dict__", fields)
    return event, SignedCopy(opened, custody)


Pieces = tuple[str, bytes, Envelope]


def reference_pieces(transcoder: JSONTranscoder, state: bytes) -> Pieces | None:
    """The timestamp's text, the envelope and the envelope opened, sliced out of a signed
    item record's state where the application writes them (None: not so, or not exactly
    what it writes: :func:`fast_signed_record` compares the whole state spelt again)."""
    # Where the values lie if the state is what the application writes; any other
    # spelling fails the comparison of the whole state.
    envelope_at = state.rfind(ENVELOPE_MEMBER)
    if envelope_at < 0 or state.count(_MARKER) != _TRANSCODED:  # the reference decodes
        return None  # another value
    try:
        text = state[len(_TIMESTAMP) : state.index(b'"', len(_TIMESTAMP))].decode()
        raw = transcoder.names[BytesAsBase64.name].decode(
            state[envelope_at + len(ENVELOPE_MEMBER) : -len(ENVELOPE_TAIL)].decode()
        )
        opened = plain_envelope(raw) or read_envelope(raw)
    except Exception:
        return None
    return text, raw, opened


def native_pieces(transcoder: JSONTranscoder, state: bytes) -> Pieces | None:
    """:func:`reference_pieces` in one native pass (native/src/signedstate.rs), for the
    plain spelling (canonical base64, an envelope :func:`plain_envelope` reads); None:
    ask the reference."""
    if type(transcoder.names.get(BytesAsBase64.name)) is not BytesAsBase64:
        return None
    if not _readers:
        header = plain_envelope_header()
        reader = (
            SignedStateReader(
                _TIMESTAMP, ENVELOPE_MEMBER, ENVELOPE_TAIL, _MARKER, _TRANSCODED, header
            )
            if header
            else None
        )
        _readers.append(reader)
    reader = _readers[0]
    got = None if reader is None else reader(state)
    if got is None:
        return None
    text, raw, party_id, device_id, body, signature = got
    return text, raw, Envelope(party_id, device_id, body, signature)
