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

Tag claims (``TagClaim.Claimed``, one per commissioned tag) have a fast path of the same
kind, :func:`fast_tag_claim`: the timestamp and the item id are sliced out where the
application writes them, the event is built from them, and it is accepted only if the
application writes exactly the stored state for it.
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
from domain.tags import TagClaim
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
#: A tag claim's stored topic, its aggregate's, and what its state holds between the
#: timestamp's text and the item id's (the JSON the transcoder writes; checked whole).
_TAG_CLAIMED = topic_of(TagClaim.Claimed)
_TAG_TOPIC = topic_of(TagClaim)
_TAG_MIDDLE = b'"},"originator_topic":"' + _TAG_TOPIC.encode() + b'","item_id":"'
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
    if kind is None or not _plain(mapper, n) or not state.endswith(ENVELOPE_TAIL):
        return None
    assert isinstance(transcoder, JSONTranscoder) and type(state) is bytes
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


def _plain(mapper: Mapper[Any], n: Notification) -> bool:
    """Whether the record is stored as a fast path reads it: neither encrypted nor
    compressed, a ``str`` id, a ``bytes`` state of the JSON transcoder, the timestamp
    first."""
    return (
        mapper.cipher is None
        and mapper.compressor is None
        and type(n.originator_id) is str
        and type(n.state) is bytes
        and isinstance(mapper.transcoder, JSONTranscoder)
        and n.state.startswith(_TIMESTAMP)
    )


def fast_tag_claim(mapper: Mapper[Any], n: Notification) -> Any | None:
    """The event of a tag claim record, if its stored bytes are exactly what the
    application writes for the event built from its timestamp and item id; None: not
    shown here (the reference path decides)."""
    if (
        n.topic != _TAG_CLAIMED
        or type(n.originator_version) is not int
        or n.originator_version != 1
        or getattr(TagClaim.Claimed, "class_version", 1) != 1
        or not _plain(mapper, n)
    ):
        return None
    state, transcoder = n.state, mapper.transcoder
    assert isinstance(transcoder, JSONTranscoder)
    end = state.find(b'"', len(_TIMESTAMP))
    if end < 0 or not state.startswith(_TAG_MIDDLE, end) or not state.endswith(b'"}'):
        return None
    try:
        text = state[len(_TIMESTAMP) : end].decode()
        item_id = state[end + len(_TAG_MIDDLE) : -2].decode()
        timestamp = transcoder.names[DatetimeAsISO.name].decode(text)
    except Exception:
        return None
    fields: dict[str, Any] = {
        "timestamp": timestamp,
        "originator_topic": _TAG_TOPIC,
        "item_id": item_id,
    }
    if transcoder.encode(fields) != state:  # any other spelling: the reference's
        return None
    fields["originator_id"] = n.originator_id
    fields["originator_version"] = n.originator_version
    event = object.__new__(TagClaim.Claimed)  # as eventsourcing's mapper makes it
    object.__setattr__(event, "__dict__", fields)
    return event


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
