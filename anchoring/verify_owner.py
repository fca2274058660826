"""Owner-signed leaves: reading and checking an owner statement's envelope where a leaf or
a stored event holds one (docs/owner-statements.md).

A leaf of kind ``E`` whose envelope's body is an ``owner_statement`` is signed by the owner
key it names, not by an enrolled device; whether that key was the item's owner is decided
by the item's own history (``domain/ownership.py``).
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping, Sequence
from typing import Any

from anchoring.leaves import read_envelope
from anchoring.verify_fields import same_json
from anchoring.verify_result import fail
from domain.kinds import RULES
from domain.owner_statement import VERSIONED, OwnerKind, OwnerStatement, fingerprint
from domain.privacy import digest_of
from streams.envelope import Envelope
from streams.errors import SerializationError
from streams.owner_envelope import is_owner_body, open_statement

__all__ = [
    "OwnerChain",
    "current_owner",
    "is_owner_envelope",
    "is_owner_leaf",
    "open_owner",
    "owner_summary",
    "stored_statement_problem",
]


def is_owner_envelope(envelope: Envelope) -> bool:
    return is_owner_body(envelope.body)


def open_owner(message: bytes) -> OwnerStatement:
    """The statement of a canonical owner-signed envelope whose checks pass (the key by
    the verification rules of §4.8), else :class:`SerializationError` with the stable
    code."""
    return open_statement(read_envelope(message), enrolment=False)


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


# ----- owner-signed events in a proof bundle ------------------------------------------------

#: Where an owner-signed envelope's empty party id puts a zero byte: the first field after
#: the 10-byte single-object header is ``party_id``, whose length varint is 0 only if empty.
_PARTY_LENGTH_AT = 10


def is_owner_leaf(entry: Mapping[str, Any], payload: bytes) -> bool:
    """The event is an owner-signed envelope (cheap test first: no device has an empty
    party id)."""
    if entry["leaf_kind"] != "E" or payload[_PARTY_LENGTH_AT : _PARTY_LENGTH_AT + 1] != b"\x00":
        return False
    try:
        return is_owner_envelope(read_envelope(payload))
    except SerializationError:
        return False


def owner_summary(statement: OwnerStatement) -> dict[str, Any]:
    """What a bundle shows of an owner statement: its signed fields, the signer's
    fingerprint, and ``"owner_statement": true`` to tell it from a custody event."""
    return {**statement.to_primitive(), "owner_statement": True, "signer": statement.fingerprint}


class OwnerChain:
    """The item's ownership as its verified history establishes it, event by event.

    A sale opens the claim its signed ``claim_digest`` commits to; a claim must open it
    (SHA-256(salt ‖ code)); every other statement must be signed by the key of the last
    accepted claim; a transfer or consignment names the version just before its own; any
    custody event that sets the item's status ends the ownership (docs/proof-bundle.md,
    "Owner-signed events")."""

    def __init__(self) -> None:
        self.owner: str | None = None
        self.since: str | None = None  # when the owner claimed the item
        self.open: str | None = None
        self.missing: str | None = None
        self.salts: dict[str, str] = {}  # every committed claim digest -> its salt

    def note_custody(self, summary: Mapping[str, Any]) -> None:
        kind = summary.get("kind")
        if "flag" in summary or not isinstance(kind, str) or kind not in _STATUS_KINDS:
            return
        digest, salt = summary.get("claim_digest"), summary.get("claim_salt")
        self.owner, self.missing = None, None
        self.open = digest if kind == "retail_selling" and isinstance(digest, str) else None
        if self.open is not None and isinstance(salt, str):
            self.salts.setdefault(self.open, salt)

    def check(
        self, entry: Mapping[str, Any], payload: bytes, item_id: str, version: int
    ) -> dict[str, Any]:
        try:
            statement = open_owner(payload)
        except SerializationError as e:
            step = "owner_signature" if e.code in _SIGNATURE_CODES else "envelope_format"
            fail(step, f"owner statement: {e.code}: {e.reason}")
        if statement.item_id != item_id:
            fail("item_mismatch", f"the owner statement is about {statement.item_id!r}")
        self._follow(statement, version)
        summary = owner_summary(statement)
        if not same_json(entry["summary"], summary):
            fail("summary_mismatch", "the summary differs from the signed owner statement")
        return summary

    def _follow(self, s: OwnerStatement, version: int) -> None:
        kind = s.kind
        if kind in VERSIONED and s.after_version != version - 1:
            fail(
                "owner_chain",
                f"the {kind.value} follows version {s.after_version}, not {version - 1}",
            )
        if s.after_version > version - 1:
            fail(
                "owner_chain", f"the {kind.value} names version {s.after_version}, not yet recorded"
            )
        if kind is OwnerKind.CLAIM:
            salt = self.salts.get(self.open or "")
            code = str(s.claim_code)
            if salt is None or not hmac.compare_digest(
                digest_of(bytes.fromhex(salt), code), str(self.open)
            ):
                fail("owner_chain", "the claim does not open the item's open claim commitment")
            self.owner, self.open, self.missing = s.owner_key, None, None
            self.since = s.occurred_at.isoformat()
            return
        if self.owner is None or not hmac.compare_digest(self.owner, s.owner_key):
            fail("owner_chain", f"the {kind.value} is signed by {s.fingerprint}, not the owner key")
        if kind is OwnerKind.TRANSFER:
            digest = str(s.claim_digest)
            if digest in self.salts:
                fail("owner_chain", "the transfer names a claim commitment used before")
            self.salts[digest] = str(s.claim_salt)
            self.owner, self.open, self.missing = None, digest, None
        elif kind is OwnerKind.REPORT_MISSING:
            self.missing = s.reason.value if s.reason else None
        elif kind is OwnerKind.WITHDRAW_REPORT:
            self.missing = None
        else:  # consign
            self.owner, self.open, self.missing = None, None, None


def current_owner(summaries: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """The ownership a verified history ends with: ``{"owner_key", "owner", "since",
    "missing", "claim_open"}`` (the summaries were checked by :class:`OwnerChain`)."""
    chain = OwnerChain()
    for summary in summaries:
        if summary.get("owner_statement") is True:
            kind = summary["kind"]
            if kind == "claim":
                chain.owner, chain.open, chain.missing = summary["owner_key"], None, None
                chain.since = summary["occurred_at"]
            elif kind == "transfer":
                chain.owner, chain.open, chain.missing = None, summary["claim_digest"], None
            elif kind == "report_missing":
                chain.missing = summary["reason"]
            elif kind == "withdraw_report":
                chain.missing = None
            elif kind == "consign":
                chain.owner, chain.open, chain.missing = None, None, None
        else:
            chain.note_custody(summary)
    return {
        "owner_key": chain.owner,
        "owner": fingerprint(chain.owner) if chain.owner else None,
        "since": chain.since if chain.owner else None,
        "missing": chain.missing,
        "claim_open": chain.open is not None,
    }


_SIGNATURE_CODES = frozenset({"bad_signature", "invalid_owner_key"})
#: Custody kinds that set the item's status (and so end its ownership).
_STATUS_KINDS = frozenset(kind.value for kind, rule in RULES.items() if rule.status is not None)
