"""An owner statement: what the holder of an item's owner key signs about it.

The value (``OwnerStatement``: who, which item, which kind, after which version, and the
fields its kind needs), its canonical digest and the sentence a history tells of it. The
rules deciding whether the key may say it now are in ``domain/ownership.py``; the wire
format (owner_statement v1 in a signed envelope) is docs/owner-statements.md.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from domain.privacy import check_claim_commitment

__all__ = [
    "OPTIONAL_FIELDS",
    "VERSIONED",
    "MissingReason",
    "OwnerKind",
    "OwnerStatement",
    "describe_statement",
    "fingerprint",
]

_KEY_HEX = re.compile(r"[0-9a-f]{64}")


class OwnerKind(StrEnum):
    CLAIM = "claim"
    TRANSFER = "transfer"
    REPORT_MISSING = "report_missing"
    WITHDRAW_REPORT = "withdraw_report"
    CONSIGN = "consign"


class MissingReason(StrEnum):
    LOST = "lost"
    STOLEN = "stolen"


#: The fields each kind carries beyond the common ones; any other is refused.
KIND_FIELDS: Mapping[OwnerKind, frozenset[str]] = {
    OwnerKind.CLAIM: frozenset({"claim_code"}),
    OwnerKind.TRANSFER: frozenset({"claim_salt", "claim_digest"}),
    OwnerKind.REPORT_MISSING: frozenset({"reason"}),
    OwnerKind.WITHDRAW_REPORT: frozenset(),
    OwnerKind.CONSIGN: frozenset({"consignee"}),
}
OPTIONAL_FIELDS = ("claim_code", "claim_salt", "claim_digest", "reason", "consignee")
#: Kinds whose ``after_version`` must be the item's current version: they hand the item on,
#: so one signed against an older history (a stale copy) must not take effect.
VERSIONED = frozenset({OwnerKind.TRANSFER, OwnerKind.CONSIGN})


def fingerprint(owner_key: str) -> str:
    """How an owner key is shown (never a name): the first 16 hex digits of SHA-256 of the
    32-byte public key, in groups of four."""
    digest = hashlib.sha256(bytes.fromhex(owner_key)).hexdigest()[:16]
    return " ".join(digest[i : i + 4] for i in range(0, 16, 4))


@dataclass(frozen=True)
class OwnerStatement:
    """One statement signed by an owner key (``owner_key``, 64 lowercase hex digits)."""

    statement_id: str
    item_id: str
    kind: OwnerKind
    owner_key: str
    #: The version of the item's history the signer saw (its last event's version).
    after_version: int
    occurred_at: datetime
    claim_code: str | None = None
    claim_salt: str | None = None
    claim_digest: str | None = None
    reason: MissingReason | None = None
    consignee: str | None = None

    def __post_init__(self) -> None:
        if type(self.kind) is not OwnerKind:
            object.__setattr__(self, "kind", OwnerKind(self.kind))
        if self.reason is not None and type(self.reason) is not MissingReason:
            object.__setattr__(self, "reason", MissingReason(self.reason))
        for name in ("statement_id", "item_id"):
            if not getattr(self, name):
                raise ValueError(f"{name} must not be empty")
        if not isinstance(self.owner_key, str) or not _KEY_HEX.fullmatch(self.owner_key):
            raise ValueError("owner_key is 64 lowercase hex digits (an Ed25519 public key)")
        if type(self.after_version) is not int or self.after_version < 0:
            raise ValueError("after_version is a non-negative integer")
        if self.occurred_at.tzinfo is None:
            raise ValueError("occurred_at must carry a time zone")
        wanted = KIND_FIELDS[self.kind]
        for name in OPTIONAL_FIELDS:
            given = getattr(self, name) not in (None, "")
            if given and name not in wanted:
                raise ValueError(f"{name} does not belong to a {self.kind.value} statement")
            if not given and name in wanted:
                raise ValueError(f"a {self.kind.value} statement needs {name}")
        if self.kind is OwnerKind.TRANSFER:
            check_claim_commitment("retail_selling", self.claim_salt, self.claim_digest)

    def __deepcopy__(self, memo: dict[int, object]) -> OwnerStatement:
        return self  # a frozen value

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.owner_key)

    def to_primitive(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "statement_id": self.statement_id,
            "item_id": self.item_id,
            "kind": self.kind.value,
            "owner_key": self.owner_key,
            "after_version": self.after_version,
            "occurred_at": self.occurred_at.isoformat(),
        }
        for name in OPTIONAL_FIELDS:
            value = getattr(self, name)
            if value is not None:
                out[name] = str(value)
        return out

    @classmethod
    def from_primitive(cls, data: Mapping[str, Any]) -> OwnerStatement:
        """From :meth:`to_primitive`'s form, or a decoded record whose ``occurred_at`` is a
        datetime already."""
        occurred = data["occurred_at"]
        if not isinstance(occurred, datetime):
            occurred = datetime.fromisoformat(str(occurred))
        optional = {name: data.get(name) for name in OPTIONAL_FIELDS}
        return cls(
            statement_id=str(data["statement_id"]),
            item_id=str(data["item_id"]),
            kind=OwnerKind(str(data["kind"])),
            owner_key=str(data["owner_key"]),
            after_version=int(data["after_version"]),
            occurred_at=occurred,
            **{k: None if v is None else str(v) for k, v in optional.items()},  # type: ignore[arg-type]
        )

    def digest(self) -> str:
        canonical = json.dumps(self.to_primitive(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()


def describe_statement(statement: OwnerStatement) -> str:
    """The sentence a history tells of a statement: the owner by key fingerprint."""
    who = f"owner key {statement.fingerprint}"
    kind = statement.kind
    if kind is OwnerKind.CLAIM:
        return f"{who} claimed it with the receipt's code"
    if kind is OwnerKind.TRANSFER:
        return f"{who} handed it on to a new owner (a new claim code)"
    if kind is OwnerKind.REPORT_MISSING:
        return f"{who} reported it {statement.reason}"
    if kind is OwnerKind.WITHDRAW_REPORT:
        return f"{who} withdrew the report"
    return f"{who} consigned it to {statement.consignee} for resale"
