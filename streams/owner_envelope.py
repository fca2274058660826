"""Owner-signed envelopes: an owner statement in Avro single-object encoding, signed by the
owner key it names, in the same ``signed_envelope`` record a device's event travels in.

    signed_envelope { party_id = "" (no party), device_id = the owner key (64 hex),
                      body = owner_statement v1 single-object bytes,
                      signature = Ed25519(owner key, body) }

The signature covers the exact body bytes, as a device's does; a reader tells the two
apart by the body's schema fingerprint (docs/owner-statements.md is the normative text).
"""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime
from typing import Any

from domain.owner_statement import OPTIONAL_FIELDS, OwnerKind, OwnerStatement
from streams.avro import HEADER_LEN, MAGIC, SchemaRegistry, default_registry
from streams.ed25519 import PublicKey, enrolment_key_problem, public_key_problem
from streams.envelope import ENVELOPE_SCHEMA, Envelope
from streams.errors import SerializationError
from streams.owner_keys import OwnerKey

STATEMENT_SCHEMA = "owner_statement"
#: The envelope's party id for an owner-signed statement: no party has an empty id.
OWNER_PARTY = ""
_KEY_HEX = re.compile(r"[0-9a-f]{64}")


def is_owner_body(body: bytes, registry: SchemaRegistry | None = None) -> bool:
    """The body is an owner statement (by its writer schema's fingerprint)."""
    if len(body) < HEADER_LEN or body[:2] != MAGIC:
        return False
    writer = (registry or default_registry()).by_fingerprint.get(bytes(body[2:HEADER_LEN]))
    return writer is not None and writer.name == STATEMENT_SCHEMA


def statement_to_avro(statement: OwnerStatement) -> dict[str, Any]:
    record: dict[str, Any] = statement.to_primitive()
    record["occurred_at"] = statement.occurred_at
    for name in OPTIONAL_FIELDS:
        record.setdefault(name, None)
    return record


def statement_from_avro(record: dict[str, Any]) -> OwnerStatement:
    try:
        occurred = record["occurred_at"]
        if isinstance(occurred, datetime):
            occurred = occurred.astimezone(UTC) if occurred.tzinfo else occurred.replace(tzinfo=UTC)
        return OwnerStatement.from_primitive({**record, "occurred_at": occurred})
    except (KeyError, ValueError, TypeError) as e:
        raise SerializationError(
            "invalid_statement", f"owner statement fields are invalid: {e}"
        ) from None


def encode_statement(statement: OwnerStatement, registry: SchemaRegistry | None = None) -> bytes:
    """The single-object body bytes an owner signs."""
    return (registry or default_registry()).encode(STATEMENT_SCHEMA, statement_to_avro(statement))


def wrap(
    owner_key_hex: str, body: bytes, signature: bytes, registry: SchemaRegistry | None = None
) -> bytes:
    """The envelope bytes for a body and its signature (made by a browser, for instance)."""
    envelope = {
        "party_id": OWNER_PARTY,
        "device_id": owner_key_hex,
        "body": body,
        "signature": signature,
    }
    return (registry or default_registry()).encode(ENVELOPE_SCHEMA, envelope)


def new_statement(
    key: OwnerKey, kind: OwnerKind | str, item_id: str, after_version: int, **fields: Any
) -> OwnerStatement:
    """A statement by ``key`` with a fresh id and the current time."""
    return OwnerStatement(
        statement_id=fields.pop("statement_id", None) or str(uuid.uuid4()),
        item_id=item_id,
        kind=OwnerKind(kind),
        owner_key=key.public_key_hex,
        after_version=after_version,
        occurred_at=fields.pop("occurred_at", None) or datetime.now(UTC),
        **fields,
    )


def seal_statement(
    statement: OwnerStatement, key: OwnerKey, registry: SchemaRegistry | None = None
) -> bytes:
    """Encode and sign a statement with the owner key it names."""
    if statement.owner_key != key.public_key_hex:
        raise ValueError("a statement is signed by the owner key it names")
    body = encode_statement(statement, registry)
    return wrap(key.public_key_hex, body, key.sign(body), registry)


def read_statement(envelope: Envelope, registry: SchemaRegistry | None = None) -> OwnerStatement:
    """The statement a body holds, unchecked (:func:`open_statement` checks it)."""
    try:
        record = (registry or default_registry()).decode(STATEMENT_SCHEMA, envelope.body)
    except OverflowError:  # a timestamp beyond year 9999
        raise SerializationError("invalid_statement", "occurred_at is out of range") from None
    return statement_from_avro(record)


def open_statement(
    envelope: Envelope, registry: SchemaRegistry | None = None, *, enrolment: bool = True
) -> OwnerStatement:
    """The statement of an owner-signed envelope whose checks pass (§ "Verifying" of
    docs/owner-statements.md), else :class:`SerializationError` with the stable code:
    ``envelope_mismatch``, ``invalid_owner_key``, ``bad_signature``, ``invalid_statement``.

    With ``enrolment`` (the ingest) the key must also be a point of the prime-order
    subgroup, as every key made from a seed is; a verifier applies the verification rules
    of docs/proof-bundle.md §4.8 only, as it does to device keys."""
    if envelope.party_id != OWNER_PARTY:
        raise SerializationError(
            "envelope_mismatch", "an owner statement's envelope names no party (party_id is empty)"
        )
    key_hex = envelope.device_id
    if not _KEY_HEX.fullmatch(key_hex):
        raise SerializationError("invalid_owner_key", "an owner key is 64 lowercase hex digits")
    check = enrolment_key_problem if enrolment else public_key_problem
    problem = check(bytes.fromhex(key_hex))
    if problem is not None:
        raise SerializationError("invalid_owner_key", f"not a usable Ed25519 owner key: {problem}")
    if not PublicKey(bytes.fromhex(key_hex)).verify(envelope.body, envelope.signature):
        raise SerializationError(
            "bad_signature", "the owner statement's signature does not verify with the key it names"
        )
    try:
        statement = read_statement(envelope, registry)
    except SerializationError as e:
        if e.code == "invalid_statement":
            raise
        raise SerializationError("invalid_statement", e.reason) from None
    if any("\x00" in str(v) for v in statement.to_primitive().values()):
        raise SerializationError(
            "invalid_statement", "a text field of the statement contains NUL (U+0000)"
        )
    if statement.owner_key != key_hex:
        raise SerializationError("envelope_mismatch", "body and envelope name different owner keys")
    return statement
