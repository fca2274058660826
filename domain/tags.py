"""Tag claims: a tag uid belongs to the first item commissioned with it.

Consistency boundary: one tag uid. A second commissioning with the same uid finds the claim
and becomes a cloned-tag signal on the item that owns it.
"""

from __future__ import annotations

from dataclasses import dataclass

from domain import base
from domain.errors import ReservedId

TAG_PREFIX = "tag:"
#: The prefix of brand-name and company-prefix claims (``domain/authority.py``).
AUTHORITY_PREFIX = "authority:"


def tag_claim_id(tag_uid: str) -> str:
    return TAG_PREFIX + tag_uid


def check_not_a_claim_id(aggregate_id: str, what: str) -> None:
    """Items, parties and tag claims share one id space: keep the claims' prefix to them.

    Otherwise a scan of an unknown item ``tag:<uid>`` would occupy the claim of a tag not
    yet commissioned, and the genuine commissioning could never be saved.
    """
    if aggregate_id.startswith(TAG_PREFIX):
        raise ReservedId(
            f"{what} id {aggregate_id!r} starts with {TAG_PREFIX!r}, which is reserved for "
            f"tag claims"
        )
    if aggregate_id.startswith(AUTHORITY_PREFIX):
        raise ReservedId(
            f"{what} id {aggregate_id!r} starts with {AUTHORITY_PREFIX!r}, which is reserved "
            f"for brand and company-prefix claims"
        )


class TagClaim(base.Aggregate):
    Event = base.Event
    Created = base.Created

    item_id: str

    def __init__(self) -> None:
        self.item_id = ""

    @dataclass(frozen=True)
    class Claimed(base.Created):
        item_id: str

        def apply(self, claim: TagClaim) -> None:
            claim.item_id = self.item_id

    @classmethod
    def claim(cls, tag_uid: str, item_id: str) -> TagClaim:
        return cls._create(cls.Claimed, id=tag_claim_id(tag_uid), item_id=item_id)
