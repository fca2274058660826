"""Parties (brands, appraisers, warehouses, stores) and their enrolled device keys.

Consistency boundary: one party — its role and the lifecycle of each of its devices.
A device's key is valid for events that occurred between its enrolment (or the earlier
time the enrolment says it speaks from: migrating a history) and its revocation.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from domain import base
from domain.custody import ALLOWED_KINDS, CustodyEvent, Kind, Role
from domain.errors import (
    ActorMismatch,
    DeviceExists,
    DeviceNotEnrolled,
    DeviceRevoked,
    RoleNotAllowed,
)
from domain.tags import check_not_a_claim_id


@dataclass(frozen=True)
class Device:
    device_id: str
    public_key: str  # hex of the raw 32-byte Ed25519 public key
    enrolled_at: datetime
    revoked_at: datetime | None = None
    #: From when the key speaks for the party, if earlier than its enrolment (a backdated
    #: key, for bringing a history in; shown wherever enrolments are shown).
    effective_from: datetime | None = None
    #: When the enrolment was recorded in the ledger (its stored event's timestamp).
    recorded_at: datetime | None = None

    def __deepcopy__(self, memo: dict[int, object]) -> Device:
        # A frozen value: a deep copy of an aggregate (eventsourcing's cache hands
        # out copies) may share it rather than rebuild it.
        return self

    @property
    def speaks_from(self) -> datetime:
        return self.effective_from or self.enrolled_at

    def active_at(self, when: datetime) -> bool:
        return self.speaks_from <= when and (self.revoked_at is None or when < self.revoked_at)


class Party(base.Aggregate):
    Event = base.Event
    Created = base.Created

    name: str
    role: Role
    devices: dict[str, Device]
    #: Brand names and GS1 company prefixes the party declared it owns (a brand's).
    brands: list[str]
    company_prefixes: list[str]

    def __init__(self) -> None:
        self.name = ""
        self.role = Role.BRAND
        self.devices = {}
        self.brands = []
        self.company_prefixes = []

    def __deepcopy__(self, memo: dict[int, Any]) -> Party:
        return base.copy_of_values(self, memo)

    @dataclass(frozen=True)
    class Registered(base.Created):
        name: str
        role: str

        def apply(self, party: Party) -> None:
            party.name = self.name
            party.role = Role(self.role)
            party.devices = {}
            party.brands = []
            party.company_prefixes = []

    @dataclass(frozen=True)
    class DeviceEnrolled(base.Event):
        """``effective_from`` is stored with the event; enrolments recorded before it
        existed lack it and read as this default (the key speaks from ``enrolled_at``)."""

        device_id: str
        public_key: str
        enrolled_at: datetime
        effective_from: datetime | None = None

        def apply(self, party: Party) -> None:
            party.devices[self.device_id] = Device(
                self.device_id,
                self.public_key,
                self.enrolled_at,
                effective_from=self.effective_from,
                recorded_at=self.timestamp,
            )

    @dataclass(frozen=True)
    class DeviceRevoked(base.Event):
        device_id: str
        revoked_at: datetime

        def apply(self, party: Party) -> None:
            device = party.devices[self.device_id]
            party.devices[self.device_id] = replace(device, revoked_at=self.revoked_at)

    @dataclass(frozen=True)
    class AuthorityDeclared(base.Event):
        """Brand names and GS1 company prefixes the party owns from now on (added to the
        ones it declared before; each is claimed by an ``AuthorityClaim`` too)."""

        brands: list[str]
        company_prefixes: list[str]

        def apply(self, party: Party) -> None:
            party.brands = [*party.brands, *self.brands]
            party.company_prefixes = [*party.company_prefixes, *self.company_prefixes]

    @classmethod
    def register(cls, party_id: str, name: str, role: Role) -> Party:
        check_not_a_claim_id(party_id, "party")
        return cls._create(cls.Registered, id=party_id, name=name, role=role.value)

    def enrol_device(
        self,
        device_id: str,
        public_key: str,
        at: datetime,
        effective_from: datetime | None = None,
    ) -> None:
        """Enrol a key at ``at``; ``effective_from`` (not later) backdates what it may sign,
        for bringing in a history recorded elsewhere (docs/custody-rules.md)."""
        _check_aware(at)
        if effective_from is not None:
            _check_aware(effective_from)
            if effective_from > at:
                raise ValueError(
                    f"effective-from {effective_from.isoformat()} is after the enrolment "
                    f"({at.isoformat()}): a key speaks from its enrolment at the latest"
                )
        if device_id in self.devices:
            raise DeviceExists(f"device {device_id!r} is already enrolled for {self.id!r}")
        self.trigger_event(
            self.DeviceEnrolled,
            device_id=device_id,
            public_key=public_key,
            enrolled_at=at,
            effective_from=effective_from,
        )

    def declare_authority(self, brands: list[str], company_prefixes: list[str]) -> None:
        """Own more brand names and prefixes (those not declared already; the ledger
        checks no other party claimed them, ``domain/authority.py``)."""
        self.check_may_declare_authority()
        if not brands and not company_prefixes:
            raise ValueError("declare at least one brand name or company prefix")
        self.trigger_event(self.AuthorityDeclared, brands=brands, company_prefixes=company_prefixes)

    def check_may_declare_authority(self) -> None:
        if self.role is not Role.BRAND:
            raise RoleNotAllowed(
                f"a {self.role.value} ({self.id!r}) declares no brand or company prefix; "
                "only a brand does"
            )

    def revoke_device(self, device_id: str, at: datetime) -> None:
        _check_aware(at)
        self.check_device_enrolled(device_id)
        if self.devices[device_id].revoked_at is not None:
            raise DeviceRevoked(f"device {device_id!r} of {self.id!r} is already revoked")
        self.trigger_event(self.DeviceRevoked, device_id=device_id, revoked_at=at)

    def check_device_enrolled(self, device_id: str) -> Device:
        device = self.devices.get(device_id)
        if device is None:
            raise DeviceNotEnrolled(f"device {device_id!r} is not enrolled for party {self.id!r}")
        return device

    def check_device_may_sign(self, device_id: str, at: datetime) -> Device:
        device = self.check_device_enrolled(device_id)
        if device.revoked_at is not None and at >= device.revoked_at:
            raise DeviceRevoked(
                f"device {device_id!r} of {self.id!r} was revoked at "
                f"{device.revoked_at.isoformat()}, before this event ({at.isoformat()})"
            )
        if at < device.speaks_from:
            since = f"was enrolled at {device.enrolled_at.isoformat()}"
            if device.effective_from is not None:
                since += f", effective from {device.effective_from.isoformat()}"
            raise DeviceNotEnrolled(
                f"device {device_id!r} of {self.id!r} {since}, after this event ({at.isoformat()})"
            )
        return device

    def check_role_allows(self, kind: Kind) -> None:
        if kind not in ALLOWED_KINDS[self.role]:
            allowed = ", ".join(sorted(k.value for k in ALLOWED_KINDS[self.role]))
            raise RoleNotAllowed(
                f"a {self.role.value} ({self.id!r}) may not record {kind.value}; "
                f"a {self.role.value} records only: {allowed}"
            )

    def check_made(self, custody: CustodyEvent) -> None:
        """The event names this party as the one that made it."""
        if custody.party_id != self._id:  # the id property's value, without the call
            raise ActorMismatch(
                f"event {custody.event_id} was made by {custody.party_id!r}, not by {self.id!r}"
            )

    def check_may_record(self, custody: CustodyEvent) -> None:
        """This party made the event, with a device valid at its time, in a role that may."""
        self.check_made(custody)
        self.check_device_may_sign(custody.device_id, custody.occurred_at)
        self.check_role_allows(custody.kind)


def _check_aware(at: datetime) -> None:
    # Device windows are compared with events' times, which always carry a time zone.
    if at.tzinfo is None:
        raise ValueError("enrolment and revocation times must carry a time zone")
