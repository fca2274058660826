"""JSON transcodings for the domain's value types inside stored events."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable
from datetime import UTC, datetime
from json.encoder import encode_basestring
from typing import Any

from assay_headmap import StateSpeller
from eventsourcing.persistence import DatetimeAsISO, JSONTranscoder, Transcoding

from domain.custody import CORRECTION_FIELDS, CustodyEvent
from domain.owner_statement import OwnerStatement


class BytesAsBase64(Transcoding):
    type = bytes
    name = "bytes_b64"

    def encode(self, obj: bytes) -> str:
        return base64.b64encode(obj).decode("ascii")

    def decode(self, data: str) -> bytes:
        return base64.b64decode(data)


class CustodyEventAsDict(Transcoding):
    type = CustodyEvent
    name = "custody_event"

    def encode(self, obj: CustodyEvent) -> dict[str, Any]:
        return obj.to_primitive()

    def decode(self, data: dict[str, Any]) -> CustodyEvent:
        return CustodyEvent.from_primitive(data)


class OwnerStatementAsDict(Transcoding):
    type = OwnerStatement
    name = "owner_statement"

    def encode(self, obj: OwnerStatement) -> dict[str, Any]:
        return obj.to_primitive()

    def decode(self, data: dict[str, Any]) -> OwnerStatement:
        return OwnerStatement.from_primitive(data)


def _number(value: float | None) -> str | None:
    """A coordinate as the JSON encoder writes it, or None if not a plain finite float."""
    if value is None:
        return "null"
    if type(value) is not float or value != value or value in (float("inf"), float("-inf")):
        return None
    return float.__repr__(value)


_NULL = "null"


def custody_json(event: CustodyEvent) -> str | None:
    """``json.dumps(event.to_primitive(), separators=(",", ":"), ensure_ascii=False)``,
    written straight from the event's fields for an everyday event (no correction fields,
    commitments or claim code; text attributes), else None: then the caller encodes the
    primitive form. tests/ledger/test_transcodings.py binds the two spellings."""
    if event.corrects or event.commitments or event.claim_digest:
        return None
    latitude, longitude = _number(event.latitude), _number(event.longitude)
    if latitude is None or longitude is None:
        return None
    text = encode_basestring  # of a str (an enumeration here is a StrEnum: its value)
    attributes = event.attributes
    try:
        if attributes:
            pairs = sorted(attributes.items())
            if any(type(k) is not str or type(v) is not str for k, v in pairs):
                return None
            spelt = "{" + ",".join(f"{text(k)}:{text(v)}" for k, v in pairs) + "}"
        else:
            spelt = "{}"
        e = event
        counterparty, tag_uid, brand, model = e.counterparty, e.tag_uid, e.brand, e.model
        serial, verdict, certificate, buyer_ref = e.serial, e.verdict, e.certificate, e.buyer_ref
        reason = e.reason
        return (
            f'{{"event_id":{text(e.event_id)},"item_id":{text(e.item_id)},'
            f'"kind":{text(e.kind)},"party_id":{text(e.party_id)},'
            f'"device_id":{text(e.device_id)},"location":{text(e.location)},'
            f'"occurred_at":"{e.occurred_at.isoformat()}",'  # digits and -:+T. only
            f'"counterparty":{_NULL if counterparty is None else text(counterparty)},'
            f'"tag_uid":{_NULL if tag_uid is None else text(tag_uid)},'
            f'"brand":{_NULL if brand is None else text(brand)},'
            f'"model":{_NULL if model is None else text(model)},'
            f'"serial":{_NULL if serial is None else text(serial)},'
            f'"verdict":{text(verdict) if verdict else _NULL},'
            f'"certificate":{_NULL if certificate is None else text(certificate)},'
            f'"buyer_ref":{_NULL if buyer_ref is None else text(buyer_ref)},'
            f'"reason":{text(reason) if reason else _NULL},'
            f'"latitude":{latitude},"longitude":{longitude},"attributes":{spelt}}}'
        )
    except TypeError:  # a text field holding something else: the encoder decides
        return None


#: An everyday custody event's members in the order ``to_primitive`` writes them, each
#: with how it is spelt (native/src/statejson.rs: a text, an optional text, an enumeration
#: or null, a UTC datetime, a finite float or null, a text map sorted by key), and the
#: members that must all be unset for an event to be an everyday one (``custody_json``).
CUSTODY_MEMBERS: tuple[tuple[str, str], ...] = (
    *((name, "text") for name in ("event_id", "item_id", "kind", "party_id", "device_id")),
    ("location", "text"),
    ("occurred_at", "time"),
    *((name, "optional_text") for name in ("counterparty", "tag_uid", "brand", "model")),
    ("serial", "optional_text"),
    ("verdict", "choice"),
    ("certificate", "optional_text"),
    ("buyer_ref", "optional_text"),
    ("reason", "choice"),
    ("latitude", "number"),
    ("longitude", "number"),
    ("attributes", "text_map"),
)
UNEVERYDAY = (*CORRECTION_FIELDS, "commitments", "claim_digest")


def _spell_bytes(value: bytes) -> str:
    return '"' + binascii.b2a_base64(value, newline=False).decode("ascii") + '"'


def _spell_datetime(value: datetime) -> str:
    return '"' + value.isoformat() + '"'  # digits and -:+T. only


#: The ledger's own transcodings, each with the spelling of its ``_data_`` (None: the
#: encoder decides).
_SPELLERS: dict[type[Transcoding], Callable[[Any], str | None]] = {
    BytesAsBase64: _spell_bytes,
    CustodyEventAsDict: custody_json,
    DatetimeAsISO: _spell_datetime,
}


#: Value types JSON writes as they are.
_PLAIN = frozenset({str, int, float, bool, type(None)})


class StateTranscoder(JSONTranscoder):
    """eventsourcing's JSON transcoder, byte for byte, faster on the ledger's own events.

    The base encoder calls back into Python for every transcoded value. An event state
    whose members are text, null, datetimes, bytes or an everyday custody event is
    instead spelt here member by member, each as the base spells it (a transcoded value
    as ``{"_type_": name, "_data_": …}``), and any other state by the C encoder in one
    call if it holds only plain values; anything else takes the base path.
    """

    def __init__(self) -> None:
        super().__init__()
        self._plain = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False)
        #: Member name -> its spelling with the colon; type -> how its values are spelt.
        self._names: dict[str, str] = {}
        self._spellers: dict[type, tuple[str, Callable[[Any], str | None]]] = {}
        #: The native spelling of the same states, once the three types it spells have
        #: their transcodings here.
        self._native: StateSpeller | None = None

    def register(self, transcoding: Transcoding) -> None:
        super().register(transcoding)
        self._spellers.pop(transcoding.type, None)
        speller = _SPELLERS.get(type(transcoding))
        if speller is not None and transcoding.type in (datetime, bytes, CustodyEvent):
            head = f'{{"_type_":{encode_basestring(transcoding.name)},"_data_":'
            self._spellers[transcoding.type] = (head, speller)
        self._native = self._native_speller()

    def _native_speller(self) -> StateSpeller | None:
        heads = [self._spellers.get(kind) for kind in (CustodyEvent, datetime, bytes)]
        if any(head is None for head in heads):
            return None
        custody, at, raw = (head[0] for head in heads if head is not None)
        return StateSpeller(
            CustodyEvent, datetime, UTC, (custody, at, raw), list(CUSTODY_MEMBERS), list(UNEVERYDAY)
        )

    def encode(self, obj: Any) -> bytes:
        return self.encode_without(obj, ()) if type(obj) is dict else super().encode(obj)

    def encode_without(self, state: dict[str, Any], left_out: tuple[str, ...]) -> bytes:
        """``encode`` of ``state`` without the members named in ``left_out`` (an event's
        attributes less those a stored record keeps in columns), without copying it."""
        # (a dict subclass may keep its keys in an order of its own: the encoder's way)
        if self._native is not None and type(state) is dict:
            native = self._native(state, left_out)
            if native is not None:
                return native
        if left_out:
            state = {name: value for name, value in state.items() if name not in left_out}
        spelt = self._spell(state)
        if spelt is not None:
            return spelt.encode("utf8")
        return super().encode(state)

    def _spell(self, state: dict[str, Any]) -> str | None:
        names, spellers = self._names, self._spellers
        members = []
        for name, value in state.items():
            if type(name) is not str:
                return None
            kind = type(value)
            if kind is str:
                text = encode_basestring(value)
            elif value is None:
                text = "null"
            else:
                speller = spellers.get(kind)
                if speller is None:
                    return self._flat(state)
                head, spell = speller
                data = spell(value)
                if data is None:
                    return self._flat(state)
                text = head + data + "}"
            spelt = names.get(name)
            if spelt is None:
                spelt = names[name] = encode_basestring(name) + ":"
            members.append(spelt + text)
        return "{" + ",".join(members) + "}"

    def _flat(self, state: dict[str, Any]) -> str | None:
        """The state written by the C encoder in one call, its transcoded members wrapped
        as the base wraps them; None if a member needs the base path."""
        flat: dict[str, Any] = {}
        for name, value in state.items():
            kind = type(value)
            if kind not in _PLAIN:
                transcoding = self.types.get(kind)
                if transcoding is None or kind not in _FLAT:
                    return None
                value = {"_type_": transcoding.name, "_data_": transcoding.encode(value)}
            flat[name] = value
        try:
            return self._plain.encode(flat)
        except TypeError:  # a value inside needs a transcoding after all
            return None


#: Types whose registered transcoding returns plain JSON values only.
_FLAT = frozenset({bytes, datetime, CustodyEvent})
