"""What an owner-signed record passes before the ledger sees it (the gate's owner path).

Where a device's envelope is checked against the key its party enrolled, an owner's is
checked against the key it names (``streams.owner_envelope.open_statement``: no party, a
usable key, the signature over the exact body bytes, a statement naming the same key), and
the message key must be the item id. Whether that key is the item's owner (or may claim
it) is the ledger's rule (``domain/ownership.py``).
"""

from __future__ import annotations

from typing import Any

from domain.ownership import OwnerReport
from streams.avro import SchemaRegistry
from streams.envelope import Envelope
from streams.errors import SerializationError
from streams.gate import Rejected
from streams.owner_envelope import open_statement


def verify_owner(
    record: Any, envelope: Envelope, registry: SchemaRegistry | None = None
) -> OwnerReport:
    """The owner report a record carries, or :class:`Rejected` with a stable code."""
    try:
        statement = open_statement(envelope, registry)
    except SerializationError as e:
        raise Rejected(e.code, e.reason) from None
    if record.key is not None and record.key != statement.item_id.encode():
        raise Rejected("key_mismatch", "message key is not the statement's item id")
    return OwnerReport(statement, record.value or b"")
