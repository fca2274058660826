"""Domain errors: each refusal names the rule it enforces (a stable code) and says why.

``rule`` is stable (dead letters, dashboards and docs/custody-rules.md use it); ``reason`` is
a sentence for people. ``str(error)`` gives both.
"""

from __future__ import annotations


class DomainError(Exception):
    """A custody rule refused an event. ``rule`` is a stable machine-readable code."""

    rule = "domain_rule"

    def __init__(self, reason: str) -> None:
        super().__init__(f"{reason} [rule: {self.rule}]")
        self.reason = reason


class UnknownParty(DomainError):
    """The acting party is not registered."""

    rule = "unknown_party"


class ReservedId(DomainError):
    """Item and party ids never use the ``tag:`` prefix, which names tag claims."""

    rule = "reserved_id"


class ActorMismatch(DomainError):
    """The event names another party or item than the one it is applied with."""

    rule = "actor_mismatch"


class DeviceNotEnrolled(DomainError):
    """The device is not enrolled for the party, or was enrolled after the event."""

    rule = "device_not_enrolled"


class DeviceRevoked(DomainError):
    """The device was revoked before the event occurred."""

    rule = "device_revoked"


class RoleNotAllowed(DomainError):
    """The party's role may not record this kind of event."""

    rule = "role_not_allowed"


class MissingDetail(DomainError):
    """A detail the event kind needs is missing (tag uid, verdict, consignee, buyer, reason)."""

    rule = "missing_detail"


class ItemFrozen(DomainError):
    """An appraiser found the item counterfeit: only decommissioning is accepted."""

    rule = "item_frozen"


class NotHolder(DomainError):
    """Only the current holder ships, sells or observes; the holder or the brand retires."""

    rule = "not_holder"


class NotShipper(DomainError):
    """Only the party that shipped a consignment may recall it."""

    rule = "not_shipper"


class NotConsignee(DomainError):
    """Only the named consignee receives a consignment."""

    rule = "not_consignee"


class UnknownConsignee(DomainError):
    """Goods are shipped only to a registered party."""

    rule = "unknown_consignee"


class InvalidConsignee(DomainError):
    """A party cannot ship an item to itself."""

    rule = "invalid_consignee"


class ItemInTransit(DomainError):
    """In transit only the consignee's receiving or the shipper's recall is accepted."""

    rule = "item_in_transit"


class NotInTransit(DomainError):
    """Receiving or recalling needs a consignment in transit."""

    rule = "not_in_transit"


class NotAuthenticated(DomainError):
    """Only an item with a genuine verdict from an appraiser is sold."""

    rule = "not_authenticated"


class NotSold(DomainError):
    """Only a sold item is returned."""

    rule = "not_sold"


class WrongReturnStore(DomainError):
    """A sold item is returned to the store that sold it."""

    rule = "wrong_return_store"


class PartyExists(DomainError):
    """A party id is registered once."""

    rule = "party_exists"


class DeviceExists(DomainError):
    """A device id is enrolled once per party."""

    rule = "device_exists"


class InvalidDeviceKey(DomainError):
    """A device key is enrolled only if it is a usable Ed25519 public key (32 bytes,
    canonical, of the prime-order subgroup: never a small-order point)."""

    rule = "invalid_device_key"


class NotDeclarable(DomainError):
    """Only the party that recorded an event, or the item's brand, declares it in error; an
    error declaration is itself final."""

    rule = "not_declarable"


class UnknownEvent(DomainError):
    """An event declared in error must be one of the item's accepted custody events."""

    rule = "unknown_event"


class AlreadyDeclared(DomainError):
    """An event is declared in error once."""

    rule = "already_declared"


class BrandNotDeclared(DomainError):
    """A brand commissions items only once it has declared the brand names it owns."""

    rule = "brand_not_declared"


class BrandNotOwned(DomainError):
    """A commissioning names a brand, or carries a GS1 key under a company prefix, that the
    commissioning party does not own."""

    rule = "brand_not_owned"


class AuthorityTaken(DomainError):
    """A brand name or GS1 company prefix is owned by the first brand party declaring it."""

    rule = "authority_taken"


class InvalidCompanyPrefix(DomainError):
    """A GS1 company prefix is 6 to 12 digits."""

    rule = "invalid_company_prefix"


class ClaimCodeReused(DomainError):
    """A sale commits to a claim code no earlier sale of the item committed to."""

    rule = "claim_code_reused"


class NotOwner(DomainError):
    """Only the item's current owner key signs a transfer, a report, its withdrawal or a
    consignment."""

    rule = "not_owner"


class StaleStatement(DomainError):
    """A transfer or consignment names the item's current version (it was signed against
    the history as it is); no statement names a version the item has not reached."""

    rule = "stale_statement"


class NoOpenClaim(DomainError):
    """A claim needs an open claim: an item sold or transferred with a claim commitment
    that nobody has claimed yet."""

    rule = "no_open_claim"


class WrongClaimCode(DomainError):
    """A claim's code opens the item's open claim commitment."""

    rule = "wrong_claim_code"


class NotReported(DomainError):
    """Only a report of the item stolen or lost can be withdrawn."""

    rule = "not_reported"


class ReportedMissing(DomainError):
    """An item its owner reported stolen or lost is not transferred, consigned or reported
    again until the report is withdrawn."""

    rule = "reported_missing"


class StatementIdReused(DomainError):
    """An owner statement's id names one statement of the item."""

    rule = "statement_id_reused"
