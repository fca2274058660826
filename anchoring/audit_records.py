"""The per-record checks of ``assay audit`` (anchoring/audit.py walks the stores).

A stored record must be exactly what its application writes for the event it decodes
to: :func:`decode_record` decodes it, re-encodes the event and compares every stored
column, checks the event's fields against its class (present, of the annotated type)
and that a created event names its aggregate's topic at version 1. Records written
before an optional field existed may lack it.

:class:`LedgerChecks` holds what the audit learns from the ledger's records as it reads
them in notification order: every aggregate's versions must run 1, 2, 3, …; party
events enrol device keys; an item event's decoded custody copy must be its envelope's
body, and the envelope must carry a valid signature of a device enrolled earlier; a
tag claim must name an item whose commissioning carries that tag.

Every failed check raises :class:`Divergence`, its message naming the record.
"""

from __future__ import annotations

import functools
import hashlib
import types
import typing
from dataclasses import MISSING, dataclass, fields, is_dataclass
from typing import Any

from eventsourcing.domain import CanInitAggregate
from eventsourcing.persistence import Mapper, Notification

from anchoring.audit_read import SignedCopy, fast_signed_record, fast_tag_claim
from anchoring.audit_signatures import SignatureQueue, Ticket
from anchoring.leaves import read_envelope
from anchoring.verify_owner import stored_statement_problem
from domain.kinds import RULES
from domain.tags import TAG_PREFIX
from ledger.records import (
    ItemRecord,
    is_device_enrolment,
    is_item_topic,
    is_party_topic,
    is_tag_topic,
    item_record,
)
from streams.ed25519 import PublicKey, UnusableKey
from streams.envelope import Envelope, read_body
from streams.keys import verify_signature

#: An item record whose custody copy and signature are still to check: notification,
#: event, where, its envelope if the fast path opened it, the device it names as
#: enrolled when the record was read, with its signature's verdict to come, and its
#: ``item_record`` (None: that raised, and raises again where it is needed).
Pending = tuple["_Device", Ticket]
Signed = tuple[Notification, Any, str, SignedCopy | None, Pending | None, ItemRecord | None]


class Divergence(Exception):
    """Where the stores differ from what they must hold; the message says where."""


def error_text(e: BaseException) -> str:
    return f"{type(e).__name__}: {e}"


def read_record(mapper: Mapper[Any], n: Notification, where: str) -> tuple[Any, SignedCopy | None]:
    """:func:`decode_record` of a ledger record (its event, or its divergence), and for a
    device-signed item event shown exact on the fast path (anchoring/audit_read.py), its
    opened envelope (a tag claim also has a fast path there): the one place the audit reads
    a stored ledger record."""
    fast = fast_signed_record(mapper, n)
    if fast is not None:
        return fast
    claim = fast_tag_claim(mapper, n)
    if claim is not None:
        return claim, None
    return decode_record(mapper, n, where), None


def decode_record(mapper: Mapper[Any], n: Notification, where: str) -> Any:
    """The event of a stored record that is exactly what the application would write for
    it: any other byte (JSON spelling, an unknown key, base64 the decoder tolerates) is a
    divergence, as is a created event with the wrong aggregate topic. A field with a class
    default may be absent: records written before it existed read as that default."""
    try:
        event = mapper.to_domain_event(n)
        again = mapper.to_stored_event(event)
    except Exception as e:
        raise Divergence(f"{where} cannot be read: {error_text(e)}") from None
    layout = _layout(type(event))
    if layout is not None:
        names, optional, typed = layout
        stored = vars(event).keys()
        if stored != names and stored | optional != names:
            odd = ", ".join(sorted(set(stored) ^ names))
            raise Divergence(f"{where}: its stored state has wrong or missing fields ({odd})")
        for name, hint, exact in typed:
            value = getattr(event, name)
            if type(value) is not exact and not _has_type(value, hint):
                raise Divergence(f"{where}: its {name} is a {type(value).__name__}, not a {hint}")
    for name in ("originator_id", "originator_version", "topic", "state"):
        if getattr(again, name) != getattr(n, name):
            raise Divergence(
                f"{where}: its stored {name} is not what the application writes for the "
                "event it decodes to (altered bytes)"
            )
    if isinstance(event, CanInitAggregate):
        aggregate_topic = n.topic.rpartition(".")[0]
        if getattr(event, "originator_topic", None) != aggregate_topic:
            raise Divergence(f"{where}: its originator_topic is not {aggregate_topic}")
        if n.originator_version != 1:
            raise Divergence(f"{where}: a created event at version {n.originator_version}")
    return event


