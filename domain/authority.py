"""Brand authority: which party owns which brand names and GS1 company prefixes.

Consistency boundary: one brand name or one company prefix (an :class:`AuthorityClaim`),
held by the first brand party that declares it. A party's own declarations live on the
party (``Party.AuthorityDeclared``); the claims keep two brands from owning one name or
prefix. A kind whose rule asks for authority (``KindRule.authority``: a commissioning) is
accepted only from a brand that owns the brand it names and the GS1 prefix of every GS1
key it carries (docs/custody-rules.md, "Brand authority").
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import lru_cache

from domain import base
from domain.custody import CustodyEvent
from domain.errors import AuthorityTaken, BrandNotDeclared, BrandNotOwned, InvalidCompanyPrefix
from domain.kinds import RULES
from domain.parties import Party
from domain.tags import AUTHORITY_PREFIX

#: A GS1 company prefix: 6 to 12 digits (the range an EPC URI can carry).
_COMPANY_PREFIX = re.compile(r"[0-9]{6,12}")
#: EPC pure-identity URIs whose first component is the GS1 company prefix.
_GS1_KEY = re.compile(r"urn:epc:id:(sgtin|sgln):([0-9]{6,12})\.[^:]*")


@lru_cache(maxsize=4096)  # every commissioning compares its brand with the actor's
def brand_key(name: str) -> str:
    """A brand name as compared: NFKC, case folded, inner spaces collapsed."""
    return " ".join(unicodedata.normalize("NFKC", name).casefold().split())


def check_company_prefix(prefix: str) -> str:
    if not _COMPANY_PREFIX.fullmatch(prefix):
        raise InvalidCompanyPrefix(
            f"{prefix!r} is not a GS1 company prefix (6 to 12 digits, as in an EPC URI)"
        )
    return prefix


def check_brand_name(name: str) -> str:
    if not brand_key(name):
        raise ValueError("a brand name must not be empty")
    return " ".join(name.split())


def company_prefix_of(identifier: str) -> str | None:
    """The GS1 company prefix of an SGTIN or SGLN EPC URI, or None for other ids."""
    match = _GS1_KEY.fullmatch(identifier)
    return match.group(2) if match else None


def brand_claim_id(name: str) -> str:
    return f"{AUTHORITY_PREFIX}brand:{brand_key(name)}"


def prefix_claim_id(prefix: str) -> str:
    return f"{AUTHORITY_PREFIX}prefix:{prefix}"


class AuthorityClaim(base.Aggregate):
    Event = base.Event
    Created = base.Created

    party_id: str
    value: str

    def __init__(self) -> None:
        self.party_id = ""
        self.value = ""

    @dataclass(frozen=True)
    class Claimed(base.Created):
        party_id: str
        value: str

        def apply(self, claim: AuthorityClaim) -> None:
            claim.party_id = self.party_id
            claim.value = self.value

    @classmethod
    def claim(cls, claim_id: str, party_id: str, value: str) -> AuthorityClaim:
        return cls._create(cls.Claimed, id=claim_id, party_id=party_id, value=value)


#: ``owner(claim_id)``: the party holding a claim, or None if nobody declared it.
Owner = Callable[[str], str | None]


def check_authority(custody: CustodyEvent, actor: Party, owner: Owner) -> None:
    """The actor owns what the event's kind asks of it (``KindRule.authority``).

    ``brand``: the brand the event names is one the actor declared, and no GS1 key it
    carries (the item's SGTIN, the location's SGLN) is under another party's company
    prefix; an SGTIN item must be under one of the actor's own. ``gs1``: the item id is
    under no other party's prefix (an appraiser's intake cannot mint a brand's SGTIN).
    """
    mode = RULES[custody.kind].authority
    if mode == "brand":
        _check_brand_named(custody, actor, owner)
    if mode == "none":
        return
    keys = (("item", custody.item_id), ("location", custody.location))
    for what, identifier in keys if mode == "brand" else keys[:1]:
        prefix = company_prefix_of(identifier)
        if prefix is None or prefix in actor.company_prefixes:
            continue
        holder = owner(prefix_claim_id(prefix))
        if holder == actor.id or (holder is None and (what == "location" or mode == "gs1")):
            continue
        whose = f"{holder}'s" if holder else "an undeclared"
        raise BrandNotOwned(
            f"{custody.kind.value} by {actor.id}: the {what} {identifier} is under "
            f"{whose} GS1 company prefix {prefix}"
        )


def _check_brand_named(custody: CustodyEvent, actor: Party, owner: Owner) -> None:
    declared = {brand_key(b) for b in actor.brands}
    if not declared:
        raise BrandNotDeclared(
            f"{actor.id} has declared no brand; a brand commissions items only under the "
            "brand names it declared (assay party declare)"
        )
    if custody.brand is None or brand_key(custody.brand) not in declared:
        holder = owner(brand_claim_id(custody.brand)) if custody.brand else None
        whose = f"it belongs to {holder}" if holder else f"{actor.id} has not declared it"
        raise BrandNotOwned(
            f"{custody.kind.value} of {custody.item_id} names brand {custody.brand!r}; {whose}"
        )


def declare(
    party: Party, brands: Iterable[str], company_prefixes: Iterable[str], owner: Owner
) -> list[AuthorityClaim]:
    """Have ``party`` declare brand names and prefixes; returns the new claims to save
    with it. A value it owns already is skipped; one another party owns is refused, and
    then nothing is declared."""
    party.check_may_declare_authority()
    names = [check_brand_name(b) for b in brands]
    prefixes = [check_company_prefix(p) for p in company_prefixes]
    wanted = [(brand_claim_id(n), n, "brand") for n in names]
    wanted += [(prefix_claim_id(p), p, "company prefix") for p in prefixes]
    claims: dict[str, AuthorityClaim] = {}
    new_brands: list[str] = []
    new_prefixes: list[str] = []
    for claim_id, value, what in wanted:
        holder = owner(claim_id)
        if holder is not None and holder != party.id:
            raise AuthorityTaken(f"{what} {value!r} is owned by {holder}, not {party.id}")
        if holder == party.id or claim_id in claims:
            continue
        claims[claim_id] = AuthorityClaim.claim(claim_id, party.id, value)
        (new_brands if what == "brand" else new_prefixes).append(value)
    if new_brands or new_prefixes:
        party.declare_authority(new_brands, new_prefixes)
    return list(claims.values())
