"""The ingest's gate: what one Kafka record passes before the ledger sees it.

The size limit, the envelope, the enrolled device, the signature over the exact body
bytes, the body, and the agreement of all of them; anything else ends as
:class:`Rejected` with a stable code and a reason, which the ingest writes to
``custody.rejected`` with the original bytes.
"""

from __future__ import annotations

from dataclasses import fields
from functools import lru_cache
from operator import itemgetter
from typing import Any

from domain.custody import CustodyEvent
from domain.errors import DomainError
from domain.ownership import OwnerReport
from domain.parties import Party
from ledger.application import CustodyLedger, Report
from streams.avro import SchemaRegistry, default_registry
from streams.ed25519 import PublicKey, UnusableKey
from streams.envelope import MAX_MESSAGE_BYTES, open_envelope, read_body
from streams.errors import SerializationError
from streams.owner_envelope import is_owner_body


class Rejected(Exception):
    """A record the gate refuses: ``code`` is stable (dead letters carry it), ``reason``
    says why."""

    def __init__(self, code: str, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


class Gate:
    """What one record passes before the ledger sees it: size limit, envelope, enrolled
    device, signature over the exact body bytes, body, and agreement of all of them.

    No I/O but reading parties from the ledger; hostile bytes end as :class:`Rejected`.
    """

    def __init__(
        self,
        ledger: CustodyLedger,
        registry: SchemaRegistry | None = None,
        max_message_bytes: int = MAX_MESSAGE_BYTES,
    ) -> None:
        if max_message_bytes < 1:
            raise ValueError("max_message_bytes must be at least 1")
        self.ledger = ledger
        self.registry = registry or default_registry()
        self.max_message_bytes = max_message_bytes

    def verify(self, record: Any, parties: dict[str, Party | None]) -> Report | OwnerReport:
        """The report to apply, or :class:`Rejected` with a stable code and a reason."""
        value: bytes = record.value or b""
        size = len(value) + len(record.key or b"")
        if size > self.max_message_bytes:
            # Before decoding: nothing of an oversized message is parsed or allocated.
            raise Rejected(
                "oversized",
                f"message is {size} bytes (key and value), over the limit of "
                f"{self.max_message_bytes}",
            )
        try:
            envelope = open_envelope(value, self.registry)
        except SerializationError as e:
            raise Rejected(e.code, e.reason) from None
        if is_owner_body(envelope.body, self.registry):
            # Signed by an item's owner key, not a device: streams/owner_gate.py.
            return verify_owner(record, envelope, self.registry)
        party = self._party(envelope.party_id, parties)
        if party is None:
            raise Rejected("unknown_party", f"party {envelope.party_id!r} is not registered")
        try:
            device = party.check_device_enrolled(envelope.device_id)
        except DomainError as e:
            raise Rejected(e.rule, e.reason) from None
        key = _verify_key(device.public_key)
        if key is None or not key.verify(envelope.body, envelope.signature):
            raise Rejected(
                "bad_signature",
                f"signature does not verify with the key of device {envelope.device_id!r}",
            )
        try:
            custody = read_body(envelope, self.registry)
        except SerializationError as e:
            raise Rejected(e.code, e.reason) from None
        if _has_nul(custody):
            # SQLite would keep it, PostgreSQL cannot: refused alike on every event store.
            raise Rejected("invalid_event", "a text field of the event contains NUL (U+0000)")
        if (custody.party_id, custody.device_id) != (envelope.party_id, envelope.device_id):
            raise Rejected("envelope_mismatch", "body and envelope name different devices")
        if record.key is not None and record.key != custody.item_id.encode():
            raise Rejected("key_mismatch", "message key is not the event's item id")
        return Report(custody, value)

    def _party(self, party_id: str, cache: dict[str, Party | None]) -> Party | None:
        if party_id not in cache:
            try:
                # No party id holds NUL (and PostgreSQL cannot even look one up).
                cache[party_id] = None if "\x00" in party_id else self.ledger.get_party(party_id)
            except DomainError:
                cache[party_id] = None
        return cache[party_id]


@lru_cache(maxsize=4096)
def _verify_key(public_key_hex: str) -> PublicKey | None:
    """The enrolled key of a device, parsed once (None: not a usable key, so nothing it
    is said to have signed verifies; streams.keys.verify_signature says the same)."""
    try:
        return PublicKey(bytes.fromhex(public_key_hex))
    except (UnusableKey, ValueError):
        return None


#: The event's text fields (``str`` or ``str | None``), read from its members in one call.
_TEXTS = itemgetter(*(f.name for f in fields(CustodyEvent) if f.type in ("str", "str | None")))


def _has_nul(custody: CustodyEvent) -> bool:
    # The event's text fields and its attributes. Its enumerations (StrEnum members, not
    # of type str) are skipped: their values are fixed names, none with NUL.
    try:
        # One join of the set text fields (None and "" left out) and one search: the usual
        # event has no NUL, and that needs no look at each member.
        texts = "".join(filter(None, _TEXTS(vars(custody))))
    except TypeError:  # a text field holding something else (not made from a body)
        texts = "\x00"
    if "\x00" in texts:
        return _has_nul_each(custody)  # member by member, as it decides
    attributes = custody.attributes
    return bool(attributes) and any("\x00" in k or "\x00" in v for k, v in attributes.items())


def _has_nul_each(custody: CustodyEvent) -> bool:
    """Any member of type ``str`` (a subclass is not looked into) or attribute with NUL."""
    for value in vars(custody).values():
        if type(value) is str and "\x00" in value:
            return True
    return any("\x00" in k or "\x00" in v for k, v in custody.attributes.items())


# Last: streams.owner_gate imports Rejected from this module.
from streams.owner_gate import verify_owner  # noqa: E402