@functools.cache
def _layout(
    cls: type,
) -> tuple[frozenset[str], frozenset[str], tuple[tuple[str, Any, type | None], ...]] | None:
    """What :func:`decode_record` checks of an event class, worked out once: its field
    names, those with a default, and each annotated field's hint with the one class a
    value may have without a closer look (None: every value gets :func:`_has_type`)."""
    if not is_dataclass(cls):
        return None
    names = frozenset(f.name for f in fields(cls))
    optional = frozenset(f.name for f in fields(cls) if f.default is not MISSING)
    typed = tuple(
        (name, hint, hint if isinstance(hint, type) and typing.get_origin(hint) is None else None)
        for name, hint in _hints(cls).items()
        if name in names
    )
    return names, optional & names, typed


@functools.cache
def _hints(cls: type) -> dict[str, Any]:
    try:
        return typing.get_type_hints(cls)
    except Exception:  # an annotation this module cannot resolve: no type checks for it
        return {}


def _has_type(value: object, hint: Any) -> bool:
    """``isinstance`` for the annotations of stored events (classes, ``X | None``, generic
    containers by their origin); anything else passes."""
    origin = typing.get_origin(hint)
    if origin is typing.Union or origin is types.UnionType:
        return any(_has_type(value, arg) for arg in typing.get_args(hint))
    if origin is not None:
        return not isinstance(origin, type) or isinstance(value, origin)
    if hint is None or hint is type(None):
        return value is None
    return not isinstance(hint, type) or isinstance(value, hint)


@dataclass
class _Device:
    public_key: str
    where: str
    #: The key, checked once and kept for the device's every signature (None: unusable,
    #: or not yet needed).
    key: PublicKey | None = None

    def usable_key(self) -> PublicKey | None:
        if self.key is None:
            try:
                self.key = PublicKey(bytes.fromhex(self.public_key))
            except (UnusableKey, ValueError):
                return None
        return self.key

    def verifies(self, message: bytes, signature: bytes) -> bool:
        key = self.usable_key()
        return key is not None and key.verify(message, signature)


