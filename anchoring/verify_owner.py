"""Owner-signed leaves: reading and checking an owner statement's envelope where a leaf or
a stored event holds one (docs/owner-statements.md).

A leaf of kind ``E`` whose envelope's body is an ``owner_statement`` is signed by the owner
key it names, not by an enrolled device; whether that key was the item's owner is decided
by the item's own history (``domain/ownership.py``).
"""

from __future__ import annotations

from anchoring.leaves import read_envelope
from domain.ownership import OwnerStatement
from streams.envelope import Envelope
from streams.errors import SerializationError
from streams.owner_envelope import is_owner_body, open_statement

__all__ = ["is_owner_envelope", "open_owner", "stored_statement_problem"]


def is_owner_envelope(envelope: Envelope) -> bool:
    return is_owner_body(envelope.body)


def open_owner(message: bytes) -> OwnerStatement:
    """The statement of a canonical owner-signed envelope whose checks pass, else
    :class:`SerializationError` with the stable code."""
    return open_statement(read_envelope(message))


def stored_statement_problem(envelope: bytes | None, statement: OwnerStatement) -> str | None:
    """Why a stored owner statement does not match its envelope (None: it does)."""
    if envelope is None:
        return "its envelope is missing"
    try:
        signed = open_owner(envelope)
    except SerializationError as e:
        return f"its envelope does not verify: {e.code}: {e.reason}"
    if signed != statement:
        return "its decoded statement differs from its envelope"
    return None
