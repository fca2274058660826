"""Parties, their roles and their devices' validity windows."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from domain.custody import ALLOWED_KINDS, Kind, Role
from domain.errors import DeviceExists, DeviceNotEnrolled, DeviceRevoked, RoleNotAllowed
from domain.parties import Party
from tests.domain.factory import T0, make_party

ROLE_KINDS = [(role, kind) for role in Role for kind in Kind]


@pytest.mark.parametrize(("role", "kind"), ROLE_KINDS, ids=lambda v: str(v))
def test_a_role_records_exactly_its_allowed_kinds(role: Role, kind: Kind) -> None:
    party = make_party("p", role)
    if kind in ALLOWED_KINDS[role]:
        party.check_role_allows(kind)
    else:
        with pytest.raises(RoleNotAllowed) as refused:
            party.check_role_allows(kind)
        assert f"a {role.value} ('p') may not record {kind.value}" in refused.value.reason


def test_the_roles_follow_the_trade() -> None:
    def who(kind: Kind) -> set[Role]:
        return {role for role, kinds in ALLOWED_KINDS.items() if kind in kinds}

    assert who(Kind.COMMISSIONING) == {Role.BRAND}
    assert who(Kind.INSPECTING) == {Role.APPRAISER}
    assert who(Kind.RETAIL_SELLING) == who(Kind.RETURNING) == {Role.STORE}
    assert who(Kind.DECOMMISSIONING) == {Role.BRAND, Role.WAREHOUSE, Role.STORE}
    for kind in (Kind.SHIPPING, Kind.VOID_SHIPPING, Kind.RECEIVING, Kind.OBSERVING):
        assert who(kind) == set(Role), kind


def test_registering_records_name_and_role() -> None:
    party = Party.register("certa-lab", "Certa Authentication Lab", Role.APPRAISER)
    assert (party.id, party.name, party.role, party.devices) == (
        "certa-lab",
        "Certa Authentication Lab",
        Role.APPRAISER,
        {},
    )


def test_a_device_is_valid_from_its_enrolment_until_its_revocation() -> None:
    party = make_party("brand")
    enrolled = T0 - timedelta(days=1)
    party.revoke_device("brand-d1", T0)
    assert party.check_device_may_sign("brand-d1", enrolled).device_id == "brand-d1"
    assert party.check_device_may_sign("brand-d1", T0 - timedelta(microseconds=1))
    assert party.devices["brand-d1"].active_at(enrolled)
    assert not party.devices["brand-d1"].active_at(T0)
    with pytest.raises(DeviceRevoked, match=r"revoked at 2026-01-01T00:00:00\+00:00"):
        party.check_device_may_sign("brand-d1", T0)
    with pytest.raises(DeviceNotEnrolled, match="enrolled at"):
        party.check_device_may_sign("brand-d1", enrolled - timedelta(seconds=1))


def test_an_unknown_device_is_not_enrolled() -> None:
    with pytest.raises(DeviceNotEnrolled, match="'ghost' is not enrolled for party 'brand'"):
        make_party("brand").check_device_may_sign("ghost", T0)


def test_a_device_is_enrolled_once_and_revoked_once() -> None:
    party = make_party("brand")
    with pytest.raises(DeviceExists):
        party.enrol_device("brand-d1", "11" * 32, T0)
    party.revoke_device("brand-d1", T0)
    with pytest.raises(DeviceRevoked, match="already revoked"):
        party.revoke_device("brand-d1", T0)
    with pytest.raises(DeviceNotEnrolled):
        party.revoke_device("ghost", T0)


def test_device_times_carry_a_time_zone() -> None:
    party = make_party("brand")
    with pytest.raises(ValueError, match="time zone"):
        party.enrol_device("brand-d2", "11" * 32, datetime(2026, 1, 1))
    with pytest.raises(ValueError, match="time zone"):
        party.revoke_device("brand-d1", datetime(2026, 1, 1))


def test_a_party_rebuilt_from_its_events_is_the_same() -> None:
    party = Party.register("ginza", "Ginza", Role.STORE)
    party.enrol_device("g1", "aa" * 32, T0)
    party.enrol_device("g2", "bb" * 32, T0)
    party.revoke_device("g1", T0 + timedelta(days=3))
    rebuilt = None
    for event in party.collect_events():
        rebuilt = event.mutate(rebuilt)
    assert isinstance(rebuilt, Party)
    assert (rebuilt.name, rebuilt.role, rebuilt.devices) == (party.name, party.role, party.devices)


def test_a_key_effective_from_an_earlier_time_signs_that_past() -> None:
    party = Party.register("dc", "DC", Role.WAREHOUSE)
    a_year_ago = T0 - timedelta(days=365)
    party.enrol_device("migration", "aa" * 32, T0, effective_from=a_year_ago)
    party.enrol_device("scanner", "bb" * 32, T0)
    device = party.devices["migration"]
    assert (device.enrolled_at, device.effective_from, device.speaks_from) == (
        T0, a_year_ago, a_year_ago,
    )  # fmt: skip
    assert device.recorded_at is not None  # when the enrolment was recorded (its event)
    assert party.check_device_may_sign("migration", a_year_ago).device_id == "migration"
    assert party.check_device_may_sign("migration", T0 - timedelta(days=30))
    with pytest.raises(DeviceNotEnrolled, match="effective from 2025-01-01T00:00:00"):
        party.check_device_may_sign("migration", a_year_ago - timedelta(seconds=1))
    # The same past event, signed by a key enrolled the usual way, is refused.
    assert party.devices["scanner"].effective_from is None
    with pytest.raises(DeviceNotEnrolled, match="enrolled at 2026-01-01"):
        party.check_device_may_sign("scanner", T0 - timedelta(days=30))


def test_effective_from_is_no_later_than_the_enrolment_and_has_a_time_zone() -> None:
    party = make_party("dc")
    with pytest.raises(ValueError, match="after the enrolment"):
        party.enrol_device("d2", "11" * 32, T0, effective_from=T0 + timedelta(seconds=1))
    with pytest.raises(ValueError, match="time zone"):
        party.enrol_device("d2", "11" * 32, T0, effective_from=datetime(2025, 1, 1))
    assert "d2" not in party.devices


def test_an_enrolment_stored_before_effective_from_existed_reads_as_before() -> None:
    party = Party.register("dc", "DC", Role.WAREHOUSE)
    party.enrol_device("d1", "aa" * 32, T0)
    registered, enrolled = party.collect_events()
    del enrolled.__dict__["effective_from"]  # as a record written before the field existed
    rebuilt = enrolled.mutate(registered.mutate(None))
    assert isinstance(rebuilt, Party)
    device = rebuilt.devices["d1"]
    assert (device.effective_from, device.speaks_from) == (None, T0)
    assert device.recorded_at == enrolled.timestamp