class LedgerChecks:
    """What the ledger's records, read in notification order, must agree on."""

    def __init__(self, mapper: Mapper[Any]) -> None:
        self.mapper = mapper
        self.versions: dict[str, int] = {}  # of every aggregate in the ledger
        self.devices: dict[tuple[str, str], _Device] = {}
        self.party_events: dict[str, list[str]] = {}
        # Tag claims not yet met by a commissioning checked after them, by (item id, tag
        # uid): where each was read, in ledger order (a claim leaves when its item's
        # commissioning is checked, in the same block as a rule). The commissionings
        # checked so far, each as a 16-byte digest of (item id, tag uid) rather than its
        # strings: the audit's memory per item.
        self.claims: dict[tuple[str, str], list[tuple[int, str]]] = {}
        self.commissioned: set[bytes] = set()
        # Item events whose custody copies and signatures are still to check: the walk
        # checks them after the leaves, so an edited envelope is reported as the leaf it
        # changes. Each keeps its opened envelope if the fast path read it.
        self.signed_copies: list[Signed] = []
        # Their signatures, verified on other threads meanwhile (anchoring/audit_signatures.py).
        self.signatures = SignatureQueue()
        # The ``item_record`` of the last item event checked, made once for its leaf and
        # its signature check (None: that raised; each raises it again where it did).
        self.record: ItemRecord | None = None

    def check(self, n: Notification, where: str) -> Any:
        """Checks every ledger notification gets, sealed or not; returns its event."""
        event, opened = read_record(self.mapper, n, where)
        aggregate = str(n.originator_id)
        previous = self.versions.get(aggregate, 0)
        if n.originator_version > previous + 1:
            raise Divergence(
                f"{where}: {aggregate} v{previous + 1} is missing before it (a record's "
                "id, version or notification id was altered, or it was deleted)"
            )
        if n.originator_version <= previous:
            raise Divergence(f"{where}: {aggregate} v{previous} came before it")
        self.versions[aggregate] = n.originator_version
        if is_item_topic(n.topic):
            try:
                self.record = item_record(event, aggregate, n.originator_version)
            except Exception:
                self.record = None
            pending = None if opened is None else self._submit(opened.envelope)
            self.signed_copies.append((n, event, where, opened, pending, self.record))
        elif is_party_topic(n.topic):
            self.party_events.setdefault(aggregate, []).append(
                f"{aggregate} v{n.originator_version}"
            )
            if is_device_enrolment(event):
                self.devices[(aggregate, event.device_id)] = _Device(
                    event.public_key, f"ledger event {n.id} ({aggregate} v{n.originator_version})"
                )
        elif is_tag_topic(n.topic):
            claim = (event.item_id, aggregate.removeprefix(TAG_PREFIX))
            self.claims.setdefault(claim, []).append((n.id, where))
        return event

    def item_record(self, event: Any, item_id: str, version: int) -> ItemRecord:
        """The ``item_record`` of an item event: the one its check made, if it is the event
        checked last (else made here; if it raised there, it raises again)."""
        made = self.record
        if made is not None and made.version == version and made.item_id == item_id:
            return made
        return item_record(event, item_id, version)

    def _submit(self, opened: Envelope) -> Pending | None:
        """Start verifying the signature of an envelope the fast path opened, if a device
        it names is enrolled with a usable key (:meth:`check_signed` decides, as ever)."""
        device = self.devices.get((opened.party_id, opened.device_id))
        key = None if device is None else device.usable_key()
        if device is None or key is None:
            return None
        return device, self.signatures.submit(key, opened.body, opened.signature)

    def take_signed(self) -> list[Signed]:
        """The item events read since the last call, to pass to :meth:`check_signed`."""
        out, self.signed_copies = self.signed_copies, []
        self.signatures.flush()
        return out

    def check_signed(
        self,
        n: Notification,
        event: Any,
        where: str,
        fast: SignedCopy | None = None,
        pending: Pending | None = None,
        record: ItemRecord | None = None,
    ) -> None:
        """An item event's decoded custody copy must be its envelope's body, and the
        envelope must carry a valid signature of an enrolled device (``fast``: the
        envelope as the fast path opened it, its body the event's copy; ``pending``: its
        signature's verdict under the key of the device then enrolled; ``record``: its
        ``item_record``, if made already)."""
        if record is None:
            record = item_record(event)
        statement = getattr(event, "statement", None)
        if statement is not None:  # signed by an owner key, not a device
            problem = stored_statement_problem(record.envelope, statement)
            if problem is not None:
                raise Divergence(f"{where}: owner statement: {problem}")
            return
        copy, envelope = record.report, record.envelope
        if (copy is None) != (envelope is None) and (
            envelope is not None or record.type.own_report
        ):
            # A flag may cite an event without keeping its envelope (impossible_travel,
            # rests_on_declared: the cited event's envelope is its own leaf).
            raise Divergence(f"{where}: evidence without its envelope or the reverse")
        if copy is None or envelope is None:
            if record.type.own_report:
                raise Divergence(f"{where}: its report is missing")
            return
        if record.type.own_report and copy.item_id != n.originator_id:
            raise Divergence(f"{where}: its custody event is for {copy.item_id}")
        if fast is not None:
            opened, signed = fast.envelope, fast.custody
        else:
            try:
                opened = read_envelope(envelope)
                signed = read_body(opened)
            except Exception as e:
                raise Divergence(f"{where}: its envelope cannot be read: {error_text(e)}") from None
        # (on the fast path the copy is the signed event itself: equal, without comparing)
        if (copy is not signed and copy != signed) or (opened.party_id, opened.device_id) != (
            signed.party_id,
            signed.device_id,
        ):
            raise Divergence(f"{where}: its decoded custody copy differs from its envelope")
        device = self.devices.get((opened.party_id, opened.device_id))
        if device is None:
            known = ", ".join(self.party_events.get(opened.party_id, [])) or "none"
            raise Divergence(
                f"{where}: signed by {opened.party_id}/{opened.device_id}, which no earlier "
                f"party event enrols (events of {opened.party_id}: {known})"
            )
        try:
            if pending is not None and pending[0] is device:
                valid = SignatureQueue.verdict(pending[1])  # the same key, body and signature
            else:
                valid = device.verifies(opened.body, opened.signature)
            if not valid:
                # the same rules, and the same failure, as every other check of a signature
                verify_signature(bytes.fromhex(device.public_key), opened.body, opened.signature)
        except Exception:
            raise Divergence(
                f"{where}: its signature does not verify with the key of "
                f"{opened.party_id}/{opened.device_id} enrolled by {device.where}"
            ) from None
        if record.type.accepted and RULES[signed.kind].creates and signed.tag_uid:
            self.commissioned.add(_claim_key(signed.item_id, signed.tag_uid))
            self.claims.pop((signed.item_id, signed.tag_uid), None)

    def check_claims(self) -> None:
        """After the last record: every tag claim names a commissioning that carries it."""
        unmet = [
            (at, where, item_id, tag)
            for (item_id, tag), claims in self.claims.items()
            if _claim_key(item_id, tag) not in self.commissioned  # checked before the claim
            for at, where in claims
        ]
        if unmet:  # the first in ledger order, as if every claim were checked now
            _, where, item_id, tag = min(unmet)
            raise Divergence(
                f"{where}: claims tag {tag} for {item_id}, which no commissioning of "
                f"{item_id} carries"
            )


def _claim_key(item_id: str, tag_uid: str) -> bytes:
    """An (item id, tag uid) pair as 16 bytes (length-prefixed, so no two pairs share
    their input): what the audit keeps per commissioning."""
    item = item_id.encode("utf-8", "surrogatepass")
    tag = tag_uid.encode("utf-8", "surrogatepass")
    return hashlib.blake2b(len(item).to_bytes(8, "big") + item + tag, digest_size=16).digest()
